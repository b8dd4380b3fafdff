package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spladeq/spladeq/api"

	"github.com/spladeq/spladeq/config"
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

// has reports whether a collection carries a signal, whole (not one being
// added).
func (ci collectionSignals) has(signal string) bool {
	if signal == ci.Adding {
		return false
	}
	switch signal {
	case config.SignalSparse:
		return ci.Sparse != None
	case config.SignalDense:
		return ci.Dense != None
	case config.SignalBM25:
		return ci.BM25 != None && ci.BM25 != ""
	}
	return false
}

type collectionSignals CollectionInfo

// lacks says why a collection cannot be searched by a signal: it is being
// added, or the collection has no such vector.
func lacks(ci CollectionInfo, signal string) string {
	if signal == ci.Adding {
		return fmt.Sprintf("collection %q is still gaining its %s signal (spladeq collection add-signal %s is filling it, or was stopped before it finished: run it again); search it when that is complete", ci.Name, signal, signal)
	}
	return fmt.Sprintf("collection %q has no %s vector (spladeq collection add-signal %s adds it in place)", ci.Name, signal, signal)
}

// signals resolves the signals a search runs, appending problems: the
// request's signals (each must be in the collection), else its mode's:
// one signal alone, or for hybrid search.signals less those the
// collection lacks (a collection made before BM25 fuses sparse and dense;
// a one-sided collection searches the side it has). An explicit hybrid
// mode needs two signals.
func (s *Service) signals(ps []Problem, ci CollectionInfo, in SearchInput) ([]string, []Problem) {
	cs := collectionSignals(ci)
	if len(in.Signals) > 0 {
		for _, err := range config.CheckSignals("signals", in.Signals) {
			field, msg, _ := strings.Cut(err.Error(), ": ")
			ps = append(ps, Problem{Field: field, Message: msg})
		}
		for i, sig := range in.Signals {
			if slices.Contains(config.Signals, sig) && !cs.has(sig) {
				ps = append(ps, Problem{Field: fmt.Sprintf("signals[%d]", i), Message: lacks(ci, sig)})
			}
		}
		if m := in.Mode; m != "" && m != "hybrid" && !(len(in.Signals) == 1 && in.Signals[0] == m) {
			ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("%s contradicts signals %v (leave mode out, or make it hybrid)", m, in.Signals)})
		}
		return in.Signals, ps
	}
	mode := in.Mode
	if mode == "" {
		mode = s.cfg.Search.Mode
	}
	switch mode {
	case config.SignalSparse, config.SignalDense, config.SignalBM25:
		if !cs.has(mode) && in.Mode != "" {
			ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("%s search: %s", mode, lacks(ci, mode))})
			return nil, ps
		}
		if cs.has(mode) {
			return []string{mode}, ps
		}
		// search.mode names a signal the collection lacks: fuse what it has.
		fallthrough
	case "hybrid":
		var out []string
		for _, sig := range s.cfg.Search.Signals {
			if cs.has(sig) {
				out = append(out, sig)
			}
		}
		if len(out) == 0 {
			for _, sig := range config.Signals {
				if cs.has(sig) {
					out = append(out, sig)
				}
			}
		}
		if in.Mode == "hybrid" && len(out) < 2 {
			ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("hybrid search needs two of the signals %v; collection %q has only %v", s.cfg.Search.Signals, ci.Name, out)})
			return nil, ps
		}
		return out, ps
	}
	ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("must be hybrid, sparse, dense or bm25, got %q", mode)})
	return nil, ps
}

// Search runs a search over one signal (bm25, sparse or dense), or a
// hybrid search fusing several.
func (s *Service) Search(ctx context.Context, collection string, in SearchInput) (SearchResult, error) {
	ci, err := s.cached(ctx, collection)
	if err != nil {
		return SearchResult{}, err
	}
	d := s.cfg.Search
	if in.Fusion == "" {
		in.Fusion = d.Fusion
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
	signals, ps := s.signals(ps, ci, in)
	needSparse := slices.Contains(signals, config.SignalSparse)
	needDense := slices.Contains(signals, config.SignalDense)
	needBM25 := slices.Contains(signals, config.SignalBM25)
	weights := map[qdrant.Signal]float64{}
	for _, sig := range config.Signals {
		weights[qdrant.Signal(sig)] = d.Weight(sig)
	}
	for _, err := range config.CheckWeights("weights", in.Weights) {
		field, msg, _ := strings.Cut(err.Error(), ": ")
		ps = append(ps, Problem{Field: field, Message: msg})
	}
	// Weights: search.weights (with search.alpha), then the request's
	// alpha, then the request's weights, the most specific last.
	if a := in.Alpha; a != nil {
		if math.IsNaN(*a) || *a < 0 || *a > 1 {
			ps = append(ps, Problem{Field: "alpha", Message: fmt.Sprintf("must be in [0, 1], got %v", *a)})
		}
		weights[qdrant.SignalSparse], weights[qdrant.SignalDense] = 1-*a, *a
	}
	for sig, w := range in.Weights {
		weights[qdrant.Signal(sig)] = w
	}
	if config.WeightedFusion(in.Fusion) && len(signals) > 1 {
		var sum float64
		for _, sig := range signals {
			sum += weights[qdrant.Signal(sig)]
		}
		if sum <= 0 {
			ps = append(ps, Problem{Field: "weights", Message: fmt.Sprintf("the signals %v all weigh 0; %s fusion needs one above 0", signals, in.Fusion)})
		}
	}
	_, precomputedDense := s.vecs[ci.Dense].(*precomputed)
	if in.Query == "" && !(len(signals) == 1 && needDense && in.Vector != nil) {
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
	if !slices.Contains(config.Fusions, in.Fusion) {
		ps = append(ps, Problem{Field: "fusion", Message: fmt.Sprintf("must be one of %s, got %q", strings.Join(config.Fusions, ", "), in.Fusion)})
	}
	if in.RRFK < 1 {
		ps = append(ps, Problem{Field: "rrf_k", Message: fmt.Sprintf("must be >= 1, got %d", in.RRFK)})
	}
	if err := qdrant.ValidateFilter(in.Filter); err != nil {
		ps = append(ps, Problem{Field: "filter", Message: err.Error()})
	}
	if err := qdrant.ValidateFilter(in.IDFCorpus); err != nil {
		ps = append(ps, Problem{Field: "idf_corpus", Message: err.Error()})
	}
	if err := problems(ps...); err != nil {
		return SearchResult{}, err
	}

	wo, err := s.WriteOptions(ci)
	if err != nil {
		return SearchResult{}, err
	}
	req := qdrant.SearchRequest{Fusion: qdrant.Fusion(in.Fusion), RRFK: in.RRFK, Weights: weights,
		Filter: in.Filter, IDFCorpus: in.IDFCorpus, Limit: in.Limit, Offset: in.Offset, PrefetchLimit: in.PrefetchLimit, ScoreThreshold: in.ScoreThreshold,
		WithPayload: withPayload, WithSideScores: in.Explain && len(signals) > 1, WithSparseVector: in.Explain && needSparse}
	for _, sig := range signals {
		req.Signals = append(req.Signals, qdrant.Signal(sig))
	}
	if needBM25 {
		req.Text = in.Query
	}
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
	hits, err := s.store.Search(ctx, collection, req, wo)
	s.metrics.observeStore("search", start)
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Hits: make([]SearchHit, len(hits)), Mode: signals[0], Signals: signals}
	if len(signals) > 1 {
		res.Mode, res.Fusion = "hybrid", in.Fusion
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
