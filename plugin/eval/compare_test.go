package eval

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

func sv(pairs ...float32) api.SparseVector {
	var v api.SparseVector
	for i := 0; i < len(pairs); i += 2 {
		v.Indices = append(v.Indices, uint32(pairs[i]))
		v.Values = append(v.Values, pairs[i+1])
	}
	return v
}

func TestTopOverlapByHand(t *testing.T) {
	// Twelve terms, weights falling with the index: the top 10 are 1..10.
	var base api.SparseVector
	for i := 1; i <= 12; i++ {
		base.Indices = append(base.Indices, uint32(i))
		base.Values = append(base.Values, float32(20-i))
	}
	// The variant swaps term 10 (weight 10) below term 11 and 12.
	swapped := api.SparseVector{Indices: append([]uint32(nil), base.Indices...), Values: append([]float32(nil), base.Values...)}
	swapped.Values[9] = 1
	for _, c := range []struct {
		name string
		a, b api.SparseVector
		k    int
		want float64
	}{
		{"the same vector agrees fully", base, base, 10, 1},
		{"one of ten terms swapped out of the top", base, swapped, 10, 0.9},
		{"weights rescaled keep the order", sv(1, 3, 2, 2, 3, 1), sv(1, 0.3, 2, 0.2, 3, 0.1), 2, 1},
		{"fewer than k terms: of the larger count", sv(1, 3, 2, 2), sv(1, 3, 2, 2, 3, 1), 10, 2.0 / 3},
		{"disjoint terms", sv(1, 1), sv(2, 1), 10, 0},
		{"both empty agree", sv(), sv(), 10, 1},
		{"ties broken by the lower index", sv(5, 1, 4, 1), sv(4, 1, 9, 0.5), 1, 1},
	} {
		if got := TopOverlap(c.a, c.b, c.k); !near(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCosineByHand(t *testing.T) {
	for _, c := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 0}, []float32{0, 1}, 0},
		{[]float32{1, 2}, []float32{2, 4}, 1},
		{[]float32{3, 4}, []float32{4, 3}, 24.0 / 25},
		{[]float32{0, 0}, []float32{1, 1}, 0},
	} {
		if got := Cosine(c.a, c.b); !near(got, c.want) {
			t.Errorf("Cosine(%v, %v): got %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func storedPoint(id string, chunk int64, s api.SparseVector, d ...float32) qdrant.StoredPoint {
	return qdrant.StoredPoint{ID: "p-" + id, Payload: map[string]any{qdrant.PayloadDocID: id, qdrant.PayloadChunk: chunk}, Sparse: s, Dense: d}
}

func TestCompareVectorsMatchesDocumentsAndSummarises(t *testing.T) {
	base := []qdrant.StoredPoint{
		storedPoint("a", 0, sv(1, 3, 2, 2), 1, 0),
		storedPoint("a", 1, sv(1, 1), 0, 1),
		storedPoint("b", 0, sv(1, 2, 2, 1, 3, 0.5, 4, 0.2), 3, 4),
	}
	// In another order; b loses a term and its top-2 changes.
	variant := []qdrant.StoredPoint{
		storedPoint("b", 0, sv(1, 2, 3, 1.5, 4, 0.2), 4, 3),
		storedPoint("a", 1, sv(1, 1), 0, 1),
		storedPoint("a", 0, sv(1, 3, 2, 2), 1, 0),
	}
	a, err := CompareVectors(base, variant)
	if err != nil {
		t.Fatal(err)
	}
	if a.Documents != 3 || len(a.PerDocument) != 3 {
		t.Fatalf("got %d documents (%d listed), want 3", a.Documents, len(a.PerDocument))
	}
	// b: top 10 of 4 terms vs 3 terms: {1,2,3,4} ∩ {1,3,4} = 3 of 4.
	if got := a.PerDocument[2].TopOverlap; !near(got, 0.75) {
		t.Errorf("b's overlap: got %v, want 0.75", got)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"mean overlap", a.TopOverlap.Mean, (1 + 1 + 0.75) / 3},
		{"min overlap", a.TopOverlap.Min, 0.75},
		{"mean baseline nnz", a.NNZBase.Mean, (2 + 1 + 4) / 3.0},
		{"mean variant nnz", a.NNZVariant.Mean, (2 + 1 + 3) / 3.0},
		{"min nnz ratio", a.NNZRatio.Min, 0.75},
		{"min dense cosine", a.DenseCosine.Min, 24.0 / 25},
		{"max dense cosine", a.DenseCosine.Max, 1},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestCompareVectorsRefusesDifferentCorpora(t *testing.T) {
	base := []qdrant.StoredPoint{storedPoint("a", 0, sv(1, 1)), storedPoint("b", 0, sv(1, 1))}
	for _, c := range []struct {
		name    string
		variant []qdrant.StoredPoint
		want    string
	}{
		{"a document missing from the variant", base[:1], "document b chunk 0 is in the baseline's collection, not in the variant's"},
		{"an extra document in the variant", append(append([]qdrant.StoredPoint(nil), base...), storedPoint("c", 2, sv(1, 1))), "document c chunk 2 is in the variant's collection, not in the baseline's"},
		{"dense vectors of another size", []qdrant.StoredPoint{storedPoint("a", 0, sv(1, 1), 1), storedPoint("b", 0, sv(1, 1))}, "document a chunk 0: dense vectors of 0 and 1 dimensions"},
	} {
		if _, err := CompareVectors(base, c.variant); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

func TestCompareChecksTheGoalsOnEverySetting(t *testing.T) {
	base := &Report{Dataset: "set", Results: []Result{{Name: "sparse", NDCG10: 0.70}, {Name: "dense", NDCG10: 0.60}, {Name: "fused", NDCG10: 0.75, Default: true}}}
	good := Agreement{TopOverlap: Distribution{Mean: 0.96}, NNZBase: Distribution{Mean: 100}}
	for _, c := range []struct {
		name             string
		variant          []Result
		agreement        Agreement
		overlap, ndcg    bool
		wantInTable      string
		wantVerdictWords string
	}{
		{"within half a point everywhere", []Result{{Name: "sparse", NDCG10: 0.696}, {Name: "dense", NDCG10: 0.601}, {Name: "fused", NDCG10: 0.7451}}, good, true, true,
			"* fused", "nDCG@10 loss <= 0.5 points in every setting: met"},
		{"one setting loses 0.6 points", []Result{{Name: "sparse", NDCG10: 0.694}, {Name: "dense", NDCG10: 0.60}, {Name: "fused", NDCG10: 0.75}}, good, true, false,
			"0.60", "every setting: NOT met"},
		{"overlap below 0.95", []Result{{Name: "sparse", NDCG10: 0.70}, {Name: "dense", NDCG10: 0.60}, {Name: "fused", NDCG10: 0.75}},
			Agreement{TopOverlap: Distribution{Mean: 0.949}, NNZBase: Distribution{Mean: 100}}, false, true, "0.0000", "overlap >= 0.95: NOT met"},
	} {
		cmp, err := Compare("fp32", "int8", base, &Report{Results: c.variant}, c.agreement)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cmp.OverlapMet != c.overlap || cmp.NDCGMet != c.ndcg {
			t.Errorf("%s: got overlap met %v, nDCG met %v; want %v, %v", c.name, cmp.OverlapMet, cmp.NDCGMet, c.overlap, c.ndcg)
		}
		var out bytes.Buffer
		cmp.Print(&out)
		for _, want := range []string{c.wantInTable, c.wantVerdictWords} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: the printed comparison lacks %q:\n%s", c.name, want, out.String())
			}
		}
	}
	if _, err := Compare("fp32", "int8", base, &Report{Results: base.Results[:2]}, good); err == nil || !strings.Contains(err.Error(), `setting "fused" was scored at fp32, not at int8`) {
		t.Errorf("a setting missing from the variant: got %v", err)
	}
}
