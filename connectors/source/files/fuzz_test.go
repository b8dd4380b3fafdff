package files

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzHTMLText reduces any string to text without panicking; valid UTF-8
// in gives valid UTF-8 out; the text invents nothing (ignoring whitespace,
// a document without character references contains it as a subsequence —
// removing a tag may join text, as `SE<b>CRET</b>` reads "SECRET"); and
// script
// content never leaks: the document put inside an unclosed <script> gives
// no text at all.
func FuzzHTMLText(f *testing.F) {
	f.Add("<html><title>t</title><script>SECRET()</script><p>a<b>b</b></p></html>")
	f.Add("<p><<<>>>&amp;&lt;<script")
	f.Add("<style>x{}</style><noscript>n</noscript><template>T</template>")
	f.Fuzz(func(t *testing.T, doc string) {
		text, title := htmlText(doc)
		if !utf8.ValidString(doc) {
			return
		}
		if !utf8.ValidString(text) || !utf8.ValidString(title) {
			t.Fatalf("invalid UTF-8 out of valid input %q", doc)
		}
		// Character references decode to characters the document does not
		// spell (and decoders differ on invalid ones), so the check is on
		// documents without any; U+FFFD replaces what HTML forbids (NUL).
		made := strings.ReplaceAll(text, "\uFFFD", "")
		if !strings.Contains(doc, "&") && !subsequence(stripSpace(made), stripSpace(doc)) {
			t.Fatalf("text %q is not made of the document %q", text, doc)
		}
		if !strings.Contains(strings.ToLower(doc), "</script") {
			if text, title := htmlText("<script>" + doc); text != "" || title != "" {
				t.Fatalf("script content leaked: text %q, title %q from %q", text, title, doc)
			}
		}
	})
}

func stripSpace(s string) []rune {
	var out []rune
	for _, r := range s {
		if !unicode.IsSpace(r) {
			out = append(out, r)
		}
	}
	return out
}

// subsequence reports whether a's runes appear in b in order.
func subsequence(a, b []rune) bool {
	i := 0
	for _, r := range b {
		if i < len(a) && a[i] == r {
			i++
		}
	}
	return i == len(a)
}
