// Package eval measures retrieval quality on BEIR-format datasets and
// sweeps hybrid settings: nDCG@10, Recall@100 and MRR@10 per configuration,
// with mean query latency and index size.
//
// Metric definitions follow trec_eval (as pytrec_eval runs it): graded
// relevance with gain equal to the judgement, discount log2(rank + 1),
// ideal ranking from all judged documents; documents with judgement <= 0
// are not relevant; queries without relevant judgements are skipped; a run
// is ordered by score, ties broken by document id in descending order (as
// trec_eval sorts). Hits are chunks: a document's rank is its best chunk's.
package eval

import (
	"math"
	"sort"
)

// Qrels maps query id → document id → graded relevance.
type Qrels map[string]map[string]int

// Ranked is one retrieved document.
type Ranked struct {
	DocID string
	Score float64
}

// Order sorts a run by score, ties by descending document id, keeping each
// document's first (best) occurrence.
func Order(run []Ranked) []Ranked {
	best := map[string]float64{}
	for _, r := range run {
		if s, ok := best[r.DocID]; !ok || r.Score > s {
			best[r.DocID] = r.Score
		}
	}
	out := make([]Ranked, 0, len(best))
	for id, s := range best {
		out = append(out, Ranked{DocID: id, Score: s})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].DocID > out[j].DocID
	})
	return out
}

// NDCG is nDCG@k of an ordered run against one query's judgements.
func NDCG(run []Ranked, rel map[string]int, k int) float64 {
	var dcg float64
	for i, r := range run[:min(k, len(run))] {
		if g := rel[r.DocID]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
	}
	var gains []int
	for _, g := range rel {
		if g > 0 {
			gains = append(gains, g)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(gains)))
	var idcg float64
	for i, g := range gains[:min(k, len(gains))] {
		idcg += float64(g) / math.Log2(float64(i+2))
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

// Recall is the fraction of relevant documents in the first k.
func Recall(run []Ranked, rel map[string]int, k int) float64 {
	relevant := 0
	for _, g := range rel {
		if g > 0 {
			relevant++
		}
	}
	if relevant == 0 {
		return 0
	}
	found := 0
	for _, r := range run[:min(k, len(run))] {
		if rel[r.DocID] > 0 {
			found++
		}
	}
	return float64(found) / float64(relevant)
}

// MRR is the reciprocal rank of the first relevant document within k, or 0.
func MRR(run []Ranked, rel map[string]int, k int) float64 {
	for i, r := range run[:min(k, len(run))] {
		if rel[r.DocID] > 0 {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// hasRelevant reports whether a query has any relevant judgement.
func hasRelevant(rel map[string]int) bool {
	for _, g := range rel {
		if g > 0 {
			return true
		}
	}
	return false
}
