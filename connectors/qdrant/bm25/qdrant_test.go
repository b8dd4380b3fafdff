package bm25_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/internal/realtext"
)

var update = flag.Bool("update", false, "rewrite testdata/documents-VERSION.json from the real Qdrant binaries")

// goldenPath holds what Qdrant release version stored (TestDocumentsEqualQdrant -update).
func goldenPath(version string) string { return "testdata/documents-" + version + ".json" }

// goldenCase is one set of Document options and the vectors a Qdrant
// release stored for texts sent with them.
type goldenCase struct {
	Name    string         `json:"name"`
	Options map[string]any `json:"options,omitempty"`
	Docs    []goldenDoc    `json:"docs"`
}

type goldenDoc struct {
	Text    string    `json:"text"`
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
}

// optionCase is one option set and where its texts come from: live is
// how many texts the live test sends, golden how many of them are kept in
// testdata.
type optionCase struct {
	name    string
	options map[string]any
	texts   func(t testing.TB, n int) []string
	live    int
	golden  int
	// since is the first release that accepts the options (zero: all).
	since bm25.Version
}

func goDocs(_ testing.TB, n int) []string { return realtext.GoDocComments(n) }

func goDocsFrom(skip int) func(testing.TB, int) []string {
	return func(_ testing.TB, n int) []string { return realtext.GoDocComments(skip + n)[skip:] }
}

// man gives paragraphs of the manual pages in /usr/share/man/<dir>; a
// machine without them skips the case, saying so (a failure under CI).
func man(dir string) func(testing.TB, int) []string {
	return func(t testing.TB, n int) []string {
		texts := realtext.ManParagraphs(dir, n)
		if len(texts) == 0 {
			t.Skipf("no manual pages under /usr/share/man/%s on this machine: install the manual pages in that language (Debian: manpages-%s)", dir, dir)
		}
		return texts
	}
}

func fixed(texts ...string) func(testing.TB, int) []string {
	return func(testing.TB, int) []string { return texts }
}

// foldSweep gives every printable non-space character below U+30000 as a
// token "q<c>q", 500 to a text, to be sent with the whitespace tokenizer;
// only those the fold, or bleve's table it departs from, changes when
// changed is set.
func foldSweep(changed bool) func(testing.TB, int) []string {
	return func(testing.TB, int) []string {
		var tokens []string
		for r := rune(0x80); r < 0x30000; r++ {
			if unicode.IsSpace(r) || !unicode.IsPrint(r) {
				continue
			}
			tok := "q" + string(r) + "q"
			if changed && (bm25.ASCIIFolding{}).Filter([]string{tok})[0] == tok && string(bleveFold.Filter([]byte(tok))) == tok {
				continue
			}
			tokens = append(tokens, tok)
		}
		var texts []string
		for i := 0; i < len(tokens); i += 500 {
			texts = append(texts, strings.Join(tokens[i:min(i+500, len(tokens))], " "))
		}
		return texts
	}
}

var bleveFold = asciifolding.New()

// edgeTexts are short strings written for the stages' corner cases (case
// mapping, digits of other scripts, marks, apostrophes); their vectors
// still come from the binary.
var edgeTexts = []string{
	"İstanbul İSTANBUL", "ΟΔΟΣ ΣΟΦΟΣ Σ ΌΣΟΣ ΑΣ", "naïve café ÉCOLE résumé", "x² ½ ٣ ⅷ ⅰⅱ 10th", "don't can't it's O'Reilly",
	"", "   ", "the and of a", "Straße STRASSE strasse", "ǅemal ǈ ǋ", "ﬁle ﬂow", "running runs ran runner",
	"generously generous generate general", "ȺȾ ⱥ", "Ωmega ÅNGSTRÖM", "क्षत्रिय हिन्दी", "日本語のテキスト 中文", "ÀÉÎÕÜ àéîõü",
	"a a a a a a a a b", "Caring CARING cared", "e-mail e_mail e.mail", "ſtraße", "ΣΑΣ·ΣΑΣ", "K K Å", "ǰ ẞ",
}

