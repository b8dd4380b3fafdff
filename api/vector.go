package api

import (
	"fmt"
	"math"
)

// SparseVector is a sparse vector over a model's vocabulary. Indices are
// strictly increasing vocabulary ids and Values their positive weights; the
// two slices have the same length.
type SparseVector struct {
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
}

// Len returns the number of non-zero entries.
func (v SparseVector) Len() int { return len(v.Indices) }

// Validate reports whether v is well formed: equal lengths, strictly
// increasing indices and finite values. The error names the first offending
// position.
func (v SparseVector) Validate() error {
	if len(v.Indices) != len(v.Values) {
		return fmt.Errorf("sparse vector has %d indices but %d values", len(v.Indices), len(v.Values))
	}
	for i, x := range v.Values {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("sparse vector value %d (index %d) is %v", i, v.Indices[i], x)
		}
		if i > 0 && v.Indices[i] <= v.Indices[i-1] {
			if v.Indices[i] == v.Indices[i-1] {
				return fmt.Errorf("sparse vector index %d appears twice (positions %d and %d)", v.Indices[i], i-1, i)
			}
			return fmt.Errorf("sparse vector indices not increasing at position %d: %d after %d", i, v.Indices[i], v.Indices[i-1])
		}
	}
	return nil
}

// Dot returns the dot product of v and w over their shared indices.
func (v SparseVector) Dot(w SparseVector) float64 {
	var s float64
	i, j := 0, 0
	for i < len(v.Indices) && j < len(w.Indices) {
		switch {
		case v.Indices[i] < w.Indices[j]:
			i++
		case v.Indices[i] > w.Indices[j]:
			j++
		default:
			s += float64(v.Values[i]) * float64(w.Values[j])
			i++
			j++
		}
	}
	return s
}

// Term is one decoded vocabulary entry of a sparse vector and its weight.
type Term struct {
	Token  string  `json:"token"`
	Weight float32 `json:"weight"`
}
