package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/splade"
)

// ModelPrefix starts the model name of every vectorizer as Qdrant's
// server-side inference names it: "spladeq/sparse" is vectorizer "sparse".
const ModelPrefix = "spladeq/"

// InferenceInput is one text to vectorize with a named model, as Qdrant's
// Document{text, model, options} carries it.
type InferenceInput struct {
	Text  string
	Model string
	// Options override per input what is safe: "max_length" (tokens,
	// special tokens included; at most the vectorizer's own), "top_k" and
	// "min_weight" (sparse pruning) — JSON numbers (float64) or, from gRPC,
	// any number type — and "long_text" ("truncate" or "max", default
	// server.long_text): how a text longer than the window is vectorized.
	Options map[string]any
}

// InferenceOutput is one input's vector: Sparse for a sparse model, Dense
// for a dense one.
type InferenceOutput struct {
	Sparse *splade.SparseVector
	Dense  []float32
	// Tokens is the input's token count as the model saw it (special
	// tokens included, after truncation); 0 when the module cannot count.
	Tokens int
}

// inferenceModel is a model name Infer accepts.
type inferenceModel struct {
	name string // as configured: "spladeq/sparse", or an alias
	vec  string // the vectorizer it names
}

// indexInferenceModels builds the table of model names, keyed by lower
// case (names match case-insensitively), once at New: every vectorizer that
// encodes text as "spladeq/<name>", then server.inference_models aliases.
func (s *Service) indexInferenceModels() {
	s.inferModels = map[string]inferenceModel{}
	add := func(name, vec string) {
		// A precomputed vectorizer encodes no text, and a store-side one
		// (bm25) is the store's to run: Qdrant computes "qdrant/bm25"
		// itself and never asks its inference address for it.
		_, pre := s.vecs[vec].(*precomputed)
		_, storeSide := s.vecs[vec].(StoreSide)
		if !pre && !storeSide {
			s.inferModels[strings.ToLower(name)] = inferenceModel{name, vec}
		}
	}
	for vec := range s.vecs {
		add(ModelPrefix+vec, vec)
	}
	for _, m := range s.cfg.Server.InferenceModels {
		alias, vec, _ := strings.Cut(m, "=")
		add(strings.TrimSpace(alias), strings.TrimSpace(vec))
	}
}

// InferenceModels returns every model name Infer accepts, with the
// vectorizer each names.
func (s *Service) InferenceModels() map[string]string {
	out := make(map[string]string, len(s.inferModels))
	for _, m := range s.inferModels {
		out[m.name] = m.vec
	}
	return out
}

