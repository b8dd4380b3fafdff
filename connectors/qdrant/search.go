package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/internal/pbvalue"
)

// Mode selects which vectors a search uses.
type Mode string

// Search modes: one signal alone, or hybrid (sparse and dense fused).
// SearchRequest.Signals names any set of signals instead.
const (
	ModeSparse Mode = "sparse"
	ModeDense  Mode = "dense"
	ModeBM25   Mode = "bm25"
	ModeHybrid Mode = "hybrid"
)

// Signal is one ranked list a search can fuse.
type Signal string

// Signals: the SPLADE vector, the dense vector and Qdrant's BM25.
const (
	SignalBM25   Signal = "bm25"
	SignalSparse Signal = "sparse"
	SignalDense  Signal = "dense"
)

// Fusion selects how hybrid search combines its signals' results.
type Fusion string

// Fusion methods.
const (
	// FusionRRF is Qdrant's reciprocal rank fusion (server-side).
	FusionRRF Fusion = "rrf"
	// FusionDBSF is Qdrant's distribution-based score fusion (server-side).
	FusionDBSF Fusion = "dbsf"
	// FusionWeighted is a weighted sum of min-max normalised scores,
	// computed client-side (see Search).
	FusionWeighted Fusion = "weighted"
	// FusionWeightedRRF is Qdrant's weighted reciprocal rank fusion
	// (server-side, Qdrant >= 1.17): rrf {k, weights}, the weights as
	// given.
	FusionWeightedRRF Fusion = "weighted_rrf"
	// FusionWeightedDBSF is a weighted sum of each signal's scores
	// normalised as DBSF normalises them, as one Qdrant formula query
	// (server-side; see Search).
	FusionWeightedDBSF Fusion = "weighted_dbsf"
)

// Fusions are the fusion methods, in the order error messages list them.
var Fusions = []Fusion{FusionRRF, FusionDBSF, FusionWeighted, FusionWeightedRRF, FusionWeightedDBSF}

// Weighted reports whether the fusion takes per-signal weights.
func (f Fusion) Weighted() bool {
	return f == FusionWeighted || f == FusionWeightedRRF || f == FusionWeightedDBSF
}

// DefaultRRFK is Qdrant's default RRF constant.
const DefaultRRFK = 2

// SearchRequest is one search.
type SearchRequest struct {
	// Signals are the ranked lists to search: one alone, or several fused.
	// Default: from Mode (hybrid is sparse and dense).
	Signals []Signal
	// Mode is sparse, dense, bm25 or hybrid; used when Signals is empty.
	Mode Mode
	// Fusion is the hybrid method. Default rrf.
	Fusion Fusion
	// RRFK is RRF's k. Default DefaultRRFK.
	RRFK int
	// Weights of weighted fusion per signal, relative (scaled to sum to 1
	// over Signals); a signal not listed weighs 0. Default nil: from Alpha.
	Weights map[Signal]float64
	// Alpha is weighted fusion's dense weight when Weights is nil, in
	// [0, 1]: sparse weighs 1 − Alpha, bm25 1.
	Alpha float64
	// Sparse is the query's SPLADE vector (signal sparse).
	Sparse api.SparseVector
	// Dense is the query's dense vector (signal dense).
	Dense []float32
	// Text is the query's text (signal bm25: the store computes the BM25
	// query vector with WriteOptions.BM25's model and options).
	Text string
	// Filter restricts the candidates (every signal of a hybrid search).
	Filter *Filter
	// IDFCorpus, when set, computes the IDF of the signals whose vector has
	// the IDF modifier (bm25; sparse with WriteOptions.SparseIDF) over the
	// points it matches rather than the whole collection: Qdrant 1.19's
	// params.idf.corpus. Refused (ErrInvalid, errors.ErrUnsupported) by an
	// older Qdrant, which would ignore it. Default nil: the whole
	// collection.
	IDFCorpus *Filter
	// Limit is the number of hits. Default 10.
	Limit int
	// Offset skips the first hits.
	Offset int
	// PrefetchLimit is how many candidates each signal of a hybrid search
	// contributes; raised to Limit+Offset when lower. Default
	// max(50, Limit+Offset).
	PrefetchLimit int
	// ScoreThreshold drops hits scoring below it (after fusion).
	ScoreThreshold *float32
	// WithPayload returns each hit's payload.
	WithPayload bool
	// WithSideScores returns each hit's score per signal in a hybrid
	// search (one more query per signal, in the same request).
	WithSideScores bool
	// WithSparseVector returns each hit's sparse vector (for explanations).
	WithSparseVector bool
}

// Hit is one search result (the API's wire type).
type Hit = api.Hit

