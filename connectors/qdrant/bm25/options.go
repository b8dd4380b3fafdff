package bm25

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Options are the options of a Document{model: "qdrant/bm25"}, with
// Qdrant's names, defaults and meaning (Bm25Config and
// TextPreprocessingConfig in lib/api/src/rest/schema.rs) in the release
// Version. A nil pointer is an option left out, which is not always the
// same as its zero value.
type Options struct {
	// Version is the Qdrant release whose BM25 the options are read and
	// computed as. Default (zero) Latest.
	Version Version
	// K is the term-frequency saturation. Default 1.2.
	K float64
	// B is the document-length normalisation, 0 (none) to 1 (full).
	// Default 0.75.
	B float64
	// AvgLen is the expected average document length in tokens. Default 256.
	AvgLen float64
	// Tokenizer is "word" (default: split on every non-alphanumeric
	// character), "whitespace" or "prefix". Qdrant's "multilingual" needs
	// the charabia segmenter and is refused.
	Tokenizer string
	// Language picks the default stop words and stemmer. Default (nil)
	// "english". A name Qdrant does not know, such as "none", turns both
	// off; names are case-sensitive, as in Qdrant.
	Language *string
	// Lowercase lowers tokens before the stop words and the stemmer.
	// Default (nil) true.
	Lowercase *bool
	// ASCIIFolding folds accented letters and other non-ASCII characters
	// to ASCII before lowercasing. Default (nil) false.
	ASCIIFolding *bool
	// Stopwords replaces the language's list. Default (nil) the list of
	// Language when Qdrant has one, else none.
	Stopwords *Stopwords
	// Stemmer replaces the language's stemmer, or turns it off. Default
	// (nil) the Snowball stemmer of Language when Qdrant has one, else
	// none.
	Stemmer *StemmerConfig
	// MinTokenLen drops tokens shorter than this many characters after
	// stemming. Default (nil) none.
	MinTokenLen *int
	// MaxTokenLen drops tokens longer than this many characters after
	// stemming (the prefix tokenizer cuts them instead). Default (nil) none.
	MaxTokenLen *int
}

// Stopwords is Qdrant's StopwordsInterface: one language's list (the
// option given as a string), or a set of languages plus custom words.
type Stopwords struct {
	// Languages are canonical language names (aliases resolved).
	Languages []string
	// Custom words, matched after lowercasing when Lowercase is on.
	Custom []string
}

// StemmerConfig is Qdrant's StemmingAlgorithm: {"type": "snowball",
// "language": ...}, or since Qdrant 1.19 {"type": "none"}.
type StemmerConfig struct {
	// Language is the canonical Snowball language name ("" when None).
	Language string
	// None turns stemming off ({"type": "none"}) and keeps the
	// language's stop words.
	None bool
}

// DefaultOptions are the options of a Document with none: k 1.2, b 0.75,
// avg_len 256, the word tokenizer, English stop words and stemmer,
// lowercasing on.
func DefaultOptions() Options {
	return Options{K: 1.2, B: 0.75, AvgLen: 256, Tokenizer: "word"}
}

// optionKeys are the keys Qdrant's Bm25Config reads.
var optionKeys = []string{"k", "b", "avg_len", "tokenizer", "language", "lowercase", "ascii_folding",
	"stopwords", "stemmer", "min_token_len", "max_token_len"}

// ParseOptions reads a Document's options as the Latest release does
// (ParseOptionsFor).
func ParseOptions(m map[string]any) (Options, error) { return ParseOptionsFor(Latest, m) }