func (s *Service) modelNames() string {
	names := make([]string, 0, len(s.inferModels))
	for _, m := range s.inferModels {
		names = append(names, m.name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// resolveModel maps a model name to its vectorizer, case-insensitively,
// and returns the name as configured (metric labels use it, so a client
// cannot mint label values by varying the case).
func (s *Service) resolveModel(model string) (vec, canonical string, ok bool) {
	m, ok := s.inferModels[strings.ToLower(model)]
	return m.vec, m.name, ok
}

// group is one batcher call of Infer, per (vectorizer, max length): the
// texts of a group share forward passes with each other and with
// concurrent traffic.
type group struct {
	vec       string
	maxLength int
}

// inferOptions are one input's validated options.
type inferOptions struct {
	maxLength int
	pruning   splade.Pruning
	// windows: encode every token window of the text and combine them
	// (long_text "max") instead of the first.
	windows bool
}

// Infer vectorizes inputs with the models they name, as documents, or as
// queries when query is set (SPLADE is asymmetric: a query has its own max
// length and pruning, and splade-idf queries run no model). Inputs go
// through the same micro-batchers as the rest of the service's encode
// traffic, so a full queue returns ErrOverloaded. Every problem with the
// inputs is reported at once in an *InputError whose fields name the input
// ("inputs[3].model"); nothing is encoded then.
func (s *Service) Infer(ctx context.Context, inputs []InferenceInput, query bool) ([]InferenceOutput, error) {
	var ps []Problem
	if len(inputs) == 0 {
		ps = append(ps, Problem{Field: "inputs", Message: "must not be empty"})
	}
	vecOf := make([]string, len(inputs))
	nameOf := make([]string, len(inputs))
	opts := make([]inferOptions, len(inputs))
	for i, in := range inputs {
		field := fmt.Sprintf("inputs[%d]", i)
		vec, name, ok := s.resolveModel(in.Model)
		if !ok {
			ps = append(ps, Problem{Field: field + ".model", Message: fmt.Sprintf("unknown model %q (have %s)", in.Model, s.modelNames())})
			continue
		}
		vecOf[i], nameOf[i] = vec, name
		ps = s.checkText(ps, field+".data", "", in.Text, s.cfg.Server.MaxTextBytes)
		var bad []Problem
		opts[i], bad = s.inferOptions(field+".options", vec, in.Options)
		ps = append(ps, bad...)
	}
	if err := problems(ps...); err != nil {
		return nil, err
	}

	groups := map[group][]int{}
	for i := range inputs {
		g := group{vecOf[i], opts[i].maxLength}
		groups[g] = append(groups[g], i)
	}
	kind := "update"
	if query {
		kind = "search"
	}
	for _, name := range nameOf {
		s.metrics.InferenceInputs.WithLabelValues(name, kind).Inc()
	}
	// The groups (typically a sparse and a dense model) encode at once, as
	// a hybrid Search does: a hybrid query through Qdrant costs the slower
	// encode, not the sum. Each group fills its own inputs' places.
	out := make([]InferenceOutput, len(inputs))
	errs := make([]error, 0, len(groups))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g, idx := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.inferGroup(ctx, g, query, inputs, idx, opts, out); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) inferGroup(ctx context.Context, g group, query bool, inputs []InferenceInput, idx []int, opts []inferOptions, out []InferenceOutput) error {
	vec := g.vec
	// Each input is one text, or with long_text "max" its token windows:
	// texts[first[k]:first[k+1]] are input idx[k]'s.
	var texts []string
	first := make([]int, len(idx)+1)
	for k, i := range idx {
		first[k] = len(texts)
		switch {
		case opts[i].windows:
			parts, err := s.windows(vec, query, inputs[i].Text, g.maxLength)
			if err != nil {
				return fmt.Errorf("inputs[%d]: %w", i, err)
			}
			texts = append(texts, parts...)
		case g.maxLength > 0:
			t, err := s.truncate(vec, inputs[i].Text, g.maxLength)
			if err != nil {
				return fmt.Errorf("inputs[%d]: %w", i, err)
			}
			texts = append(texts, t)
		default:
			texts = append(texts, inputs[i].Text)
		}
	}
	first[len(idx)] = len(texts)
	counter, _ := s.vecs[vec].(TokenCounter)
	switch v := s.vecs[vec].(type) {
	case Sparse:
		b := s.sparseDocs[vec]
		if query {
			b = s.sparseQueries[vec]
		}
		vecs, err := b.Do(ctx, texts)
		if err != nil {
			return err
		}
		for k, i := range idx {
			w := vecs[first[k]]
			if first[k+1]-first[k] > 1 {
				w = s.sparsePruning(vec, query).Apply(maxSparse(vecs[first[k]:first[k+1]]))
			}
			w = opts[i].pruning.Apply(w)
			out[i].Sparse = &w
		}
	case Dense:
		b := s.denseDocs[vec]
		if query {
			b = s.denseQueries[vec]
		}
		vecs, err := b.Do(ctx, texts)
		if err != nil {
			return err
		}
		norm, _ := v.(interface{ Normalized() bool })
		for k, i := range idx {
			out[i].Dense = meanDense(vecs[first[k]:first[k+1]], norm != nil && norm.Normalized())
		}
	}
	if counter != nil {
		for k, i := range idx {
			for _, t := range texts[first[k]:first[k+1]] {
				n, err := counter.CountTokens(query, t)
				if err != nil {
					return err
				}
				out[i].Tokens += n
			}
		}
	}
	return nil
}

// windows cuts text into the token windows that long_text "max" encodes:
// each fits the vectorizer's window in this mode (or maxLength, when the
// input sets it) with its special tokens, consecutive windows sharing
// ingest.chunk_overlap tokens (less when the window is smaller).
func (s *Service) windows(vec string, query bool, text string, maxLength int) ([]string, error) {
	ch, ok := s.vecs[vec].(Chunker)
	if !ok {
		return nil, fmt.Errorf("vectorizer %q cannot cut a text into token windows (long_text %q)", vec, config.LongTextMax)
	}
	size := 0 // the vectorizer's document window
	if e, ok := s.vecs[vec].(interface{ Info() splade.Info }); ok && query {
		size = e.Info().QueryMaxLength - 2
	}
	if maxLength > 0 {
		size = maxLength - 2
	}
	overlap := s.cfg.Ingest.ChunkOverlap
	if size > 0 {
		overlap = min(overlap, size/2)
	}
	parts, err := ch.Chunks(text, size, overlap)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.Text
	}
	return out, nil
}

// sparsePruning is the pruning sparse vectorizer vec applies to its own
// vectors in this mode (none when it does not say).
func (s *Service) sparsePruning(vec string, query bool) splade.Pruning {
	switch m := s.vecs[vec].(type) {
	case *spladeIDF:
		if query {
			return m.query
		}
		return m.PruningOf(splade.Document)
	case *spladeModule:
		if query {
			return m.PruningOf(splade.Query)
		}
		return m.PruningOf(splade.Document)
	}
	return splade.Pruning{}
}

// maxSparse is the element-wise maximum of sparse vectors (indices
// strictly increasing in each and in the result); one vector is returned
// as it is.
func maxSparse(vs []splade.SparseVector) splade.SparseVector {
	if len(vs) == 1 {
		return vs[0]
	}
	w := map[uint32]float32{}
	for _, v := range vs {
		for j, i := range v.Indices {
			if x, ok := w[i]; !ok || v.Values[j] > x {
				w[i] = v.Values[j]
			}
		}
	}
	out := splade.SparseVector{Indices: make([]uint32, 0, len(w)), Values: make([]float32, 0, len(w))}
	for i := range w {
		out.Indices = append(out.Indices, i)
	}
	sort.Slice(out.Indices, func(a, b int) bool { return out.Indices[a] < out.Indices[b] })
	for _, i := range out.Indices {
		out.Values = append(out.Values, w[i])
	}
	return out
}

// meanDense is the mean of dense vectors, L2-normalised again when
// normalize is set (the mean of unit vectors is shorter than one); one
// vector is returned as it is.
func meanDense(vs [][]float32, normalize bool) []float32 {
	if len(vs) == 1 {
		return vs[0]
	}
	acc := make([]float64, len(vs[0]))
	for _, v := range vs {
		for j, x := range v {
			acc[j] += float64(x)
		}
	}
	var sq float64
	for j := range acc {
		acc[j] /= float64(len(vs))
		sq += acc[j] * acc[j]
	}
	scale := 1.0
	if normalize && sq > 0 {
		scale = 1 / math.Sqrt(sq)
	}
	out := make([]float32, len(acc))
	for j, x := range acc {
		out[j] = float32(x * scale)
	}
	return out
}

// inferOptions validates one input's options for vectorizer vec.
func (s *Service) inferOptions(field, vec string, in map[string]any) (inferOptions, []Problem) {
	var o inferOptions
	var ps []Problem
	_, sparse := s.vecs[vec].(Sparse)
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o.windows = s.cfg.Server.LongText == config.LongTextMax
	for _, k := range keys {
		f := field + "." + k
		if k == "long_text" {
			switch in[k] {
			case config.LongTextTruncate:
				o.windows = false
			case config.LongTextMax:
				o.windows = true
			default:
				ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("must be %q or %q, got %#v", config.LongTextTruncate, config.LongTextMax, in[k])})
			}
			continue
		}
		x, ok := asNumber(in[k])
		switch {
		case k != "max_length" && k != "top_k" && k != "min_weight":
			ps = append(ps, Problem{Field: f, Message: "unknown option (have max_length, top_k, min_weight, long_text)"})
		case !ok:
			ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("must be a number, got %v", in[k])})
		case k != "max_length" && !sparse:
			ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("applies to sparse models; %q is dense", vec)})
		case k == "min_weight":
			if x < 0 || math.IsInf(x, 0) {
				ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("must be a finite number >= 0, got %v", x)})
			}
			o.pruning.MinWeight = float32(x)
		case x != math.Trunc(x) || x < 1:
			ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("must be a whole number >= 1, got %v", x)})
		case k == "top_k":
			o.pruning.TopK = int(min(x, 1e6))
		default: // max_length
			if _, ok := s.vecs[vec].(Chunker); !ok {
				ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("vectorizer %q cannot truncate by tokens", vec)})
			} else if x < 3 || x > 1e6 {
				ps = append(ps, Problem{Field: f, Message: fmt.Sprintf("must be 3 or more tokens, got %v", x)})
			}
			o.maxLength = int(min(x, 1e6))
		}
	}
	if _, ok := s.vecs[vec].(Chunker); o.windows && !ok {
		// The configured default applies where it can; asked for by name,
		// it is an error.
		if _, asked := in["long_text"]; asked {
			ps = append(ps, Problem{Field: field + ".long_text", Message: fmt.Sprintf("vectorizer %q cannot cut a text into token windows", vec)})
		}
		o.windows = false
	}
	return o, ps
}

