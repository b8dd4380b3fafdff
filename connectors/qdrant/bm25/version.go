package bm25

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Qdrant release. Qdrant's BM25 changed between releases;
// an Encoder computes what the release of its Options computes.
type Version struct{ Major, Minor, Patch int }

// The releases whose BM25 differs from the one before.
var (
	// V1_17_1 is the release the package was first written against.
	V1_17_1 = Version{1, 17, 1}
	// V1_18_2 embeds a document with the "prefix" tokenizer as every
	// prefix of its tokens, and refuses k < 0, b outside [0, 1] and
	// avg_len <= 0 (earlier releases computed with them).
	V1_18_2 = Version{1, 18, 2}
	// V1_19_0 accepts "stemmer": {"type": "none"}, which deprecates
	// "language": "none" as the way to turn the stemmer off.
	V1_19_0 = Version{1, 19, 0}
	// Latest is the newest behaviour the package implements, taken for
	// any newer release too. The zero Version means Latest.
	Latest = V1_19_0
)

// ParseVersion reads "1.19.0", "v1.19.0" or "1.19" (patch 0), as Qdrant
// reports its version; anything after the patch number ("-dev") is
// ignored.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.SplitN(t, ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("qdrant version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	var v Version
	var err error
	if v.Major, err = strconv.Atoi(parts[0]); err != nil {
		return Version{}, fmt.Errorf("qdrant version %q: major: %v", s, err)
	}
	if v.Minor, err = strconv.Atoi(parts[1]); err != nil {
		return Version{}, fmt.Errorf("qdrant version %q: minor: %v", s, err)
	}
	if len(parts) == 3 {
		p := parts[2]
		if i := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			p = p[:i]
		}
		if v.Patch, err = strconv.Atoi(p); err != nil {
			return Version{}, fmt.Errorf("qdrant version %q: patch: %v", s, err)
		}
	}
	return v, nil
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is o or newer; the zero Version is Latest.
func (v Version) AtLeast(o Version) bool {
	v = v.resolve()
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

func (v Version) resolve() Version {
	if v == (Version{}) {
		return Latest
	}
	return v
}

// OptionsFor rewrites Document options written for the Latest release into
// options release v reads the same way, so that a client can send one
// configuration to any Qdrant. Before 1.19, {"stemmer": {"type": "none"}}
// does not exist: the stemmer goes off with "language": "none", and the
// language's stop words, which that would turn off too, are named in
// "stopwords" unless the options name their own. Other options are the
// same in every release and pass unchanged; m itself is not modified.
func OptionsFor(v Version, m map[string]any) map[string]any {
	if v.AtLeast(V1_19_0) || !StemmerOff(m) {
		return m
	}
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		if k != "stemmer" {
			out[k] = x
		}
	}
	lang := "english"
	if s, ok := m["language"].(string); ok {
		lang = s
	}
	out["language"] = "none"
	if _, named := m["stopwords"]; !named {
		if l, ok := stopwordLanguages[lang]; ok {
			out["stopwords"] = l
		}
	}
	return out
}

// StemmerOff reports whether options turn the stemmer off the Qdrant 1.19
// way, {"stemmer": {"type": "none"}}: the options OptionsFor rewrites.
func StemmerOff(m map[string]any) bool {
	st, ok := m["stemmer"].(map[string]any)
	return ok && st["type"] == "none"
}
