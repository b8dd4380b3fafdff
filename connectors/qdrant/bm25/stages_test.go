package bm25

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestWordTokenizerSplitsOnEveryNonAlphanumeric(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"punctuation and spaces", "hello, world! Привет, мир!", []string{"hello", "world", "Привет", "мир"}},
		{"apostrophes and dots split words", "don't e.mail e-mail e_mail", []string{"don", "t", "e", "mail", "e", "mail", "e", "mail"}},
		{"numbers of every kind are kept", "x² ½ ٣ ⅷ 10th", []string{"x²", "½", "٣", "ⅷ", "10th"}},
		{"Other_Alphabetic vowel signs stay inside words", "किताब", []string{"किताब"}},
		{"a virama is not alphabetic and splits", "क्षत्रिय", []string{"क", "षत", "रिय"}},
		{"nothing but separators", " .,;!? ", nil},
		{"empty", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (WordTokenizer{}).Tokenize(c.text); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestWhitespaceTokenizerSplitsOnUnicodeWhiteSpace(t *testing.T) {
	got := (WhitespaceTokenizer{}).Tokenize("a\tb\u00a0c\u2003d\u3000e\u200bf don't")
	want := []string{"a", "b", "c", "d", "e\u200bf", "don't"} // U+200B is not White_Space
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestASCIIFoldingFollowsLucenesTable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ação", "acao"}, {"Ærøskøbing", "AEroskobing"}, {"Straße", "Strasse"}, {"ﬁle", "file"},
		{"Ⓐ", "A"}, {"plain", "plain"}, {"日本", "日本"}, {"ŁÓDŹ", "LODZ"},
		// Qdrant's departures from bleve's table.
		{"Əli", "Əli"}, {"ǥǧ", "gg"}, {"ÀǧÀ", "AgA"}, {"ǧ", "g"},
	} {
		if got := (ASCIIFolding{}).Filter([]string{c.in}); got[0] != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got[0], c.want)
		}
	}
}

func TestLowercaseFollowsRustFullMapping(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"ASCII", "HeLLo", "hello"},
		{"dotted capital I keeps its dot", "İstanbul", "i\u0307stanbul"},
		{"final sigma at the end of a word", "ΟΔΟΣ", "οδος"},
		{"sigma inside a word", "ΣΟΦΟΣ", "σοφος"},
		{"sigma alone is not final", "Σ", "σ"},
		{"sigma after a case-ignorable mark", "ΑΣ\u0301", "ας\u0301"},
		{"title-case digraph", "ǅemal", "ǆemal"},
		{"sharp s unchanged, capital sharp s lowered", "ẞtraße", "ßtraße"},
		{"Kelvin and Angstrom signs", "K Å", "k å"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (Lowercase{}).Filter([]string{c.in}); got[0] != c.want {
				t.Errorf("got %q, want %q", got[0], c.want)
			}
		})
	}
}

