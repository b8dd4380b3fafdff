package integration

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
)

// The three-signal corpus: corpus's sparse and dense vectors, with texts
// whose BM25 scores are worked out by hand below (no stop words; stemming
// maps each word to one token whatever its stem).
var bm25Texts = map[string]string{
	"d1": "apple banana",
	"d2": "apple cherry cherry",
	"d3": "banana",
	"d4": "durian",
	"d5": "apple banana cherry",
}

const bm25Query = "banana cherry"

// bm25ByHand is Qdrant's BM25 with its defaults (k 1.2, b 0.75, avg_len
// 256) and the IDF modifier: a query token weighs 1, a document token
// tf·(k+1) / (tf + k·(1 − b + b·len/avg_len)), and each shared token
// counts idf = ln((N − n + 0.5)/(n + 0.5) + 1).
func bm25ByHand() map[string]float64 {
	const k, b, avg = 1.2, 0.75, 256.0
	df := map[string]float64{}
	for _, text := range bm25Texts {
		seen := map[string]bool{}
		for _, w := range strings.Fields(text) {
			if !seen[w] {
				df[w]++
				seen[w] = true
			}
		}
	}
	n := float64(len(bm25Texts))
	out := map[string]float64{}
	for id, text := range bm25Texts {
		words := strings.Fields(text)
		tf := map[string]float64{}
		for _, w := range words {
			tf[w]++
		}
		var score float64
		for _, q := range strings.Fields(bm25Query) {
			if tf[q] == 0 {
				continue
			}
			idf := math.Log((n-df[q]+0.5)/(df[q]+0.5) + 1)
			score += idf * tf[q] * (k + 1) / (tf[q] + k*(1-b+b*float64(len(words))/avg))
		}
		if score > 0 {
			out[id] = score
		}
	}
	return out
}

// newThreeSignalCollection makes a collection with dense, sparse and BM25
// vectors and loads the three-signal corpus.
func newThreeSignalCollection(t *testing.T, c *qdrant.Client) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("spladeq_signals_%d_%d", time.Now().UnixNano(), rand.Intn(1e6))
	spec := qdrant.CollectionSpec{Name: name, Dense: &qdrant.DenseSpec{Size: 4}, Sparse: &qdrant.SparseSpec{}, BM25: &qdrant.BM25Spec{}}
	if err := c.EnsureCollection(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeleteCollection(context.Background(), name) })
	docs := make([]qdrant.Document, len(corpus))
	for i, d := range corpus {
		d.Text = bm25Texts[d.ID]
		docs[i] = d
	}
	if err := c.Upsert(ctx, name, docs, qdrant.WriteOptions{DenseSize: 4, BM25: &qdrant.StoreModel{Model: qdrant.BM25Model}}); err != nil {
		t.Fatal(err)
	}
	return name
}

// byHand fuses the lists (doc id → raw score) as the fusion does.
func rrfOver(k int, lists ...map[string]float64) map[string]float64 {
	want := map[string]float64{}
	for _, l := range lists {
		for rank, id := range order(l) {
			want[id] += 1 / float64(rank+k)
		}
	}
	return want
}

func dbsfOver(lists ...map[string]float64) map[string]float64 {
	want := map[string]float64{}
	for _, scores := range lists {
		var mean, ss float64
		for _, s := range scores {
			mean += s
		}
		mean /= float64(len(scores))
		for _, s := range scores {
			ss += (s - mean) * (s - mean)
		}
		std := math.Sqrt(ss / float64(len(scores)-1))
		lo, hi := mean-3*std, mean+3*std
		for id, s := range scores {
			want[id] += (s - lo) / (hi - lo)
		}
	}
	return want
}

func weightedOver(weights []float64, lists ...map[string]float64) map[string]float64 {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	want := map[string]float64{}
	for i, scores := range lists {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range scores {
			lo, hi = math.Min(lo, s), math.Max(hi, s)
		}
		for id, s := range scores {
			want[id] += weights[i] / sum * (s - lo) / (hi - lo)
		}
	}
	return want
}

