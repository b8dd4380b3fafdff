package bm25

import (
	"strings"
	"unicode"
)

// WordTokenizer splits on every character that is not alphanumeric, as
// Qdrant's "word" tokenizer (Rust's char::is_alphanumeric: the Unicode
// Alphabetic property or a numeric category). Empty pieces between
// adjacent separators are kept; DropEmpty removes them.
type WordTokenizer struct{}

// Tokenize implements Tokenizer.
func (WordTokenizer) Tokenize(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !isAlphanumeric(r) })
}

// isAlphanumeric is Rust's char::is_alphanumeric: Alphabetic (letters,
// letter numbers and Other_Alphabetic marks) or Numeric (Nd, Nl, No).
func isAlphanumeric(r rune) bool {
	if r < 0x80 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r)
}

// WhitespaceTokenizer splits on Unicode White_Space, as Qdrant's
// "whitespace" tokenizer (Rust's str::split_whitespace).
type WhitespaceTokenizer struct{}

// Tokenize implements Tokenizer.
func (WhitespaceTokenizer) Tokenize(text string) []string { return strings.Fields(text) }
