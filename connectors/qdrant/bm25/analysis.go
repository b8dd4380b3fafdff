package bm25

// Tokenizer splits a text into raw tokens. The tokens are views of the
// text or new strings; a Tokenizer never filters or rewrites them beyond
// splitting.
type Tokenizer interface {
	Tokenize(text string) []string
}

// TokenFilter rewrites a token stream: it may change tokens, drop them, or
// both. It may reuse the slice it is given.
type TokenFilter interface {
	Filter(tokens []string) []string
}

// Analyzer is a Tokenizer followed by TokenFilters, run in order. It is the
// one place where the stages of Qdrant's BM25 text processing are composed.
type Analyzer struct {
	Tokenizer Tokenizer
	Filters   []TokenFilter
}

// Analyze returns the tokens of text after every filter.
func (a *Analyzer) Analyze(text string) []string {
	tokens := a.Tokenizer.Tokenize(text)
	for _, f := range a.Filters {
		if len(tokens) == 0 {
			break
		}
		tokens = f.Filter(tokens)
	}
	return tokens
}

// filterFunc keeps the tokens for which keep is true, in place.
func filterFunc(tokens []string, keep func(string) bool) []string {
	out := tokens[:0]
	for _, t := range tokens {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// mapFunc rewrites every token in place.
func mapFunc(tokens []string, f func(string) string) []string {
	for i, t := range tokens {
		tokens[i] = f(t)
	}
	return tokens
}
