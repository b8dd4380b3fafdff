package main

import (
	"github.com/spf13/cobra"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "print the effective configuration (config print)"}
	print := &cobra.Command{Use: "print", Short: "print the effective configuration with secrets masked",
		Long: "Prints the effective configuration (defaults, file, SPLADEQ_* environment, flags) with secrets masked.",
		Args: cobra.NoArgs}
	file, keys := configFlags(print.Flags())
	print.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := loadConfig(c.Flags(), *file, keys)
		if err != nil {
			return err
		}
		out, err := cfg.Masked().YAML()
		if err != nil {
			return err
		}
		_, err = c.OutOrStdout().Write(out)
		return err
	}
	cmd.AddCommand(print)
	return cmd
}
