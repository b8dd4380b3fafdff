package config

import (
	"fmt"
	"math"
	"strings"
)

// StopwordLanguages are the languages Qdrant 1.17 has stop-word lists for
// (segment's Language), with their codes; StemmerLanguages those it has a
// Snowball stemmer for (SnowballLanguage). Names and codes are what
// Qdrant's BM25 options accept.
var (
	StopwordLanguages = map[string]string{
		"arabic": "ar", "azerbaijani": "az", "basque": "eu", "bengali": "bn", "catalan": "ca", "chinese": "zh",
		"danish": "da", "dutch": "nl", "english": "en", "finnish": "fi", "french": "fr", "german": "de",
		"greek": "el", "hebrew": "he", "hinglish": "hi-en", "hungarian": "hu", "indonesian": "id", "italian": "it",
		"japanese": "jp", "kazakh": "kk", "nepali": "ne", "norwegian": "no", "portuguese": "pt", "romanian": "ro",
		"russian": "ru", "slovene": "sl", "spanish": "es", "swedish": "sv", "tajik": "tg", "turkish": "tr",
	}
	StemmerLanguages = map[string]string{
		"arabic": "ar", "armenian": "hy", "danish": "da", "dutch": "nl", "english": "en", "finnish": "fi",
		"french": "fr", "german": "de", "greek": "el", "hungarian": "hu", "italian": "it", "norwegian": "no",
		"portuguese": "pt", "romanian": "ro", "russian": "ru", "spanish": "es", "swedish": "sv", "tamil": "ta",
		"turkish": "tr",
	}
)

// BM25Tokenizers are Qdrant's tokenizers.
var BM25Tokenizers = []string{"word", "whitespace", "prefix", "multilingual"}

// knownLanguage reports whether name is a key or a value of langs.
func knownLanguage(langs map[string]string, name string) bool {
	if _, ok := langs[name]; ok {
		return true
	}
	for _, code := range langs {
		if code == name {
			return true
		}
	}
	return false
}

// validateBM25 checks the bm25 module's options; the fields of model
// modules have no meaning for it.
func (v Vectorizer) validateBM25(key string) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, field, fmt.Sprintf(format, args...)))
	}
	if v.Model != "" {
		bad("model", "the bm25 module runs no model (the store computes BM25), got %q", v.Model)
	}
	if l := strings.ToLower(v.Language); l != "" && l != "none" && !knownLanguage(StopwordLanguages, l) && !knownLanguage(StemmerLanguages, l) {
		bad("language", "unknown language %q (want none, or one Qdrant has stop words or a stemmer for, e.g. english, en, german)", v.Language)
	}
	if s := strings.ToLower(v.Stemmer); s != "" && s != "none" && !knownLanguage(StemmerLanguages, s) {
		bad("stemmer", "must be \"\" (the language's), none, or a Snowball language, got %q", v.Stemmer)
	}
	for i, w := range v.Stopwords {
		if strings.TrimSpace(w) == "" {
			bad(fmt.Sprintf("stopwords[%d]", i), "must not be empty")
		}
	}
	if math.IsNaN(v.K) || math.IsInf(v.K, 0) || v.K < 0 {
		bad("k", "must be a finite number >= 0 (0: 1.2), got %v", v.K)
	}
	if v.B != nil && (math.IsNaN(*v.B) || *v.B < 0 || *v.B > 1) {
		bad("b", "must be in [0, 1], got %v", *v.B)
	}
	if math.IsNaN(v.AvgLen) || math.IsInf(v.AvgLen, 0) || v.AvgLen < 0 {
		bad("avg_len", "must be a finite number > 0 (0: 256), got %v", v.AvgLen)
	}
	if v.Tokenizer != "" && !oneOf(v.Tokenizer, BM25Tokenizers...) {
		bad("tokenizer", "must be one of %s, got %q", strings.Join(BM25Tokenizers, ", "), v.Tokenizer)
	}
	if v.MinTokenLen < 0 || v.MaxTokenLen < 0 || (v.MaxTokenLen > 0 && v.MinTokenLen > v.MaxTokenLen) {
		bad("min_token_len", "and max_token_len must be >= 0 with min <= max (0: no bound), got %d and %d", v.MinTokenLen, v.MaxTokenLen)
	}
	return errs
}

// hasBM25Options reports whether any bm25-only field is set.
func (v Vectorizer) hasBM25Options() bool {
	return v.Language != "" || len(v.Stopwords) > 0 || v.Stemmer != "" || v.K != 0 || v.B != nil || v.AvgLen != 0 ||
		v.Lowercase != nil || v.ASCIIFolding || v.Tokenizer != "" || v.MinTokenLen != 0 || v.MaxTokenLen != 0
}

// DefaultBM25 is the bm25 vectorizer's name in the defaults.
const DefaultBM25 = "bm25"
