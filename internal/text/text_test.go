package text

import "testing"

func TestFirstInvalidUTF8(t *testing.T) {
	for in, want := range map[string]int{"": -1, "ok": -1, "café 東京": -1, "\xff": 0, "ab\xffcd": 2, "é\xe2\x82": 2} {
		if got := FirstInvalidUTF8([]byte(in)); got != want {
			t.Errorf("FirstInvalidUTF8(%q) = %d, want %d", in, got, want)
		}
	}
}
