package splade

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestClassifyOutput(t *testing.T) {
	for _, tc := range []struct {
		dims []int64
		want OutputKind
	}{
		{[]int64{-1, -1, 30522}, OutputLogits},
		{[]int64{-1, -1, -1}, OutputLogits},
		{[]int64{-1, -1, 1}, OutputTokenWeights},
		{[]int64{-1, -1}, OutputTokenWeights},
		{[]int64{-1, 30522}, OutputPooled},
		{[]int64{-1, 1024}, OutputPooled},
		{[]int64{-1}, ""},
		{[]int64{-1, -1, 1, 1}, ""},
	} {
		if got := classifyOutput(tc.dims); got != tc.want {
			t.Errorf("classifyOutput(%v) = %q, want %q", tc.dims, got, tc.want)
		}
	}
}

func TestPickSparseOutput(t *testing.T) {
	threeHead := []outputShape{{"dense_vecs", []int64{-1, 1024}}, {"sparse_vecs", []int64{-1, -1, 1}}, {"colbert_vecs", []int64{-1, -1, 1024}}}
	splade := []outputShape{{"logits", []int64{-1, -1, 30522}}}
	pooled := []outputShape{{"sparse_embedding", []int64{-1, 30522}}}
	dynPooled := []outputShape{{"sparse_embedding", []int64{-1, -1}}}
	for _, tc := range []struct {
		name     string
		outs     []outputShape
		want     OutputKind
		wantName string
		wantKind OutputKind
	}{
		{"auto takes the token weights of a three-head export", threeHead, OutputAuto, "sparse_vecs", OutputTokenWeights},
		{"auto takes logits", splade, OutputAuto, "logits", OutputLogits},
		{"auto takes a pooled output", pooled, OutputAuto, "sparse_embedding", OutputPooled},
		{"auto takes a dynamic rank-2 output for token weights", dynPooled, OutputAuto, "sparse_embedding", OutputTokenWeights},
		{"pooled named reads a dynamic rank-2 output as pooled", dynPooled, OutputPooled, "sparse_embedding", OutputPooled},
		{"logits named on a three-head export takes the rank-3 output", threeHead, OutputLogits, "sparse_vecs", OutputLogits},
		{"token weights named on a logits graph finds none", splade, OutputTokenWeights, "", ""},
		{"pooled named on a logits graph finds none", splade, OutputPooled, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, kind := pickSparseOutput(tc.outs, tc.want)
			name := ""
			if i >= 0 {
				name = tc.outs[i].name
			}
			if name != tc.wantName || kind != tc.wantKind {
				t.Errorf("got %q as %q, want %q as %q", name, kind, tc.wantName, tc.wantKind)
			}
		})
	}
}

