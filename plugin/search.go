package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/spladeq/spladeq/api"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/splade"
)

// SearchInput is one search. Zero fields take the configured defaults.
type SearchInput = api.SearchRequest

// MatchedTerm is a term shared by the query and a hit.
type MatchedTerm = api.MatchedTerm

// SearchHit is one hit, with its explanation when asked for.
type SearchHit = api.SearchHit

// SearchResult is a search's answer.
type SearchResult = api.SearchResult

// maxExplainTerms bounds the terms an explanation lists.
const (
	maxQueryTerms = 32
	maxHitTerms   = 8
)

// Search runs a sparse, dense or hybrid search.
func (s *Service) Search(ctx context.Context, collection string, in SearchInput) (SearchResult, error) {
	ci, err := s.cached(ctx, collection)
	if err != nil {
		return SearchResult{}, err
	}
	d := s.cfg.Search
	if in.Mode == "" {
		in.Mode = d.Mode
		// A one-sided collection searches the side it has.
		if ci.Dense == None {
			in.Mode = "sparse"
		} else if ci.Sparse == None {
			in.Mode = "dense"
		}
	}
	if in.Fusion == "" {
		in.Fusion = d.Fusion
	}
	alpha := d.Alpha
	if in.Alpha != nil {
		alpha = *in.Alpha
	}
	if in.RRFK == 0 {
		in.RRFK = d.RRFK
	}
	if in.Limit == 0 {
		in.Limit = d.Limit
	}
	if in.PrefetchLimit == 0 {
		in.PrefetchLimit = d.PrefetchLimit
	}
	withPayload := in.WithPayload == nil || *in.WithPayload
	var ps []Problem
	needSparse := in.Mode == "sparse" || in.Mode == "hybrid"
	needDense := in.Mode == "dense" || in.Mode == "hybrid"
	switch {
	case in.Mode != "sparse" && in.Mode != "dense" && in.Mode != "hybrid":
		ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("must be sparse, dense or hybrid, got %q", in.Mode)})
	case needSparse && ci.Sparse == None:
		ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("%s search needs a sparse vector; collection %q has none", in.Mode, collection)})
	case needDense && ci.Dense == None:
		ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("%s search needs a dense vector; collection %q has none", in.Mode, collection)})
	}
	_, precomputedDense := s.vecs[ci.Dense].(*precomputed)
	if in.Query == "" && !(needDense && !needSparse && in.Vector != nil) {
		ps = append(ps, Problem{Field: "query", Message: "must not be empty"})
	} else if in.Query != "" {
		ps = s.checkText(ps, "query", "", in.Query, s.cfg.Server.MaxTextBytes)
	}
	if needDense && precomputedDense && in.Vector == nil {
		ps = append(ps, Problem{Field: "vector", Message: "is required: the collection's dense vectorizer is precomputed"})
	}
	if in.Vector != nil {
		if msg := checkVector(in.Vector, ci.DenseSize); msg != "" {
			ps = append(ps, Problem{Field: "vector", Message: msg})
		}
	}
	if in.Limit < 1 || in.Limit > 1000 {
		ps = append(ps, Problem{Field: "limit", Message: fmt.Sprintf("must be 1..1000, got %d", in.Limit)})
	}
	if in.Offset < 0 || in.Offset > 10000 {
		ps = append(ps, Problem{Field: "offset", Message: fmt.Sprintf("must be 0..10000, got %d", in.Offset)})
	}
	if in.Fusion != "rrf" && in.Fusion != "dbsf" && in.Fusion != "weighted" {
		ps = append(ps, Problem{Field: "fusion", Message: fmt.Sprintf("must be rrf, dbsf or weighted, got %q", in.Fusion)})
	}
	if math.IsNaN(alpha) || alpha < 0 || alpha > 1 {
		ps = append(ps, Problem{Field: "alpha", Message: fmt.Sprintf("must be in [0, 1], got %v", alpha)})
	}
	if in.RRFK < 1 {
		ps = append(ps, Problem{Field: "rrf_k", Message: fmt.Sprintf("must be >= 1, got %d", in.RRFK)})
	}
	if err := qdrant.ValidateFilter(in.Filter); err != nil {
		ps = append(ps, Problem{Field: "filter", Message: err.Error()})
	}
	if err := problems(ps...); err != nil {
		return SearchResult{}, err
	}

	req := qdrant.SearchRequest{Mode: qdrant.Mode(in.Mode), Fusion: qdrant.Fusion(in.Fusion), RRFK: in.RRFK, Alpha: alpha,
		Filter: in.Filter, Limit: in.Limit, Offset: in.Offset, PrefetchLimit: in.PrefetchLimit, ScoreThreshold: in.ScoreThreshold,
		WithPayload: withPayload, WithSideScores: in.Explain && in.Mode == "hybrid", WithSparseVector: in.Explain && needSparse}
	// A hybrid query's two encodes run at once: its latency is the slower
	// encode, not their sum (BENCHMARKS.md, BenchmarkHybridQueryEncode).
	var sparseErr error
	var wg sync.WaitGroup
	if needSparse {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vecs, err := s.sparseQueries[ci.Sparse].Do(ctx, []string{in.Query})
			if err != nil {
				sparseErr = fmt.Errorf("encode query with %s: %w", ci.Sparse, err)
				return
			}
			req.Sparse = vecs[0]
		}()
	}
	var denseErr error
	if needDense {
		req.Dense = in.Vector
		if req.Dense == nil {
			vecs, err := s.denseQueries[ci.Dense].Do(ctx, []string{in.Query})
			if err != nil {
				denseErr = fmt.Errorf("embed query with %s: %w", ci.Dense, err)
			} else {
				req.Dense = vecs[0]
			}
		}
	}
	wg.Wait()
	if err := errors.Join(sparseErr, denseErr); err != nil {
		return SearchResult{}, err
	}
	start := time.Now()
	hits, err := s.store.Search(ctx, collection, req, qdrant.WriteOptions{})
	s.metrics.observeStore("search", start)
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Hits: make([]SearchHit, len(hits)), Mode: in.Mode}
	if in.Mode == "hybrid" {
		res.Fusion = in.Fusion
	}
	for i, h := range hits {
		res.Hits[i] = SearchHit{Hit: h}
	}
	if in.Explain && needSparse {
		if err := s.explain(ci, req.Sparse, &res); err != nil {
			return SearchResult{}, err
		}
	}
	return res, nil
}