// asNumber reads a JSON or protobuf number.
func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case float32:
		return float64(x), !math.IsNaN(float64(x))
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// truncate returns the prefix of text that fits in maxLength tokens with
// the special tokens, cut at a token boundary: encoding it gives the first
// maxLength tokens of text (or all of them, when the vectorizer's own max
// length is smaller).
func (s *Service) truncate(vec, text string, maxLength int) (string, error) {
	ch := s.vecs[vec].(Chunker)
	parts, err := ch.Chunks(text, maxLength-2, 0)
	if err != nil || len(parts) == 0 {
		return text, err
	}
	return parts[0].Text, nil
}

// TokenCounter is the optional ability to count a text's tokens as the
// model sees them (special tokens included, after truncation).
type TokenCounter interface {
	CountTokens(query bool, text string) (int, error)
}

func (m *spladeModule) CountTokens(query bool, text string) (int, error) {
	return countSPLADE(m.Encoder, query, text)
}

func (m *spladeIDF) CountTokens(query bool, text string) (int, error) {
	return countSPLADE(m.Encoder, query, text)
}

func (m *onnxDense) CountTokens(_ bool, text string) (int, error) {
	ids, err := m.TokenIDs(text)
	return len(ids), err
}

func countSPLADE(e *splade.Encoder, query bool, text string) (int, error) {
	mode := splade.Document
	if query {
		mode = splade.Query
	}
	ids, err := e.TokenIDs(mode, text)
	return len(ids), err
}

var (
	_ TokenCounter = (*spladeModule)(nil)
	_ TokenCounter = (*spladeIDF)(nil)
	_ TokenCounter = (*onnxDense)(nil)
)
