package splade

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/spladeq/spladeq/api"
)

// SparseVector is a sparse vector over the model's vocabulary (the API's
// wire type; its Len, Validate and Dot methods live in package api).
type SparseVector = api.SparseVector

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
type Term = api.Term

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

// PruningOf returns the pruning the encoder applies to vectors of mode
// (WithPruning, WithQueryPruning): what a caller combining several of its
// vectors into one applies again to the result.
func (e *Encoder) PruningOf(mode Mode) Pruning {
	if mode == Query {
		return e.opts.queryPruning
	}
	return e.opts.docPruning
}
