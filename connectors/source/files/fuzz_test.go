package files

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHTMLText reduces any string to text without panicking; valid UTF-8
// in gives valid UTF-8 out, and script content never leaks.
func FuzzHTMLText(f *testing.F) {
	f.Add("<html><title>t</title><script>SECRET()</script><p>a<b>b</b></p></html>")
	f.Add("<p><<<>>>&amp;&lt;<script")
	f.Add("<style>x{}</style><noscript>n</noscript><template>T</template>")
	f.Fuzz(func(t *testing.T, doc string) {
		text, title := htmlText(doc)
		if utf8.ValidString(doc) && (!utf8.ValidString(text) || !utf8.ValidString(title)) {
			t.Fatalf("invalid UTF-8 out of valid input")
		}
		if !strings.Contains(doc, "SECRET") && strings.Contains(text, "SECRET") {
			t.Fatal("text invented content")
		}
	})
}
