package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin/hub"
	"github.com/spladeq/spladeq/splade"
)

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "pull a model from a hub, list pulled models, fold pooling into a graph"}
	pull := &cobra.Command{Use: "pull ORG/NAME[@REVISION]", Short: "fetch a model directory from models.hub_url into models.dir",
		Long: "Fetches a model directory (tokenizer.json, config files, the ONNX graph) from models.hub_url\ninto models.dir, checking sizes and checksums.",
		Args: cobra.ExactArgs(1)}
	ls := &cobra.Command{Use: "ls", Short: "list pulled models", Args: cobra.NoArgs}
	for _, c := range []*cobra.Command{pull, ls} {
		fs := c.Flags()
		file, keys := configFlags(fs)
		fs.String("hub-url", "", "hub endpoint (models.hub_url)")
		fs.String("models-dir", "", "model cache (models.dir)")
		keys["hub-url"], keys["models-dir"] = "models.hub_url", "models.dir"
		c.RunE = func(c *cobra.Command, args []string) error {
			cfg, err := loadConfig(c.Flags(), *file, keys)
			if err != nil {
				return err
			}
			stdout := c.OutOrStdout()
			if c == ls {
				names, err := hub.Cached(cfg.Models.Dir)
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintln(stdout, n)
				}
				return nil
			}
			hc := &hub.Client{Endpoint: cfg.Models.HubURL, Token: cfg.Models.HubToken}
			dir, err := hc.Pull(c.Context(), args[0], cfg.Models.Dir, func(f string, size int64) {
				fmt.Fprintf(c.ErrOrStderr(), "pulling %s (%d bytes)\n", f, size)
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, dir)
			return nil
		}
	}
	optimize := &cobra.Command{Use: "optimize DIR", Short: "fold SPLADE pooling into the graph (model.pooled.onnx)",
		Long: "Folds SPLADE pooling into the graph, writing model.pooled.onnx beside model.onnx; use it with\nvectorizers.NAME.onnx_file: model.pooled.onnx (worth it on GPU; on CPU pooling in Go measured faster).",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			m, err := splade.OpenModelDir(args[0], "")
			if err != nil {
				return err
			}
			if strings.HasSuffix(m.ONNX, splade.PooledSuffix) {
				return fmt.Errorf("%s is already folded; delete it to fold again", m.ONNX)
			}
			dst := splade.PooledPath(m.ONNX)
			if err := splade.FoldPooling(m.ONNX, dst); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), dst)
			return nil
		}}
	cmd.AddCommand(pull, ls, optimize)
	return cmd
}
