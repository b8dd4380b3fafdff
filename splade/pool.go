package splade

import (
	"math"
	"sync"
)

// poolRows applies SPLADE max pooling to a logits buffer of rows of vocab
// floats, one row per token. Sequence b's tokens are the lengths[b] rows
// starting at row starts[b]: starts[b] = b*seq for padded [batch, seq, vocab]
// logits (padding rows are never read), or the running sum of lengths for a
// gathered [tokens, vocab] buffer. The pooled weights of sequence b are
// written into its first row, so no extra buffer is needed; pooled returns
// that row. A sequence with no tokens is left alone: its first row may be
// another sequence's.
//
// It takes the maximum first and applies log1p(ReLU(.)) once per vocabulary
// entry: since log1p∘ReLU is monotone non-decreasing,
// max_t log1p(ReLU(x_t)) == log1p(ReLU(max_t x_t)).
//
// Sequences are pooled in parallel, one goroutine per core: the runtime's
// threads are idle while Go pools.
func poolRows(logits []float32, starts, lengths []int, vocab int) {
	workers := min(len(lengths), maxProcs())
	if workers <= 1 {
		for b := range lengths {
			poolRow(logits[starts[b]*vocab:], lengths[b], vocab)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := w; b < len(lengths); b += workers {
				poolRow(logits[starts[b]*vocab:], lengths[b], vocab)
			}
		}(w)
	}
	wg.Wait()
}

// poolRow pools the first n rows of rows into its first row. Rows are
// folded in eight at a time, then four, then one: the accumulator is read
// and written once per eight rows instead of once per row, which made the
// fold 2.6-2.8x faster (BenchmarkPoolRow; docs/benchmarks-history.md). max is exact,
// commutative and associative (NaN propagates either way), so the order
// changes no weight.
func poolRow(rows []float32, n, vocab int) {
	if n == 0 {
		return
	}
	foldRows(rows, n, vocab)
	activate(rows[:vocab])
}

// activate applies log1p(ReLU(.)) to pooled max logits in place; NaN
// becomes 0.
func activate(acc []float32) {
	for j, x := range acc {
		if x > 0 {
			acc[j] = float32(math.Log1p(float64(x)))
		} else {
			acc[j] = 0
		}
	}
}

// foldRows sets the first row of rows to the element-wise max of the first
// n rows.
func foldRows(rows []float32, n, vocab int) {
	acc := rows[:vocab]
	r := func(i int) []float32 { return rows[i*vocab : (i+1)*vocab] }
	t := 1
	for ; t+8 <= n; t += 8 {
		maxInto8(acc, r(t), r(t+1), r(t+2), r(t+3), r(t+4), r(t+5), r(t+6), r(t+7))
	}
	for ; t+4 <= n; t += 4 {
		maxInto4(acc, r(t), r(t+1), r(t+2), r(t+3))
	}
	for ; t < n; t++ {
		maxInto(acc, r(t))
	}
}

// maxInto sets acc[j] = max(acc[j], x[j]). The builtin max compiles to a
// branchless MAXSS, 1.65x faster than a compare-and-branch on random logits.
func maxInto(acc, x []float32) {
	x = x[:len(acc)]
	for j := range acc {
		acc[j] = max(acc[j], x[j])
	}
}

// maxInto4 folds four rows into acc in one pass.
func maxInto4(acc, a, b, c, d []float32) {
	n := len(acc)
	a, b, c, d = a[:n], b[:n], c[:n], d[:n]
	for j := range acc {
		acc[j] = max(acc[j], max(max(a[j], b[j]), max(c[j], d[j])))
	}
}

// maxInto8 folds eight rows into acc in one pass.
func maxInto8(acc, a, b, c, d, e, f, g, h []float32) {
	n := len(acc)
	a, b, c, d, e, f, g, h = a[:n], b[:n], c[:n], d[:n], e[:n], f[:n], g[:n], h[:n]
	for j := range acc {
		acc[j] = max(acc[j], max(max(max(a[j], b[j]), max(c[j], d[j])), max(max(e[j], f[j]), max(g[j], h[j]))))
	}
}

// pooled returns the pooled weights of the sequence starting at row start
// after poolRows; nil for a sequence with no tokens.
func pooled(logits []float32, start, n, vocab int) []float32 {
	if n == 0 {
		return nil
	}
	return logits[start*vocab : (start+1)*vocab]
}

// sparsify converts dense non-negative weights to a SparseVector, dropping
// zeros, negatives and NaN.
func sparsify(w []float32) SparseVector {
	n := 0
	for _, x := range w {
		if x > 0 {
			n++
		}
	}
	v := SparseVector{Indices: make([]uint32, 0, n), Values: make([]float32, 0, n)}
	for j, x := range w {
		if x > 0 {
			v.Indices = append(v.Indices, uint32(j))
			v.Values = append(v.Values, x)
		}
	}
	return v
}
