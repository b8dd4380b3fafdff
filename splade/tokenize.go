package splade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/daulet/tokenizers"

	textcheck "github.com/spladeq/spladeq/internal/text"
)

// ErrInput matches every rejected input text (errors.Is); the error itself
// is an *InputError naming the text.
var ErrInput = errors.New("input")

// InputError is a text the encoder cannot take.
type InputError struct {
	// Index is the text's position in the call.
	Index int
	// Reason says what is wrong and where in the text.
	Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("input: text %d: %s", e.Index, e.Reason) }

// Is makes errors.Is(err, ErrInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInput }

// tokenizer wraps one daulet/tokenizers handle truncating at maxLen.
type tokenizer struct {
	tk     *tokenizers.Tokenizer
	maxLen int
}

func newTokenizer(data []byte, path string, maxLen int) (*tokenizer, error) {
	tk, err := tokenizers.FromBytesWithTruncation(data, uint32(maxLen), tokenizers.TruncationDirectionRight)
	if err != nil {
		return nil, fmt.Errorf("%w: tokenizer %s: %v", ErrModel, path, err)
	}
	return &tokenizer{tk: tk, maxLen: maxLen}, nil
}

// encoded is one tokenized text, without padding.
type encoded struct {
	ids   []int64
	types []int64
}

// checkText rejects what cannot cross into the Rust tokenizer intact:
// invalid UTF-8 and NUL bytes (C strings end at the first NUL, so the rest of
// the text would be silently dropped).
func checkText(i int, text string) error {
	if !utf8.ValidString(text) {
		return &InputError{Index: i, Reason: fmt.Sprintf("invalid UTF-8 at byte %d", textcheck.FirstInvalidUTF8([]byte(text)))}
	}
	if j := strings.IndexByte(text, 0); j >= 0 {
		return &InputError{Index: i, Reason: fmt.Sprintf("NUL byte at byte %d", j)}
	}
	return nil
}

func (t *tokenizer) encode(text string) encoded {
	enc := t.tk.EncodeWithOptions(text, true, tokenizers.WithReturnTypeIDs(), tokenizers.WithReturnAttentionMask())
	// Honour a padding preset in tokenizer.json: keep only attended tokens.
	n := len(enc.IDs)
	if len(enc.AttentionMask) == n {
		n = 0
		for _, m := range enc.AttentionMask {
			if m != 0 {
				n++
			}
		}
	}
	e := encoded{ids: make([]int64, n), types: make([]int64, n)}
	for i := 0; i < n; i++ {
		e.ids[i] = int64(enc.IDs[i])
		if i < len(enc.TypeIDs) {
			e.types[i] = int64(enc.TypeIDs[i])
		}
	}
	return e
}

func (t *tokenizer) close() error {
	if t == nil || t.tk == nil {
		return nil
	}
	err := t.tk.Close()
	t.tk = nil
	return err
}

// readVocab returns the id → token table of a tokenizer.json, for decoding
// terms. It understands WordPiece and BPE ({"token": id}) and Unigram
// ([[token, score], ...]) vocabularies plus added tokens.
func readVocab(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s does not parse: %s", ErrModel, path, describeJSONError(data, err))
	}
	byID := map[int]string{}
	var asMap map[string]int
	var asList [][]any
	switch {
	case json.Unmarshal(doc.Model.Vocab, &asMap) == nil:
		for tok, id := range asMap {
			byID[id] = tok
		}
	case json.Unmarshal(doc.Model.Vocab, &asList) == nil:
		for id, e := range asList {
			if len(e) > 0 {
				if s, ok := e[0].(string); ok {
					byID[id] = s
				}
			}
		}
	default:
		return nil, fmt.Errorf("%w: %s: model.vocab is neither a map nor a list", ErrModel, path)
	}
	for _, a := range doc.AddedTokens {
		byID[a.ID] = a.Content
	}
	size := 0
	for id := range byID {
		size = max(size, id+1)
	}
	vocab := make([]string, size)
	for id, tok := range byID {
		if id >= 0 {
			vocab[id] = tok
		}
	}
	return vocab, nil
}
