package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/splade"
)

// longText is well over the 8-token windows the tests ask for; its last
// words appear in no earlier window.
const longText = "The quick brown fox jumps over the lazy dog near the river bank. " +
	"Later that evening the farmer counted his sheep twice and went to sleep. " +
	"Zebras graze quietly on distant savannah plains."

func infer1(t *testing.T, s *Service, model string, opts map[string]any) InferenceOutput {
	t.Helper()
	return inferText(t, s, model, longText, opts)
}

func inferText(t *testing.T, s *Service, model, text string, opts map[string]any) InferenceOutput {
	t.Helper()
	out, err := s.Infer(context.Background(), []InferenceInput{{Text: text, Model: model, Options: opts}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// checkSparseMax wants got to be the element-wise max of the windows'
// vectors, each encoded alone, with more terms and tokens than truncate.
func checkSparseMax(t *testing.T, s *Service, got, trunc InferenceOutput, windows []string) {
	t.Helper()
	vecs, err := s.vecs["sparse"].(Sparse).EncodeDocuments(context.Background(), windows)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]float32{}
	for _, w := range vecs {
		for j, i := range w.Indices {
			want[i] = max(want[i], w.Values[j])
		}
	}
	if len(got.Sparse.Indices) != len(want) {
		t.Fatalf("got %d terms, want %d (the union of the %d windows')", len(got.Sparse.Indices), len(want), len(windows))
	}
	for j, i := range got.Sparse.Indices {
		if j > 0 && i <= got.Sparse.Indices[j-1] {
			t.Fatalf("indices not strictly increasing at %d", j)
		}
		if got.Sparse.Values[j] != want[i] {
			t.Errorf("term %d: got %v, want %v", i, got.Sparse.Values[j], want[i])
		}
	}
	if len(trunc.Sparse.Indices) >= len(got.Sparse.Indices) {
		t.Errorf("truncate kept %d terms, max %d: the later windows added nothing", len(trunc.Sparse.Indices), len(got.Sparse.Indices))
	}
	if got.Tokens <= trunc.Tokens {
		t.Errorf("tokens: max %d, truncate %d; max must count every window", got.Tokens, trunc.Tokens)
	}
}

// checkDenseMean wants got to be the re-normalised mean of the windows'
// vectors, each embedded alone, and to differ from truncate's.
func checkDenseMean(t *testing.T, s *Service, got, trunc InferenceOutput, windows []string) {
	t.Helper()
	vecs, err := s.vecs["dense"].(Dense).EmbedDocuments(context.Background(), windows)
	if err != nil {
		t.Fatal(err)
	}
	mean := make([]float64, len(vecs[0]))
	for _, w := range vecs {
		for j, x := range w {
			mean[j] += float64(x) / float64(len(vecs))
		}
	}
	var norm, gotNorm float64
	for j := range mean {
		norm += mean[j] * mean[j]
		gotNorm += float64(got.Dense[j]) * float64(got.Dense[j])
	}
	if math.Abs(gotNorm-1) > 1e-5 {
		t.Errorf("|v|^2 = %v, want 1", gotNorm)
	}
	for j := range mean {
		if want := mean[j] / math.Sqrt(norm); math.Abs(float64(got.Dense[j])-want) > 1e-5 {
			t.Fatalf("dimension %d: got %v, want %v", j, got.Dense[j], want)
		}
	}
	if same := dot(trunc.Dense, got.Dense); same > 0.9999 {
		t.Errorf("max and truncate gave the same vector (cosine %v)", same)
	}
}

// windowCase is one case of testdata/longtext_windows.json: a text and the
// windows long_text "max" must encode for it, cut by the Python tokenizers
// package (testdata/longtext_windows.py), not by the Chunks under test.
type windowCase struct {
	Vectorizer string   `json:"vectorizer"`
	TextName   string   `json:"text_name"`
	Text       string   `json:"text"`
	Size       int      `json:"size"`
	Overlap    int      `json:"overlap"`
	Windows    []string `json:"windows"`
}

func readWindowCases(t *testing.T) []windowCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pluginDir, "testdata", "longtext_windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Cases []windowCase }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("testdata/longtext_windows.json has no cases")
	}
	return doc.Cases
}

