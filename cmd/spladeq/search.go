package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/plugin"
)

type searchFlags struct {
	mode, fusion string
	signals      []string
	weights      map[string]string
	alpha        float64
	rrfK         int
	limit        int
	explain      bool
	json         bool
}

func newSearchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "search QUERY ...", Short: "search a collection and print ranked hits", Long: "Searches collection.name and prints ranked hits with their top matching terms."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	var sf searchFlags
	fs.StringVar(&sf.mode, "mode", "", "hybrid, or one signal alone: sparse, dense or bm25 (default search.mode)")
	fs.StringSliceVar(&sf.signals, "signals", nil, "signals to fuse, e.g. bm25,sparse,dense (default search.signals, less those the collection lacks)")
	fs.StringVar(&sf.fusion, "fusion", "", "rrf, dbsf, weighted, weighted_rrf or weighted_dbsf (default search.fusion)")
	fs.StringToStringVar(&sf.weights, "weights", nil, "weights of weighted fusion, e.g. bm25=1,sparse=1,dense=2 (default search.weights)")
	fs.Float64Var(&sf.alpha, "alpha", -1, "shorthand for weights sparse=1-alpha,dense=alpha, 0..1")
	fs.IntVar(&sf.rrfK, "rrf-k", 0, "RRF's k (default search.rrf_k)")
	fs.IntVar(&sf.limit, "limit", 0, "hits per query (default search.limit)")
	fs.BoolVar(&sf.explain, "explain", true, "show each hit's top matching terms")
	fs.BoolVar(&sf.json, "json", false, "print each result as one JSON line")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		if fs.NArg() == 0 {
			cmd.PrintErr(cmd.UsageString())
			return errUsage
		}
		svc, cfg, _, err := openService(ctx, fs, *file, keys, stderr)
		if err != nil {
			return err
		}
		defer svc.Close()
		return searchAll(ctx, svc, cfg.Collection.Name, fs.Args(), sf, stdout)
	}
	return cmd
}

func searchAll(ctx context.Context, svc *plugin.Service, collection string, queries []string, sf searchFlags, w io.Writer) error {
	weights, err := parseWeights(sf.weights)
	if err != nil {
		return err
	}
	for _, q := range queries {
		in := plugin.SearchInput{Query: q, Mode: sf.mode, Signals: sf.signals, Fusion: sf.fusion, Weights: weights, RRFK: sf.rrfK,
			Limit: sf.limit, Explain: sf.explain}
		if sf.alpha >= 0 {
			in.Alpha = &sf.alpha
		}
		res, err := svc.Search(ctx, collection, in)
		if err != nil {
			var ie *plugin.InputError
			if errors.As(err, &ie) {
				return fmt.Errorf("query %q: %w", q, err)
			}
			return err
		}
		if sf.json {
			line, _ := json.Marshal(map[string]any{"query": q, "result": res})
			fmt.Fprintln(w, string(line))
			continue
		}
		printResult(w, q, res)
	}
	return nil
}

func printResult(w io.Writer, q string, res plugin.SearchResult) {
	how := res.Mode
	if res.Fusion != "" {
		how = strings.Join(res.Signals, "+") + " " + res.Fusion
	}
	fmt.Fprintf(w, "\n%q  (%s)\n", q, how)
	if len(res.QueryTerms) > 0 {
		var terms []string
		for _, t := range res.QueryTerms[:min(8, len(res.QueryTerms))] {
			terms = append(terms, fmt.Sprintf("%s %.2f", t.Token, t.Weight))
		}
		fmt.Fprintf(w, "  query expands to: %s\n", strings.Join(terms, ", "))
	}
	if len(res.Hits) == 0 {
		fmt.Fprintln(w, "  no hits")
	}
	for i, h := range res.Hits {
		text := strings.Join(strings.Fields(h.Text), " ")
		if len(text) > 90 {
			text = text[:87] + "..."
		}
		fmt.Fprintf(w, "  %d. %-24s %.4f  %s\n", i+1, h.DocID, h.Score, text)
		if side := sideScores(h.Hit); side != "" {
			fmt.Fprintf(w, "     %s\n", side)
		}
		if len(h.MatchedTerms) > 0 {
			var terms []string
			for _, m := range h.MatchedTerms[:min(5, len(h.MatchedTerms))] {
				terms = append(terms, fmt.Sprintf("%s (%.2f)", m.Token, m.Contribution))
			}
			fmt.Fprintf(w, "     matching terms: %s\n", strings.Join(terms, ", "))
		}
	}
}

// sideScores lists a fused hit's score per signal ("bm25 7.12  sparse
// 21.40  dense 0.61"); "-" for a signal whose candidates it was not among.
func sideScores(h api.Hit) string {
	if h.BM25Score == nil && h.SparseScore == nil && h.DenseScore == nil {
		return ""
	}
	var parts []string
	for _, s := range []struct {
		name string
		x    *float32
	}{{"bm25", h.BM25Score}, {"sparse", h.SparseScore}, {"dense", h.DenseScore}} {
		if s.x == nil {
			parts = append(parts, s.name+" -")
		} else {
			parts = append(parts, fmt.Sprintf("%s %.4f", s.name, *s.x))
		}
	}
	return strings.Join(parts, "  ")
}

// parseWeights reads --weights (signal=number pairs).
func parseWeights(m map[string]string) (map[string]float64, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := map[string]float64{}
	for sig, v := range m {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("--weights: %s=%q is not a number", sig, v)
		}
		out[strings.TrimSpace(sig)] = x
	}
	return out, nil
}
