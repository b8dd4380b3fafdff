package bm25

import (
	"fmt"
	"math"
	"slices"
)

// SparseVector is a sparse vector as Qdrant stores it: Indices strictly
// increasing, Values[i] the weight of Indices[i].
type SparseVector struct {
	Indices []uint32
	Values  []float32
}

// Encoder turns texts into Qdrant's BM25 sparse vectors for one set of
// options, as the release of opts.Version computes them. It is safe for
// concurrent use.
type Encoder struct {
	opts     Options
	analyzer Analyzer // documents
	query    Analyzer // queries
}

// New builds the encoder of opts (DefaultOptions for a Document with no
// options). It fails when opts asks for something the Go encoder cannot do
// exactly as Qdrant does (the multilingual tokenizer, a Greek or Armenian
// stemmer).
func New(opts Options) (*Encoder, error) {
	a, err := NewAnalyzer(opts)
	if err != nil {
		return nil, err
	}
	q, err := NewQueryAnalyzer(opts)
	if err != nil {
		return nil, err
	}
	return &Encoder{opts: opts, analyzer: a, query: q}, nil
}

// NewAnalyzer composes the stages Qdrant runs on a document for opts, in
// its order: the tokenizer, then per token ASCII folding, lowercasing,
// stop words, the stemmer and the length filters. With the prefix
// tokenizer, Qdrant 1.18.2 and later (opts.Version) expand each token into
// its prefixes (PrefixNgrams, min_token_len to max_token_len characters);
// earlier releases analyze a document as a query.
func NewAnalyzer(opts Options) (Analyzer, error) {
	if opts.Tokenizer == "prefix" && !opts.Version.AtLeast(V1_18_2) {
		return NewQueryAnalyzer(opts)
	}
	return newAnalyzer(opts, false)
}

// NewQueryAnalyzer composes the stages Qdrant runs on a query for opts.
// They are the document's, except with the prefix tokenizer: no stop
// words, and long tokens cut to max_token_len instead of dropped, so that
// they match the documents' prefixes.
func NewQueryAnalyzer(opts Options) (Analyzer, error) { return newAnalyzer(opts, true) }

func newAnalyzer(opts Options, query bool) (Analyzer, error) {
	var a Analyzer
	switch opts.Tokenizer {
	case "", "word", "prefix":
		a.Tokenizer = WordTokenizer{}
	case "whitespace":
		a.Tokenizer = WhitespaceTokenizer{}
	default:
		return Analyzer{}, fmt.Errorf("bm25: tokenizer %q is not supported", opts.Tokenizer)
	}
	prefix := opts.Tokenizer == "prefix"
	if opts.ASCIIFolding != nil && *opts.ASCIIFolding {
		a.Filters = append(a.Filters, ASCIIFolding{})
	}
	lowercase := opts.Lowercase == nil || *opts.Lowercase
	if lowercase {
		a.Filters = append(a.Filters, Lowercase{})
	}
	language := "english"
	if opts.Language != nil {
		language = *opts.Language
	}
	if !prefix || !query {
		var words []string
		switch {
		case opts.Stopwords != nil:
			for _, l := range opts.Stopwords.Languages {
				words = append(words, languageStopwords(l)...)
			}
			words = append(words, opts.Stopwords.Custom...)
		default:
			if l, ok := stopwordLanguages[language]; ok {
				words = languageStopwords(l)
			}
		}
		if len(words) > 0 {
			a.Filters = append(a.Filters, NewStopWords(words, lowercase))
		}
	}
	var stem *stemmerLang
	switch {
	case opts.Stemmer != nil && opts.Stemmer.None:
	case opts.Stemmer != nil:
		stem = stemmerLanguages[opts.Stemmer.Language]
	default:
		stem = stemmerLanguages[language]
	}
	if stem != nil {
		if stem.stem == nil {
			return Analyzer{}, fmt.Errorf("bm25: no Go Snowball stemmer for %s; set \"stemmer\" to another language or \"language\" to \"none\"", stem.name)
		}
		a.Filters = append(a.Filters, &Stemmer{Language: stem.name, stem: stem.stem})
	}
	if prefix && !query {
		ng := PrefixNgrams{}
		if opts.MinTokenLen != nil {
			ng.Min = *opts.MinTokenLen
		}
		if opts.MaxTokenLen != nil {
			ng.Max = *opts.MaxTokenLen
		}
		a.Filters = append(a.Filters, ng)
		return a, nil
	}
	if opts.MinTokenLen != nil {
		a.Filters = append(a.Filters, MinLength{N: *opts.MinTokenLen})
	}
	if opts.MaxTokenLen != nil {
		if prefix {
			a.Filters = append(a.Filters, Truncate{N: *opts.MaxTokenLen})
		} else {
			a.Filters = append(a.Filters, MaxLength{N: *opts.MaxTokenLen})
		}
	}
	return a, nil
}

// Options returns the encoder's options.
func (e *Encoder) Options() Options { return e.opts }

// Analyzer returns the encoder's analysis pipeline for documents.
func (e *Encoder) Analyzer() *Analyzer { return &e.analyzer }

// QueryAnalyzer returns the encoder's analysis pipeline for queries.
func (e *Encoder) QueryAnalyzer() *Analyzer { return &e.query }

// Document is the vector Qdrant stores for text: each distinct token's
// index with its saturated term frequency
// tf·(k+1) / (tf + k·(1 − b + b·len/avg_len)), len the number of tokens
// the analyzer kept, computed in float64 and rounded once to float32.
// Text with no tokens gives an empty vector. Two tokens whose indices
// collide keep the first token's value (Qdrant keeps an arbitrary one).
func (e *Encoder) Document(text string) SparseVector {
	tokens := e.analyzer.Analyze(text)
	if len(tokens) == 0 {
		return SparseVector{Indices: []uint32{}, Values: []float32{}}
	}
	counts := make(map[string]int, len(tokens))
	order := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if counts[t] == 0 {
			order = append(order, t)
		}
		counts[t]++
	}
	k, b, avg := e.opts.K, e.opts.B, e.opts.AvgLen
	norm := 1 - b + b*float64(len(tokens))/avg
	byID := make(map[uint32]float32, len(order))
	for _, t := range order {
		id := TokenID(t)
		if _, dup := byID[id]; dup {
			continue
		}
		n := float64(counts[t])
		// Qdrant: k.mul_add(norm, n), one rounding.
		byID[id] = float32(n * (k + 1) / math.FMA(k, norm, n))
	}
	return sorted(byID)
}

// Query is the vector Qdrant searches with for text: each distinct token's
// index with weight 1 (the IDF modifier of the collection weighs them).
func (e *Encoder) Query(text string) SparseVector {
	tokens := e.query.Analyze(text)
	byID := make(map[uint32]float32, len(tokens))
	for _, t := range tokens {
		byID[TokenID(t)] = 1
	}
	return sorted(byID)
}

func sorted(m map[uint32]float32) SparseVector {
	v := SparseVector{Indices: make([]uint32, 0, len(m)), Values: make([]float32, 0, len(m))}
	for id := range m {
		v.Indices = append(v.Indices, id)
	}
	slices.Sort(v.Indices)
	for _, id := range v.Indices {
		v.Values = append(v.Values, m[id])
	}
	return v
}
