package splade

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChunksCoverTheTextWithOverlap(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny")
	words := make([]string, 50)
	for i := range words {
		words[i] = "word" + string(rune('a'+i%26))
	}
	text := "Ça commence: " + strings.Join(words, " ")
	chunks, err := e.Chunks(text, 20, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 {
		t.Fatalf("%d chunks, want several", len(chunks))
	}
	for i, c := range chunks {
		if c.Tokens > 20 {
			t.Errorf("chunk %d has %d tokens, over 20", i, c.Tokens)
		}
		if text[c.Start:c.End] != c.Text {
			t.Errorf("chunk %d text is not the original bytes %d..%d", i, c.Start, c.End)
		}
		if i > 0 && c.Start >= chunks[i-1].End {
			t.Errorf("chunk %d starts at %d, after the previous end %d: no overlap", i, c.Start, chunks[i-1].End)
		}
	}
	if chunks[0].Start != 0 || chunks[len(chunks)-1].End != len(text) {
		t.Errorf("chunks span %d..%d, want 0..%d", chunks[0].Start, chunks[len(chunks)-1].End, len(text))
	}
}

func TestShortAndEmptyTextsAreOneChunk(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny")
	for _, text := range []string{"", "short text"} {
		chunks, err := e.Chunks(text, 0, 10)
		if err != nil || len(chunks) != 1 || chunks[0].Text != text {
			t.Errorf("Chunks(%q) = %+v, %v; want the whole text as one chunk", text, chunks, err)
		}
	}
	if _, err := e.Chunks("x", 10, 10); err == nil {
		t.Error("overlap equal to the size was accepted")
	}
}

func TestQueryTermIDsHaveNoSpecialTokens(t *testing.T) {
	e := newTestEncoder(t, "bert-tiny")
	ids, err := e.QueryTermIDs("The quick fox")
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{1996, 4248, 4419}
	if len(ids) != len(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %v, want %v", ids, want)
		}
	}
}

// TestChunksIgnoreTheTokenizerFilesTruncation: exports often carry their
// max length in tokenizer.json's "truncation" (512 for BERT, 128 for
// all-MiniLM-L6-v2); windows must still span the whole text, not the
// first max-length tokens of it.
func TestChunksIgnoreTheTokenizerFilesTruncation(t *testing.T) {
	dir := t.TempDir()
	src := modelDir("bert-tiny")
	for _, f := range []string{"config.json", "model.onnx"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	if err := json.Unmarshal(data, &tok); err != nil {
		t.Fatal(err)
	}
	tok["truncation"] = map[string]any{"direction": "Right", "max_length": 16, "strategy": "LongestFirst", "stride": 0}
	data, _ = json.Marshal(tok)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEncoder(t, dir)
	text := strings.Repeat("alpha beta gamma delta ", 20) + "omega"
	chunks, err := e.Chunks(text, 20, 4)
	if err != nil {
		t.Fatal(err)
	}
	if last := chunks[len(chunks)-1]; last.End != len(text) || !strings.HasSuffix(last.Text, "omega") {
		t.Fatalf("%d chunks end at byte %d of %d: the text was cut at the file's truncation", len(chunks), last.End, len(text))
	}
	if len(chunks) < 4 {
		t.Errorf("%d chunks of 20 tokens for an 81-word text", len(chunks))
	}
}
