package main

import (
	"context"
	"fmt"
	"io"
)

func runConfig(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "print" {
		fmt.Fprintln(stderr, "usage: spladeq config print [--config FILE]\n\nPrints the effective configuration (defaults, file, SPLADEQ_* environment, flags) with secrets masked.")
		return errUsage
	}
	fs := newFlagSet("config print", stderr)
	file, keys := configFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, *file, keys)
	if err != nil {
		return err
	}
	out, err := cfg.Masked().YAML()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
