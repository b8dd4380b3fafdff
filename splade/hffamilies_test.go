package splade_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spladeq/spladeq/splade"
)

// The HuggingFace-checkpoint fixtures (testdata/models/hf-*, written by
// tools/genmodel/families.py) and the token-weight graph beside them carry a
// reference.json from tools/genmodel/hfref.py: a float64 numpy pass over the
// files on disk that shares no code with this package. Only the public API is
// used here: New on a directory with no ONNX file builds the graph from the
// checkpoint, the texts go through in one padded batch per mode.

type hfRefVector struct {
	Indices []uint32  `json:"indices"`
	Values  []float64 `json:"values"`
}

type hfRefMode struct {
	MaxLength int           `json:"max_length"`
	TokenIDs  [][]int64     `json:"token_ids"`
	Vectors   []hfRefVector `json:"vectors"`
}

type hfRef struct {
	Architecture string                          `json:"architecture"`
	Texts        []string                        `json:"texts"`
	Models       map[string]map[string]hfRefMode `json:"models"`
}

// hfTolerance: the references are float64, the graphs float32; no pooled
// logit of a fixture lies within 1e-3 of zero, so the term sets must match.
const hfTolerance = 1e-4

func TestHFFamiliesMatchNumpyReference(t *testing.T) {
	dirs := []string{"hf-bert", "hf-bert-fp16", "hf-bert-bf16", "hf-distilbert", "hf-roberta", "hf-xlmr", "tokenweight-xlmr"}
	for _, name := range dirs {
		t.Run(name, func(t *testing.T) {
			checkHFReference(t, filepath.Join("testdata", "models", name), name)
		})
	}
}

// TestSpladeMiniCheckpointMatchesNumpyReference checks the trained SPLADE laid
// out as a checkpoint by scripts/models-hf.sh (make models).
func TestSpladeMiniCheckpointMatchesNumpyReference(t *testing.T) {
	dir := filepath.Join("..", ".deps", "models", "splade-mini-hf")
	if _, err := os.Stat(filepath.Join(dir, "reference.json")); err != nil {
		t.Skipf("%s not installed (make models runs scripts/models-hf.sh): %v", dir, err)
	}
	checkHFReference(t, dir, "splade-mini-hf")
}

func checkHFReference(t *testing.T, dir, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref hfRef
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s/reference.json: %v", dir, err)
	}
	modes, ok := ref.Models[name]
	if !ok {
		t.Fatalf("%s/reference.json has no models.%s", dir, name)
	}
	enc, err := splade.New(dir, splade.WithMaxLength(modes["document"].MaxLength),
		splade.WithQueryMaxLength(modes["query"].MaxLength))
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	defer enc.Close()
	ctx := context.Background()
	for _, mode := range []string{"document", "query"} {
		want := modes[mode]
		if len(ref.Texts) == 0 || len(want.Vectors) != len(ref.Texts) || len(want.TokenIDs) != len(ref.Texts) {
			t.Fatalf("%s: %d vectors and %d token id lists for %d texts", mode, len(want.Vectors), len(want.TokenIDs), len(ref.Texts))
		}
		// The ids the reference's tokenizer (the Python tokenizers package,
		// truncated at max_length, special tokens added) fed its model are
		// the ids this encoder feeds the graph.
		m := splade.Document
		if mode == "query" {
			m = splade.Query
		}
		for i, text := range ref.Texts {
			ids, err := enc.TokenIDs(m, text)
			if err != nil {
				t.Fatalf("%s text %d: %v", mode, i, err)
			}
			if !slices.Equal(ids, want.TokenIDs[i]) {
				t.Errorf("%s text %d (%q): token ids %v, reference %v", mode, i, text, ids, want.TokenIDs[i])
			}
		}
		var got []splade.SparseVector
		if mode == "document" {
			got, err = enc.Encode(ctx, ref.Texts)
		} else {
			got, err = enc.EncodeQueries(ctx, ref.Texts)
		}
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		worst := 0.0
		for i, w := range want.Vectors {
			g := got[i]
			if len(g.Indices) != len(w.Indices) {
				t.Errorf("%s text %d (%q): %d terms, reference %d", mode, i, ref.Texts[i], len(g.Indices), len(w.Indices))
				continue
			}
			for k := range w.Indices {
				if g.Indices[k] != w.Indices[k] {
					t.Errorf("%s text %d: term %d is id %d, reference %d", mode, i, k, g.Indices[k], w.Indices[k])
					break
				}
				d := math.Abs(float64(g.Values[k]) - w.Values[k])
				worst = math.Max(worst, d)
				if d > hfTolerance {
					t.Errorf("%s text %d id %d: %.6f, reference %.6f", mode, i, w.Indices[k], g.Values[k], w.Values[k])
				}
			}
		}
		t.Logf("%s (%s): max |difference| %.3g over %d texts", mode, ref.Architecture, worst, len(ref.Texts))
	}
}