func optionCases() []optionCase {
	few := func(name string, opts map[string]any, texts func(testing.TB, int) []string) optionCase {
		return optionCase{name: name, options: opts, texts: texts, live: 40, golden: 12}
	}
	cases := []optionCase{
		{name: "default", texts: goDocs, live: 1200, golden: 200},
		{name: "edge cases", texts: fixed(edgeTexts...), live: 100, golden: 100},
		few("stemmer off (language none, English stop words)", map[string]any{"language": "none", "stopwords": "english"}, goDocsFrom(1200)),
		few("no stop words, no stemmer", map[string]any{"language": "none"}, goDocsFrom(1240)),
		few("lowercase off", map[string]any{"lowercase": false}, goDocsFrom(1280)),
		few("lowercase off, edge cases", map[string]any{"lowercase": false}, fixed(edgeTexts...)),
		few("k, b, avg_len", map[string]any{"k": 2.0, "b": 0.3, "avg_len": 40.5}, goDocsFrom(1320)),
		few("integer k, b, avg_len", map[string]any{"k": 1, "b": 1, "avg_len": 10}, goDocsFrom(1360)),
		few("whitespace tokenizer", map[string]any{"tokenizer": "whitespace"}, goDocsFrom(1400)),
		few("whitespace tokenizer, edge cases", map[string]any{"tokenizer": "whitespace"}, fixed(edgeTexts...)),
		few("prefix tokenizer with lengths", map[string]any{"tokenizer": "prefix", "min_token_len": 3, "max_token_len": 5}, goDocsFrom(1440)),
		few("word lengths", map[string]any{"min_token_len": 4, "max_token_len": 9}, goDocsFrom(1480)),
		few("stop-word set", map[string]any{"stopwords": map[string]any{"languages": []any{"english", "fr"}, "custom": []any{"Function", "returns"}}}, goDocsFrom(1520)),
		few("custom stop words, lowercase off", map[string]any{"lowercase": false, "stopwords": map[string]any{"custom": []any{"The", "function"}}}, goDocsFrom(1560)),
		few("French stemmer on English text", map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "fr"}}, goDocsFrom(1600)),
		few("language names are case-sensitive", map[string]any{"language": "English"}, goDocsFrom(1640)),
		few("language alias", map[string]any{"language": "en"}, goDocsFrom(1680)),
		few("prefix tokenizer", map[string]any{"tokenizer": "prefix"}, goDocsFrom(1760)),
		few("prefix tokenizer, edge cases", map[string]any{"tokenizer": "prefix"}, fixed(edgeTexts...)),
		few("prefix tokenizer, minimum only, no stemmer", map[string]any{"tokenizer": "prefix", "min_token_len": 2, "language": "none"}, goDocsFrom(1800)),
		few("prefix tokenizer, maximum only, German", map[string]any{"tokenizer": "prefix", "max_token_len": 6, "language": "german"}, man("de")),
		optionCase{name: "stemmer none", options: map[string]any{"stemmer": map[string]any{"type": "none"}}, texts: goDocsFrom(1840), live: 40, golden: 12, since: bm25.V1_19_0},
		optionCase{name: "stemmer none, French stop words", options: map[string]any{"stemmer": map[string]any{"type": "none"}, "language": "french"}, texts: man("fr"), live: 40, golden: 12, since: bm25.V1_19_0},
	}
	foldOpts := map[string]any{"ascii_folding": true, "language": "none", "lowercase": false, "tokenizer": "whitespace"}
	cases = append(cases,
		optionCase{name: "ascii folding, every printable character", options: foldOpts, texts: foldSweep(false), live: 1000},
		optionCase{name: "ascii folding, the characters it changes", options: foldOpts, texts: foldSweep(true), live: 100, golden: 100},
		few("ascii folding on French text", map[string]any{"ascii_folding": true, "language": "french"}, man("fr")),
		few("ascii folding, lowercase and English stemming", map[string]any{"ascii_folding": true}, fixed(edgeTexts...)),
	)
	for _, l := range []struct{ lang, dir string }{
		{"german", "de"}, {"french", "fr"}, {"spanish", "es"}, {"russian", "ru"}, {"swedish", "sv"}, {"italian", "it"},
		{"dutch", "nl"}, {"portuguese", "pt"}, {"danish", "da"}, {"finnish", "fi"}, {"hungarian", "hu"},
		{"romanian", "ro"}, {"turkish", "tr"},
	} {
		cases = append(cases, few("language "+l.lang, map[string]any{"language": l.lang}, man(l.dir)))
	}
	// Gettext translations: the stemmers no manual page covers, Greek
	// (stop words and lowercasing; there is no Go Greek stemmer), and the
	// languages Qdrant has stop words but no stemmer for.
	for _, l := range []struct{ lang, dir string }{
		{"arabic", "ar"}, {"norwegian", "nb"}, {"tamil", "ta"}, {"catalan", "ca"}, {"hebrew", "he"},
		{"indonesian", "id"}, {"slovene", "sl"}, {"bengali", "bn"}, {"kazakh", "kk"}, {"nepali", "ne"},
		{"basque", "eu"}, {"azerbaijani", "az"}, {"tajik", "tg"}, {"chinese", "zh_CN"}, {"japanese", "ja"},
	} {
		cases = append(cases, few("language "+l.lang+" (gettext)", map[string]any{"language": l.lang}, gettext(l.dir)))
	}
	cases = append(cases,
		few("Greek stop words, no stemmer (gettext)", map[string]any{"language": "none", "stopwords": "greek"}, gettext("el")),
		few("Norwegian stemmer by alias on Norwegian text", map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "no"}, "stopwords": "no"}, gettext("nb")),
		few("Hinglish stop words", map[string]any{"language": "hi-en"}, goDocsFrom(1720)),
	)
	return cases
}