// setScore records a signal's score on the hit.
func setScore(h *Hit, sig Signal, x float32) {
	switch sig {
	case SignalSparse:
		h.SparseScore = &x
	case SignalDense:
		h.DenseScore = &x
	case SignalBM25:
		h.BM25Score = &x
	}
}

// SignalsOf is the signals a mode searches.
func SignalsOf(m Mode) []Signal {
	switch m {
	case ModeHybrid:
		return []Signal{SignalSparse, SignalDense}
	case ModeSparse, ModeDense, ModeBM25:
		return []Signal{Signal(m)}
	}
	return nil
}

// rawWeights returns each signal's weight as given: Weights[signal] (0
// when unlisted), or from Alpha when Weights is nil.
func (r *SearchRequest) rawWeights() (map[Signal]float64, error) {
	w := map[Signal]float64{}
	var sum float64
	for _, s := range r.Signals {
		x, ok := r.Weights[s]
		if r.Weights == nil {
			switch s {
			case SignalSparse:
				x = 1 - r.Alpha
			case SignalDense:
				x = r.Alpha
			default:
				x = 1
			}
			ok = true
		}
		if !ok {
			x = 0
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return nil, fmt.Errorf("weights.%s: must be a finite number >= 0, got %v", s, x)
		}
		w[s] = x
		sum += x
	}
	if sum <= 0 {
		return nil, fmt.Errorf("weights: the signals %v all weigh 0", r.Signals)
	}
	return w, nil
}

// weights returns the weight of each signal scaled to sum to 1 (weighted
// and weighted_dbsf fusion).
func (r *SearchRequest) weights() (map[Signal]float64, error) {
	w, err := r.rawWeights()
	if err != nil {
		return nil, err
	}
	var sum float64
	for _, x := range w {
		sum += x
	}
	for s := range w {
		w[s] /= sum
	}
	return w, nil
}

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
	if len(r.Signals) == 0 {
		r.Signals = SignalsOf(r.Mode)
		if r.Signals == nil {
			errs = append(errs, fmt.Errorf("mode: must be sparse, dense, bm25 or hybrid, got %q", r.Mode))
		}
	}
	seen := map[Signal]bool{}
	for i, s := range r.Signals {
		switch {
		case s != SignalSparse && s != SignalDense && s != SignalBM25:
			errs = append(errs, fmt.Errorf("signals[%d]: must be bm25, sparse or dense, got %q", i, s))
		case seen[s]:
			errs = append(errs, fmt.Errorf("signals[%d]: %q is listed twice", i, s))
		}
		seen[s] = true
	}
	switch {
	case !slices.Contains(Fusions, r.Fusion):
		errs = append(errs, fmt.Errorf("fusion: must be one of %v, got %q", Fusions, r.Fusion))
	case r.Fusion.Weighted() && len(r.Signals) > 1:
		if _, err := r.rawWeights(); err != nil {
			errs = append(errs, err)
		}
	}
	if seen[SignalSparse] {
		if err := r.Sparse.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("sparse query: %v", err))
		}
	}
	if seen[SignalDense] {
		if len(r.Dense) == 0 {
			errs = append(errs, errors.New("dense query: missing (the dense signal needs a dense vector)"))
		}
		for i, x := range r.Dense {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				errs = append(errs, fmt.Errorf("dense query: element %d is %v", i, x))
				break
			}
		}
	}
	if seen[SignalBM25] && strings.TrimSpace(r.Text) == "" {
		errs = append(errs, errors.New("text: missing (the bm25 signal needs the query text)"))
	}
	if err := ValidateFilter(r.Filter); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Search runs a search over one signal, or several fused.
