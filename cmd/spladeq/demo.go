package main

import (
	"context"
	"fmt"
	"io"
)

// demoQueries are the main job's searches over the sample corpus.
var demoQueries = []string{
	"What is the capital of Japan?",
	"animal that changes colour",
	"which metal is used in batteries",
	"programming language from Google for cloud services",
	"planet with rings",
}

func runDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	fs.String("config", "examples/job.yaml", "job config to ingest and search")
	restart := fs.Bool("restart", false, "ingest from the first record again")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: spladeq demo [--config examples/job.yaml]\n\nThe main job: ingests the sample corpus into the embedded store (resumable, a no-op when done)\nand runs a few hybrid searches, printing ranked hits with their top matching terms.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
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
	fmt.Fprintf(stdout, "\nHybrid search (SPLADE + dense, %s fusion) over collection %q:\n", cfg.Search.Fusion, cfg.Collection.Name)
	return searchAll(ctx, svc, cfg.Collection.Name, demoQueries, searchFlags{mode: "hybrid", alpha: -1, limit: 3, explain: true}, stdout)
}
