package eval

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

// Goals of an int8 graph against its fp32 graph on a real-text set (issue
// 24): the documents' heaviest terms agree, and retrieval loses at most
// half a point of nDCG@10 in any of sparse, dense and the default search.
const (
	// OverlapGoal is the least mean share of a document's top-OverlapK
	// terms both graphs agree on.
	OverlapGoal = 0.95
	// OverlapK is how many of a document's heaviest terms are compared.
	OverlapK = 10
	// NDCGLossGoal is the most nDCG@10 a setting may lose, in points
	// (hundredths).
	NDCGLossGoal = 0.5
)

// Distribution summarises one per-document figure.
type Distribution struct {
	Mean float64 `json:"mean"`
	// P5 is the 5th percentile (nearest rank), Min and Max the extremes.
	P5  float64 `json:"p5"`
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

func distribution(xs []float64) Distribution {
	if len(xs) == 0 {
		return Distribution{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	rank := int(math.Ceil(0.05*float64(len(s)))) - 1
	return Distribution{Mean: sum / float64(len(s)), P5: s[max(rank, 0)], Min: s[0], Max: s[len(s)-1]}
}

// Agreement compares the vectors two runs stored for the same documents
// (matched by document id and chunk).
type Agreement struct {
	Documents int `json:"documents"`
	// Sparse: TopOverlap of the two vectors at OverlapK, and the
	// non-zeros of each and their ratio (variant / baseline).
	TopOverlap Distribution `json:"top10_overlap"`
	NNZBase    Distribution `json:"nnz_baseline"`
	NNZVariant Distribution `json:"nnz_variant"`
	NNZRatio   Distribution `json:"nnz_ratio"`
	// DenseCosine is the cosine of the two dense vectors.
	DenseCosine Distribution `json:"dense_cosine"`
	// PerDocument lists each document's figures, in document order.
	PerDocument []DocumentAgreement `json:"per_document,omitempty"`
}

// DocumentAgreement is one document's figures.
type DocumentAgreement struct {
	ID         string  `json:"id"`
	Chunk      int64   `json:"chunk,omitempty"`
	TopOverlap float64 `json:"top10_overlap,omitempty"`
	NNZBase    int     `json:"nnz_baseline,omitempty"`
	NNZVariant int     `json:"nnz_variant,omitempty"`
	Cosine     float64 `json:"dense_cosine,omitempty"`
}

// pointKey identifies a stored point across collections: its document id
// and chunk (point ids are derived from them, but say nothing readable).
func pointKey(p qdrant.StoredPoint) (string, int64) {
	id, _ := p.Payload[qdrant.PayloadDocID].(string)
	if id == "" {
		id = p.ID
	}
	chunk, _ := p.Payload[qdrant.PayloadChunk].(int64)
	return id, chunk
}

// CompareVectors matches the points of base and variant by document and
// chunk and compares their vectors. A point in one but not the other is an
// error naming it: both runs must hold the same corpus.
func CompareVectors(base, variant []qdrant.StoredPoint) (Agreement, error) {
	type key struct {
		id    string
		chunk int64
	}
	byKey := make(map[key]qdrant.StoredPoint, len(variant))
	for _, p := range variant {
		id, c := pointKey(p)
		byKey[key{id, c}] = p
	}
	var a Agreement
	var overlap, nb, nv, ratio, cos []float64
	for _, p := range base {
		id, c := pointKey(p)
		q, ok := byKey[key{id, c}]
		if !ok {
			return a, fmt.Errorf("document %s chunk %d is in the baseline's collection, not in the variant's", id, c)
		}
		delete(byKey, key{id, c})
		d := DocumentAgreement{ID: id, Chunk: c}
		if p.Sparse.Len() > 0 || q.Sparse.Len() > 0 {
			d.TopOverlap = TopOverlap(p.Sparse, q.Sparse, OverlapK)
			d.NNZBase, d.NNZVariant = p.Sparse.Len(), q.Sparse.Len()
			overlap = append(overlap, d.TopOverlap)
			nb, nv = append(nb, float64(d.NNZBase)), append(nv, float64(d.NNZVariant))
			if d.NNZBase > 0 {
				ratio = append(ratio, float64(d.NNZVariant)/float64(d.NNZBase))
			}
		}
		if len(p.Dense) > 0 || len(q.Dense) > 0 {
			if len(p.Dense) != len(q.Dense) {
				return a, fmt.Errorf("document %s chunk %d: dense vectors of %d and %d dimensions", id, c, len(p.Dense), len(q.Dense))
			}
			d.Cosine = Cosine(p.Dense, q.Dense)
			cos = append(cos, d.Cosine)
		}
		a.PerDocument = append(a.PerDocument, d)
	}
	for k := range byKey {
		return a, fmt.Errorf("document %s chunk %d is in the variant's collection, not in the baseline's", k.id, k.chunk)
	}
	a.Documents = len(base)
	a.TopOverlap, a.NNZBase, a.NNZVariant, a.NNZRatio = distribution(overlap), distribution(nb), distribution(nv), distribution(ratio)
	a.DenseCosine = distribution(cos)
	return a, nil
}

// topTerms returns the indices of v's k heaviest terms (ties: lower index
// first).
func topTerms(v api.SparseVector, k int) []uint32 {
	order := make([]int, len(v.Indices))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool {
		a, b := order[x], order[y]
		if v.Values[a] != v.Values[b] {
			return v.Values[a] > v.Values[b]
		}
		return v.Indices[a] < v.Indices[b]
	})
	out := make([]uint32, 0, min(k, len(order)))
	for _, i := range order[:min(k, len(order))] {
		out = append(out, v.Indices[i])
	}
	return out
}

// TopOverlap is the share of a's k heaviest terms that are among b's k
// heaviest: 1 when both have none, else of min(k, max(nnz a, nnz b)).
func TopOverlap(a, b api.SparseVector, k int) float64 {
	ta, tb := topTerms(a, k), topTerms(b, k)
	n := max(len(ta), len(tb))
	if n == 0 {
		return 1
	}
	in := map[uint32]bool{}
	for _, t := range tb {
		in[t] = true
	}
	common := 0
	for _, t := range ta {
		if in[t] {
			common++
		}
	}
	return float64(common) / float64(n)
}

// Cosine is the cosine similarity of two vectors of equal length (0 when
// either is zero).
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// ComparedResult is one setting's nDCG@10 in both runs.
type ComparedResult struct {
	Name    string  `json:"name"`
	Default bool    `json:"default,omitempty"`
	Base    float64 `json:"ndcg_at_10_baseline"`
	Variant float64 `json:"ndcg_at_10_variant"`
	// LossPoints is (base - variant) × 100: what the variant loses, in
	// points; negative when it gains.
	LossPoints float64 `json:"loss_points"`
}

// Comparison is a run of the same dataset and settings at two graphs.
type Comparison struct {
	Dataset  string `json:"dataset"`
	Baseline string `json:"baseline"`
	Variant  string `json:"variant"`
	// BaseReport and VariantReport are the two runs' full reports.
	BaseReport    *Report          `json:"baseline_report"`
	VariantReport *Report          `json:"variant_report"`
	Results       []ComparedResult `json:"results"`
	Agreement     Agreement        `json:"agreement"`
	// OverlapMet and NDCGMet say whether the goals hold (OverlapGoal on
	// the mean top-10 overlap, NDCGLossGoal on every setting).
	OverlapMet bool `json:"overlap_goal_met"`
	NDCGMet    bool `json:"ndcg_goal_met"`
}

// Compare pairs the settings of two reports of the same dataset.
func Compare(baseline, variant string, base, vari *Report, a Agreement) (*Comparison, error) {
	c := &Comparison{Dataset: base.Dataset, Baseline: baseline, Variant: variant, BaseReport: base, VariantReport: vari, Agreement: a}
	byName := map[string]Result{}
	for _, r := range vari.Results {
		byName[r.Name] = r
	}
	c.NDCGMet = true
	for _, r := range base.Results {
		v, ok := byName[r.Name]
		if !ok {
			return nil, fmt.Errorf("setting %q was scored at %s, not at %s", r.Name, baseline, variant)
		}
		cr := ComparedResult{Name: r.Name, Default: r.Default, Base: r.NDCG10, Variant: v.NDCG10, LossPoints: (r.NDCG10 - v.NDCG10) * 100}
		c.NDCGMet = c.NDCGMet && cr.LossPoints <= NDCGLossGoal
		c.Results = append(c.Results, cr)
	}
	c.OverlapMet = a.TopOverlap.Mean >= OverlapGoal || a.NNZBase.Mean == 0
	return c, nil
}

// Print writes the comparison as a table and the goals' verdicts.
func (c *Comparison) Print(w io.Writer) {
	a := c.Agreement
	fmt.Fprintf(w, "\n%s: %s vs %s, %d points (documents, or their chunks)\n\n", c.Dataset, c.Variant, c.Baseline, a.Documents)
	if a.NNZBase.Mean > 0 {
		fmt.Fprintf(w, "sparse top-%d term overlap per document: mean %.4f, p5 %.2f, min %.2f\n", OverlapK, a.TopOverlap.Mean, a.TopOverlap.P5, a.TopOverlap.Min)
		fmt.Fprintf(w, "sparse nnz per document: %s mean %.1f, %s mean %.1f; ratio mean %.4f, min %.3f, max %.3f\n",
			c.Baseline, a.NNZBase.Mean, c.Variant, a.NNZVariant.Mean, a.NNZRatio.Mean, a.NNZRatio.Min, a.NNZRatio.Max)
	}
	if a.DenseCosine.Mean != 0 {
		fmt.Fprintf(w, "dense cosine per document: mean %.5f, p5 %.5f, min %.5f\n", a.DenseCosine.Mean, a.DenseCosine.P5, a.DenseCosine.Min)
	}
	fmt.Fprintf(w, "\n%-52s %10s %10s %12s\n", "setting (* = the configured default)", c.Baseline, c.Variant, "loss (pts)")
	fmt.Fprintln(w, strings.Repeat("-", 87))
	for _, r := range c.Results {
		name := r.Name
		if r.Default {
			name = "* " + name
		}
		fmt.Fprintf(w, "%-52s %10.4f %10.4f %12.2f\n", name, r.Base, r.Variant, r.LossPoints)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(w, "\ngoal: mean top-%d overlap >= %.2f: %s; nDCG@10 loss <= %.1f points in every setting: %s\n",
		OverlapK, OverlapGoal, verdict(c.OverlapMet), NDCGLossGoal, verdict(c.NDCGMet))
}