func TestPoolTokenWeights(t *testing.T) {
	special := map[uint32]bool{0: true, 2: true}
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name    string
		weights []float32
		ids     []int64
		vocab   int
		want    SparseVector
	}{
		{"keeps the largest weight of a repeated id", []float32{9, 0.5, 0.7, 0.2, 9}, []int64{0, 7, 7, 7, 2}, 10,
			SparseVector{Indices: []uint32{7}, Values: []float32{0.7}}},
		{"drops special tokens however heavy", []float32{5, 1, 5}, []int64{0, 3, 2}, 10,
			SparseVector{Indices: []uint32{3}, Values: []float32{1}}},
		{"applies ReLU: negative and zero weights vanish", []float32{-1, 0, 0.3, -0.2}, []int64{4, 5, 6, 6}, 10,
			SparseVector{Indices: []uint32{6}, Values: []float32{0.3}}},
		{"a negative occurrence does not hide a positive one", []float32{-3, 0.4}, []int64{8, 8}, 10,
			SparseVector{Indices: []uint32{8}, Values: []float32{0.4}}},
		{"drops NaN", []float32{nan, 1}, []int64{5, 6}, 10,
			SparseVector{Indices: []uint32{6}, Values: []float32{1}}},
		{"sorts indices", []float32{1, 2, 3}, []int64{9, 1, 5}, 10,
			SparseVector{Indices: []uint32{1, 5, 9}, Values: []float32{2, 3, 1}}},
		{"drops ids outside the vocabulary", []float32{1, 2}, []int64{3, 12}, 10,
			SparseVector{Indices: []uint32{3}, Values: []float32{1}}},
		{"reads only the text's tokens, not the padding after them", []float32{1, 2, 99, 99}, []int64{3, 4}, 10,
			SparseVector{Indices: []uint32{3, 4}, Values: []float32{1, 2}}},
		{"an empty text has an empty vector", nil, nil, 10, SparseVector{Indices: []uint32{}, Values: []float32{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := poolTokenWeights(tc.weights, tc.ids, special, tc.vocab)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReadSpecialIDs(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []uint32
	}{
		// XLM-R: <s> <pad> </s> <unk>, <mask> last.
		{modelDir(tokenWeightsFixture), []uint32{0, 1, 2, 3, 134}},
		// BERT: [PAD] [UNK] [CLS] [SEP] [MASK].
		{modelDir("bert-tiny"), []uint32{0, 100, 101, 102, 103}},
	} {
		tk := filepath.Join(tc.dir, "tokenizer.json")
		vocab, err := readVocab(tk)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := readSpecialIDs(tc.dir, tk, vocab)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint32
		for id := range ids {
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: special ids %v, want %v", tc.dir, got, tc.want)
		}
	}
}

func TestReadSpecialIDsFromConfigFilesOnly(t *testing.T) {
	// A tokenizer.json whose added tokens are not marked special: the
	// names in tokenizer_config.json and special_tokens_map.json still
	// count, as strings or as AddedToken objects.
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tokenizer.json", `{"added_tokens":[{"id":5,"content":"<x>","special":false}],"model":{"vocab":{"<s>":0,"a":1,"</s>":2,"<m>":3}}}`)
	write("tokenizer_config.json", `{"bos_token":"<s>","eos_token":{"content":"</s>"},"pad_token":null}`)
	write("special_tokens_map.json", `{"mask_token":"<m>"}`)
	vocab, err := readVocab(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := readSpecialIDs(dir, filepath.Join(dir, "tokenizer.json"), vocab)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]bool{0: true, 2: true, 3: true}; !reflect.DeepEqual(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
	write("tokenizer_config.json", `{"bos_token": [}`)
	if _, err := readSpecialIDs(dir, filepath.Join(dir, "tokenizer.json"), vocab); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") {
		t.Errorf("a malformed tokenizer_config.json gave %v, want an error naming it", err)
	}
}

// tokenWeightsFixture is written by tools/genmodel/tokenweights.py: a
// BGE-M3-shaped three-head graph over an XLM-R style Unigram tokenizer.
const tokenWeightsFixture = "xlmr-token-weights-tiny"

type tokenWeightsReference struct {
	MaxLength int `json:"max_length"`
	VocabSize int `json:"vocab_size"`
	Cases     []struct {
		Text    string    `json:"text"`
		IDs     []int64   `json:"ids"`
		Indices []uint32  `json:"indices"`
		Values  []float32 `json:"values"`
	} `json:"cases"`
}

func loadTokenWeightsReference(t *testing.T) tokenWeightsReference {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(modelDir(tokenWeightsFixture), "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref tokenWeightsReference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 5 {
		t.Fatalf("reference has %d texts", len(ref.Cases))
	}
	return ref
}

func TestTokenWeightsModelMatchesReference(t *testing.T) {
	ref := loadTokenWeightsReference(t)
	texts := make([]string, len(ref.Cases))
	for i, c := range ref.Cases {
		texts[i] = c.Text
	}
	for _, graph := range []string{"onnx/model.onnx", "onnx/model.squeezed.onnx"} {
		t.Run(graph, func(t *testing.T) {
			// Padding ratio 1: every text shares one padded batch, so a
			// weight read from padding would show.
			e := newTestEncoder(t, tokenWeightsFixture, WithONNXFile(graph), WithMaxPadding(1))
			info := e.Info()
			if info.OutputKind != OutputTokenWeights || info.Output != "sparse_vecs" {
				t.Errorf("output %q as %q, want sparse_vecs as token_weights", info.Output, info.OutputKind)
			}
			if slices.Contains(info.Inputs, "token_type_ids") {
				t.Errorf("inputs %v: token_type_ids sent to a graph that lacks it", info.Inputs)
			}
			if info.VocabSize != ref.VocabSize || info.MaxLength != ref.MaxLength {
				t.Errorf("vocab %d, max length %d; want %d, %d", info.VocabSize, info.MaxLength, ref.VocabSize, ref.MaxLength)
			}
			if info.BlockedHead || info.Gathered || info.HeadSkipped == "" || info.GatherSkipped == "" {
				t.Errorf("head rewrites: blocked %v (%q), gathered %v (%q); want both skipped with a reason",
					info.BlockedHead, info.HeadSkipped, info.Gathered, info.GatherSkipped)
			}
			got, err := e.Encode(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range ref.Cases {
				ids, err := e.TokenIDs(Document, c.Text)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids, c.IDs) {
					t.Errorf("text %d %q: token ids %v, want %v", i, c.Text, ids, c.IDs)
				}
				if diff := compareVectors(got[i], SparseVector{Indices: c.Indices, Values: c.Values}); diff != "" {
					t.Errorf("text %d %q: %s", i, c.Text, diff)
				}
			}
			// One at a time gives the same vectors: no batchmate leaks in.
			for i, text := range texts {
				one, err := e.Encode(context.Background(), []string{text})
				if err != nil {
					t.Fatal(err)
				}
				if diff := compareVectors(one[0], got[i]); diff != "" {
					t.Errorf("text %d alone: %s", i, diff)
				}
			}
		})
	}
}

func TestOutputKindOption(t *testing.T) {
	t.Run("token weights named on a logits model is refused with the outputs listed", func(t *testing.T) {
		_, err := New(modelDir("bert-tiny"), WithOutputKind(OutputTokenWeights))
		if err == nil || !strings.Contains(err.Error(), "no output that can hold token_weights") || !strings.Contains(err.Error(), "logits") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("pooled named on a pooled model loads it as pooled", func(t *testing.T) {
		e := newTestEncoder(t, "bert-tiny-pooled", WithOutputKind(OutputPooled))
		if k := e.Info().OutputKind; k != OutputPooled {
			t.Errorf("kind %q", k)
		}
	})
	t.Run("logits models report logits", func(t *testing.T) {
		e := newTestEncoder(t, "bert-tiny")
		if k := e.Info().OutputKind; k != OutputLogits {
			t.Errorf("kind %q", k)
		}
	})
	t.Run("an unknown kind is refused", func(t *testing.T) {
		_, err := New(modelDir("bert-tiny"), WithOutputKind("colbert"))
		if err == nil || !strings.Contains(err.Error(), `output kind "colbert"`) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestTokenWeightsMatchesTheIndependentFixture checks the encoder against
// testdata/models/tokenweight-xlmr, a BGE-M3-style graph and reference
// written by another generator (tools/genmodel/families.py, float64 numpy),
// in both modes at their max lengths, to 1e-4.
func TestTokenWeightsMatchesTheIndependentFixture(t *testing.T) {
	const name = "tokenweight-xlmr"
	data, err := os.ReadFile(filepath.Join(modelDir(name), "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		SpecialIDs []uint32                          `json:"special_ids"`
		Texts      []string                          `json:"texts"`
		Models     map[string]map[string]refModeData `json:"models"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	doc, query := ref.Models[name]["document"], ref.Models[name]["query"]
	if len(ref.Texts) < 5 || len(doc.Vectors) != len(ref.Texts) || len(query.Vectors) != len(ref.Texts) {
		t.Fatalf("reference: %d texts, %d document and %d query vectors", len(ref.Texts), len(doc.Vectors), len(query.Vectors))
	}
	e := newTestEncoder(t, name, WithMaxLength(doc.MaxLength), WithQueryMaxLength(query.MaxLength), WithMaxPadding(1))
	if info := e.Info(); info.OutputKind != OutputTokenWeights || info.VocabSize != 2501 || slices.Contains(info.Inputs, "token_type_ids") {
		t.Fatalf("info %+v: want token weights over 2501 ids, no token_type_ids", info)
	}
	for _, id := range ref.SpecialIDs {
		if !e.special[id] {
			t.Errorf("special id %d of the reference is not dropped by the encoder", id)
		}
	}
	for _, m := range []struct {
		mode Mode
		want refModeData
	}{{Document, doc}, {Query, query}} {
		got, err := e.EncodeMode(context.Background(), m.mode, ref.Texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range ref.Texts {
			ids, err := e.TokenIDs(m.mode, text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, m.want.TokenIDs[i]) {
				t.Errorf("%s text %d: token ids %v, want %v", m.mode, i, ids, m.want.TokenIDs[i])
				continue
			}
			if diff := compareVectors(got[i], m.want.Vectors[i]); diff != "" {
				t.Errorf("%s text %d %.40q: %s", m.mode, i, text, diff)
			}
		}
	}
}
