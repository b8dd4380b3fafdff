package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/internal/pbvalue"
)

// Mode selects which vectors a search uses.
type Mode string

// Search modes.
const (
	ModeSparse Mode = "sparse"
	ModeDense  Mode = "dense"
	ModeHybrid Mode = "hybrid"
)

// Fusion selects how hybrid search combines the sparse and dense results.
type Fusion string

// Fusion methods.
const (
	// FusionRRF is Qdrant's reciprocal rank fusion (server-side).
	FusionRRF Fusion = "rrf"
	// FusionDBSF is Qdrant's distribution-based score fusion (server-side).
	FusionDBSF Fusion = "dbsf"
	// FusionWeighted is alpha·dense + (1−alpha)·sparse over min-max
	// normalised scores, computed client-side (see Search).
	FusionWeighted Fusion = "weighted"
)

// DefaultRRFK is Qdrant's default RRF constant.
const DefaultRRFK = 2

// SearchRequest is one search.
type SearchRequest struct {
	// Mode is sparse, dense or hybrid; required.
	Mode Mode
	// Fusion is the hybrid method. Default rrf.
	Fusion Fusion
	// RRFK is RRF's k. Default DefaultRRFK.
	RRFK int
	// Alpha is the dense weight of weighted fusion, in [0, 1]; the sparse
	// weight is 1 − Alpha.
	Alpha float64
	// Sparse is the query's SPLADE vector (sparse and hybrid modes).
	Sparse api.SparseVector
	// Dense is the query's dense vector (dense and hybrid modes).
	Dense []float32
	// Filter restricts the candidates (both sides of a hybrid search).
	Filter *Filter
	// Limit is the number of hits. Default 10.
	Limit int
	// Offset skips the first hits.
	Offset int
	// PrefetchLimit is how many candidates each side of a hybrid search
	// contributes; raised to Limit+Offset when lower. Default
	// max(50, Limit+Offset).
	PrefetchLimit int
	// ScoreThreshold drops hits scoring below it (after fusion).
	ScoreThreshold *float32
	// WithPayload returns each hit's payload.
	WithPayload bool
	// WithSideScores returns each hit's sparse and dense scores in a hybrid
	// search (one more round trip's worth of work, in the same request).
	WithSideScores bool
	// WithSparseVector returns each hit's sparse vector (for explanations).
	WithSparseVector bool
}

// Hit is one search result (the API's wire type).
type Hit = api.Hit

func (r *SearchRequest) normalise() error {
	var errs []error
	if r.Limit == 0 {
		r.Limit = 10
	}
	if r.Fusion == "" {
		r.Fusion = FusionRRF
	}
	if r.RRFK == 0 {
		r.RRFK = DefaultRRFK
	}
	if r.Limit < 0 {
		errs = append(errs, fmt.Errorf("limit: must be >= 1, got %d", r.Limit))
	}
	if r.Offset < 0 {
		errs = append(errs, fmt.Errorf("offset: must be >= 0, got %d", r.Offset))
	}
	if r.RRFK < 1 {
		errs = append(errs, fmt.Errorf("rrf_k: must be >= 1, got %d", r.RRFK))
	}
	if math.IsNaN(r.Alpha) || r.Alpha < 0 || r.Alpha > 1 {
		errs = append(errs, fmt.Errorf("alpha: must be in [0, 1], got %v", r.Alpha))
	}
	if r.PrefetchLimit == 0 {
		r.PrefetchLimit = 50
	}
	r.PrefetchLimit = max(r.PrefetchLimit, r.Limit+r.Offset)
	needSparse := r.Mode == ModeSparse || r.Mode == ModeHybrid
	needDense := r.Mode == ModeDense || r.Mode == ModeHybrid
	switch r.Mode {
	case ModeSparse, ModeDense, ModeHybrid:
	default:
		errs = append(errs, fmt.Errorf("mode: must be sparse, dense or hybrid, got %q", r.Mode))
	}
	switch r.Fusion {
	case FusionRRF, FusionDBSF, FusionWeighted:
	default:
		errs = append(errs, fmt.Errorf("fusion: must be rrf, dbsf or weighted, got %q", r.Fusion))
	}
	if needSparse {
		if err := r.Sparse.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("sparse query: %v", err))
		}
	}
	if needDense {
		if len(r.Dense) == 0 {
			errs = append(errs, errors.New("dense query: missing (the mode needs a dense vector)"))
		}
		for i, x := range r.Dense {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				errs = append(errs, fmt.Errorf("dense query: element %d is %v", i, x))
				break
			}
		}
	}
	if err := ValidateFilter(r.Filter); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Search runs a sparse, dense or hybrid search.
