package splade

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// OutputKind is what a sparse graph's output holds; WithOutputKind sets it,
// OutputAuto reads it from the output's shape.
type OutputKind string

const (
	// OutputAuto picks the kind from the output shapes: an output of one
	// weight per token ([batch, seq, 1], or [batch, N] with N dynamic)
	// wins, else the first float output of rank 3 is logits and of rank 2
	// pooled.
	OutputAuto OutputKind = "auto"
	// OutputLogits is [batch, seq, vocab] masked-LM logits, pooled here
	// (max over tokens of log1p(ReLU(.))).
	OutputLogits OutputKind = "logits"
	// OutputPooled is [batch, vocab] weights pooled in the graph.
	OutputPooled OutputKind = "pooled"
	// OutputTokenWeights is one weight per token, [batch, seq] or
	// [batch, seq, 1] (BGE-M3's sparse head: relu(linear(hidden state))):
	// a text's vector holds, for each input token id that is not a special
	// token, the largest ReLU'd weight of its occurrences.
	OutputTokenWeights OutputKind = "token_weights"
)

// OutputKinds lists the kinds WithOutputKind accepts.
var OutputKinds = []OutputKind{OutputAuto, OutputLogits, OutputPooled, OutputTokenWeights}

// WithOutputKind says what the graph's output holds. Default OutputAuto.
// Set it when the shapes mislead, e.g. a pooled [batch, vocab] graph whose
// vocabulary dimension is dynamic (OutputAuto takes that for token weights).
func WithOutputKind(k OutputKind) Option {
	return func(o *options) error {
		switch k {
		case "":
			k = OutputAuto
		case OutputAuto, OutputLogits, OutputPooled, OutputTokenWeights:
		default:
			return fmt.Errorf("output kind %q: want one of %s", k, joinKinds(OutputKinds))
		}
		o.output = k
		return nil
	}
}

func joinKinds(ks []OutputKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// outputShape is one float32 tensor output of a graph: its name and
// dimensions (-1 for a dynamic one).
type outputShape struct {
	name string
	dims []int64
}

// classifyOutput says what an output of these dimensions can hold, or ""
// when it cannot be a sparse model's output. [batch, N] with N dynamic is
// taken for token weights: a vocabulary projection has a static width.
func classifyOutput(dims []int64) OutputKind {
	switch {
	case len(dims) == 3 && dims[2] == 1:
		return OutputTokenWeights
	case len(dims) == 3:
		return OutputLogits
	case len(dims) == 2 && dims[1] < 0:
		return OutputTokenWeights
	case len(dims) == 2:
		return OutputPooled
	}
	return ""
}

// pickSparseOutput returns the index of the output to read as want, and its
// kind; -1 when none fits. OutputAuto prefers a token-weights output (a
// BGE-M3 export also has a [batch, 1024] dense and a [batch, seq, 1024]
// ColBERT output), else takes the first of rank 2 or 3. A named kind takes
// the first output whose shape allows it: any rank-2 output for pooled, any
// rank-3 one for logits.
func pickSparseOutput(outs []outputShape, want OutputKind) (int, OutputKind) {
	if want == "" || want == OutputAuto {
		for i, o := range outs {
			if classifyOutput(o.dims) == OutputTokenWeights {
				return i, OutputTokenWeights
			}
		}
		for i, o := range outs {
			if k := classifyOutput(o.dims); k != "" {
				return i, k
			}
		}
		return -1, ""
	}
	for i, o := range outs {
		r := len(o.dims)
		switch {
		case want == OutputTokenWeights && classifyOutput(o.dims) == OutputTokenWeights,
			want == OutputLogits && r == 3,
			want == OutputPooled && r == 2:
			return i, want
		}
	}
	return -1, ""
}

// poolTokenWeights turns one text's per-token weights into its sparse
// vector: ReLU, the largest weight per token id, special tokens and ids at
// or above vocab dropped; indices sorted. weights[t] belongs to ids[t]; only
// the first len(ids) weights are read. NaN weights are dropped.
func poolTokenWeights(weights []float32, ids []int64, special map[uint32]bool, vocab int) SparseVector {
	best := make(map[uint32]float32, len(ids))
	for t, id := range ids {
		if id < 0 || (vocab > 0 && id >= int64(vocab)) {
			continue
		}
		u := uint32(id)
		if special[u] {
			continue
		}
		if w := weights[t]; w > 0 && w > best[u] {
			best[u] = w
		}
	}
	v := SparseVector{Indices: make([]uint32, 0, len(best)), Values: make([]float32, 0, len(best))}
	for id := range best {
		v.Indices = append(v.Indices, id)
	}
	sort.Slice(v.Indices, func(a, b int) bool { return v.Indices[a] < v.Indices[b] })
	for _, id := range v.Indices {
		v.Values = append(v.Values, best[id])
	}
	return v
}

// specialTokenNames are the tokenizer_config.json and
// special_tokens_map.json keys that name special tokens.
var specialTokenNames = []string{"bos_token", "eos_token", "pad_token", "unk_token", "cls_token", "sep_token", "mask_token"}

// readSpecialIDs returns the ids of the tokenizer's special tokens: the
// added tokens of tokenizer.json marked special, the added_tokens_decoder
// entries of tokenizer_config.json marked special, and the tokens that
// tokenizer_config.json and special_tokens_map.json name as bos, eos, pad,
// unk, cls, sep or mask (looked up in vocab, id → token). Missing optional
// files say nothing; malformed ones are errors naming the file.
func readSpecialIDs(dir, tokenizerPath string, vocab []string) (map[uint32]bool, error) {
	ids := map[uint32]bool{}
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
	}
	if err := readJSONInto(tokenizerPath, &tj); err != nil {
		return nil, err
	}
	for _, a := range tj.AddedTokens {
		if a.Special && a.ID >= 0 {
			ids[uint32(a.ID)] = true
		}
	}
	byToken := make(map[string]uint32, len(vocab))
	for id, tok := range vocab {
		if tok != "" {
			byToken[tok] = uint32(id)
		}
	}
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		var doc map[string]json.RawMessage
		path := filepath.Join(dir, name)
		if err := readJSONInto(path, &doc); err != nil {
			return nil, err
		}
		if raw, ok := doc["added_tokens_decoder"]; ok {
			var dec map[string]struct {
				Special bool `json:"special"`
			}
			if err := json.Unmarshal(raw, &dec); err != nil {
				return nil, fmt.Errorf("%w: %s: added_tokens_decoder: %v", ErrModel, path, err)
			}
			for k, d := range dec {
				var id uint32
				if _, err := fmt.Sscan(k, &id); err != nil {
					return nil, fmt.Errorf("%w: %s: added_tokens_decoder key %q is not a token id", ErrModel, path, k)
				}
				if d.Special {
					ids[id] = true
				}
			}
		}
		for _, key := range specialTokenNames {
			raw, ok := doc[key]
			if !ok {
				continue
			}
			tok := tokenContent(raw)
			if id, ok := byToken[tok]; ok && tok != "" {
				ids[id] = true
			}
		}
	}
	return ids, nil
}

// tokenContent reads a special token entry: a string, or an object with a
// "content" field (AddedToken form); "" for anything else (null).
func tokenContent(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Content
	}
	return ""
}
