package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spladeq/spladeq/plugin/hub"
	"github.com/spladeq/spladeq/splade"
)

func runModel(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "usage: spladeq model pull ORG/NAME[@REVISION] [--config FILE]\n       spladeq model ls [--config FILE]\n       spladeq model optimize DIR\n\npull fetches a model directory (tokenizer.json, config files, the ONNX graph) from models.hub_url\ninto models.dir, checking sizes and checksums; ls lists pulled models; optimize folds SPLADE\npooling into the graph, writing model.pooled.onnx beside model.onnx; use it with\nvectorizers.NAME.onnx_file: model.pooled.onnx (worth it on GPU; on CPU pooling in Go measured faster).")
	}
	if len(args) == 2 && args[0] == "optimize" {
		m, err := splade.OpenModelDir(args[1], "")
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
		fmt.Fprintln(stdout, dst)
		return nil
	}
	if len(args) == 0 || (args[0] != "pull" && args[0] != "ls") {
		usage()
		return errUsage
	}
	fs := newFlagSet("model "+args[0], stderr)
	file, keys := configFlags(fs)
	fs.String("hub-url", "", "hub endpoint (models.hub_url)")
	fs.String("models-dir", "", "model cache (models.dir)")
	keys["hub-url"], keys["models-dir"] = "models.hub_url", "models.dir"
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, *file, keys)
	if err != nil {
		return err
	}
	if args[0] == "ls" {
		names, err := hub.Cached(cfg.Models.Dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	if fs.NArg() != 1 {
		usage()
		return errUsage
	}
	c := &hub.Client{Endpoint: cfg.Models.HubURL, Token: cfg.Models.HubToken}
	dir, err := c.Pull(ctx, fs.Arg(0), cfg.Models.Dir, func(f string, size int64) {
		fmt.Fprintf(stderr, "pulling %s (%d bytes)\n", f, size)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, dir)
	return nil
}
