package bm25

import (
	"math"
	"slices"
	"testing"
)

// FuzzEncode holds the encoder's invariants on any input, valid UTF-8 or
// not: no panic, indices strictly increasing, document values finite and
// positive, and the query's indices the document's (Qdrant tokenizes both
// the same way), each with weight 1 — with the prefix tokenizer since
// Qdrant 1.18.2, among the document's (its prefixes of every length).
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "The quick brown fox", "İSTANBUL ΟΔΟΣ", "ﬁle ǧ Ə ½", "\xff\xfe bad \xc3", "a\u0301\u0302 क्ष", "日本語のテキスト"} {
		f.Add(s)
	}
	no, yes := false, true
	four := 4
	var encs []*Encoder
	for _, o := range []Options{
		DefaultOptions(),
		{K: 1.2, B: 0.75, AvgLen: 256, Tokenizer: "whitespace", ASCIIFolding: &yes, Lowercase: &no},
		{K: 1.2, B: 0.75, AvgLen: 256, Tokenizer: "prefix", MaxTokenLen: &four, Version: V1_17_1},
		{K: 0.5, B: 1, AvgLen: 3, Language: ptr("german"), MinTokenLen: &four},
		{K: 1.2, B: 0.75, AvgLen: 256, Tokenizer: "prefix", MaxTokenLen: &four, Language: ptr("none")},
	} {
		e, err := New(o)
		if err != nil {
			f.Fatal(err)
		}
		encs = append(encs, e)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for i, e := range encs {
			d, q := e.Document(text), e.Query(text)
			if !slices.IsSorted(d.Indices) || len(slices.Compact(slices.Clone(d.Indices))) != len(d.Indices) {
				t.Fatalf("encoder %d: document indices not strictly increasing: %v", i, d.Indices)
			}
			ngrams := e.Options().Tokenizer == "prefix" && e.Options().Version.AtLeast(V1_18_2)
			if !ngrams && !slices.Equal(q.Indices, d.Indices) {
				t.Fatalf("encoder %d: query indices %v, document indices %v", i, q.Indices, d.Indices)
			}
			for _, idx := range q.Indices {
				if _, found := slices.BinarySearch(d.Indices, idx); !found {
					t.Fatalf("encoder %d: query index %d is none of the document's %v", i, idx, d.Indices)
				}
			}
			for j, v := range d.Values {
				if !(v > 0) || math.IsInf(float64(v), 0) {
					t.Fatalf("encoder %d: value %v at %d", i, v, d.Indices[j])
				}
			}
			for j, v := range q.Values {
				if v != 1 {
					t.Fatalf("encoder %d: query weight %v at %d", i, v, q.Indices[j])
				}
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
