package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// demoQueries are the main job's searches over the sample corpus.
var demoQueries = []string{
	"What is the capital of Japan?",
	"animal that changes colour",
	"which metal is used in batteries",
	"programming language from Google for cloud services",
	"planet with rings",
}

func newDemoCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "demo [--config examples/job.yaml]", Short: "ingest the sample corpus into the embedded store and run hybrid searches", Long: "The main job: ingests the sample corpus into the embedded store (resumable, a no-op when done)\nand runs a few hybrid searches, printing ranked hits with their top matching terms."}
	fs := cmd.Flags()
	fs.String("config", "examples/job.yaml", "job config to ingest and search")
	restart := fs.Bool("restart", false, "ingest from the first record again")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		file, _ := fs.GetString("config")
		svc, cfg, log, err := openService(ctx, fs, file, nil, stderr)
		if err != nil {
			return err
		}
		defer svc.Close()
		sum, err := ingestJob(svc, cfg, *restart, log, stderr).Run(ctx)
		printSummary(stdout, sum)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nHybrid search (%s, %s fusion) over collection %q:\n", strings.Join(cfg.Search.Signals, " + "), cfg.Search.Fusion, cfg.Collection.Name)
		return searchAll(ctx, svc, cfg.Collection.Name, demoQueries, searchFlags{alpha: -1, limit: 3, explain: true}, stdout)
	}
	return cmd
}
