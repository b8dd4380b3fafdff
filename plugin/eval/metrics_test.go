package eval

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetricsByHand(t *testing.T) {
	// Judgements: d1 highly relevant (2), d2 and d5 relevant (1), d9 judged
	// not relevant (0).
	rel := map[string]int{"d1": 2, "d2": 1, "d5": 1, "d9": 0}
	run := []Ranked{{"d3", 0.9}, {"d1", 0.8}, {"d9", 0.7}, {"d2", 0.6}}
	// DCG@10 = 2/log2(3) + 1/log2(5); ideal = 2/log2(2) + 1/log2(3) + 1/log2(4).
	dcg := 2/math.Log2(3) + 1/math.Log2(5)
	idcg := 2.0 + 1/math.Log2(3) + 0.5
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"nDCG@10 with graded gains", NDCG(run, rel, 10), dcg / idcg},
		{"nDCG@1 is 0 when the top hit is not relevant", NDCG(run, rel, 1), 0},
		{"nDCG@2 counts d1 at rank 2 against an ideal d1 at rank 1", NDCG(run, rel, 2), (2 / math.Log2(3)) / (2 + 1/math.Log2(3))},
		{"Recall@100 finds 2 of 3 relevant", Recall(run, rel, 100), 2.0 / 3},
		{"Recall@1 finds none", Recall(run, rel, 1), 0},
		{"MRR@10 is 1/2: the first relevant is at rank 2", MRR(run, rel, 10), 0.5},
		{"MRR@1 is 0", MRR(run, rel, 1), 0},
		{"a perfect run has nDCG 1", NDCG([]Ranked{{"d1", 3}, {"d5", 2}, {"d2", 1}}, rel, 10), 1},
		{"an empty run scores 0", NDCG(nil, rel, 10), 0},
	} {
		if !near(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestOrderBreaksTiesByDescendingDocIDAndKeepsBestChunk(t *testing.T) {
	run := Order([]Ranked{{"a", 1}, {"c", 1}, {"b", 2}, {"a", 3}, {"b", 0.5}})
	want := []string{"a", "b", "c"}
	if len(run) != 3 {
		t.Fatalf("got %v", run)
	}
	for i := range want {
		if run[i].DocID != want[i] {
			t.Fatalf("got %v, want order %v", run, want)
		}
	}
	// Equal scores: trec_eval puts the larger document id first.
	tied := Order([]Ranked{{"doc-1", 1}, {"doc-2", 1}, {"doc-10", 1}})
	if tied[0].DocID != "doc-2" || tied[1].DocID != "doc-10" || tied[2].DocID != "doc-1" {
		t.Errorf("ties ordered %v, want doc-2, doc-10, doc-1 (descending id)", tied)
	}
	// With tie-breaking the relevant d2 lands at rank 1 or 2 deterministically.
	rel := map[string]int{"d2": 1}
	if got := MRR(Order([]Ranked{{"d1", 1}, {"d2", 1}}), rel, 10); got != 1 {
		t.Errorf("MRR with a tie = %v, want 1 (d2 sorts before d1)", got)
	}
}
