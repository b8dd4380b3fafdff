package splade

import (
	"math"
	"strings"
	"testing"
)

func TestValidateNamesTheProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    SparseVector
		want string
	}{
		{"a valid vector passes", SparseVector{Indices: []uint32{1, 5}, Values: []float32{1, 2}}, ""},
		{"the empty vector passes", SparseVector{}, ""},
		{"lengths differ", SparseVector{Indices: []uint32{1}, Values: []float32{1, 2}}, "1 indices but 2 values"},
		{"a duplicate index", SparseVector{Indices: []uint32{3, 3}, Values: []float32{1, 2}}, "index 3 appears twice"},
		{"unsorted indices", SparseVector{Indices: []uint32{4, 2}, Values: []float32{1, 2}}, "not increasing at position 1: 2 after 4"},
		{"a NaN value", SparseVector{Indices: []uint32{4}, Values: []float32{float32(math.NaN())}}, "value 0 (index 4) is NaN"},
		{"an infinite value", SparseVector{Indices: []uint32{4}, Values: []float32{float32(math.Inf(1))}}, "is +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPruningApply(t *testing.T) {
	base := func() SparseVector {
		return SparseVector{Indices: []uint32{1, 2, 3, 4, 5}, Values: []float32{0.5, 3, 0.1, 3, 2}}
	}
	for _, tc := range []struct {
		name    string
		p       Pruning
		wantIdx []uint32
	}{
		{"zero pruning keeps everything", Pruning{}, []uint32{1, 2, 3, 4, 5}},
		{"min weight drops light terms", Pruning{MinWeight: 0.5}, []uint32{1, 2, 4, 5}},
		{"top-k keeps the heaviest, ties by lower index, indices stay sorted", Pruning{TopK: 2}, []uint32{2, 4}},
		{"top-k and min weight combine", Pruning{TopK: 3, MinWeight: 2.5}, []uint32{2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.Apply(base())
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			if !equalInts(u32to64(got.Indices), u32to64(tc.wantIdx)) {
				t.Errorf("got indices %v, want %v", got.Indices, tc.wantIdx)
			}
		})
	}
}

func TestDotOverSharedIndices(t *testing.T) {
	a := SparseVector{Indices: []uint32{1, 3, 7}, Values: []float32{1, 2, 3}}
	b := SparseVector{Indices: []uint32{3, 4, 7}, Values: []float32{10, 5, 1}}
	if got, want := a.Dot(b), 23.0; got != want {
		t.Errorf("Dot = %v, want %v", got, want)
	}
}

func u32to64(xs []uint32) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}
