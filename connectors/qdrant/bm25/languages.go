package bm25

import (
	"embed"
	"strings"
	"sync"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/arabic"
	"github.com/blevesearch/snowballstem/danish"
	"github.com/blevesearch/snowballstem/dutch"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/finnish"
	"github.com/blevesearch/snowballstem/french"
	"github.com/blevesearch/snowballstem/german"
	"github.com/blevesearch/snowballstem/hungarian"
	"github.com/blevesearch/snowballstem/italian"
	"github.com/blevesearch/snowballstem/norwegian"
	"github.com/blevesearch/snowballstem/portuguese"
	"github.com/blevesearch/snowballstem/romanian"
	"github.com/blevesearch/snowballstem/russian"
	"github.com/blevesearch/snowballstem/spanish"
	"github.com/blevesearch/snowballstem/swedish"
	"github.com/blevesearch/snowballstem/tamil"
	"github.com/blevesearch/snowballstem/turkish"
)

// stopwordFiles holds one list per language, one word a line, exactly the
// lists Qdrant 1.17.1 compiles in (lib/segment/src/index/field_index/
// full_text_index/stop_words/<language>.rs, mostly NLTK's lists), extracted
// as data; a few entries hold spaces or tabs and can never match a token,
// as in Qdrant.
//
//go:embed stopwords/*.txt
var stopwordFiles embed.FS

// stopwordLanguages maps every name Qdrant's Language enum accepts (its
// snake_case name and its alias) to the list's file name.
var stopwordLanguages = map[string]string{}

// stemmerLanguages maps every name Qdrant's SnowballLanguage enum accepts
// to its stemmer; nil for the two (armenian, greek) that have no Go
// Snowball stemmer here.
var stemmerLanguages = map[string]*stemmerLang{}

type stemmerLang struct {
	name string
	stem func(*snowballstem.Env) bool
}

func init() {
	for _, l := range []struct{ name, alias string }{
		{"arabic", "ar"}, {"azerbaijani", "az"}, {"basque", "eu"}, {"bengali", "bn"}, {"catalan", "ca"},
		{"chinese", "zh"}, {"danish", "da"}, {"dutch", "nl"}, {"english", "en"}, {"finnish", "fi"},
		{"french", "fr"}, {"german", "de"}, {"greek", "el"}, {"hebrew", "he"}, {"hinglish", "hi-en"},
		{"hungarian", "hu"}, {"indonesian", "id"}, {"italian", "it"}, {"japanese", "jp"}, {"kazakh", "kk"},
		{"nepali", "ne"}, {"norwegian", "no"}, {"portuguese", "pt"}, {"romanian", "ro"}, {"russian", "ru"},
		{"slovene", "sl"}, {"spanish", "es"}, {"swedish", "sv"}, {"tajik", "tg"}, {"turkish", "tr"},
	} {
		stopwordLanguages[l.name] = l.name
		stopwordLanguages[l.alias] = l.name
	}
	for _, l := range []struct {
		name, alias string
		stem        func(*snowballstem.Env) bool
	}{
		{"arabic", "ar", arabic.Stem}, {"armenian", "hy", nil}, {"danish", "da", danish.Stem},
		{"dutch", "nl", dutch.Stem}, {"english", "en", english.Stem}, {"finnish", "fi", finnish.Stem},
		{"french", "fr", french.Stem}, {"german", "de", german.Stem}, {"greek", "el", nil},
		{"hungarian", "hu", hungarian.Stem}, {"italian", "it", italian.Stem}, {"norwegian", "no", norwegian.Stem},
		{"portuguese", "pt", portuguese.Stem}, {"romanian", "ro", romanian.Stem}, {"russian", "ru", russian.Stem},
		{"spanish", "es", spanish.Stem}, {"swedish", "sv", swedish.Stem}, {"tamil", "ta", tamil.Stem},
		{"turkish", "tr", turkish.Stem},
	} {
		sl := &stemmerLang{name: l.name, stem: l.stem}
		stemmerLanguages[l.name] = sl
		stemmerLanguages[l.alias] = sl
	}
}

var (
	stopwordMu    sync.Mutex
	stopwordCache = map[string][]string{}
)

// languageStopwords returns the list of a canonical language name.
func languageStopwords(lang string) []string {
	stopwordMu.Lock()
	defer stopwordMu.Unlock()
	if w, ok := stopwordCache[lang]; ok {
		return w
	}
	b, err := stopwordFiles.ReadFile("stopwords/" + lang + ".txt")
	if err != nil {
		panic("bm25: missing stop-word list " + lang) // every name in stopwordLanguages has a file
	}
	w := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	stopwordCache[lang] = w
	return w
}
