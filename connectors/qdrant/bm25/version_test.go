package bm25_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
	"github.com/spladeq/spladeq/internal/realtext"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bm25.Version
		ok   bool
	}{
		{"1.19.0", bm25.Version{1, 19, 0}, true}, {"v1.17.1", bm25.Version{1, 17, 1}, true}, {"1.20", bm25.Version{1, 20, 0}, true},
		{"1.20.0-dev", bm25.Version{1, 20, 0}, true}, {"", bm25.Version{}, false}, {"one.two", bm25.Version{}, false}, {"1", bm25.Version{}, false},
	} {
		got, err := bm25.ParseVersion(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if !(bm25.Version{}).AtLeast(bm25.V1_19_0) || bm25.V1_17_1.AtLeast(bm25.V1_18_2) || !(bm25.Version{2, 0, 0}).AtLeast(bm25.V1_19_0) {
		t.Error("AtLeast: the zero Version is Latest, 1.17.1 is older than 1.18.2, 2.0.0 newer than 1.19.0")
	}
}

// TestOptionsForOlderReleases: options that turn the stemmer off the 1.19
// way, rewritten for 1.17, give the same vectors under 1.17's rules as the
// originals under 1.19's, on 300 Go doc comments and French manual
// paragraphs.
func TestOptionsForOlderReleases(t *testing.T) {
	texts := append(realtext.GoDocComments(200), realtext.ManParagraphs("fr", 100)...)
	if len(texts) < 100 {
		t.Skipf("only %d texts on this machine", len(texts))
	}
	none := map[string]any{"type": "none"}
	for _, tc := range []struct {
		name string
		opts map[string]any
		want map[string]any // as 1.17 gets them
	}{
		{"English by default", map[string]any{"stemmer": none}, map[string]any{"language": "none", "stopwords": "english"}},
		{"a language by its code", map[string]any{"stemmer": none, "language": "fr", "k": 1.5}, map[string]any{"language": "none", "stopwords": "french", "k": 1.5}},
		{"stop words the options name", map[string]any{"stemmer": none, "stopwords": map[string]any{"languages": []any{"english"}, "custom": []any{"returns"}}},
			map[string]any{"language": "none", "stopwords": map[string]any{"languages": []any{"english"}, "custom": []any{"returns"}}}},
		{"a language with no stop-word list", map[string]any{"stemmer": none, "language": "tamil"}, map[string]any{"language": "none"}},
		{"a Snowball stemmer passes unchanged", map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "fr"}},
			map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "fr"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := bm25.OptionsFor(bm25.V1_17_1, tc.opts)
			if !reflect.DeepEqual(old, tc.want) {
				t.Fatalf("OptionsFor(1.17.1) = %v, want %v", old, tc.want)
			}
			if got := bm25.OptionsFor(bm25.V1_19_0, tc.opts); !reflect.DeepEqual(got, tc.opts) {
				t.Errorf("OptionsFor(1.19.0) = %v, want the options unchanged", got)
			}
			newEnc := encoderOf(t, bm25.V1_19_0, tc.opts)
			oldEnc := encoderOf(t, bm25.V1_17_1, old)
			for _, text := range texts {
				a, b := newEnc.Document(text), oldEnc.Document(text)
				if !slices.Equal(a.Indices, b.Indices) || !slices.Equal(a.Values, b.Values) {
					t.Fatalf("text %q: 1.19 %v, 1.17 %v", short(text), a.Indices, b.Indices)
				}
			}
		})
	}
}
