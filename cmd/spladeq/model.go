package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spladeq/spladeq/plugin/hub"
)

func runModel(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "usage: spladeq model pull ORG/NAME[@REVISION] [--config FILE]\n       spladeq model ls [--config FILE]\n\nPulls a model directory (tokenizer.json, config files, the ONNX graph) from models.hub_url\ninto models.dir, checking sizes and checksums; ls lists pulled models.")
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
