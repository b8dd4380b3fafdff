package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/eval"
	"github.com/spladeq/spladeq/splade"
)

// TestLongTextEvaluation measures what long_text "max" is worth against
// "truncate" through the path Qdrant's inference takes (one vector per
// Document, Service.Infer): every document of each BEIR set under
// $SPLADEQ_LONGTEXT_EVAL (e.g. .deps/evalsets after `make evalsets`) is
// encoded both ways with the bundled models, queries are scored exactly
// (sparse dot product, dense cosine, RRF of the two) and nDCG@10 is
// reported over the queries whose relevant document is long
// (qrels/long.tsv) and over all (qrels/test.tsv), with the encode time of
// each way. A measurement, not a check: it runs only when the variable is
// set, and writes a Markdown table to $SPLADEQ_LONGTEXT_OUT when that is
// set.
//
//	make evalsets
//	SPLADEQ_LONGTEXT_EVAL=$PWD/.deps/evalsets SPLADEQ_LONGTEXT_OUT=/tmp/longtext.md \
//	  go test -count=1 -run TestLongTextEvaluation -timeout 60m -v ./integration/
func TestLongTextEvaluation(t *testing.T) {
	root := os.Getenv("SPLADEQ_LONGTEXT_EVAL")
	if root == "" {
		t.Skip("set SPLADEQ_LONGTEXT_EVAL to a directory of BEIR sets (make evalsets) to measure long_text")
	}
	sets, err := filepath.Glob(filepath.Join(root, "*", "corpus.jsonl"))
	if err != nil || len(sets) == 0 {
		t.Fatalf("no */corpus.jsonl under %s", root)
	}
	models := filepath.Dir(realModelAbs(t, "splade-mini"))
	realModelAbs(t, "minilm-l6")
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Models.Dir = models
	cfg.Qdrant.URL = "embedded://" + t.TempDir()
	ctx := context.Background()
	svc, err := plugin.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	var table strings.Builder
	fmt.Fprintf(&table, "| set | queries | long_text | encode s (docs) | tokens | sparse nDCG@10 | dense nDCG@10 | RRF k=%d nDCG@10 |\n|---|---|---|---|---|---|---|---|\n", cfg.Search.RRFK)
	for _, corpus := range sets {
		dir := filepath.Dir(corpus)
		ids, texts := readCorpus(t, corpus)
		var splits []*eval.Dataset
		var names []string
		for _, split := range []string{"long", "test"} {
			if _, err := os.Stat(filepath.Join(dir, "qrels", split+".tsv")); err != nil {
				continue
			}
			ds, err := eval.LoadDataset(dir, split)
			if err != nil {
				t.Fatal(err)
			}
			splits, names = append(splits, ds), append(names, split)
		}
		for _, mode := range []string{config.LongTextTruncate, config.LongTextMax} {
			docs, took, tokens := inferAll(t, svc, texts, mode, false)
			for si, ds := range splits {
				qtexts := make([]string, len(ds.Queries))
				for i, q := range ds.Queries {
					qtexts[i] = q.Text
				}
				queries, _, _ := inferAll(t, svc, qtexts, "", true)
				var nd [3]float64
				for qi, q := range ds.Queries {
					runs := [2][]eval.Ranked{}
					for di := range docs {
						runs[0] = append(runs[0], eval.Ranked{DocID: ids[di], Score: sparseDot(*queries[qi].Sparse, *docs[di].Sparse)})
						runs[1] = append(runs[1], eval.Ranked{DocID: ids[di], Score: denseDot(queries[qi].Dense, docs[di].Dense)})
					}
					for k := range runs {
						runs[k] = eval.Order(runs[k])
						nd[k] += eval.NDCG(runs[k], ds.Qrels[q.ID], 10)
					}
					nd[2] += eval.NDCG(rrf(cfg.Search.RRFK, runs[0], runs[1]), ds.Qrels[q.ID], 10)
				}
				n := float64(len(ds.Queries))
				fmt.Fprintf(&table, "| %s | %d (%s) | %s | %.1f (%d) | %d | %.4f | %.4f | %.4f |\n", filepath.Base(dir), len(ds.Queries), names[si],
					mode, took.Seconds(), len(docs), tokens, nd[0]/n, nd[1]/n, nd[2]/n)
			}
			t.Logf("%s %s: %d documents in %v", filepath.Base(dir), mode, len(docs), took)
		}
	}
	t.Logf("\n%s", table.String())
	if out := os.Getenv("SPLADEQ_LONGTEXT_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readCorpus reads a BEIR corpus.jsonl: ids and texts (title and text
// joined as ingestion joins fields).
func readCorpus(t *testing.T, path string) (ids, texts []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var d struct{ ID, Title, Text string }
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		var id struct {
			ID string `json:"_id"`
		}
		json.Unmarshal(sc.Bytes(), &id)
		text := d.Text
		if strings.TrimSpace(d.Title) != "" {
			text = d.Title + "\n\n" + d.Text
		}
		ids, texts = append(ids, id.ID), append(texts, text)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, texts
}

// inferAll encodes texts with the sparse and dense models through
// Service.Infer, as Qdrant's inference calls it, long_text set to mode
// (when not empty); it returns the outputs, the time taken and the tokens
// the models saw.
func inferAll(t *testing.T, svc *plugin.Service, texts []string, mode string, query bool) ([]pair, time.Duration, int) {
	t.Helper()
	var opts map[string]any
	if mode != "" {
		opts = map[string]any{"long_text": mode}
	}
	out := make([]pair, len(texts))
	tokens := 0
	start := time.Now()
	const batch = 32
	for lo := 0; lo < len(texts); lo += batch {
		hi := min(lo+batch, len(texts))
		var in []plugin.InferenceInput
		for _, text := range texts[lo:hi] {
			in = append(in, plugin.InferenceInput{Text: text, Model: "spladeq/sparse", Options: opts},
				plugin.InferenceInput{Text: text, Model: "spladeq/dense", Options: opts})
		}
		res, err := svc.Infer(context.Background(), in, query)
		if err != nil {
			t.Fatalf("infer texts %d..%d: %v", lo, hi, err)
		}
		for k := lo; k < hi; k++ {
			s, d := res[2*(k-lo)], res[2*(k-lo)+1]
			out[k] = pair{Sparse: s.Sparse, Dense: d.Dense}
			tokens += s.Tokens
		}
	}
	return out, time.Since(start), tokens
}

type pair struct {
	Sparse *splade.SparseVector
	Dense  []float32
}

// sparseDot is the dot product of two sparse vectors (indices increasing).
func sparseDot(a, b splade.SparseVector) float64 {
	var s float64
	for i, j := 0, 0; i < len(a.Indices) && j < len(b.Indices); {
		switch {
		case a.Indices[i] < b.Indices[j]:
			i++
		case a.Indices[i] > b.Indices[j]:
			j++
		default:
			s += float64(a.Values[i]) * float64(b.Values[j])
			i, j = i+1, j+1
		}
	}
	return s
}

func denseDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestLongTextRRFIsQdrants pins the measurement's fusion to Qdrant's
// formula: a point first in one run and second in another scores
// 1/k + 1/(k+1).
func TestLongTextRRFIsQdrants(t *testing.T) {
	a := []eval.Ranked{{DocID: "x"}, {DocID: "y"}}
	b := []eval.Ranked{{DocID: "y"}, {DocID: "z"}}
	got := rrf(5, a, b)
	want := []eval.Ranked{{DocID: "y", Score: 1.0/6 + 1.0/5}, {DocID: "x", Score: 1.0 / 5}, {DocID: "z", Score: 1.0 / 6}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].DocID != want[i].DocID || math.Abs(got[i].Score-want[i].Score) > 1e-12 {
			t.Errorf("rank %d: got %s %.6f, want %s %.6f", i, got[i].DocID, got[i].Score, want[i].DocID, want[i].Score)
		}
	}
}

// rrf fuses ordered runs by reciprocal rank as Qdrant's RRF does (and
// spladeq's, which Qdrant runs): 1/(k+rank) with ranks from 0, so the top
// of a run adds 1/k (the embedded store's rrf, checked against Qdrant by
// TestConformanceFormulaAndWeightedRRF).
func rrf(k int, runs ...[]eval.Ranked) []eval.Ranked {
	score := map[string]float64{}
	for _, run := range runs {
		for r, x := range run {
			score[x.DocID] += 1 / float64(k+r)
		}
	}
	out := make([]eval.Ranked, 0, len(score))
	for id, s := range score {
		out = append(out, eval.Ranked{DocID: id, Score: s})
	}
	return eval.Order(out)
}
