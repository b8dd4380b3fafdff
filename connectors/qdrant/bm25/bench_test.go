package bm25_test

import (
	"testing"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
	"github.com/spladeq/spladeq/internal/qdranttest"
)

// BenchmarkDocument encodes the golden file's default texts (Go doc
// comments) with the default options; the baseline is the word tokenizer
// alone over the same texts, so the ratio is the cost of the filters and
// the hashing.
func BenchmarkDocument(b *testing.B) {
	cases := readGolden(b, qdranttest.Newest())
	var texts []string
	size := 0
	for _, d := range cases[0].Docs {
		texts = append(texts, d.Text)
		size += len(d.Text)
	}
	enc, err := bm25.New(bm25.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("tokenizer only (baseline)", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, t := range texts {
				bm25.WordTokenizer{}.Tokenize(t)
			}
		}
	})
	b.Run("document", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, t := range texts {
				enc.Document(t)
			}
		}
	})
}
