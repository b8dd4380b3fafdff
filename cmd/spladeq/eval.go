package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/eval"
)

func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "eval --dataset DIR [--sweep] [--out FILE.json] [--chart FILE.svg] [--config FILE]", Short: "evaluate retrieval quality on a BEIR dataset (--sweep tunes hybrid settings)", Long: "Ingests the corpus (reused when already complete), runs every query in each setting and\nreports nDCG@10, Recall@100, MRR@10, mean query latency and index size."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	dataset := fs.String("dataset", "", "BEIR-layout directory: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
	split := fs.String("split", "test", "qrels split")
	sweep := fs.Bool("sweep", false, "sweep signal sets (bm25, sparse, dense, fused by two or three) x fusion x RRF k x weights, and index pruning levels")
	jsonOut := fs.String("out", "", "write the report as JSON to this file")
	fs.StringVar(jsonOut, "json", "", "")
	fs.MarkDeprecated("json", "use --out (search's --json prints JSON lines instead)")
	chart := fs.String("chart", "", "write an SVG chart of nDCG@10 against alpha and index size here")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		if *dataset == "" {
			fmt.Fprintln(stderr, "spladeq eval: --dataset is required")
			cmd.PrintErr(cmd.UsageString())
			return errUsage
		}
		cfg, err := loadConfig(fs, *file, keys)
		if err != nil {
			return err
		}
		ds, err := eval.LoadDataset(*dataset, *split)
		if err != nil {
			return err
		}
		svc, err := plugin.New(ctx, cfg, plugin.WithLogger(newLogger(cfg.Log, stderr)))
		if err != nil {
			return err
		}
		defer svc.Close()
		collection := cfg.Collection.Name
		if !fs.Changed("collection") {
			collection = "beir-" + filepath.Base(filepath.Clean(*dataset))
		}
		settings := eval.DefaultSettings(cfg.Search)
		if *sweep {
			settings = eval.SweepSettings(cfg.Search)
		}
		r := &eval.Runner{Service: svc, Collection: collection, Progress: stderr}
		rep, err := r.Run(ctx, ds, settings)
		if err != nil {
			return err
		}
		printReport(stdout, rep, len(ds.Queries))
		if *jsonOut != "" {
			data, _ := json.MarshalIndent(rep, "", "  ")
			if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
				return err
			}
		}
		if *chart != "" {
			f, err := os.Create(*chart)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := eval.WriteSVG(f, rep); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

func printReport(w io.Writer, rep *eval.Report, queries int) {
	fmt.Fprintf(w, "\n%s: %d documents, %d queries with judgements\n\n", rep.Dataset, rep.Documents, queries)
	fmt.Fprintf(w, "%-52s %8s %10s %8s %11s %9s\n", "setting (* = the configured default)", "nDCG@10", "Recall@100", "MRR@10", "latency ms", "avg nnz")
	fmt.Fprintln(w, strings.Repeat("-", 103))
	for _, r := range rep.SortedByQuality() {
		name := r.Name
		if r.Default {
			name = "* " + name
		}
		fmt.Fprintf(w, "%-52s %8.4f %10.4f %8.4f %11.2f %9.1f\n", name, r.NDCG10, r.Recall100, r.MRR10, r.LatencyMS, r.AvgNNZ)
	}
	fmt.Fprintf(w, "\nbest: %s (nDCG@10 %.4f)\n", rep.Best.Name, rep.Best.NDCG10)
}
