package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSearchSignalsAndWeightsFlags ingests three documents with the
// fixture models and searches with --signals, --fusion and --weights.
func TestSearchSignalsAndWeightsFlags(t *testing.T) {
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	corpus := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(corpus, []byte(`{"id": "fox", "text": "The quick brown fox jumps over the lazy dog."}
{"id": "qdrant", "text": "Qdrant stores sparse vectors next to dense vectors."}
{"id": "splade", "text": "SPLADE expands queries and documents with related terms."}
`), 0o644)
	cfg := filepath.Join(dir, "job.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
ingest:
  source: {type: jsonl, path: %q}
  checkpoint: %q
  dead_letter: %q
`, filepath.Join(dir, "store"), filepath.Join(root, "splade", "testdata", "models", "bert-tiny"),
		filepath.Join(root, "plugin", "testdata", "models", "dense-tiny"), corpus, filepath.Join(dir, "cp.json"), filepath.Join(dir, "dl.jsonl"))), 0o644)
	if code, _, stderr := spladeq(t, "", "ingest", "--config", cfg); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	code, out, stderr := spladeq(t, "", "search", "--config", cfg, "--signals", "bm25,dense", "--fusion", "weighted",
		"--weights", "bm25=3,dense=1", "--json", "lazy dog")
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, stderr)
	}
	var line struct {
		Result struct {
			Mode    string   `json:"mode"`
			Signals []string `json:"signals"`
			Fusion  string   `json:"fusion"`
			Hits    []struct {
				DocID     string   `json:"doc_id"`
				BM25Score *float32 `json:"bm25_score"`
			} `json:"hits"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := line.Result
	if r.Mode != "hybrid" || strings.Join(r.Signals, ",") != "bm25,dense" || r.Fusion != "weighted" || len(r.Hits) == 0 || r.Hits[0].DocID != "fox" {
		t.Errorf("result = %+v, want bm25 and dense fused by weight, fox first", r)
	}
	if r.Hits[0].BM25Score == nil {
		t.Errorf("explained hit has no bm25 score: %s", out)
	}
	code, out, _ = spladeq(t, "", "search", "--config", cfg, "--signals", "bm25,sparse,dense", "--fusion", "rrf", "--rrf-k", "2", "lazy dog")
	if code != 0 || !strings.Contains(out, "bm25+sparse+dense rrf") || !strings.Contains(out, "bm25 ") {
		t.Errorf("search table (exit %d) lacks the signals and the side scores:\n%s", code, out)
	}
	code, _, stderr = spladeq(t, "", "search", "--config", cfg, "--weights", "bm25=heavy", "x")
	if code == 0 || !strings.Contains(stderr, `--weights: bm25="heavy" is not a number`) {
		t.Errorf("a bad weight: exit %d, %s", code, stderr)
	}
}