// ParseOptionsFor reads a Document's options as Qdrant release v receives
// them (JSON values as Go values: numbers float64, int64 or int, strings,
// bools, maps and lists; nil for null). A key Qdrant does not read, or a
// value of the wrong type, is an error naming the option; every problem is
// reported at once. Qdrant itself ignores unknown keys; this refuses them,
// so a typo is not silently a default. Options that parse but that v
// refuses (k, b or avg_len out of range since 1.18.2) give a *ParamError
// with Qdrant's message.
func ParseOptionsFor(v Version, m map[string]any) (Options, error) {
	o := DefaultOptions()
	o.Version = v.resolve()
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("option %q: ", key)+fmt.Sprintf(format, args...))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		v := m[key]
		switch key {
		case "k", "b", "avg_len":
			f, ok := number(v)
			if !ok {
				bad(key, "must be a number, got %s", describe(v))
				continue
			}
			switch key {
			case "k":
				o.K = f
			case "b":
				o.B = f
			default:
				o.AvgLen = f
			}
		case "tokenizer":
			s, ok := v.(string)
			switch {
			case !ok:
				bad(key, "must be a string, got %s", describe(v))
			case s == "word" || s == "whitespace" || s == "prefix":
				o.Tokenizer = s
			case s == "multilingual":
				bad(key, "%q needs Qdrant's charabia segmenter, which the Go encoder does not have; use word, whitespace or prefix", s)
			default:
				bad(key, "unknown tokenizer %q; want word, whitespace, prefix or multilingual", s)
			}
		case "language":
			if v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				bad(key, "must be a string, got %s", describe(v))
				continue
			}
			o.Language = &s
		case "lowercase", "ascii_folding":
			if v == nil {
				continue
			}
			b, ok := v.(bool)
			if !ok {
				bad(key, "must be a boolean, got %s", describe(v))
				continue
			}
			if key == "lowercase" {
				o.Lowercase = &b
			} else {
				o.ASCIIFolding = &b
			}
		case "stopwords":
			if v == nil {
				continue
			}
			sw, err := parseStopwords(v)
			if err != nil {
				bad(key, "%v", err)
				continue
			}
			o.Stopwords = sw
		case "stemmer":
			if v == nil {
				continue
			}
			st, err := parseStemmer(v, o.Version)
			if err != nil {
				bad(key, "%v", err)
				continue
			}
			o.Stemmer = st
		case "min_token_len", "max_token_len":
			if v == nil {
				continue
			}
			n, ok := count(v)
			if !ok {
				bad(key, "must be a non-negative integer, got %s", describe(v))
				continue
			}
			if key == "min_token_len" {
				o.MinTokenLen = &n
			} else {
				o.MaxTokenLen = &n
			}
		default:
			bad(key, "unknown BM25 option; known: %s", strings.Join(optionKeys, ", "))
		}
	}
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("bm25 options: %s", strings.Join(errs, "; "))
	}
	if err := o.checkParams(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// ParamError is a BM25 parameter a Qdrant release refuses after reading
// it: since 1.18.2, k < 0, b outside [0, 1], avg_len <= 0. Its message is
// Qdrant's.
type ParamError struct {
	// Option is the option's name in a Document (k, b, avg_len).
	Option string
	msg    string
}

func (e *ParamError) Error() string { return e.msg }

// checkParams refuses what Qdrant 1.18.2 and later refuse, first k, then
// b, then avg_len, as they do; earlier releases computed with any value.
func (o Options) checkParams() error {
	if !o.Version.AtLeast(V1_18_2) {
		return nil
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case !(o.K >= 0) || math.IsInf(o.K, 0):
		return &ParamError{"k", "BM25 k1 must be finite and >= 0, got " + num(o.K)}
	case !(o.B >= 0 && o.B <= 1):
		return &ParamError{"b", "BM25 b must be finite and in [0.0, 1.0], got " + num(o.B)}
	case !(o.AvgLen > 0) || math.IsInf(o.AvgLen, 0):
		return &ParamError{"avg_len", "BM25 avg_doc_len must be finite and > 0, got " + num(o.AvgLen)}
	}
	return nil
}

func parseStopwords(v any) (*Stopwords, error) {
	switch x := v.(type) {
	case string:
		lang, ok := stopwordLanguages[x]
		if !ok {
			return nil, fmt.Errorf("unknown language %q; want one of %s, or {\"languages\": [...], \"custom\": [...]}", x, names(stopwordLanguages))
		}
		return &Stopwords{Languages: []string{lang}}, nil
	case map[string]any:
		sw := &Stopwords{}
		if l, ok := x["languages"]; ok && l != nil {
			list, ok := l.([]any)
			if !ok {
				return nil, fmt.Errorf("languages must be a list of language names, got %s", describe(l))
			}
			for _, e := range list {
				s, _ := e.(string)
				lang, ok := stopwordLanguages[s]
				if !ok {
					return nil, fmt.Errorf("languages: unknown language %s; want one of %s", describe(e), names(stopwordLanguages))
				}
				sw.Languages = append(sw.Languages, lang)
			}
		}
		if c, ok := x["custom"]; ok && c != nil {
			list, ok := c.([]any)
			if !ok {
				return nil, fmt.Errorf("custom must be a list of words, got %s", describe(c))
			}
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("custom: every word must be a string, got %s", describe(e))
				}
				sw.Custom = append(sw.Custom, s)
			}
		}
		for k := range x {
			if k != "languages" && k != "custom" {
				return nil, fmt.Errorf("unknown key %q; want languages and custom", k)
			}
		}
		return sw, nil
	}
	return nil, fmt.Errorf("must be a language name or {\"languages\": [...], \"custom\": [...]}, got %s", describe(v))
}

func parseStemmer(v any, release Version) (*StemmerConfig, error) {
	x, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be {\"type\": \"snowball\", \"language\": ...} or {\"type\": \"none\"}, got %s", describe(v))
	}
	switch t, _ := x["type"].(string); {
	case t == "none" && release.AtLeast(V1_19_0):
		for k := range x {
			if k != "type" {
				return nil, fmt.Errorf("unknown key %q; {\"type\": \"none\"} takes no other", k)
			}
		}
		return &StemmerConfig{None: true}, nil
	case t == "none":
		return nil, fmt.Errorf("{\"type\": \"none\"} needs Qdrant 1.19 or newer (this is %s); turn stemming off with \"language\": \"none\" and name the stop words in \"stopwords\"", release)
	case t != "snowball" && release.AtLeast(V1_19_0):
		return nil, fmt.Errorf("type must be \"snowball\" or \"none\", got %s", describe(x["type"]))
	case t != "snowball":
		return nil, fmt.Errorf("type must be \"snowball\", got %s", describe(x["type"]))
	}
	s, _ := x["language"].(string)
	l, ok := stemmerLanguages[s]
	if !ok {
		return nil, fmt.Errorf("language: unknown Snowball language %s; want one of %s", describe(x["language"]), names(stemmerLanguages))
	}
	for k := range x {
		if k != "type" && k != "language" {
			return nil, fmt.Errorf("unknown key %q; want type and language", k)
		}
	}
	return &StemmerConfig{Language: l.name}, nil
}

// number accepts what serde reads as an f64 from JSON: any finite number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return float64(x), !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}

// count accepts what serde reads as a usize: a non-negative integer. A
// float with no fraction is taken too (Qdrant refuses 3.0 from JSON; Go
// decoders produce float64 for every number).
func count(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, x >= 0
	case int64:
		return int(x), x >= 0 && x <= math.MaxInt32
	case int32:
		return int(x), x >= 0
	case uint64:
		return int(x), x <= math.MaxInt32
	case uint32:
		return int(x), true
	case float64:
		return int(x), x >= 0 && x <= math.MaxInt32 && x == math.Trunc(x)
	}
	return 0, false
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

func names[T any](m map[string]T) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