func TestStopWordsDropListedTokens(t *testing.T) {
	for _, c := range []struct {
		name      string
		words     []string
		lowercase bool
		in, want  []string
	}{
		{"English list", languageStopwords("english"), true, []string{"the", "builder", "and", "you're"}, []string{"builder"}},
		{"custom words are lowered with lowercase on", []string{"The"}, true, []string{"the", "The"}, []string{"The"}},
		{"custom words keep their case with lowercase off", []string{"The"}, false, []string{"the", "The"}, []string{"the"}},
		{"empty list keeps all", nil, true, []string{"the"}, []string{"the"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := NewStopWords(c.words, c.lowercase).Filter(slices.Clone(c.in))
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestStopWordListsHaveQdrantsSizes(t *testing.T) {
	// Sizes of the arrays in Qdrant 1.17.1's stop_words/<language>.rs.
	for lang, n := range map[string]int{"english": 179, "russian": 151, "turkish": 53, "tajik": 163} {
		if got := len(languageStopwords(lang)); got != n {
			t.Errorf("%s: %d words, want %d", lang, got, n)
		}
	}
	for name, lang := range stopwordLanguages {
		if len(languageStopwords(lang)) == 0 {
			t.Errorf("%s (%s): empty list", name, lang)
		}
	}
}

func TestStemmerReducesWithSnowball(t *testing.T) {
	for _, c := range []struct {
		lang     string
		in, want []string
	}{
		// Porter2 reference pairs (snowballstem.org's English vocabulary).
		{"english", []string{"running", "generously", "caresses", "ponies", "skies", "dying", "news", "Running"}, []string{"run", "generous", "caress", "poni", "sky", "die", "news", "Run"}},
		{"german", []string{"häuser", "aufeinanderfolgenden"}, []string{"haus", "aufeinanderfolg"}},
		{"russian", []string{"вагоны", "красивая"}, []string{"вагон", "красив"}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			l := stemmerLanguages[c.lang]
			got := (&Stemmer{Language: l.name, stem: l.stem}).Filter(slices.Clone(c.in))
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLengthFiltersCountCodePoints(t *testing.T) {
	in := []string{"ab", "abc", "αβγ", "abcdef", ""}
	if got, want := (MinLength{N: 3}).Filter(slices.Clone(in)), []string{"abc", "αβγ", "abcdef"}; !slices.Equal(got, want) {
		t.Errorf("MinLength: got %q, want %q", got, want)
	}
	if got, want := (MaxLength{N: 3}).Filter(slices.Clone(in)), []string{"ab", "abc", "αβγ", ""}; !slices.Equal(got, want) {
		t.Errorf("MaxLength: got %q, want %q", got, want)
	}
	if got, want := (Truncate{N: 2}).Filter(slices.Clone(in)), []string{"ab", "ab", "αβ", "ab", ""}; !slices.Equal(got, want) {
		t.Errorf("Truncate: got %q, want %q", got, want)
	}
}

func TestTokenIDIsAbsoluteMurmur3(t *testing.T) {
	for _, c := range []struct {
		token string
		want  uint32
	}{
		{"", 0},                // MurmurHash3 x86_32 reference vector
		{"hello", 613153351},   // reference vector 0x248bfa47
		{"use", 640124220},     // stored by Qdrant 1.17.1 (testdata)
		{"string", 1390314837}, // stored by Qdrant; the signed hash is -1390314837
		{"write", 1122108788},  // stored by Qdrant; signed -1122108788
	} {
		if got := TokenID(c.token); got != c.want {
			t.Errorf("TokenID(%q) = %d, want %d", c.token, got, c.want)
		}
	}
}

func TestDocumentValuesFollowBM25Saturation(t *testing.T) {
	enc, err := New(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// "apple apple pear": 3 tokens, apple twice, pear once.
	got := enc.Document("Apple apple pear")
	norm := 1 - 0.75 + 0.75*3.0/256
	want := map[uint32]float32{
		TokenID("appl"): float32(2 * 2.2 / (2 + 1.2*norm)),
		TokenID("pear"): float32(1 * 2.2 / (1 + 1.2*norm)),
	}
	if len(got.Indices) != 2 {
		t.Fatalf("got %d indices, want 2", len(got.Indices))
	}
	for i, id := range got.Indices {
		if math.Abs(float64(got.Values[i]-want[id])) > 1e-6 {
			t.Errorf("index %d: got %v, want %v", id, got.Values[i], want[id])
		}
	}
	if !slices.IsSorted(got.Indices) {
		t.Errorf("indices not sorted: %v", got.Indices)
	}
}

func TestQueryGivesEachDistinctTokenWeightOne(t *testing.T) {
	enc, err := New(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	got := enc.Query("Apples and apple pears, the pear")
	want := []uint32{TokenID("appl"), TokenID("pear")}
	slices.Sort(want)
	if !slices.Equal(got.Indices, want) || !slices.Equal(got.Values, []float32{1, 1}) {
		t.Errorf("got %v %v, want %v [1 1]", got.Indices, got.Values, want)
	}
	if v := enc.Query("the and of"); len(v.Indices) != 0 {
		t.Errorf("stop words only: got %v, want empty", v.Indices)
	}
}

func TestParseOptions(t *testing.T) {
	ptr := func(s string) *string { return &s }
	for _, c := range []struct {
		name    string
		in      map[string]any
		check   func(Options) bool
		wantErr string
	}{
		{"nil is the defaults", nil, func(o Options) bool { return o.K == 1.2 && o.B == 0.75 && o.AvgLen == 256 && o.Tokenizer == "word" }, ""},
		{"integers for floats", map[string]any{"k": int64(2), "avg_len": 100}, func(o Options) bool { return o.K == 2 && o.AvgLen == 100 }, ""},
		{"language", map[string]any{"language": "de"}, func(o Options) bool { return *o.Language == *ptr("de") }, ""},
		{"null leaves a default", map[string]any{"lowercase": nil, "stopwords": nil}, func(o Options) bool { return o.Lowercase == nil && o.Stopwords == nil }, ""},
		{"stop-word language alias", map[string]any{"stopwords": "fr"}, func(o Options) bool { return slices.Equal(o.Stopwords.Languages, []string{"french"}) }, ""},
		{"stemmer", map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "ru"}}, func(o Options) bool { return o.Stemmer.Language == "russian" }, ""},
		{"integral float length", map[string]any{"min_token_len": 3.0}, func(o Options) bool { return *o.MinTokenLen == 3 }, ""},
		{"unknown option", map[string]any{"languag": "de"}, nil, `option "languag": unknown BM25 option`},
		{"wrong type", map[string]any{"k": "1.2"}, nil, `option "k": must be a number, got "1.2"`},
		{"negative length", map[string]any{"max_token_len": -1}, nil, `option "max_token_len": must be a non-negative integer`},
		{"fractional length", map[string]any{"max_token_len": 2.5}, nil, `option "max_token_len": must be a non-negative integer`},
		{"unknown tokenizer", map[string]any{"tokenizer": "ngram"}, nil, `option "tokenizer": unknown tokenizer "ngram"`},
		{"multilingual refused", map[string]any{"tokenizer": "multilingual"}, nil, `option "tokenizer": "multilingual" needs Qdrant's charabia`},
		{"unknown stop-word language", map[string]any{"stopwords": "klingon"}, nil, `option "stopwords": unknown language "klingon"`},
		{"stemmer without type", map[string]any{"stemmer": map[string]any{"language": "en"}}, nil, `option "stemmer": type must be "snowball"`},
		{"every problem at once", map[string]any{"k": true, "b": "x"}, nil, `option "b": must be a number, got "x"; option "k": must be a number`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseOptions(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestNewRefusesWhatItCannotDoExactly(t *testing.T) {
	for _, c := range []struct {
		name string
		in   map[string]any
	}{
		{"Greek stemmer by language", map[string]any{"language": "greek"}},
		{"Armenian stemmer", map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "hy"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := ParseOptions(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(o); err == nil {
				t.Error("got no error")
			}
		})
	}
}