// gettext gives messages of the gettext catalogues under
// /usr/share/locale/<dir>; a machine without them skips the case, saying
// so (a failure under CI).
func gettext(dir string) func(testing.TB, int) []string {
	return func(t testing.TB, n int) []string {
		texts := realtext.GettextMessages(dir, n)
		if len(texts) == 0 {
			t.Skipf("no gettext catalogues under /usr/share/locale/%s/LC_MESSAGES on this machine: install translated packages for that language", dir)
		}
		return texts
	}
}

// TestDocumentsEqualGolden checks the encoder, as each Qdrant release in
// qdranttest.Versions computes, against the vectors that release stored
// for the texts of testdata/documents-VERSION.json (written by
// TestDocumentsEqualQdrant -update), so the equality is checked where the
// binaries are absent.
func TestDocumentsEqualGolden(t *testing.T) {
	for _, version := range qdranttest.Versions {
		t.Run("qdrant "+version, func(t *testing.T) {
			v := mustVersion(t, version)
			cases := readGolden(t, version)
			have := map[string]int{}
			for _, c := range cases {
				have[c.Name] = len(c.Docs)
			}
			for _, c := range optionCases() {
				if c.golden > 0 && v.AtLeast(c.since) && have[c.name] == 0 {
					t.Errorf("%s holds no texts for the case %q: rewrite it (-update) on a machine with its texts", goldenPath(version), c.name)
				}
			}
			total := 0
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					enc := encoderOf(t, v, c.Options)
					for _, d := range c.Docs {
						compareDoc(t, enc, d)
					}
				})
				total += len(c.Docs)
			}
			if total < 300 {
				t.Errorf("golden file holds %d texts, want at least 300", total)
			}
		})
	}
}

