package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
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
	depth := fs.Int("depth", 100, "hits per query and candidates per signal (search.prefetch_limit is 50); Recall@100 counts only the hits there are")
	chart := fs.String("chart", "", "write an SVG chart of nDCG@10 against alpha and index size here")
	quantize := fs.String("quantize", "", "run every local model (splade, splade-idf, onnx-dense vectorizers) at fp32 or int8 (vectorizers.NAME.quantize); the collection gets the suffix -fp32 or -int8")
	compareQ := fs.Bool("compare-quantize", false, "run the dataset at fp32, then at int8 (each ingested afresh into its own collection), and report per-document agreement (top-10 terms, nnz, dense cosine) and the nDCG@10 each of the default search, sparse and dense loses")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		if *dataset == "" {
			fmt.Fprintln(stderr, "spladeq eval: --dataset is required")
			cmd.PrintErr(cmd.UsageString())
			return errUsage
		}
		if *compareQ && (*quantize != "" || *sweep) {
			return usageError{fmt.Errorf("--compare-quantize runs both fp32 and int8 with the comparison's settings: drop --quantize and --sweep")}
		}
		cfg, err := loadConfig(fs, *file, keys)
		if err != nil {
			return err
		}
		ds, err := eval.LoadDataset(*dataset, *split)
		if err != nil {
			return err
		}
		collection := cfg.Collection.Name
		if !fs.Changed("collection") {
			collection = "beir-" + filepath.Base(filepath.Clean(*dataset))
		}
		if *compareQ {
			return compareQuantized(cmd, cfg, ds, collection, *jsonOut)
		}
		if *quantize != "" {
			if cfg, err = quantized(cfg, *quantize); err != nil {
				return err
			}
			collection += "-" + *quantize
		}
		svc, err := plugin.New(ctx, cfg, plugin.WithLogger(newLogger(cfg.Log, stderr)))
		if err != nil {
			return err
		}
		defer svc.Close()
		settings := eval.DefaultSettings(cfg.Search)
		if *sweep {
			settings = eval.SweepSettings(cfg.Search)
		}
		if *depth < 10 {
			return usageError{fmt.Errorf("--depth must be >= 10 (nDCG@10 reads 10 hits), got %d", *depth)}
		}
		r := &eval.Runner{Service: svc, Collection: collection, Progress: stderr, Depth: *depth}
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

// quantized returns a copy of cfg whose local-model vectorizers (splade,
// splade-idf, onnx-dense) run at q (vectorizers.NAME.quantize). One that
// names its graph by onnx_file cannot follow, and is refused by name.
func quantized(cfg *config.Config, q string) (*config.Config, error) {
	if !slices.Contains(config.Quantizations, q) {
		return nil, fmt.Errorf("--quantize: must be %s, got %q", strings.Join(config.Quantizations, " or "), q)
	}
	out := *cfg
	out.Vectorizers = make(map[string]config.Vectorizer, len(cfg.Vectorizers))
	for name, vc := range cfg.Vectorizers {
		if vc.IsLocalModel() {
			if vc.ONNXFile != "" {
				return nil, fmt.Errorf("--quantize %s: vectorizers.%s names its graph (onnx_file %q); drop onnx_file to run it at %s", q, name, vc.ONNXFile, q)
			}
			vc.Quantize = q
		}
		out.Vectorizers[name] = vc
	}
	return &out, out.Validate()
}

// compareQuantized runs the dataset at fp32, then at int8, each ingested
// afresh into collection-fp32 and collection-int8, and prints (and writes
// to jsonOut) how far the int8 run is from the fp32 one.
func compareQuantized(cmd *cobra.Command, cfg *config.Config, ds *eval.Dataset, collection, jsonOut string) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	settings := eval.CompareSettings(cfg.Search)
	var reports [2]*eval.Report
	var points [2][]qdrant.StoredPoint
	names := [2]string{config.QuantizeFP32, config.QuantizeInt8}
	for i, q := range names {
		qcfg, err := quantized(cfg, q)
		if err != nil {
			return err
		}
		svc, err := plugin.New(ctx, qcfg, plugin.WithLogger(newLogger(cfg.Log, stderr)))
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		coll := collection + "-" + q
		fmt.Fprintf(stderr, "%s: ingesting %s into %s\n", q, ds.Dir, coll)
		r := &eval.Runner{Service: svc, Collection: coll, Progress: stderr, Fresh: true}
		reports[i], err = r.Run(ctx, ds, settings)
		if err == nil {
			points[i], err = svc.Store().Scroll(ctx, coll, nil, qdrant.WriteOptions{})
		}
		svc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	agreement, err := eval.CompareVectors(points[0], points[1])
	if err != nil {
		return err
	}
	c, err := eval.Compare(names[0], names[1], reports[0], reports[1], agreement)
	if err != nil {
		return err
	}
	c.Print(stdout)
	if jsonOut != "" {
		data, _ := json.MarshalIndent(c, "", "  ")
		if err := os.WriteFile(jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
