package splade

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// reference is testdata/reference.json, written by tools/genmodel/genmodel.py
// from the Python tokenizers package and a float64 numpy forward pass.
type reference struct {
	Texts  []string                          `json:"texts"`
	Models map[string]map[string]refModeData `json:"models"`
}

type refModeData struct {
	MaxLength int            `json:"max_length"`
	TokenIDs  [][]int64      `json:"token_ids"`
	Vectors   []SparseVector `json:"vectors"`
}

func loadReference(t testing.TB) reference {
	t.Helper()
	data, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Texts) < 25 {
		t.Fatalf("reference has %d texts, want at least 25", len(ref.Texts))
	}
	return ref
}

func modelDir(name string) string { return filepath.Join("testdata", "models", name) }

// newTestEncoder opens a fixture model by name, or a model directory by
// absolute path.
func newTestEncoder(t testing.TB, name string, opts ...Option) *Encoder {
	t.Helper()
	dir := name
	if !filepath.IsAbs(name) {
		dir = modelDir(name)
	}
	e, err := New(dir, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// Tolerances of the acceptance criteria: every weight within 1e-4 of the
// reference, and the same indices among weights above 1e-3.
const (
	weightTol    = 1e-4
	indexSetFrom = 1e-3
)

// compareVectors reports how got differs from want beyond the tolerances.
func compareVectors(got, want SparseVector) string {
	if err := got.Validate(); err != nil {
		return "invalid vector: " + err.Error()
	}
	g := map[uint32]float32{}
	for i, id := range got.Indices {
		g[id] = got.Values[i]
	}
	w := map[uint32]float32{}
	for i, id := range want.Indices {
		w[id] = want.Values[i]
	}
	var problems []string
	check := func(id uint32) {
		gv, wv := g[id], w[id]
		if math.Abs(float64(gv-wv)) > weightTol {
			problems = append(problems, "index "+itoa(id)+": got "+ftoa(gv)+", want "+ftoa(wv))
		}
		if (gv > indexSetFrom) != (wv > indexSetFrom) {
			problems = append(problems, "index "+itoa(id)+" above 1e-3 in only one: got "+ftoa(gv)+", want "+ftoa(wv))
		}
	}
	for id := range g {
		check(id)
	}
	for id := range w {
		if _, ok := g[id]; !ok {
			check(id)
		}
	}
	if len(problems) > 5 {
		problems = append(problems[:5], "…")
	}
	return strings.Join(problems, "; ")
}

func TestEncoderMatchesReference(t *testing.T) {
	ref := loadReference(t)
	for _, name := range []string{"bert-tiny", "distilbert-tiny", "bert-tiny-pooled"} {
		modes := ref.Models[name]
		e := newTestEncoder(t, name, WithQueryMaxLength(modes["query"].MaxLength))
		if got, want := e.Info().MaxLength, modes["document"].MaxLength; got != want {
			t.Fatalf("%s: document max length = %d, want %d", name, got, want)
		}
		for _, mode := range []Mode{Document, Query} {
			data := modes[mode.String()]
			t.Run(name+" "+mode.String()+" vectors equal the numpy reference", func(t *testing.T) {
				checkReference(t, e, mode, ref.Texts, data)
			})
		}
	}
}

func TestReferenceCoversTruncation(t *testing.T) {
	ref := loadReference(t)
	doc := ref.Models["bert-tiny"]["document"]
	longest := 0
	for _, ids := range doc.TokenIDs {
		longest = max(longest, len(ids))
	}
	if longest != doc.MaxLength {
		t.Errorf("longest fixture has %d tokens, want one truncated at %d", longest, doc.MaxLength)
	}
}

func TestVectorDoesNotDependOnBatchmates(t *testing.T) {
	ref := loadReference(t)
	e := newTestEncoder(t, "bert-tiny", WithBatchSize(7))
	all, err := e.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range ref.Texts {
		alone, err := e.Encode(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		// Padding only changes the runtime's blocking, never which tokens
		// attend; differences are float rounding.
		if diff := compareVectorsTol(alone[0], all[i], 1e-5); diff != "" {
			t.Errorf("text %d alone vs in a batch: %s", i, diff)
		}
	}
}

func compareVectorsTol(got, want SparseVector, tol float64) string {
	if len(got.Indices) != len(want.Indices) {
		return "got " + itoa(uint32(len(got.Indices))) + " terms, want " + itoa(uint32(len(want.Indices)))
	}
	for i := range got.Indices {
		if got.Indices[i] != want.Indices[i] || math.Abs(float64(got.Values[i]-want.Values[i])) > tol {
			return "entry " + itoa(uint32(i)) + ": got " + itoa(got.Indices[i]) + "=" + ftoa(got.Values[i]) +
				", want " + itoa(want.Indices[i]) + "=" + ftoa(want.Values[i])
		}
	}
	return ""
}

func TestConcurrentEncodeGivesSameVectors(t *testing.T) {
	ref := loadReference(t)
	e := newTestEncoder(t, "bert-tiny")
	want, err := e.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			texts := ref.Texts[g:]
			got, err := e.Encode(context.Background(), texts)
			if err != nil {
				errs <- err.Error()
				return
			}
			for i := range got {
				if d := compareVectorsTol(got[i], want[g+i], 1e-5); d != "" {
					errs <- "goroutine " + itoa(uint32(g)) + " text " + itoa(uint32(g+i)) + ": " + d
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestEncodeHonoursContextAndClose(t *testing.T) {
	e, err := New(modelDir("bert-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Encode(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Encode with cancelled context: got %v, want context.Canceled", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := e.Encode(context.Background(), []string{"a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Encode after Close: got %v, want ErrClosed", err)
	}
	var nilEnc *Encoder
	if err := nilEnc.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
}

func TestEncodeEmptyBatch(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny")
	got, err := e.Encode(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Encode(nil) = %v, %v; want no vectors, no error", got, err)
	}
}

func TestPruningAppliesPerMode(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny", WithPruning(Pruning{TopK: 10}), WithQueryPruning(Pruning{MinWeight: 0.5}))
	text := []string{"The quick brown fox jumps over the lazy dog."}
	docs, err := e.Encode(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	if got := docs[0].Len(); got != 10 {
		t.Errorf("document terms = %d, want 10", got)
	}
	qs, err := e.EncodeQueries(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range qs[0].Values {
		if v < 0.5 {
			t.Errorf("query term %d has weight %v below the 0.5 minimum", qs[0].Indices[i], v)
		}
	}
	if qs[0].Len() == 0 {
		t.Error("query pruning removed every term; the fixture should keep some above 0.5")
	}
}

func TestTermsDecodeVocabulary(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny")
	v := SparseVector{Indices: []uint32{101, 1996, 4248, 99999}, Values: []float32{0.5, 2, 1, 0.1}}
	got, err := e.Terms(v, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Term{{Token: "the", Weight: 2}, {Token: "quick", Weight: 1}, {Token: "[CLS]", Weight: 0.5}}
	if len(got) != len(want) {
		t.Fatalf("Terms = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("term %d = %v, want %v", i, got[i], want[i])
		}
	}
	all, _ := e.Terms(v, 0)
	if all[3].Token != "[99999]" {
		t.Errorf("out-of-vocabulary id decoded as %q, want [99999]", all[3].Token)
	}
}

func TestBadTextIsRejectedWithItsPosition(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny")
	for _, tc := range []struct {
		name  string
		texts []string
		want  string
	}{
		{"invalid UTF-8 names the text and byte", []string{"ok", "ab\xffcd"}, "text 1: invalid UTF-8 at byte 2"},
		{"a NUL byte names the text and byte", []string{"a\x00b"}, "text 0: NUL byte at byte 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Encode(context.Background(), tc.texts)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrInput containing %q", err, tc.want)
			}
		})
	}
}

func TestBadModelDirectoriesGetClearErrors(t *testing.T) {
	tok, err := os.ReadFile(filepath.Join(modelDir("bert-tiny"), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	onnxBytes, err := os.ReadFile(filepath.Join(modelDir("bert-tiny"), "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(t *testing.T, files map[string][]byte) string {
		dir := t.TempDir()
		for name, data := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	readBad := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "bad", name, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lfs := []byte("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 133466304\n")
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"a missing directory", nil, "directory"},
		{"no tokenizer.json", map[string][]byte{"model.onnx": onnxBytes}, "has no tokenizer.json"},
		{"no ONNX file", map[string][]byte{"tokenizer.json": tok}, "has no ONNX file (looked for model.onnx, onnx/model.onnx)"},
		{"an ONNX file that is a Git LFS pointer", map[string][]byte{"tokenizer.json": tok, "model.onnx": lfs}, "model.onnx is a Git LFS pointer"},
		{"an ONNX file that is not ONNX", map[string][]byte{"tokenizer.json": tok, "model.onnx": []byte("<html>not found</html>")}, "model.onnx is not a loadable ONNX model"},
		{"an empty ONNX file", map[string][]byte{"tokenizer.json": tok, "model.onnx": {}}, "model.onnx is empty"},
		{"a tokenizer.json that does not parse", map[string][]byte{"tokenizer.json": []byte("{\n  \"model\": [1,\n}"), "model.onnx": onnxBytes}, "tokenizer.json does not parse: line 3"},
		{"a tokenizer.json that is not a tokenizer", map[string][]byte{"tokenizer.json": []byte(`{"vocab": {}}`), "model.onnx": onnxBytes}, `has no "model" section`},
		{"a config.json that does not parse", map[string][]byte{"tokenizer.json": tok, "model.onnx": onnxBytes, "config.json": []byte("{oops")}, "config.json does not parse: line 1"},
		{"a graph whose output is not logits-shaped", map[string][]byte{"tokenizer.json": tok, "model.onnx": readBad("wrong-output")}, "has no logits-shaped output: outputs are score[]"},
		{"a graph with an input the encoder cannot feed", map[string][]byte{"tokenizer.json": tok, "model.onnx": readBad("extra-input")}, `graph input "position_ids" is not supported`},
		{"a vocab size that disagrees with config.json", map[string][]byte{"tokenizer.json": tok, "model.onnx": onnxBytes, "config.json": []byte(`{"vocab_size": 100}`)}, "config.json says vocab_size 100"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing")
			if tc.files != nil {
				dir = mk(t, tc.files)
			}
			e, err := New(dir)
			if err == nil {
				e.Close()
				t.Fatalf("New succeeded, want an error containing %q", tc.want)
			}
			if !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrModel containing %q", err, tc.want)
			}
		})
	}
}

func TestBadOptionsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"negative top-k", WithPruning(Pruning{TopK: -1}), "top-k must be >= 0"},
		{"NaN min weight", WithQueryPruning(Pruning{MinWeight: float32(math.NaN())}), "min weight must be a finite number"},
		{"max length 1", WithMaxLength(1), "max length must be 0"},
		{"zero batch size", WithBatchSize(0), "batch size must be >= 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(modelDir("bert-tiny"), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(x uint32) string  { return strconv.FormatUint(uint64(x), 10) }
func ftoa(x float32) string { return strconv.FormatFloat(float64(x), 'g', 7, 32) }

// TestParallelBatchesEqualSequential: with one intra-op thread per pass the
// batches of one call run at once, one per core; the vectors must be the
// ones of the default (sequential) run, in input order, and a cancelled
// context must still stop the call.
func TestParallelBatchesEqualSequential(t *testing.T) {
	ref := loadReference(t)
	seq := newTestEncoder(t, "bert-tiny", WithBatchSize(3))
	par := newTestEncoder(t, "bert-tiny", WithBatchSize(3), WithIntraOpThreads(1))
	want, err := seq.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := par.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := compareVectorsTol(got[i], want[i], 1e-6); d != "" {
			t.Errorf("text %d: %s", i, d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := par.Encode(ctx, ref.Texts); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// checkReference encodes texts in one call (short and long texts share
// batches) and compares each one's token ids and vector with a reference.
func checkReference(t *testing.T, e *Encoder, mode Mode, texts []string, data refModeData) {
	t.Helper()
	got, err := e.EncodeMode(context.Background(), mode, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		ids, err := e.TokenIDs(mode, text)
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(ids, data.TokenIDs[i]) {
			t.Errorf("text %d %.40q: token ids %v, want %v", i, text, ids, data.TokenIDs[i])
			continue
		}
		if diff := compareVectors(got[i], data.Vectors[i]); diff != "" {
			t.Errorf("text %d %.40q: %s", i, text, diff)
		}
	}
}
