// Package text holds small checks on input text shared by every entry
// point (encoder, HTTP bodies, ingestion sources).
package text

import "unicode/utf8"

// FirstInvalidUTF8 returns the byte offset of the first byte that is not
// part of valid UTF-8, or -1 when b is valid.
func FirstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