//
// RRF, DBSF, weighted_rrf and weighted_dbsf run server-side as one Query
// API request: a prefetch per signal (each PrefetchLimit deep, the filter
// applied to each) fused by Qdrant (weighted_dbsf: see WeightedDBSFQuery).
// Weighted fusion runs the single-signal queries in one QueryBatch round
// trip and combines them here: each list is min-max normalised to [0, 1] (a
// list whose scores are all equal normalises to 1), a point absent from a
// list counts 0 there, and the score is the sum of weight·normalised score
// over the signals, the weights scaled to sum to 1 (with sparse and dense
// weighted by Alpha: alpha·dense + (1−alpha)·sparse). It is client-side
// because a Qdrant formula sees one point's scores, never a list's minimum
// and maximum, and without normalisation unbounded SPLADE and BM25 scores
// (often 10–50) would drown cosine similarities (at most 1).
// The BM25 signal sends the query text as Document{text, model, options}
// (WriteOptions.BM25, default Qdrant's BM25 with its defaults): the store
// computes the query vector.
func (c *Client) Search(ctx context.Context, collection string, req SearchRequest, o WriteOptions) ([]Hit, error) {
	o = o.withDefaults()
	if err := req.normalise(); err != nil {
		return nil, &Error{Op: "search", Collection: collection, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	filter, _ := filterProto(req.Filter)
	bm25, err := c.forServer(ctx, o.BM25)
	if err != nil {
		return nil, &Error{Op: "search", Collection: collection, Err: err}
	}
	if bm25 == nil {
		bm25 = &StoreModel{Model: BM25Model}
	}
	params, err := c.idfParams(ctx, req.IDFCorpus)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			err = fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return nil, &Error{Op: "search", Collection: collection, Err: err}
	}
	// query is a signal's query and the vector it searches.
	query := func(s Signal) (*qc.Query, *string, error) {
		switch s {
		case SignalSparse:
			return qc.NewQuerySparse(req.Sparse.Indices, req.Sparse.Values), &o.SparseName, nil
		case SignalDense:
			return qc.NewQueryDense(req.Dense), &o.DenseName, nil
		}
		doc, err := bm25.document(req.Text)
		if err != nil {
			return nil, nil, err
		}
		return qc.NewQueryNearest(qc.NewVectorInputDocument(doc)), &o.BM25Name, nil
	}
	// idf is the params of a signal's query: the IDF corpus applies to the
	// signals whose vector has the IDF modifier (bm25 always, sparse when
	// the collection's does).
	idf := func(s Signal) *qc.SearchParams {
		if s == SignalBM25 || (s == SignalSparse && o.SparseIDF) {
			return params
		}
		return nil
	}
	single := func(s Signal, limit int) (*qc.QueryPoints, error) {
		q, using, err := query(s)
		if err != nil {
			return nil, err
		}
		return &qc.QueryPoints{CollectionName: collection, Query: q, Using: using, Filter: filter, Limit: u64(limit),
			WithPayload: qc.NewWithPayload(req.WithPayload), Params: idf(s)}, nil
	}
	page := func(q *qc.QueryPoints) *qc.QueryPoints {
		q.Limit, q.Offset, q.ScoreThreshold = u64(req.Limit), u64(req.Offset), req.ScoreThreshold
		return q
	}
	// singles are one query per signal, PrefetchLimit deep.
	singles := func(payload bool) ([]*qc.QueryPoints, error) {
		var out []*qc.QueryPoints
		for _, s := range req.Signals {
			q, err := single(s, req.PrefetchLimit)
			if err != nil {
				return nil, err
			}
			if !payload {
				q.WithPayload = qc.NewWithPayload(false)
			}
			out = append(out, q)
		}
		return out, nil
	}

	var batch []*qc.QueryPoints
	switch {
	case len(req.Signals) == 1:
		var q *qc.QueryPoints
		if q, err = single(req.Signals[0], 0); err == nil {
			batch = []*qc.QueryPoints{page(q)}
		}
	case req.Fusion == FusionWeighted:
		batch, err = singles(req.WithPayload)
	default:
		var fused *qc.QueryPoints
		if fused, err = fusedQuery(collection, req, filter, query, idf); err == nil {
			batch = []*qc.QueryPoints{page(fused)}
		}
		if err == nil && req.WithSideScores {
			var side []*qc.QueryPoints
			side, err = singles(false)
			batch = append(batch, side...)
		}
	}
	if err != nil {
		return nil, &Error{Op: "search", Collection: collection, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}

	if req.WithSparseVector {
		for _, q := range batch {
			q.WithVectors = qc.NewWithVectorsInclude(o.SparseName)
		}
	}
	var results [][]*qc.ScoredPoint
	err = c.do(ctx, "search", collection, func(ctx context.Context) error {
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
	if len(req.Signals) > 1 && req.Fusion == FusionWeighted {
		w, _ := req.weights()
		return weighted(results, req, w, o), nil
	}
	hits := make([]Hit, len(results[0]))
	for i, p := range results[0] {
		hits[i] = toHit(p, o)
	}
	if len(req.Signals) > 1 && req.WithSideScores && len(results) == 1+len(req.Signals) {
		attachSideScores(hits, req.Signals, results[1:])
	}
	if len(req.Signals) == 1 && req.WithSideScores {
		for i := range hits {
			setScore(&hits[i], req.Signals[0], hits[i].Score)
		}
	}
	return hits, nil
}

// fusedQuery is a server-side fusion of req's signals as one Query API
// request: a prefetch per signal, PrefetchLimit deep, the filter applied to
// each, fused by rrf, dbsf, rrf with weights (weighted_rrf), or a formula
// over each signal's DBSF-normalised scores (weighted_dbsf, see
// WeightedDBSFQuery).
func fusedQuery(collection string, req SearchRequest, filter *qc.Filter, query func(Signal) (*qc.Query, *string, error),
	params func(Signal) *qc.SearchParams) (*qc.QueryPoints, error) {
	fused := &qc.QueryPoints{CollectionName: collection, Filter: filter, WithPayload: qc.NewWithPayload(req.WithPayload)}
	for _, s := range req.Signals {
		q, using, err := query(s)
		if err != nil {
			return nil, err
		}
		fused.Prefetch = append(fused.Prefetch, &qc.PrefetchQuery{Query: q, Using: using, Filter: filter, Limit: u64(req.PrefetchLimit), Params: params(s)})
	}
	switch req.Fusion {
	case FusionDBSF:
		fused.Query = qc.NewQueryFusion(qc.Fusion_DBSF)
	case FusionWeightedRRF:
		w, err := req.rawWeights()
		if err != nil {
			return nil, err
		}
		rrf := &qc.Rrf{K: u32(req.RRFK)}
		for _, s := range req.Signals {
			rrf.Weights = append(rrf.Weights, float32(w[s]))
		}
		fused.Query = qc.NewQueryRRF(rrf)
	case FusionWeightedDBSF:
		w, err := req.weights()
		if err != nil {
			return nil, err
		}
		ws := make([]float32, len(req.Signals))
		for i, s := range req.Signals {
			ws[i] = float32(w[s])
		}
		fused.Prefetch, fused.Query = WeightedDBSFQuery(fused.Prefetch, ws)
	default:
		fused.Query = qc.NewQueryRRF(&qc.Rrf{K: u32(req.RRFK)})
	}
	return fused, nil
}

// WeightedDBSFQuery turns one prefetch per signal into weighted_dbsf
// fusion: each prefetch is wrapped in a DBSF fusion of that one list (so
// Qdrant maps its scores to (s − (μ − 3σ)) / 6σ, μ and σ the list's mean
// and sample standard deviation), and the query is the formula
// Σ weights[i]·$score[i], a point a list missed counting 0 there. Qdrant's
// formula language (1.17, 1.19) has no minimum or maximum over a list, so
// this is the per-list normalisation a single query can make; weighted
// fusion's min-max normalisation needs the client.
func WeightedDBSFQuery(prefetch []*qc.PrefetchQuery, weights []float32) ([]*qc.PrefetchQuery, *qc.Query) {
	wrapped := make([]*qc.PrefetchQuery, len(prefetch))
	terms := make([]*qc.Expression, len(prefetch))
	defaults := map[string]*qc.Value{}
	for i, p := range prefetch {
		wrapped[i] = &qc.PrefetchQuery{Prefetch: []*qc.PrefetchQuery{p}, Query: qc.NewQueryFusion(qc.Fusion_DBSF), Filter: p.Filter, Limit: p.Limit}
		v := fmt.Sprintf("$score[%d]", i)
		terms[i] = qc.NewExpressionMult(&qc.MultExpression{Mult: []*qc.Expression{qc.NewExpressionConstant(weights[i]), qc.NewExpressionVariable(v)}})
		defaults[v] = qc.NewValueDouble(0)
	}
	return wrapped, qc.NewQueryFormula(&qc.Formula{Expression: qc.NewExpressionSum(&qc.SumExpression{Sum: terms}), Defaults: defaults})
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

// attachSideScores records each signal's score on the hits that were among
// its candidates.
func attachSideScores(hits []Hit, signals []Signal, lists [][]*qc.ScoredPoint) {
	for k, sig := range signals {
		m := scoreMap(lists[k])
		for i := range hits {
			if x, ok := m[hits[i].ID]; ok {
				setScore(&hits[i], sig, x)
			}
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

// weighted combines the signals' lists as documented on Search, with w
// the normalised weight of each signal.
func weighted(lists [][]*qc.ScoredPoint, req SearchRequest, w map[Signal]float64, o WriteOptions) []Hit {
	norm := make([]map[string]float64, len(lists))
	for k, l := range lists {
		norm[k] = minMax(l)
	}
	byID := map[string]Hit{}
	var order []string
	for _, list := range lists {
		for _, p := range list {
			id := idString(p.GetId())
			if _, ok := byID[id]; ok {
				continue
			}
			h := toHit(p, o)
			var score float64
			for k, sig := range req.Signals {
				score += w[sig] * norm[k][id]
			}
			h.Score = float32(score)
			byID[id] = h
			order = append(order, id)
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
		attachSideScores(hits, req.Signals, lists)
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
