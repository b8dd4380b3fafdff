package embedded

import (
	"math"
	"testing"
)

// threeLists are three ranked lists over a..d, as a prefetch per signal
// gives them to a fusion:
//
//	bm25:   a 10, b 6, c 2
//	sparse: b 30, d 20, a 10
//	dense:  c 0.9, a 0.5
func threeLists() []result {
	p := map[string]*point{}
	for _, k := range []string{"a", "b", "c", "d"} {
		p[k] = &point{key: k}
	}
	list := func(pairs ...any) result {
		var r result
		for i := 0; i < len(pairs); i += 2 {
			r.points = append(r.points, scored{p: p[pairs[i].(string)], score: float32(pairs[i+1].(float64))})
		}
		return r
	}
	return []result{list("a", 10.0, "b", 6.0, "c", 2.0), list("b", 30.0, "d", 20.0, "a", 10.0), list("c", 0.9, "a", 0.5)}
}

func checkFused(t *testing.T, got []scored, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d points fused, want %d", len(got), len(want))
	}
	for _, s := range got {
		if w, ok := want[s.p.key]; !ok || math.Abs(float64(s.score)-w) > 1e-5 {
			t.Errorf("%s: fused score %v, want %v", s.p.key, s.score, w)
		}
	}
}

func TestRRFOverThreeLists(t *testing.T) {
	// 0-based rank r contributes 1/(r+k).
	checkFused(t, rrf(threeLists(), 2, nil), map[string]float64{
		"a": 1.0/2 + 1.0/4 + 1.0/3, // bm25 rank 0, sparse rank 2, dense rank 1
		"b": 1.0/3 + 1.0/2,         // bm25 rank 1, sparse rank 0
		"c": 1.0/4 + 1.0/2,         // bm25 rank 2, dense rank 0
		"d": 1.0 / 3,               // sparse rank 1
	})
	checkFused(t, rrf(threeLists(), 60, nil), map[string]float64{
		"a": 1.0/60 + 1.0/62 + 1.0/61, "b": 1.0/61 + 1.0/60, "c": 1.0/62 + 1.0/60, "d": 1.0 / 61,
	})
}

func TestDBSFOverThreeLists(t *testing.T) {
	// Each list maps s to (s − (μ − 3σ)) / 6σ with the sample σ:
	//   bm25   μ 6,   σ 4:          a 16/24, b 12/24, c 8/24
	//   sparse μ 20,  σ 10:         b 40/60, d 30/60, a 20/60
	//   dense  μ 0.7, σ √0.08:      c (0.2+3σ)/6σ, a (3σ−0.2)/6σ
	s := math.Sqrt(0.08)
	checkFused(t, dbsf(threeLists()), map[string]float64{
		"a": 16.0/24 + 20.0/60 + (3*s-0.2)/(6*s),
		"b": 12.0/24 + 40.0/60,
		"c": 8.0/24 + (0.2+3*s)/(6*s),
		"d": 30.0 / 60,
	})
}