// truncatingCopy is a model directory like dir whose tokenizer.json
// truncates at maxLength tokens, as real exports' do (512 for BERT, 128
// for all-MiniLM-L6-v2): windows must still cover the whole text.
func truncatingCopy(t *testing.T, dir string, maxLength int) string {
	t.Helper()
	dir, _ = filepath.Abs(filepath.Join(pluginDir, dir))
	out := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "tokenizer.json" {
			if err := os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(out, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	if err := json.Unmarshal(data, &tok); err != nil {
		t.Fatal(err)
	}
	tok["truncation"] = map[string]any{"direction": "Right", "max_length": maxLength, "strategy": "LongestFirst", "stride": 0}
	data, _ = json.Marshal(tok)
	if err := os.WriteFile(filepath.Join(out, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLongTextMaxCombinesEveryWindow checks long_text "max" against the
// windows the Python tokenizers package cuts, each encoded alone, with the
// fixtures' tokenizer files and with copies that truncate as real models'
// files do.
func TestLongTextMaxCombinesEveryWindow(t *testing.T) {
	ctx := context.Background()
	for _, tokenizer := range []string{"as it is", "truncating at 8 tokens"} {
		t.Run("tokenizer files "+tokenizer, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Ingest.ChunkOverlap = 2
			if tokenizer != "as it is" {
				for _, v := range []string{"sparse", "dense"} {
					vc := cfg.Vectorizers[v]
					vc.Model = truncatingCopy(t, vc.Model, 8)
					cfg.Vectorizers[v] = vc
				}
			}
			s := newService(t, cfg)
			for _, wc := range readWindowCases(t) {
				name := fmt.Sprintf("%s, %s text, windows of %d sharing %d", wc.Vectorizer, wc.TextName, wc.Size, wc.Overlap)
				t.Run(name, func(t *testing.T) {
					parts, err := s.vecs[wc.Vectorizer].(Chunker).Chunks(wc.Text, wc.Size, wc.Overlap)
					if err != nil {
						t.Fatal(err)
					}
					var cut []string
					for _, p := range parts {
						cut = append(cut, p.Text)
					}
					if !slices.Equal(cut, wc.Windows) {
						t.Errorf("Chunks cut %d windows %q,\nthe tokenizers package %d %q", len(cut), cut, len(wc.Windows), wc.Windows)
					}
					// max_length counts the two special tokens; the
					// overlap is ingest.chunk_overlap, at most half a window.
					maxLength := float64(wc.Size + 2)
					got := inferText(t, s, "spladeq/"+wc.Vectorizer, wc.Text, map[string]any{"max_length": maxLength, "long_text": "max"})
					trunc := inferText(t, s, "spladeq/"+wc.Vectorizer, wc.Text, map[string]any{"max_length": maxLength})
					if wc.Vectorizer == "sparse" {
						checkSparseMax(t, s, got, trunc, wc.Windows)
					} else {
						checkDenseMean(t, s, got, trunc, wc.Windows)
					}
				})
			}
		})
	}

	cfg := testConfig(t)
	cfg.Ingest.ChunkOverlap = 2
	s := newService(t, cfg)

	t.Run("pruning applies to the combined vector", func(t *testing.T) {
		got := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0, "long_text": "max", "top_k": 5.0})
		if len(got.Sparse.Indices) != 5 {
			t.Errorf("top_k 5 kept %d terms", len(got.Sparse.Indices))
		}
	})

	t.Run("a text within one window is encoded as truncate would", func(t *testing.T) {
		out, err := s.Infer(ctx, []InferenceInput{
			{Text: "short text", Model: "spladeq/sparse", Options: map[string]any{"long_text": "max"}},
			{Text: "short text", Model: "spladeq/sparse"},
		}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !equalSparse(*out[0].Sparse, *out[1].Sparse) {
			t.Errorf("max %v, truncate %v", out[0].Sparse, out[1].Sparse)
		}
	})

	t.Run("a bad long_text is named", func(t *testing.T) {
		_, err := s.Infer(ctx, []InferenceInput{{Text: "x", Model: "spladeq/sparse", Options: map[string]any{"long_text": "all"}}}, false)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "inputs[0].options.long_text") || !strings.Contains(err.Error(), `"all"`) {
			t.Fatalf("got %v, want an input error naming inputs[0].options.long_text", err)
		}
	})

}

func TestLongTextMaxNeedsTokenWindows(t *testing.T) {
	srv, _ := fakeEmbeddings(t, 0, 0, 4)
	cfg := testConfig(t)
	cfg.Server.LongText = config.LongTextMax
	s, err := New(context.Background(), cfg, WithVectorizer("remote", openAIModule(t, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	t.Run("the configured default falls back to the whole text", func(t *testing.T) {
		if _, err := s.Infer(ctx, []InferenceInput{{Text: longText, Model: "spladeq/remote"}}, false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("asked for by name, it is an error naming the option", func(t *testing.T) {
		_, err := s.Infer(ctx, []InferenceInput{{Text: "x", Model: "spladeq/remote", Options: map[string]any{"long_text": "max"}}}, false)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "inputs[0].options.long_text") {
			t.Fatalf("got %v, want an input error naming inputs[0].options.long_text", err)
		}
	})
}

func TestLongTextDefaultComesFromConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.LongText = config.LongTextMax
	cfg.Ingest.ChunkOverlap = 2
	s := newService(t, cfg)
	byDefault := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0})
	asked := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0, "long_text": "max"})
	truncated := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0, "long_text": "truncate"})
	if !equalSparse(*byDefault.Sparse, *asked.Sparse) {
		t.Errorf("server.long_text max: the default differs from long_text max")
	}
	if equalSparse(*byDefault.Sparse, *truncated.Sparse) {
		t.Errorf("long_text truncate did not override server.long_text max")
	}
}

func equalSparse(a, b splade.SparseVector) bool {
	if len(a.Indices) != len(b.Indices) {
		return false
	}
	for i := range a.Indices {
		if a.Indices[i] != b.Indices[i] || a.Values[i] != b.Values[i] {
			return false
		}
	}
	return true
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