func TestConformanceThreeSignals(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		name := newThreeSignalCollection(t, c)
		bm25Scores := bm25ByHand()
		all := qdrant.SearchRequest{Signals: []qdrant.Signal{qdrant.SignalBM25, qdrant.SignalSparse, qdrant.SignalDense},
			Text: bm25Query, Sparse: querySparse, Dense: queryDense}
		t.Run("the collection has three vectors, BM25 with the IDF modifier", func(t *testing.T) {
			info, err := c.Info(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if info.Spec.BM25 == nil || info.Spec.BM25.Name != "bm25" || info.Spec.Sparse == nil || info.Spec.Sparse.Name != "splade" ||
				info.Spec.Dense == nil || len(info.Extra) != 0 {
				t.Errorf("info = %+v (bm25 %+v, sparse %+v), want dense, splade and bm25", info, info.Spec.BM25, info.Spec.Sparse)
			}
		})
		t.Run("BM25 alone scores as Qdrant's formula by hand", func(t *testing.T) {
			hits := search(t, c, name, qdrant.SearchRequest{Signals: []qdrant.Signal{qdrant.SignalBM25}, Text: bm25Query})
			expect(t, hits, order(bm25Scores), bm25Scores)
		})
		t.Run("RRF over three lists sums 1/(rank+k)", func(t *testing.T) {
			for _, k := range []int{2, 60} {
				req := all
				req.RRFK = k
				want := rrfOver(k, bm25Scores, sparseScores, denseScores)
				expect(t, search(t, c, name, req), order(want), want)
			}
		})
		t.Run("DBSF over three lists", func(t *testing.T) {
			req := all
			req.Fusion = qdrant.FusionDBSF
			want := dbsfOver(bm25Scores, sparseScores, denseScores)
			expect(t, search(t, c, name, req), order(want), want)
		})
		t.Run("weighted fusion over three lists with a weight each", func(t *testing.T) {
			req := all
			req.Fusion = qdrant.FusionWeighted
			req.Weights = map[qdrant.Signal]float64{qdrant.SignalBM25: 2, qdrant.SignalSparse: 1, qdrant.SignalDense: 1}
			want := weightedOver([]float64{2, 1, 1}, bm25Scores, sparseScores, denseScores)
			expect(t, search(t, c, name, req), order(want), want)
		})
		t.Run("two of the three signals fuse alone", func(t *testing.T) {
			req := all
			req.Signals = []qdrant.Signal{qdrant.SignalBM25, qdrant.SignalDense}
			want := rrfOver(2, bm25Scores, denseScores)
			expect(t, search(t, c, name, req), order(want), want)
		})
		t.Run("side scores include each hit's BM25 score", func(t *testing.T) {
			req := all
			req.WithSideScores = true
			for _, h := range search(t, c, name, req) {
				want, ok := bm25Scores[h.DocID]
				if ok != (h.BM25Score != nil) || (ok && math.Abs(float64(*h.BM25Score)-want) > 1e-4) {
					t.Errorf("%s bm25 side score = %v, want %v (present %v)", h.DocID, h.BM25Score, want, ok)
				}
				if h.DenseScore == nil {
					t.Errorf("%s has no dense side score", h.DocID)
				}
			}
		})
		t.Run("a filter restricts every signal", func(t *testing.T) {
			req := all
			req.Filter = &qdrant.Filter{Must: []qdrant.Condition{{Key: "lang", Match: "en"}}}
			en := func(m map[string]float64) map[string]float64 {
				out := map[string]float64{}
				for id, s := range m {
					if id == "d1" || id == "d3" || id == "d5" {
						out[id] = s
					}
				}
				return out
			}
			want := rrfOver(2, en(bm25Scores), en(sparseScores), en(denseScores))
			expect(t, search(t, c, name, req), order(want), want)
		})
	})
}
