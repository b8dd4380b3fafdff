package qdrant

import (
	"math"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
)

// Three lists over points 1..4 (a..d), the expectations worked out by hand.
//
//	bm25:   a 10, b 6, c 2   → min-max a 1, b 0.5, c 0
//	sparse: b 30, d 20, a 10 → b 1, d 0.5, a 0
//	dense:  c 0.9, a 0.5     → c 1, a 0
func threeLists() [][]*qc.ScoredPoint {
	pt := func(id uint64, s float32) *qc.ScoredPoint { return &qc.ScoredPoint{Id: qc.NewIDNum(id), Score: s} }
	return [][]*qc.ScoredPoint{
		{pt(1, 10), pt(2, 6), pt(3, 2)},
		{pt(2, 30), pt(4, 20), pt(1, 10)},
		{pt(3, 0.9), pt(1, 0.5)},
	}
}

func TestWeightedFusionOverThreeLists(t *testing.T) {
	three := []Signal{SignalBM25, SignalSparse, SignalDense}
	for _, tc := range []struct {
		name string
		req  SearchRequest
		// want is id → score in ranking order.
		want [][2]float64
	}{
		{
			name: "weights 3:1:1 scale to 0.6, 0.2, 0.2; an absent point counts 0 in that list",
			req:  SearchRequest{Signals: three, Weights: map[Signal]float64{SignalBM25: 3, SignalSparse: 1, SignalDense: 1}},
			// a 0.6·1; b 0.6·0.5 + 0.2·1; c 0.2·1; d 0.2·0.5
			want: [][2]float64{{1, 0.6}, {2, 0.5}, {3, 0.2}, {4, 0.1}},
		},
		{
			name: "a signal left out of the weights counts 0",
			req:  SearchRequest{Signals: three, Weights: map[Signal]float64{SignalDense: 1, SignalSparse: 1}},
			// a 0.5·0 + 0.5·0; b 0.5·1; c 0.5·1 (a tie: lower id first); d 0.5·0.5
			want: [][2]float64{{2, 0.5}, {3, 0.5}, {4, 0.25}, {1, 0}},
		},
		{
			name: "alpha alone weighs sparse 1−alpha and dense alpha, bm25 1",
			req:  SearchRequest{Signals: three, Alpha: 0.25},
			// weights 1, 0.75, 0.25 over a sum of 2: 0.5, 0.375, 0.125
			// a 0.5; b 0.25 + 0.375; c 0.125; d 0.1875
			want: [][2]float64{{2, 0.625}, {1, 0.5}, {4, 0.1875}, {3, 0.125}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Fusion, req.Limit = FusionWeighted, 10
			w, err := req.weights()
			if err != nil {
				t.Fatal(err)
			}
			hits := weighted(threeLists(), req, w, WriteOptions{}.withDefaults())
			if len(hits) != len(tc.want) {
				t.Fatalf("%d hits, want %d", len(hits), len(tc.want))
			}
			for i, h := range hits {
				wantID := []string{"", "1", "2", "3", "4"}[int(tc.want[i][0])]
				if h.ID != wantID || math.Abs(float64(h.Score)-tc.want[i][1]) > 1e-6 {
					t.Errorf("hit %d = %s %v, want %s %v", i, h.ID, h.Score, wantID, tc.want[i][1])
				}
			}
		})
	}
}

func TestWeightsAreRefusedWhenTheyAllWeighZero(t *testing.T) {
	req := SearchRequest{Signals: []Signal{SignalBM25, SignalDense}, Weights: map[Signal]float64{SignalSparse: 1}}
	if _, err := req.weights(); err == nil {
		t.Error("weights() accepted signals that all weigh 0")
	}
	req.Weights = map[Signal]float64{SignalBM25: -1, SignalDense: 2}
	if _, err := req.weights(); err == nil {
		t.Error("weights() accepted a negative weight")
	}
}

func TestSideScoresNameEachSignal(t *testing.T) {
	hits := []Hit{{ID: "1"}, {ID: "4"}}
	attachSideScores(hits, []Signal{SignalBM25, SignalSparse, SignalDense}, threeLists())
	if hits[0].BM25Score == nil || *hits[0].BM25Score != 10 || *hits[0].SparseScore != 10 || *hits[0].DenseScore != 0.5 {
		t.Errorf("point 1 side scores = %v %v %v, want 10 10 0.5", hits[0].BM25Score, hits[0].SparseScore, hits[0].DenseScore)
	}
	if hits[1].BM25Score != nil || hits[1].DenseScore != nil || hits[1].SparseScore == nil || *hits[1].SparseScore != 20 {
		t.Errorf("point 4 side scores = %v %v %v, want only sparse 20", hits[1].BM25Score, hits[1].SparseScore, hits[1].DenseScore)
	}
}
