package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/spladeq/spladeq/splade"
)

// realModel returns a model made by `make models` (scripts/models.sh);
// `make test` runs that first.
func realModel(t *testing.T, name string) string {
	dir := filepath.Join("..", ".deps", "models", name)
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		t.Skipf("%s not found: run `make models` (make test does)", dir)
	}
	return dir
}

type convertedRef struct {
	Texts   []string          `json:"texts"`
	Vectors []json.RawMessage `json:"vectors"`
}

// readRef reads the reference vectors of a real model, written by
// tools/genmodel/convert.py (a float64 numpy forward pass from the
// checkpoint) when `make models` still converted in Python, and kept in
// testdata/NAME.reference.json now that the conversion is Go.
func readRef(t *testing.T, dir string) convertedRef {
	data, err := os.ReadFile(filepath.Join("testdata", filepath.Base(dir)+".reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref convertedRef
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Texts) == 0 || len(ref.Vectors) != len(ref.Texts) {
		t.Fatalf("testdata/%s.reference.json: %d texts, %d vectors; want as many vectors as texts, at least one", filepath.Base(dir), len(ref.Texts), len(ref.Vectors))
	}
	return ref
}

// refVector decodes reference vector i into a value of type T, failing on
// a vector that does not decode.
func refVector[T any](t *testing.T, ref convertedRef, i int) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(ref.Vectors[i]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("reference vector %d (%q): %v", i, ref.Texts[i], err)
	}
	return v
}

func TestTrainedSPLADEMatchesReferenceAndExpandsQueries(t *testing.T) {
	dir := realModel(t, "splade-mini")
	enc, err := splade.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	// The default encoder projects onto the vocabulary in slices, each
	// max-pooled in the graph: the numpy reference below checks the
	// rewritten graph of a real trained export.
	if info := enc.Info(); !info.BlockedHead {
		t.Fatalf("blocked head skipped on the trained model: %s", info.HeadSkipped)
	}
	ref := readRef(t, dir)
	got, err := enc.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ref.Texts) {
		t.Fatalf("%d vectors for %d texts", len(got), len(ref.Texts))
	}
	for i := range ref.Texts {
		want := refVector[splade.SparseVector](t, ref, i)
		if len(want.Indices) == 0 || len(want.Values) != len(want.Indices) {
			t.Fatalf("reference vector %d: %d indices, %d values; want a non-empty vector", i, len(want.Indices), len(want.Values))
		}
		g := map[uint32]float32{}
		for j, id := range got[i].Indices {
			g[id] = got[i].Values[j]
		}
		for j, id := range want.Indices {
			if d := math.Abs(float64(g[id] - want.Values[j])); d > 1e-4 {
				t.Fatalf("text %d index %d: got %v, want %v", i, id, g[id], want.Values[j])
			}
		}
		if len(got[i].Indices) != len(want.Indices) {
			t.Errorf("text %d: %d terms, reference has %d", i, len(got[i].Indices), len(want.Indices))
		}
	}
	// A trained SPLADE expands a query with related vocabulary.
	q, err := enc.EncodeQueries(context.Background(), []string{"What is the capital of France?"})
	if err != nil {
		t.Fatal(err)
	}
	terms, _ := enc.Terms(q[0], 20)
	has := map[string]bool{}
	for _, tm := range terms {
		has[tm.Token] = true
	}
	for _, want := range []string{"capital", "france", "paris"} {
		if !has[want] {
			t.Errorf("top 20 terms %v lack %q", terms, want)
		}
	}
}

func TestMiniLMMatchesReferenceAndRanksParaphrases(t *testing.T) {
	dir := realModel(t, "minilm-l6")
	enc, err := splade.NewDense(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	ref := readRef(t, dir)
	got, err := enc.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ref.Texts) {
		t.Fatalf("%d vectors for %d texts", len(got), len(ref.Texts))
	}
	const dim = 384 // all-MiniLM-L6-v2's hidden size
	for i := range ref.Texts {
		want := refVector[[]float64](t, ref, i)
		if len(want) != dim || len(got[i]) != dim {
			t.Fatalf("text %d: %d dimensions, reference %d; want %d", i, len(got[i]), len(want), dim)
		}
		for j := range want {
			if math.Abs(float64(got[i][j])-want[j]) > 1e-4 {
				t.Fatalf("text %d dim %d: got %v, want %v", i, j, got[i][j], want[j])
			}
		}
	}
	v, err := enc.Encode(context.Background(), []string{"A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."})
	if err != nil {
		t.Fatal(err)
	}
	dot := func(a, b []float32) (s float64) {
		for i := range a {
			s += float64(a[i] * b[i])
		}
		return
	}
	if related, unrelated := dot(v[0], v[1]), dot(v[0], v[2]); related < unrelated+0.5 {
		t.Errorf("paraphrase similarity %.3f is not well above unrelated %.3f", related, unrelated)
	}
}

func TestFoldingPoolingIntoTheTrainedSPLADEKeepsItsVectors(t *testing.T) {
	src := realModel(t, "splade-mini")
	dir := t.TempDir()
	for _, f := range []string{"model.onnx", "tokenizer.json", "config.json", "tokenizer_config.json"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	if err := splade.FoldPooling(filepath.Join(dir, "model.onnx"), filepath.Join(dir, "model.pooled.onnx")); err != nil {
		t.Fatal(err)
	}
	plain, err := splade.New(src)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	folded, err := splade.New(dir, splade.WithONNXFile("model.pooled.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer folded.Close()
	if !folded.Info().Pooled {
		t.Fatalf("folded model not used: %+v", folded.Info())
	}
	texts := readRef(t, src).Texts
	want, _ := plain.Encode(context.Background(), texts)
	got, err := folded.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if len(got[i].Indices) != len(want[i].Indices) {
			t.Fatalf("text %d: %d terms folded, %d plain", i, len(got[i].Indices), len(want[i].Indices))
		}
		for j := range want[i].Indices {
			if got[i].Indices[j] != want[i].Indices[j] || math.Abs(float64(got[i].Values[j]-want[i].Values[j])) > 1e-5 {
				t.Fatalf("text %d entry %d differs: %v=%v vs %v=%v", i, j, got[i].Indices[j], got[i].Values[j], want[i].Indices[j], want[i].Values[j])
			}
		}
	}
}
