// Package synth makes deterministic synthetic corpora for benchmarks and load
// tests: English-like texts and SPLADE-like sparse vectors.
package synth

import (
	"math"
	"math/rand"
	"sort"
	"strings"
)

var words = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
will more other can its about what up into than them only time could new some these two may first
then do any like my now over such our man me even most made after also did many before must through
years where much your way well down should because each just those people how too little state good
very make world still own see men work long get here between both life being under never day same
another know while last might us great old year off come since against go came right used take three
retrieval search index query document vector sparse dense model token learned ranking relevance
expansion vocabulary weight score fusion hybrid engine database collection embedding neural network
language transformer attention layer encoder inference batch latency throughput memory storage`)

// Texts returns n texts of between minWords and maxWords words, the same for
// the same seed.
func Texts(n, minWords, maxWords int, seed int64) []string {
	rng := rand.New(rand.NewSource(seed))
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		k := minWords + rng.Intn(maxWords-minWords+1)
		for w := 0; w < k; w++ {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[zipf(rng, len(words))])
		}
		b.WriteByte('.')
		out[i] = b.String()
	}
	return out
}

// zipf draws from [0, n) with probability roughly proportional to 1/(i+1).
func zipf(rng *rand.Rand, n int) int {
	// Inverse CDF of the continuous 1/x density on [1, n+1).
	x := math.Exp(rng.Float64()*math.Log(float64(n)+1)) - 1
	return min(int(x), n-1)
}

// Sparse is a sparse vector as parallel sorted index and value slices.
type Sparse struct {
	Indices []uint32
	Values  []float32
}

// SparseVectors returns n SPLADE-like vectors over a vocabulary of vocab ids
// with about nnz non-zeros each: Zipf-distributed term ids, weights in
// (0, 3], indices strictly increasing.
func SparseVectors(n, nnz, vocab int, seed int64) []Sparse {
	return sparseVectors(n, nnz, vocab, seed, false)
}

// SparseVectorsFreqWeighted is SparseVectors with weights that fall with
// term frequency, as in trained SPLADE models, whose FLOPS regulariser
// makes frequent tokens light: the weight is scaled by
// 0.15 + 0.85·min(1, ln(1+rank)/ln(2001)) of the term's Zipf rank, so the
// most frequent terms weigh at most 0.45 and terms past rank 2000 keep
// the full (0, 3].
func SparseVectorsFreqWeighted(n, nnz, vocab int, seed int64) []Sparse {
	return sparseVectors(n, nnz, vocab, seed, true)
}

func sparseVectors(n, nnz, vocab int, seed int64, freqWeighted bool) []Sparse {
	rng := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(rng, 1.1, 50, uint64(vocab-1))
	out := make([]Sparse, n)
	seen := map[uint32]float32{}
	for i := range out {
		clear(seen)
		k := nnz/2 + rng.Intn(nnz+1)
		for len(seen) < k {
			// Permute Zipf ranks so frequent terms are spread over the vocabulary.
			rank := z.Uint64()
			id := uint32((rank*2654435761 + 7) % uint64(vocab))
			w := 0.05 + 2.95*rng.Float64()
			if freqWeighted {
				w *= 0.15 + 0.85*math.Min(1, math.Log1p(float64(rank))/math.Log(2001))
			}
			seen[id] = float32(w)
		}
		v := Sparse{Indices: make([]uint32, 0, k), Values: make([]float32, 0, k)}
		for id := range seen {
			v.Indices = append(v.Indices, id)
		}
		sort.Slice(v.Indices, func(a, b int) bool { return v.Indices[a] < v.Indices[b] })
		for _, id := range v.Indices {
			v.Values = append(v.Values, seen[id])
		}
		out[i] = v
	}
	return out
}

// DenseVectors returns n L2-normalised vectors of dimension dim.
func DenseVectors(n, dim int, seed int64) [][]float32 {
	rng := rand.New(rand.NewSource(seed))
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		var norm float64
		for j := range v {
			x := rng.NormFloat64()
			v[j] = float32(x)
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for j := range v {
			v[j] = float32(float64(v[j]) / norm)
		}
		out[i] = v
	}
	return out
}
