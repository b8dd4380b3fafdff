package bm25

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lowercase lowers every token as Rust's str::to_lowercase does, which
// Qdrant uses: Unicode full lowercase mapping. It differs from
// strings.ToLower in two places, both handled here: İ (U+0130) becomes
// "i̇" (i and a combining dot above) rather than "i", and a capital sigma at
// the end of a word becomes the final sigma ς rather than σ.
type Lowercase struct{}

// Filter implements TokenFilter.
func (Lowercase) Filter(tokens []string) []string { return mapFunc(tokens, toLowerRust) }

func toLowerRust(s string) string {
	if !strings.ContainsRune(s, 'Σ') && !strings.ContainsRune(s, 'İ') {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i, r := range s {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is the Final_Sigma condition of Unicode's SpecialCasing, as
// Rust checks it: a cased letter before the sigma (skipping case-ignorable
// characters) and none after it.
func finalSigma(s string, i int) bool {
	before := false
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	for _, r := range s[i+len("Σ"):] {
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

// cased is Unicode's Cased property.
func cased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// caseIgnorable is Unicode's Case_Ignorable property: marks, format
// characters, modifier letters and symbols, and the Word_Break classes
// MidLetter, MidNumLet and Single_Quote.
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '^', '`', '\u00B7', '\u0387', '\u055F', '\u05F4', '\u2018', '\u2019', '\u2024', '\u2027',
		'\uFE13', '\uFE52', '\uFE55', '\uFF07', '\uFF0E', '\uFF1A':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
