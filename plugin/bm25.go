package plugin

import (
	"strings"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

// bm25Module is the bm25 module: no model, only Qdrant's BM25 options,
// sent with every text so the store tokenizes and weighs it the same way
// for documents and queries.
type bm25Module struct{ options map[string]any }

var _ StoreSide = (*bm25Module)(nil)

func newBM25(vc config.Vectorizer) *bm25Module { return &bm25Module{options: BM25Options(vc)} }

func (m *bm25Module) Module() string { return config.ModuleBM25 }
func (m *bm25Module) Close() error   { return nil }

// StoreModel returns Qdrant's BM25 model with the module's options.
func (m *bm25Module) StoreModel() qdrant.StoreModel {
	return qdrant.StoreModel{Model: qdrant.BM25Model, Options: m.options}
}

// BM25Options maps a bm25 vectorizer's configuration to the options of
// Qdrant's BM25 (Bm25Config) as the newest release reads them (Qdrant
// 1.19: k, b, avg_len, tokenizer, language, lowercase, ascii_folding,
// stopwords, stemmer, min_token_len, max_token_len). Unset fields are left
// out, so Qdrant's defaults apply; the defaults give no options at all.
// The connector rewrites them for an older Qdrant (bm25.OptionsFor):
// stemmer none is {"stemmer": {"type": "none"}} here, "language": "none"
// and the language's stop words named before 1.19.
func BM25Options(vc config.Vectorizer) map[string]any {
	o := map[string]any{}
	if vc.K != 0 {
		o["k"] = vc.K
	}
	if vc.B != nil {
		o["b"] = *vc.B
	}
	if vc.AvgLen != 0 {
		o["avg_len"] = vc.AvgLen
	}
	if vc.Tokenizer != "" {
		o["tokenizer"] = vc.Tokenizer
	}
	if vc.Lowercase != nil {
		o["lowercase"] = *vc.Lowercase
	}
	if vc.ASCIIFolding {
		o["ascii_folding"] = true
	}
	if vc.MinTokenLen > 0 {
		o["min_token_len"] = vc.MinTokenLen
	}
	if vc.MaxTokenLen > 0 {
		o["max_token_len"] = vc.MaxTokenLen
	}
	lang := strings.ToLower(vc.Language)
	if lang != "" {
		o["language"] = lang
	}
	if lang == "" {
		lang = "english" // Qdrant's default language
	}
	switch stem := strings.ToLower(vc.Stemmer); {
	case stem == "none" && lang != "none":
		o["stemmer"] = map[string]any{"type": "none"}
	case stem != "" && stem != "none":
		o["stemmer"] = map[string]any{"type": "snowball", "language": stem}
	}
	if len(vc.Stopwords) > 0 {
		// Qdrant's stopwords option replaces the language's list: name it.
		var langs []string
		if lang != "none" && stopwordLanguage(lang) {
			langs = append(langs, lang)
		}
		o["stopwords"] = stopwordSet(langs, vc.Stopwords)
	}
	return o
}

func stopwordLanguage(name string) bool {
	if _, ok := config.StopwordLanguages[name]; ok {
		return true
	}
	for _, code := range config.StopwordLanguages {
		if code == name {
			return true
		}
	}
	return false
}

// stopwordSet is Qdrant's StopwordsSet: languages' lists and custom words.
func stopwordSet(langs, custom []string) map[string]any {
	set := map[string]any{}
	if len(langs) > 0 {
		set["languages"] = toAny(langs)
	}
	if len(custom) > 0 {
		set["custom"] = toAny(custom)
	}
	return set
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
