package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/splade"
)

// TestEvalSweepOnTheCommittedDataset runs `spladeq eval --sweep` on
// examples/beir-sample with the models `make models` converts.
func TestEvalSweepOnTheCommittedDataset(t *testing.T) {
	root, _ := filepath.Abs("../..")
	models := filepath.Join(root, ".deps", "models")
	if _, err := os.Stat(filepath.Join(models, "splade-mini", "model.onnx")); err != nil {
		t.Skip("run `make models` (make test does)")
	}
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eval.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q, max_length: 256}
`, filepath.Join(dir, "store"), filepath.Join(models, "splade-mini"), filepath.Join(models, "minilm-l6"))), 0o644)
	t.Chdir(dir)
	code, out, stderr := spladeq(t, "", "eval", "--config", cfg, "--dataset", filepath.Join(root, "examples", "beir-sample"),
		"--sweep", "--out", "report.json", "--chart", "chart.svg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"240 documents, 210 queries", "nDCG@10", "bm25+sparse+dense rrf k=2", "sparse+dense dbsf", "bm25 ", "sparse top16", "best: "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Results []struct {
			Name    string  `json:"name"`
			Default bool    `json:"default"`
			NDCG    float64 `json:"ndcg_at_10"`
			Recall  float64 `json:"recall_at_100"`
			AvgNNZ  float64 `json:"avg_nnz"`
		} `json:"results"`
		Best struct {
			Name string  `json:"name"`
			NDCG float64 `json:"ndcg_at_10"`
		} `json:"best"`
	}
	data, err := os.ReadFile("report.json")
	if err != nil || json.Unmarshal(data, &rep) != nil {
		t.Fatalf("report.json: %v", err)
	}
	var anyRep any
	json.Unmarshal(data, &anyRep)
	if bad := nonSnakeKeys(anyRep, ""); len(bad) > 0 {
		t.Errorf("report.json keys not in snake_case: %v", bad)
	}
	by := map[string]float64{}
	nnz := map[string]float64{}
	var defaults []string
	for _, r := range rep.Results {
		if r.Default {
			defaults = append(defaults, r.Name)
		}
		by[r.Name] = r.NDCG
		nnz[r.Name] = r.AvgNNZ
		if r.NDCG > rep.Best.NDCG {
			t.Errorf("%s (%.4f) beats the named best %s (%.4f)", r.Name, r.NDCG, rep.Best.Name, rep.Best.NDCG)
		}
	}
	// The configured default (no search keys in the file) is marked, once.
	if want := "bm25+sparse+dense weighted_dbsf bm25=1 sparse=1 dense=2"; len(defaults) != 1 || defaults[0] != want {
		t.Errorf("settings marked default: %v, want [%s]", defaults, want)
	}
	// Weighted fusion at its ends is exactly the single signals. (Not
	// bm25's end: a short BM25 list's last hit normalises to 0, tying with
	// the other list's candidates that BM25 did not find.)
	for _, tc := range []struct{ end, single string }{
		{"sparse+dense weighted sparse=1 dense=0", "sparse"}, {"sparse+dense weighted sparse=0 dense=1", "dense"},
		{"bm25+sparse weighted bm25=0 sparse=1", "sparse"}, {"bm25+dense weighted bm25=0 dense=1", "dense"},
	} {
		if got, ok := by[tc.end]; !ok || got != by[tc.single] {
			t.Errorf("%s %.4f (present %v) vs %s %.4f", tc.end, got, ok, tc.single, by[tc.single])
		}
	}
	if nnz["sparse top16"] > 16 || nnz["sparse top32"] > 32 || nnz["sparse"] <= nnz["sparse top16"] {
		t.Errorf("index sizes: full %.1f, top32 %.1f, top16 %.1f", nnz["sparse"], nnz["sparse top32"], nnz["sparse top16"])
	}
	// Trained models on an easy, self-written set: well above chance.
	for _, name := range []string{"bm25", "sparse", "dense", "bm25+sparse+dense rrf k=2"} {
		if by[name] < 0.8 {
			t.Errorf("%s nDCG@10 = %.4f, want > 0.8 with the trained models", name, by[name])
		}
	}
	svg, err := os.ReadFile("chart.svg")
	if err != nil || !strings.Contains(string(svg), "<polyline") || !strings.Contains(string(svg), "alpha (dense weight)") {
		t.Errorf("chart.svg missing or empty: %v", err)
	}
}

var snakeCase = regexp.MustCompile(`^_?[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// nonSnakeKeys lists the object keys under v that are not snake_case.
func nonSnakeKeys(v any, path string) []string {
	var bad []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeCase.MatchString(k) {
				bad = append(bad, path+"."+k)
			}
			bad = append(bad, nonSnakeKeys(e, path+"."+k)...)
		}
	case []any:
		for i, e := range x {
			bad = append(bad, nonSnakeKeys(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return bad
}
