package splade

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// SparseVector is a sparse vector over the model's vocabulary. Indices are
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

// Pruning limits the terms kept in a vector. The zero value keeps everything.
type Pruning struct {
	// TopK keeps at most this many terms, the heaviest (ties broken by the
	// lower index). Default 0: no limit.
	TopK int `json:"top_k,omitempty"`
	// MinWeight drops terms whose weight is below it. Default 0: keep every
	// positive weight.
	MinWeight float32 `json:"min_weight,omitempty"`
}

// ErrBadPruning is returned by Pruning.Validate for a negative TopK or a
// negative or non-finite MinWeight.
var ErrBadPruning = errors.New("invalid pruning")

// Validate checks the pruning settings.
func (p Pruning) Validate() error {
	if p.TopK < 0 {
		return fmt.Errorf("%w: top-k must be >= 0, got %d", ErrBadPruning, p.TopK)
	}
	if p.MinWeight < 0 || math.IsNaN(float64(p.MinWeight)) || math.IsInf(float64(p.MinWeight), 0) {
		return fmt.Errorf("%w: min weight must be a finite number >= 0, got %v", ErrBadPruning, p.MinWeight)
	}
	return nil
}

// Apply returns v pruned; indices stay strictly increasing. It reuses v's
// backing arrays.
func (p Pruning) Apply(v SparseVector) SparseVector {
	if p.MinWeight > 0 {
		n := 0
		for i, x := range v.Values {
			if x >= p.MinWeight {
				v.Indices[n], v.Values[n] = v.Indices[i], x
				n++
			}
		}
		v.Indices, v.Values = v.Indices[:n], v.Values[:n]
	}
	if p.TopK > 0 && len(v.Indices) > p.TopK {
		keep := topPositions(v, p.TopK)
		sort.Ints(keep)
		for n, i := range keep {
			v.Indices[n], v.Values[n] = v.Indices[i], v.Values[i]
		}
		v.Indices, v.Values = v.Indices[:p.TopK], v.Values[:p.TopK]
	}
	return v
}

// Term is one vocabulary entry of a vector with its weight, for explanations.
type Term struct {
	Token  string  `json:"token"`
	Weight float32 `json:"weight"`
}

// topPositions returns the positions of v's n heaviest entries, heaviest
// first, ties broken by the lower index; n <= 0 means all.
func topPositions(v SparseVector, n int) []int {
	order := make([]int, len(v.Indices))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		va, vb := v.Values[order[a]], v.Values[order[b]]
		if va != vb {
			return va > vb
		}
		return v.Indices[order[a]] < v.Indices[order[b]]
	})
	if n > 0 && n < len(order) {
		order = order[:n]
	}
	return order
}

func float32frombits(b uint32) float32 { return math.Float32frombits(b) }