// explain fills the query terms and each hit's top matching terms.
func (s *Service) explain(ci CollectionInfo, q splade.SparseVector, res *SearchResult) error {
	dec, ok := s.vecs[ci.Sparse].(TermDecoder)
	if !ok {
		return nil
	}
	terms, err := dec.Terms(q, maxQueryTerms)
	if err != nil {
		return err
	}
	res.QueryTerms = terms
	type match struct {
		idx             uint32
		qw, dw, contrib float32
	}
	for i := range res.Hits {
		d := res.Hits[i].Sparse
		var ms []match
		for a, b := 0, 0; a < len(q.Indices) && b < len(d.Indices); {
			switch {
			case q.Indices[a] < d.Indices[b]:
				a++
			case q.Indices[a] > d.Indices[b]:
				b++
			default:
				ms = append(ms, match{q.Indices[a], q.Values[a], d.Values[b], q.Values[a] * d.Values[b]})
				a++
				b++
			}
		}
		// Terms orders by weight, ties by lower index; sort the same way so
		// the decoded tokens line up with ms.
		sort.Slice(ms, func(x, y int) bool {
			if ms[x].contrib != ms[y].contrib {
				return ms[x].contrib > ms[y].contrib
			}
			return ms[x].idx < ms[y].idx
		})
		if len(ms) > maxHitTerms {
			ms = ms[:maxHitTerms]
		}
		var v splade.SparseVector
		for _, m := range ms {
			v.Indices, v.Values = append(v.Indices, m.idx), append(v.Values, m.contrib)
		}
		toks, err := dec.Terms(v, 0)
		if err != nil {
			return err
		}
		for k, m := range ms {
			res.Hits[i].MatchedTerms = append(res.Hits[i].MatchedTerms, MatchedTerm{Token: toks[k].Token, QueryWeight: m.qw, DocWeight: m.dw, Contribution: m.contrib})
		}
	}
	return nil
}
