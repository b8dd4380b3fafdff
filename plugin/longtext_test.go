package plugin

import (
	"context"
	"errors"
	"math"
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
	out, err := s.Infer(context.Background(), []InferenceInput{{Text: longText, Model: model, Options: opts}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func windowTexts(t *testing.T, s *Service, vec string, size, overlap int) []string {
	t.Helper()
	parts, err := s.vecs[vec].(Chunker).Chunks(longText, size, overlap)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 3 {
		t.Fatalf("want a text of several windows, got %d", len(parts))
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.Text
	}
	return texts
}

func TestLongTextMaxCombinesEveryWindow(t *testing.T) {
	cfg := testConfig(t)
	cfg.Ingest.ChunkOverlap = 2
	s := newService(t, cfg)
	ctx := context.Background()

	t.Run("a sparse vector is the element-wise max of its windows' vectors", func(t *testing.T) {
		got := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0, "long_text": "max"})
		windows, err := s.vecs["sparse"].(Sparse).EncodeDocuments(ctx, windowTexts(t, s, "sparse", 6, 2))
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint32]float32{}
		for _, w := range windows {
			for j, i := range w.Indices {
				want[i] = max(want[i], w.Values[j])
			}
		}
		if len(got.Sparse.Indices) != len(want) {
			t.Fatalf("got %d terms, want %d (the union of the windows')", len(got.Sparse.Indices), len(want))
		}
		for j, i := range got.Sparse.Indices {
			if j > 0 && i <= got.Sparse.Indices[j-1] {
				t.Fatalf("indices not strictly increasing at %d", j)
			}
			if got.Sparse.Values[j] != want[i] {
				t.Errorf("term %d: got %v, want %v", i, got.Sparse.Values[j], want[i])
			}
		}
		trunc := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0})
		if len(trunc.Sparse.Indices) >= len(got.Sparse.Indices) {
			t.Errorf("truncate kept %d terms, max %d: the later windows added nothing", len(trunc.Sparse.Indices), len(got.Sparse.Indices))
		}
		if got.Tokens <= trunc.Tokens {
			t.Errorf("tokens: max %d, truncate %d; max must count every window", got.Tokens, trunc.Tokens)
		}
	})

	t.Run("pruning applies to the combined vector", func(t *testing.T) {
		got := infer1(t, s, "spladeq/sparse", map[string]any{"max_length": 8.0, "long_text": "max", "top_k": 5.0})
		if len(got.Sparse.Indices) != 5 {
			t.Errorf("top_k 5 kept %d terms", len(got.Sparse.Indices))
		}
	})

	t.Run("a dense vector is the re-normalised mean of its windows' vectors", func(t *testing.T) {
		got := infer1(t, s, "spladeq/dense", map[string]any{"max_length": 8.0, "long_text": "max"})
		windows, err := s.vecs["dense"].(Dense).EmbedDocuments(ctx, windowTexts(t, s, "dense", 6, 2))
		if err != nil {
			t.Fatal(err)
		}
		mean := make([]float64, len(windows[0]))
		for _, w := range windows {
			for j, x := range w {
				mean[j] += float64(x) / float64(len(windows))
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
		trunc := infer1(t, s, "spladeq/dense", map[string]any{"max_length": 8.0})
		if same := dot(trunc.Dense, got.Dense); same > 0.9999 {
			t.Errorf("max and truncate gave the same vector (cosine %v)", same)
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