//
// Hybrid RRF and DBSF run server-side as one Query API request: a prefetch
// per side (each PrefetchLimit deep, the filter applied to both) fused by
// Qdrant. Weighted fusion runs the two single-mode queries in one QueryBatch
// round trip and combines them here: each list is min-max normalised to
// [0, 1] (a list whose scores are all equal normalises to 1), a point absent
// from a list counts 0 there, and the score is alpha·dense + (1−alpha)·sparse.
// It is client-side because a Qdrant formula sees one point's scores, never
// a list's minimum and maximum, and without normalisation unbounded SPLADE
// dot products (often 10–50) would drown cosine similarities (at most 1).
func (c *Client) Search(ctx context.Context, collection string, req SearchRequest, o WriteOptions) ([]Hit, error) {
	o = o.withDefaults()
	if err := req.normalise(); err != nil {
		return nil, &Error{Op: "search", Collection: collection, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	filter, _ := filterProto(req.Filter)
	sparseQ := func(limit int) *qc.QueryPoints {
		return &qc.QueryPoints{CollectionName: collection, Query: qc.NewQuerySparse(req.Sparse.Indices, req.Sparse.Values),
			Using: &o.SparseName, Filter: filter, Limit: u64(limit), WithPayload: qc.NewWithPayload(req.WithPayload)}
	}
	denseQ := func(limit int) *qc.QueryPoints {
		return &qc.QueryPoints{CollectionName: collection, Query: qc.NewQueryDense(req.Dense),
			Using: &o.DenseName, Filter: filter, Limit: u64(limit), WithPayload: qc.NewWithPayload(req.WithPayload)}
	}
	page := func(q *qc.QueryPoints) *qc.QueryPoints {
		q.Limit, q.Offset, q.ScoreThreshold = u64(req.Limit), u64(req.Offset), req.ScoreThreshold
		return q
	}

	var batch []*qc.QueryPoints
	switch {
	case req.Mode == ModeSparse:
		batch = []*qc.QueryPoints{page(sparseQ(0))}
	case req.Mode == ModeDense:
		batch = []*qc.QueryPoints{page(denseQ(0))}
	case req.Fusion == FusionWeighted:
		batch = []*qc.QueryPoints{sparseQ(req.PrefetchLimit), denseQ(req.PrefetchLimit)}
	default:
		fusion := qc.NewQueryRRF(&qc.Rrf{K: u32(req.RRFK)})
		if req.Fusion == FusionDBSF {
			fusion = qc.NewQueryFusion(qc.Fusion_DBSF)
		}
		pl := u64(req.PrefetchLimit)
		fused := page(&qc.QueryPoints{
			CollectionName: collection,
			Prefetch: []*qc.PrefetchQuery{
				{Query: qc.NewQuerySparse(req.Sparse.Indices, req.Sparse.Values), Using: &o.SparseName, Filter: filter, Limit: pl},
				{Query: qc.NewQueryDense(req.Dense), Using: &o.DenseName, Filter: filter, Limit: pl},
			},
			Query: fusion, Filter: filter, WithPayload: qc.NewWithPayload(req.WithPayload),
		})
		batch = []*qc.QueryPoints{fused}
		if req.WithSideScores {
			batch = append(batch, sparseQ(req.PrefetchLimit), denseQ(req.PrefetchLimit))
			batch[1].WithPayload, batch[2].WithPayload = qc.NewWithPayload(false), qc.NewWithPayload(false)
		}
	}

	if req.WithSparseVector {
		for _, q := range batch {
			q.WithVectors = qc.NewWithVectorsInclude(o.SparseName)
		}
	}
	var results [][]*qc.ScoredPoint
	err := c.do(ctx, "search", collection, func(ctx context.Context) error {
		if len(batch) == 1 {
			pts, err := c.qc.Query(ctx, batch[0])
			results = [][]*qc.ScoredPoint{pts}
			return err
		}
		res, err := c.qc.QueryBatch(ctx, &qc.QueryBatchPoints{CollectionName: collection, QueryPoints: batch, ReadConsistency: c.cfg.readConsistency()})
		results = nil
		for _, r := range res {
			results = append(results, r.GetResult())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if req.Mode == ModeHybrid && req.Fusion == FusionWeighted {
		return weighted(results[0], results[1], req, o), nil
	}
	hits := make([]Hit, len(results[0]))
	for i, p := range results[0] {
		hits[i] = toHit(p, o)
	}
	if req.Mode == ModeHybrid && req.WithSideScores && len(results) == 3 {
		attachSideScores(hits, results[1], results[2])
	}
	if req.Mode != ModeHybrid && req.WithSideScores {
		for i := range hits {
			s := hits[i].Score
			if req.Mode == ModeSparse {
				hits[i].SparseScore = &s
			} else {
				hits[i].DenseScore = &s
			}
		}
	}
	return hits, nil
}

func u64(n int) *uint64 {
	v := uint64(n)
	return &v
}

func u32(n int) *uint32 {
	v := uint32(n)
	return &v
}

func toHit(p *qc.ScoredPoint, o WriteOptions) Hit {
	h := Hit{ID: idString(p.GetId()), Score: p.GetScore()}
	h.Sparse, _ = vectorsOf(p.GetVectors(), o)
	if pl := p.GetPayload(); pl != nil {
		h.Payload = pbvalue.Map(pl)
		if s, ok := h.Payload[PayloadDocID].(string); ok {
			h.DocID = s
		}
		if n, ok := h.Payload[PayloadChunk].(int64); ok {
			h.Chunk = int(n)
		}
		if t, ok := h.Payload[PayloadText].(string); ok {
			h.Text = t
		}
		delete(h.Payload, PayloadDocID)
		delete(h.Payload, PayloadChunk)
		delete(h.Payload, PayloadText)
	}
	return h
}

func attachSideScores(hits []Hit, sparse, dense []*qc.ScoredPoint) {
	ss, ds := scoreMap(sparse), scoreMap(dense)
	for i := range hits {
		if s, ok := ss[hits[i].ID]; ok {
			hits[i].SparseScore = &s
		}
		if d, ok := ds[hits[i].ID]; ok {
			hits[i].DenseScore = &d
		}
	}
}

func scoreMap(pts []*qc.ScoredPoint) map[string]float32 {
	m := make(map[string]float32, len(pts))
	for _, p := range pts {
		m[idString(p.GetId())] = p.GetScore()
	}
	return m
}

// minMax normalises scores to [0, 1]; equal scores normalise to 1.
func minMax(pts []*qc.ScoredPoint) map[string]float64 {
	out := make(map[string]float64, len(pts))
	if len(pts) == 0 {
		return out
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = math.Min(lo, float64(p.GetScore())), math.Max(hi, float64(p.GetScore()))
	}
	for _, p := range pts {
		v := 1.0
		if hi > lo {
			v = (float64(p.GetScore()) - lo) / (hi - lo)
		}
		out[idString(p.GetId())] = v
	}
	return out
}

// weighted combines the two lists as documented on Search.
func weighted(sparse, dense []*qc.ScoredPoint, req SearchRequest, o WriteOptions) []Hit {
	sn, dn := minMax(sparse), minMax(dense)
	byID := map[string]Hit{}
	var order []string
	for _, list := range [][]*qc.ScoredPoint{sparse, dense} {
		for _, p := range list {
			id := idString(p.GetId())
			if _, ok := byID[id]; !ok {
				h := toHit(p, o)
				h.Score = float32(req.Alpha*dn[id] + (1-req.Alpha)*sn[id])
				byID[id] = h
				order = append(order, id)
			}
		}
	}
	hits := make([]Hit, 0, len(order))
	for _, id := range order {
		h := byID[id]
		if req.ScoreThreshold != nil && h.Score < *req.ScoreThreshold {
			continue
		}
		hits = append(hits, h)
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	if req.WithSideScores {
		attachSideScores(hits, sparse, dense)
	}
	if req.Offset >= len(hits) {
		return nil
	}
	hits = hits[req.Offset:]
	if len(hits) > req.Limit {
		hits = hits[:req.Limit]
	}
	return hits
}
