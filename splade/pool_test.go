package splade

import (
	"math"
	"math/rand"
	"testing"
	"time"
)

// naivePool is the textbook formula: max over unmasked tokens of
// log(1 + ReLU(x)), computed term by term.
func naivePool(logits []float32, length, seq, vocab, b int) []float32 {
	w := make([]float32, vocab)
	for j := 0; j < vocab; j++ {
		best := 0.0
		for t := 0; t < length; t++ {
			x := float64(logits[(b*seq+t)*vocab+j])
			best = math.Max(best, math.Log(1+math.Max(x, 0)))
		}
		w[j] = float32(best)
	}
	return w
}

func TestPoolRowsEqualsTheTextbookFormula(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const batch, seq, vocab = 4, 6, 50
	logits := make([]float32, batch*seq*vocab)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 2)
	}
	// Padding positions get large logits: they must not leak into the max.
	lengths := []int{6, 3, 1, 0}
	for b, n := range lengths {
		for t := n; t < seq; t++ {
			for j := 0; j < vocab; j++ {
				logits[(b*seq+t)*vocab+j] = 100
			}
		}
	}
	want := make([][]float32, batch)
	for b := range lengths {
		want[b] = naivePool(logits, lengths[b], seq, vocab, b)
	}
	gathered := gatherRows(logits, lengths, seq, vocab)
	starts := make([]int, batch)
	for b := range starts {
		starts[b] = b * seq
	}
	poolRows(logits, starts, lengths, vocab)
	// The same rows without the padding, as a gathered graph returns them.
	gStarts := make([]int, batch)
	for b := 1; b < batch; b++ {
		gStarts[b] = gStarts[b-1] + lengths[b-1]
	}
	poolRows(gathered, gStarts, lengths, vocab)
	for b := range lengths {
		got := pooled(logits, starts[b], lengths[b], vocab)
		if lengths[b] == 0 {
			if got != nil {
				t.Fatalf("row %d has no tokens but pooled to %v", b, got)
			}
			got = make([]float32, vocab)
		}
		if g := pooled(gathered, gStarts[b], lengths[b], vocab); g != nil {
			for j := range g {
				if g[j] != got[j] {
					t.Fatalf("row %d term %d: gathered layout %v, padded layout %v", b, j, g[j], got[j])
				}
			}
		}
		for j := range got {
			if math.Abs(float64(got[j]-want[b][j])) > 1e-6 {
				t.Fatalf("row %d term %d: got %v, want %v", b, j, got[j], want[b][j])
			}
		}
	}
}

// gatherRows copies the real tokens' rows of padded logits, in order.
func gatherRows(logits []float32, lengths []int, seq, vocab int) []float32 {
	var out []float32
	for b, n := range lengths {
		out = append(out, logits[b*seq*vocab:(b*seq+n)*vocab]...)
	}
	return out
}

func TestSparsifyDropsZerosNegativesAndNaN(t *testing.T) {
	got := sparsify([]float32{0, 1.5, -2, 0, float32(math.NaN()), 0.25})
	if len(got.Indices) != 2 || got.Indices[0] != 1 || got.Indices[1] != 5 || got.Values[0] != 1.5 || got.Values[1] != 0.25 {
		t.Errorf("sparsify = %+v, want indices [1 5] values [1.5 0.25]", got)
	}
}

func TestPlanBatches(t *testing.T) {
	lens := []int{5, 2, 9, 2, 7, 3}
	encs := make([]encoded, len(lens))
	for i, n := range lens {
		encs[i] = encoded{ids: make([]int64, n)}
	}
	for _, tc := range []struct {
		name         string
		size, budget int
		pad          float64
		want         [][]int
	}{
		{"texts are sorted by length, ties in input order", 100, 1000, 1, [][]int{{1, 3, 5, 0, 4, 2}}},
		{"batch size splits batches", 2, 1000, 1, [][]int{{1, 3}, {5, 0}, {4, 2}}},
		{"the token budget counts padded tokens", 100, 15, 1, [][]int{{1, 3, 5}, {0, 4}, {2}}},
		{"a text over the budget runs alone", 100, 4, 1, [][]int{{1, 3}, {5}, {0}, {4}, {2}}},
		// Lengths 2 2 3 5 7 9. Cap 25%: {2,2,3} pads 2 of 9 (22%), adding 5
		// would pad 8 of 20; {5,7,9} pads 6 of 27 (22%).
		{"the padding cap splits ragged batches", 100, 1000, 0.25, [][]int{{1, 3, 5}, {0, 4, 2}}},
		// Cap 20%: {2,2} then {3,5} (2 of 10), {7,9} (2 of 18).
		{"a lower cap splits more", 100, 1000, 0.2, [][]int{{1, 3}, {5, 0}, {4, 2}}},
		{"a tight padding cap leaves equal lengths together", 100, 1000, 0.01, [][]int{{1, 3}, {5}, {0}, {4}, {2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planBatches(encs, batchPolicy{size: tc.size, budget: tc.budget, maxPadding: tc.pad})
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if !equalInts(toInt64(got[i]), toInt64(tc.want[i])) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func toInt64(xs []int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

func TestPoolRowFoldsAnyNumberOfRowsExactly(t *testing.T) {
	const vocab = 37
	rng := rand.New(rand.NewSource(5))
	for n := 1; n <= 21; n++ {
		rows := make([]float32, n*vocab)
		for i := range rows {
			rows[i] = float32(rng.NormFloat64() * 3)
		}
		// The maximum of entry 3 sits in the last row, of entry 5 in row 8
		// (the first of the second group of eight), to catch a skipped row.
		rows[(n-1)*vocab+3] = 100
		if n > 8 {
			rows[8*vocab+5] = 99
		}
		want := make([]float32, vocab)
		for j := range want {
			m := rows[j]
			for r := 1; r < n; r++ {
				m = max(m, rows[r*vocab+j])
			}
			if m > 0 {
				want[j] = float32(math.Log1p(float64(m)))
			}
		}
		poolRow(rows, n, vocab)
		for j := range want {
			if rows[j] != want[j] {
				t.Fatalf("%d rows: entry %d = %v, want %v", n, j, rows[j], want[j])
			}
		}
	}
}

// BenchmarkPoolRow folds (max over tokens) 64 sequences of 72 tokens over
// BERT's vocabulary on one goroutine, one row per pass (the old loop) and
// eight (foldRows, poolRow's fold), and reports their ratio.
//
//	go test -run '^$' -bench PoolRow -benchtime 3x ./splade/
func BenchmarkPoolRow(b *testing.B) {
	const vocab, seqs, n = 30522, 64, 72
	buf := make([]float32, seqs*n*vocab)
	for i := range buf {
		buf[i] = float32(i%97) - 90
	}
	oneByOne := func(rows []float32) {
		acc := rows[:vocab]
		for t := 1; t < n; t++ {
			maxInto(acc, rows[t*vocab:(t+1)*vocab])
		}
	}
	var one, eight time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for s := 0; s < seqs; s++ {
			oneByOne(buf[s*n*vocab:])
		}
		one += time.Since(t0)
		t0 = time.Now()
		for s := 0; s < seqs; s++ {
			foldRows(buf[s*n*vocab:], n, vocab)
		}
		eight += time.Since(t0)
	}
	b.ReportMetric(float64(one.Milliseconds())/float64(b.N), "one-row-ms")
	b.ReportMetric(float64(eight.Milliseconds())/float64(b.N), "eight-row-ms")
	b.ReportMetric(float64(one)/float64(eight), "speedup")
}
