package splade

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/daulet/tokenizers"
)

// Chunk is a window of a text, for indexing long documents piecewise.
type Chunk struct {
	// Text is the window's text: the original bytes from Start to End.
	Text string
	// Start and End are byte offsets in the original text.
	Start, End int
	// Tokens is the number of tokens in the window (no special tokens).
	Tokens int
}

// Chunks splits text into windows of at most size tokens, consecutive
// windows sharing overlap tokens, cut at token boundaries so each window is
// exactly the original bytes between its first and last token. A text of at
// most size tokens is one chunk, the whole text (an empty text is one empty
// chunk). size <= 0 means the document max length minus the two special
// tokens.
func (e *Encoder) Chunks(text string, size, overlap int) ([]Chunk, error) {
	if size <= 0 {
		size = e.info.MaxLength - 2
	}
	return e.windows.chunks(e.model.Tokenizer, text, size, overlap)
}

// Chunks splits text into token windows as Encoder.Chunks does, with this
// model's tokenizer; size <= 0 means the max length minus the two special
// tokens.
func (d *DenseEncoder) Chunks(text string, size, overlap int) ([]Chunk, error) {
	if size <= 0 {
		size = d.tok.maxLen - 2
	}
	return d.windows.chunks(d.model.Tokenizer, text, size, overlap)
}

// windower cuts texts into token windows with an untruncated tokenizer,
// read from the model's tokenizer.json on first use.
type windower struct {
	once sync.Once
	tk   *tokenizers.Tokenizer
	err  error
}

func (w *windower) chunks(tokenizerFile, text string, size, overlap int) ([]Chunk, error) {
	if size < 1 {
		return nil, fmt.Errorf("chunk size must be >= 1 token, got %d", size)
	}
	if overlap < 0 || overlap >= size {
		return nil, fmt.Errorf("chunk overlap must be in [0, %d), got %d", size, overlap)
	}
	if err := checkText(0, text); err != nil {
		return nil, err
	}
	w.once.Do(func() {
		data, err := os.ReadFile(tokenizerFile)
		if err == nil {
			data, err = withoutTruncation(data)
		}
		if err != nil {
			w.err = fmt.Errorf("%w: tokenizer %s: %v", ErrModel, tokenizerFile, err)
			return
		}
		w.tk, w.err = tokenizers.FromBytes(data)
	})
	if w.err != nil {
		return nil, w.err
	}
	enc := w.tk.EncodeWithOptions(text, false, tokenizers.WithReturnOffsets())
	n := len(enc.Offsets)
	if n <= size {
		return []Chunk{{Text: text, Start: 0, End: len(text), Tokens: n}}, nil
	}
	var chunks []Chunk
	for start := 0; ; start += size - overlap {
		end := min(start+size, n)
		s, t := int(enc.Offsets[start][0]), int(enc.Offsets[end-1][1])
		chunks = append(chunks, Chunk{Text: text[s:t], Start: s, End: t, Tokens: end - start})
		if end == n {
			return chunks, nil
		}
	}
}

// withoutTruncation returns a tokenizer.json with its "truncation" and
// "padding" settings removed: many exports carry the model's max length
// there (512 for BERT, 128 for all-MiniLM-L6-v2), and a tokenizer made from
// them as they are would cut every text to its first window before it is
// cut into windows.
func withoutTruncation(data []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	doc["truncation"] = json.RawMessage("null")
	doc["padding"] = json.RawMessage("null")
	return json.Marshal(doc)
}

// close releases the tokenizer, if one was made.
func (w *windower) close() error {
	if w.tk != nil {
		return w.tk.Close()
	}
	return nil
}

// QueryTermIDs returns the vocabulary ids of a query's tokens, without
// special tokens, truncated at the query max length: what an
// inference-free (document-only) SPLADE model looks up in its IDF table.
func (e *Encoder) QueryTermIDs(text string) ([]uint32, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	if err := checkText(0, text); err != nil {
		return nil, err
	}
	ids, _ := e.queryTok.tk.Encode(text, false)
	return ids, nil
}