func mustVersion(t testing.TB, s string) bm25.Version {
	t.Helper()
	v, err := bm25.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDocumentsEqualQdrant sends every case's texts to a real Qdrant of
// each release as Document{model: "qdrant/bm25", options}, reads the
// stored sparse vectors back and compares them with the encoder's for
// that release.
func TestDocumentsEqualQdrant(t *testing.T) {
	qdranttest.ForEachVersion(t, func(t *testing.T, version string) {
		documentsEqualQdrant(t, version, qdranttest.Shared(t, version))
	})
}

func documentsEqualQdrant(t *testing.T, version string, node *qdranttest.Node) {
	v := mustVersion(t, version)
	var golden []goldenCase
	for i, c := range optionCases() {
		if !v.AtLeast(c.since) {
			continue
		}
		// A case whose texts this machine lacks is a skip, counted and
		// named (a failure under CI), never dropped in silence.
		t.Run(c.name, func(t *testing.T) {
			texts := c.texts(t, c.live)
			if len(texts) == 0 {
				t.Fatalf("no texts for %s", c.name)
			}
			if c.name == "default" && len(texts) < 1000 {
				t.Fatalf("%s: %d texts, want at least 1000", c.name, len(texts))
			}
			docs := qdrantDocuments(t, node.HTTPURL(), fmt.Sprintf("bm25_%d", i), texts, c.options)
			enc := encoderOf(t, v, c.options)
			for _, d := range docs {
				compareDoc(t, enc, d)
			}
			if c.golden > 0 {
				golden = append(golden, goldenCase{Name: c.name, Options: c.options, Docs: docs[:min(len(docs), c.golden)]})
			}
		})
	}
	if *update && t.Failed() {
		t.Fatalf("not rewriting %s: a case failed or was skipped", goldenPath(version))
	}
	if *update && len(golden) != goldenCases(v) {
		t.Fatalf("not rewriting %s: %d of %d golden cases ran (a case was skipped)", goldenPath(version), len(golden), goldenCases(v))
	}
	if *update {
		writeGolden(t, version, golden)
	}
}

// goldenCases is how many option cases of release v keep texts in its
// golden file.
func goldenCases(v bm25.Version) int {
	n := 0
	for _, c := range optionCases() {
		if c.golden > 0 && v.AtLeast(c.since) {
			n++
		}
	}
	return n
}

func encoderOf(t *testing.T, v bm25.Version, options map[string]any) *bm25.Encoder {
	t.Helper()
	opts, err := bm25.ParseOptionsFor(v, options)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := bm25.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// compareDoc fails when the encoder's vector for d.Text differs from
// Qdrant's: other indices, or a value off by more than float32 rounding.
func compareDoc(t *testing.T, enc *bm25.Encoder, d goldenDoc) {
	t.Helper()
	got := enc.Document(d.Text)
	if !slices.Equal(got.Indices, d.Indices) {
		t.Errorf("text %q:\ntokens %q\ngot indices  %v\nwant indices %v", short(d.Text), enc.Analyzer().Analyze(d.Text), got.Indices, d.Indices)
		return
	}
	for i := range got.Values {
		g, w := float64(got.Values[i]), float64(d.Values[i])
		if math.Abs(g-w) > 1e-6*math.Abs(w) {
			t.Errorf("text %q: index %d: got value %v, want %v", short(d.Text), got.Indices[i], g, w)
		}
	}
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// qdrantDocuments upserts texts as BM25 Documents into a new collection
// (a sparse vector "bm25" with the IDF modifier) and returns the vectors
// Qdrant stored, in text order.
func qdrantDocuments(t testing.TB, base, collection string, texts []string, options map[string]any) []goldenDoc {
	t.Helper()
	rest(t, http.MethodPut, base+"/collections/"+collection, map[string]any{
		"sparse_vectors": map[string]any{"bm25": map[string]any{"modifier": "idf"}},
	}, nil)
	for start := 0; start < len(texts); start += 200 {
		var points []map[string]any
		for i := start; i < min(start+200, len(texts)); i++ {
			doc := map[string]any{"text": texts[i], "model": "qdrant/bm25"}
			if options != nil {
				doc["options"] = options
			}
			points = append(points, map[string]any{"id": i, "vector": map[string]any{"bm25": doc}})
		}
		rest(t, http.MethodPut, base+"/collections/"+collection+"/points?wait=true", map[string]any{"points": points}, nil)
	}
	ids := make([]int, len(texts))
	for i := range ids {
		ids[i] = i
	}
	return qdrantPoints(t, base, collection, ids, texts)
}

// qdrantPoints reads the "bm25" vectors of the points ids back, in order;
// texts[i] is the text of ids[i].
func qdrantPoints(t testing.TB, base, collection string, ids []int, texts []string) []goldenDoc {
	t.Helper()
	var scroll struct {
		Result struct {
			Points []struct {
				ID     int `json:"id"`
				Vector map[string]struct {
					Indices []uint32  `json:"indices"`
					Values  []float32 `json:"values"`
				} `json:"vector"`
			} `json:"points"`
		} `json:"result"`
	}
	rest(t, http.MethodPost, base+"/collections/"+collection+"/points/scroll",
		map[string]any{"filter": map[string]any{"must": []any{map[string]any{"has_id": ids}}},
			"limit": len(ids) + 1, "with_vector": true, "with_payload": false}, &scroll)
	docs := make([]goldenDoc, len(texts))
	at := map[int]int{}
	for i := range docs {
		docs[i] = goldenDoc{Text: texts[i], Indices: []uint32{}, Values: []float32{}}
		at[ids[i]] = i
	}
	for _, p := range scroll.Result.Points {
		v, ok := p.Vector["bm25"]
		if !ok {
			continue // an empty sparse vector is not returned
		}
		idx := make([]int, len(v.Indices))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return int(int64(v.Indices[a]) - int64(v.Indices[b])) })
		d := &docs[at[p.ID]]
		for _, i := range idx {
			d.Indices = append(d.Indices, v.Indices[i])
			d.Values = append(d.Values, v.Values[i])
		}
	}
	return docs
}

func rest(t testing.TB, method, url string, body, out any) {
	t.Helper()
	status, data := restStatus(t, method, url, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d: %s", method, url, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

func readGolden(t testing.TB, version string) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(goldenPath(version))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("%s: %v", goldenPath(version), err)
	}
	return cases
}

// writeGolden writes one case header a line and one document a line, so
// a diff of the file shows which texts changed.
func writeGolden(t *testing.T, version string, cases []goldenCase) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[\n")
	for i, c := range cases {
		opts, _ := json.Marshal(c.Options)
		fmt.Fprintf(&b, "{\"name\": %s, \"options\": %s, \"docs\": [\n", jsonString(c.Name), opts)
		for j, d := range c.Docs {
			line, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			if j < len(c.Docs)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("]}")
		if i < len(cases)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	path := goldenPath(version)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestMain(m *testing.M) { qdranttest.Main(m) }

// optionErrorCases are options one release or another refuses after
// reading them, or reads differently.
var optionErrorCases = []map[string]any{
	{"k": -1}, {"k": 0}, {"k": 1e300}, {"b": 1.5}, {"b": -0.1}, {"b": 0}, {"b": 1}, {"avg_len": 0}, {"avg_len": -5}, {"avg_len": 1e-7},
	{"k": -1, "b": 2, "avg_len": 0}, {"b": 2, "avg_len": 0},
	{"stemmer": map[string]any{"type": "none"}}, {"stemmer": map[string]any{"type": "none"}, "language": "german"},
	{"stemmer": map[string]any{"type": "snowball", "language": "english"}}, {"stemmer": map[string]any{"type": "nope"}},
	{"k": "x"}, {"tokenizer": "prefix", "min_token_len": 3, "max_token_len": 2},
}

// TestOptionErrorsEqualQdrant sends a Document with each of
// optionErrorCases to a real Qdrant of each release: the options the
// release refuses, ParseOptionsFor refuses (with Qdrant's message for k, b
// and avg_len), and the vectors of those it takes are the encoder's.
func TestOptionErrorsEqualQdrant(t *testing.T) {
	const text = "Running quickly, the runners ran past the runner's house"
	qdranttest.ForEachVersion(t, func(t *testing.T, version string) {
		v := mustVersion(t, version)
		base := qdranttest.Shared(t, version).HTTPURL()
		rest(t, http.MethodPut, base+"/collections/bm25_options", map[string]any{
			"sparse_vectors": map[string]any{"bm25": map[string]any{"modifier": "idf"}},
		}, nil)
		for i, opts := range optionErrorCases {
			name, _ := json.Marshal(opts)
			t.Run(string(name), func(t *testing.T) {
				status, body := restStatus(t, http.MethodPut, base+"/collections/bm25_options/points?wait=true", map[string]any{"points": []any{
					map[string]any{"id": i, "vector": map[string]any{"bm25": map[string]any{"text": text, "model": "qdrant/bm25", "options": opts}}}}})
				parsed, err := bm25.ParseOptionsFor(v, opts)
				var msg struct {
					Status struct {
						Error string `json:"error"`
					} `json:"status"`
				}
				json.Unmarshal(body, &msg)
				switch {
				case status != http.StatusOK && err == nil:
					t.Fatalf("Qdrant refused the options (%d %s); ParseOptionsFor took them", status, msg.Status.Error)
				case status == http.StatusOK && err != nil:
					t.Fatalf("Qdrant took the options; ParseOptionsFor: %v", err)
				case err != nil:
					var pe *bm25.ParamError
					if errors.As(err, &pe) && "Wrong input: "+pe.Error() != msg.Status.Error {
						t.Errorf("ParseOptionsFor: %q, Qdrant: %q", pe.Error(), msg.Status.Error)
					}
					t.Logf("both refuse: Qdrant %q; ParseOptionsFor %q", msg.Status.Error, err)
					return
				}
				docs := qdrantPoints(t, base, "bm25_options", []int{i}, []string{text})
				enc, err := bm25.New(parsed)
				if err != nil {
					t.Fatal(err)
				}
				compareDoc(t, enc, docs[0])
			})
		}
	})
}

func restStatus(t testing.TB, method, url string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}
