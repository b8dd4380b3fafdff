package embedded

import (
	"container/heap"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	pb "github.com/qdrant/go-client/qdrant"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/spladeq/spladeq/internal/vecmath"
)

// defaultLimit is Qdrant's default limit for queries and prefetches.
const defaultLimit = 10

// defaultRRFK is Qdrant's default RRF constant.
const defaultRRFK = 2

type scored struct {
	p     *point
	score float32
}

// better reports whether a ranks before b: by score (descending, or
// ascending for distances), ties by id so results are deterministic.
func better(a, b scored, ascending bool) bool {
	if a.score != b.score {
		if ascending {
			return a.score < b.score
		}
		return a.score > b.score
	}
	return a.p.key < b.p.key
}

// topK keeps the k best of a stream of scored points.
type topK struct {
	k         int
	ascending bool
	h         []scored // worst at h[0]
}

func (t *topK) Len() int           { return len(t.h) }
func (t *topK) Less(i, j int) bool { return better(t.h[j], t.h[i], t.ascending) }
func (t *topK) Swap(i, j int)      { t.h[i], t.h[j] = t.h[j], t.h[i] }
func (t *topK) Push(x any)         { t.h = append(t.h, x.(scored)) }
func (t *topK) Pop() any {
	x := t.h[len(t.h)-1]
	t.h = t.h[:len(t.h)-1]
	return x
}

func (t *topK) offer(s scored) {
	if t.k <= 0 {
		return
	}
	if len(t.h) < t.k {
		heap.Push(t, s)
		return
	}
	if better(s, t.h[0], t.ascending) {
		t.h[0] = s
		heap.Fix(t, 0)
	}
}

// sorted returns the kept points, best first.
func (t *topK) sorted() []scored {
	out := append([]scored(nil), t.h...)
	sortScored(out, t.ascending)
	return out
}

func sortScored(s []scored, ascending bool) {
	sort.Slice(s, func(i, j int) bool { return better(s[i], s[j], ascending) })
}

// node is one level of a query: the main query or a prefetch.
type node struct {
	prefetch  []*pb.PrefetchQuery
	query     *pb.Query
	using     string
	filter    *filter
	threshold *float32
	limit     int
	// idf is the population of the IDF modifier's statistics (params.idf,
	// Qdrant 1.19): nil for the whole collection.
	idf *idfCorpus
}

// idfCorpus is params.idf: with a corpus, IDF counts only the points it
// matches; without, the whole collection.
type idfCorpus struct {
	filter *filter
	corpus bool
}

// idfOf compiles a query's params.idf; nil when it has none.
func idfOf(p *pb.SearchParams) (*idfCorpus, error) {
	if p.GetIdf() == nil {
		return nil, nil
	}
	corpus := p.GetIdf().GetCorpus()
	if corpus == nil {
		return &idfCorpus{}, nil
	}
	f, err := compileFilter(corpus)
	if err != nil {
		return nil, err
	}
	return &idfCorpus{filter: f, corpus: true}, nil
}

// result is a ranked list and its direction.
type result struct {
	points    []scored
	ascending bool
}

// run evaluates a node. The caller holds c.mu for reading.
func (c *collection) run(n node) (result, error) {
	if len(n.prefetch) > 0 {
		lists := make([]result, len(n.prefetch))
		for i, pf := range n.prefetch {
			f, err := compileFilter(pf.GetFilter())
			if err != nil {
				return result{}, err
			}
			limit := defaultLimit
			if pf.Limit != nil {
				limit = int(pf.GetLimit())
			}
			idf, err := idfOf(pf.GetParams())
			if err != nil {
				return result{}, err
			}
			// The parent's filter applies to its prefetches too; its
			// params do not.
			lists[i], err = c.run(node{prefetch: pf.GetPrefetch(), query: pf.GetQuery(), using: pf.GetUsing(),
				filter: and(n.filter, f), threshold: pf.ScoreThreshold, limit: limit, idf: idf})
			if err != nil {
				return result{}, err
			}
		}
		return c.combine(n, lists)
	}
	switch q := n.query.GetVariant().(type) {
	case nil:
		// No query: points in id order, score 0, as Qdrant scrolls.
		var out []scored
		for _, p := range c.sortedLive(nil) {
			if n.filter.match(p) {
				out = append(out, scored{p: p})
				if len(out) == n.limit {
					break
				}
			}
		}
		return result{points: out}, nil
	case *pb.Query_Nearest:
		return c.nearest(n, q.Nearest, nil)
	case *pb.Query_Fusion, *pb.Query_Rrf, *pb.Query_Formula:
		return result{}, invalidf("Wrong input: a fusion or formula query needs at least one prefetch")
	default:
		return result{}, invalidf("Wrong input: query kind %T is not supported by the embedded server", q)
	}
}

// combine applies the node's query to its prefetch results.
func (c *collection) combine(n node, lists []result) (result, error) {
	var fused []scored
	ascending := false
	switch q := n.query.GetVariant().(type) {
	case nil:
		return result{}, invalidf("Wrong input: a query with prefetch needs a query (fusion, formula or nearest)")
	case *pb.Query_Fusion:
		switch q.Fusion {
		case pb.Fusion_RRF:
			fused = rrf(lists, defaultRRFK, nil)
		case pb.Fusion_DBSF:
			fused = dbsf(lists)
		default:
			return result{}, invalidf("Wrong input: fusion %v is not supported", q.Fusion)
		}
	case *pb.Query_Rrf:
		k := defaultRRFK
		if q.Rrf.K != nil {
			k = int(q.Rrf.GetK())
		}
		w := q.Rrf.GetWeights()
		if len(w) > 0 && len(w) != len(lists) {
			return result{}, invalidf("Wrong input: Number of weights in RRF should match number of pre-fetches: got %d, expected %d", len(w), len(lists))
		}
		fused = rrf(lists, k, w)
	case *pb.Query_Formula:
		var err error
		if fused, err = formula(q.Formula, lists); err != nil {
			return result{}, err
		}
	case *pb.Query_Nearest:
		// Rescore the union of the prefetch results with the vector query.
		seen := map[string]bool{}
		var cands []*point
		for _, l := range lists {
			for _, s := range l.points {
				if !seen[s.p.key] {
					seen[s.p.key] = true
					cands = append(cands, s.p)
				}
			}
		}
		return c.nearest(n, q.Nearest, cands)
	default:
		return result{}, invalidf("Wrong input: query kind %T is not supported by the embedded server", q)
	}
	out := fused[:0]
	for _, s := range fused {
		if n.threshold == nil || s.score >= *n.threshold {
			out = append(out, s)
		}
	}
	sortScored(out, ascending)
	if len(out) > n.limit {
		out = out[:n.limit]
	}
	return result{points: out, ascending: ascending}, nil
}

// nearest scores points by a vector query, over the whole collection or over
// cands when not nil.
func (c *collection) nearest(n node, in *pb.VectorInput, cands []*point) (result, error) {
	var dense []float32
	var sparse *pb.SparseVector
	switch v := in.GetVariant().(type) {
	case *pb.VectorInput_Dense:
		dense = v.Dense.GetData()
	case *pb.VectorInput_Sparse:
		sparse = v.Sparse
	case *pb.VectorInput_Id:
		key, err := pointKey(v.Id)
		if err != nil {
			return result{}, invalidf("Wrong input: %v", err)
		}
		slot, ok := c.byKey[key]
		if !ok {
			return result{}, errNotFoundPoint{key}
		}
		p := c.slots[slot]
		if d, ok := p.dense[n.using]; ok {
			dense = d
		} else if s, ok := p.sparse[n.using]; ok {
			sparse = &pb.SparseVector{Indices: s.idx, Values: s.val}
		} else {
			return result{}, invalidf("Wrong input: point %s has no vector %q", keyString(v.Id), n.using)
		}
	default:
		return result{}, invalidf("Wrong input: nearest query of kind %T is not supported by the embedded server", v)
	}
	if sp := c.sparse[n.using]; n.idf != nil && (sp == nil || !sp.idf) {
		return result{}, invalidf("Wrong input: Validation failed: search param `idf` requires a sparse vector with the `idf` modifier, which vector %q is not", n.using)
	}
	if sp, ok := c.sparse[n.using]; ok {
		if sparse == nil {
			return result{}, invalidf("Wrong input: vector %q is sparse but the query is dense", n.using)
		}
		q, err := normaliseSparse(sparse.GetIndices(), sparse.GetValues())
		if err != nil {
			return result{}, invalidf("Wrong input: query: %v", err)
		}
		return c.nearestSparse(n, sp, q, cands), nil
	}
	ds, ok := c.dense[n.using]
	if !ok {
		return result{}, invalidf("Wrong input: Not existing vector name error: %s", displayName(n.using))
	}
	if dense == nil {
		return result{}, invalidf("Wrong input: vector %q is dense but the query is sparse", n.using)
	}
	if len(dense) != ds.size {
		return result{}, invalidf("Wrong input: Vector dimension error: expected dim: %d, got %d", ds.size, len(dense))
	}
	return c.nearestDense(n, ds, dense, cands), nil
}

// idfWeights multiplies each query weight by its IDF when the space has the
// modifier, with Qdrant's formula: N the points with a non-empty vector of
// this name and n those containing the index, in the whole collection or,
// with a corpus, among the points it matches.
func (c *collection) idfWeights(n node, sp *sparseSpace, q sparseVec) []float64 {
	w := make([]float64, len(q.idx))
	N := float64(sp.n)
	df := func(idx uint32) float64 { return float64(sp.df[idx]) }
	if sp.idf && n.idf != nil && n.idf.corpus {
		// Over a corpus, Qdrant counts the points it matches that have a
		// vector of this name, even an empty one (which the global count
		// leaves out).
		N = 0
		for _, p := range c.slots {
			if p == nil {
				continue
			}
			if _, has := p.sparse[n.using]; has && n.idf.filter.match(p) {
				N++
			}
		}
		df = func(idx uint32) float64 {
			k := 0
			for _, post := range sp.postings[idx] {
				if p := c.slots[post.slot]; p != nil && n.idf.filter.match(p) {
					k++
				}
			}
			return float64(k)
		}
	}
	for j, idx := range q.idx {
		w[j] = float64(q.val[j])
		if sp.idf {
			d := df(idx)
			w[j] *= math.Log((N-d+0.5)/(d+0.5) + 1)
		}
	}
	return w
}

// nearestSparse scores the query against the candidates, or against the
// whole index, exactly (sparseindex.go).
func (c *collection) nearestSparse(n node, sp *sparseSpace, q sparseVec, cands []*point) result {
	name := n.using
	weights := c.idfWeights(n, sp, q)
	top := &topK{k: n.limit}
	keep := func(p *point, score float64) {
		s := float32(score)
		if n.threshold != nil && s < *n.threshold {
			return
		}
		top.offer(scored{p: p, score: s})
	}
	if cands != nil {
		for _, p := range cands {
			d, ok := p.sparse[name]
			if !ok || !n.filter.match(p) {
				continue
			}
			if score, shared := sparseDot(q.idx, weights, d); shared {
				keep(p, score)
			}
		}
		return result{points: top.sorted()}
	}
	return result{points: c.searchSparseIndex(n, sp, q, weights)}
}

// sparseDot is the dot product of a query (sorted indices, weights) and a
// stored vector; shared reports whether they have any index in common.
func sparseDot(qi []uint32, qw []float64, d sparseVec) (float64, bool) {
	var s float64
	shared := false
	i, j := 0, 0
	for i < len(qi) && j < len(d.idx) {
		switch {
		case qi[i] < d.idx[j]:
			i++
		case qi[i] > d.idx[j]:
			j++
		default:
			s += qw[i] * float64(d.val[j])
			shared = true
			i++
			j++
		}
	}
	return s, shared
}

func (c *collection) nearestDense(n node, ds *denseSpace, q []float32, cands []*point) result {
	q = append([]float32(nil), q...)
	if ds.dist == pb.Distance_Cosine {
		vecmath.Normalize(q)
	}
	ascending := ds.dist == pb.Distance_Euclid || ds.dist == pb.Distance_Manhattan
	top := &topK{k: n.limit, ascending: ascending}
	score := func(top *topK, p *point) {
		v, ok := p.dense[n.using]
		if !ok || !n.filter.match(p) {
			return
		}
		s := float32(denseScore(ds.dist, q, v))
		if n.threshold != nil && ((ascending && s > *n.threshold) || (!ascending && s < *n.threshold)) {
			return
		}
		top.offer(scored{p: p, score: s})
	}
	if cands != nil {
		for _, p := range cands {
			score(top, p)
		}
		return result{points: top.sorted(), ascending: ascending}
	}
	// A full scan reads the space's vectors in slot order, contiguous in
	// memory, split across cores, each with its own top-k, then merged; a
	// point is looked at only when its score could enter the top k.
	nslots := len(c.slots)
	workers := min(runtime.GOMAXPROCS(0), 1+nslots/20000)
	tops := make([]*topK, workers)
	var wg sync.WaitGroup
	for w := range tops {
		tops[w] = &topK{k: n.limit, ascending: ascending}
		wg.Add(1)
		go func(t *topK, lo, hi int) {
			defer wg.Done()
			for slot := lo; slot < hi; slot++ {
				v := ds.vector(int32(slot))
				if v == nil {
					continue
				}
				s := float32(denseScore(ds.dist, q, v))
				if len(t.h) == t.k && t.k > 0 && ((ascending && s > t.h[0].score) || (!ascending && s < t.h[0].score)) {
					continue // cannot enter
				}
				if n.threshold != nil && ((ascending && s > *n.threshold) || (!ascending && s < *n.threshold)) {
					continue
				}
				p := c.slots[slot]
				if p == nil || !n.filter.match(p) {
					continue
				}
				t.offer(scored{p: p, score: s})
			}
		}(tops[w], w*nslots/workers, (w+1)*nslots/workers)
	}
	wg.Wait()
	for _, t := range tops {
		for _, s := range t.h {
			top.offer(s)
		}
	}
	return result{points: top.sorted(), ascending: ascending}
}

func denseScore(dist pb.Distance, q, v []float32) float64 {
	var s float64
	switch dist {
	case pb.Distance_Euclid:
		for i := range q {
			d := float64(q[i] - v[i])
			s += d * d
		}
		return math.Sqrt(s)
	case pb.Distance_Manhattan:
		for i := range q {
			s += math.Abs(float64(q[i] - v[i]))
		}
		return s
	default: // Cosine (both sides normalised) and Dot
		return float64(dot32(q, v))
	}
}

// dot32 is a float32 dot product: gonum's SSE kernel, 2.1x a Go loop with
// eight independent accumulators and 2.2x the four this used before
// (BenchmarkDenseSearch; the full scan of a dense space is this loop).
func dot32(q, v []float32) float32 {
	return blasImpl.Sdot(len(q), q, 1, v[:len(q)], 1)
}

var blasImpl gonum.Implementation

// rrf is Qdrant's reciprocal rank fusion: each list contributes
// 1/((rank+1)/w + k − 1) for 0-based rank, which is 1/(rank + k) at w = 1;
// a weight <= 0 contributes nothing.
func rrf(lists []result, k int, weights []float32) []scored {
	var sum fusedSum
	for li, l := range lists {
		w := float32(1)
		if len(weights) > 0 {
			w = weights[li]
		}
		for rank, s := range l.points {
			var contrib float32
			if w > 0 {
				contrib = 1 / (float32(rank+1)/w + float32(k) - 1)
			}
			sum.add(s.p, contrib)
		}
	}
	return sum.points()
}

// fusedSum adds up each point's contributions from the fused lists,
// keeping points in the order they were first seen.
type fusedSum struct {
	acc   map[string]*scored
	order []string
}

func (f *fusedSum) add(p *point, x float32) {
	if e, ok := f.acc[p.key]; ok {
		e.score += x
		return
	}
	if f.acc == nil {
		f.acc = map[string]*scored{}
	}
	f.acc[p.key] = &scored{p: p, score: x}
	f.order = append(f.order, p.key)
}

func (f *fusedSum) points() []scored {
	out := make([]scored, 0, len(f.order))
	for _, key := range f.order {
		out = append(out, *f.acc[key])
	}
	return out
}

// dbsf is Qdrant's distribution-based score fusion: each list normalised
// with mean ± 3 sample standard deviations as the extremes, then summed.
// Distances (ascending lists) are negated first so larger is better.
func dbsf(lists []result) []scored {
	var sum fusedSum
	for _, l := range lists {
		scores := make([]float32, len(l.points))
		for i, s := range l.points {
			scores[i] = s.score
			if l.ascending {
				scores[i] = -s.score
			}
		}
		for i, x := range distrNorm(scores) {
			sum.add(l.points[i].p, x)
		}
	}
	return sum.points()
}

// distrNorm maps scores to (s − (μ − 3σ)) / 6σ with Welford's mean and the
// sample variance, in float32 as Qdrant computes it; one score, or σ = 0,
// gives 0.5.
func distrNorm(scores []float32) []float32 {
	out := make([]float32, len(scores))
	if len(scores) < 2 {
		for i := range out {
			out[i] = 0.5
		}
		return out
	}
	var mean, agg float32
	for k, s := range scores {
		old := s - mean
		mean += old / float32(k+1)
		agg += old * (s - mean)
	}
	std := float32(math.Sqrt(float64(agg / float32(len(scores)-1))))
	lo, hi := mean-3*std, mean+3*std
	for i, s := range scores {
		if lo == hi {
			out[i] = 0.5
		} else {
			out[i] = (s - lo) / (hi - lo)
		}
	}
	return out
}

// formula evaluates a formula over the union of the prefetch results.
func formula(f *pb.Formula, lists []result) ([]scored, error) {
	byList := make([]map[string]float32, len(lists))
	var union []*point
	seen := map[string]bool{}
	for i, l := range lists {
		byList[i] = map[string]float32{}
		for _, s := range l.points {
			byList[i][s.p.key] = s.score
			if !seen[s.p.key] {
				seen[s.p.key] = true
				union = append(union, s.p)
			}
		}
	}
	ev := &evaluator{byList: byList, defaults: f.GetDefaults()}
	expr, err := ev.compile(f.GetExpression())
	if err != nil {
		return nil, err
	}
	out := make([]scored, 0, len(union))
	for _, p := range union {
		v, err := expr(p)
		if err != nil {
			return nil, err
		}
		out = append(out, scored{p: p, score: float32(v)})
	}
	return out, nil
}

type evaluator struct {
	byList   []map[string]float32
	defaults map[string]*pb.Value
}

type exprFn func(p *point) (float64, error)

func (ev *evaluator) compile(e *pb.Expression) (exprFn, error) {
	if e == nil {
		return nil, invalidf("Wrong input: formula expression is empty")
	}
	list := func(es []*pb.Expression) ([]exprFn, error) {
		out := make([]exprFn, len(es))
		for i, x := range es {
			var err error
			if out[i], err = ev.compile(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	unary := func(x *pb.Expression, op func(float64) float64, name string) (exprFn, error) {
		f, err := ev.compile(x)
		if err != nil {
			return nil, err
		}
		return func(p *point) (float64, error) {
			v, err := f(p)
			if err != nil {
				return 0, err
			}
			r := op(v)
			if math.IsNaN(r) || math.IsInf(r, 0) {
				return 0, invalidf("Wrong input: non-finite number in formula: %s(%v) = %v", name, v, r)
			}
			return r, nil
		}, nil
	}
	switch x := e.GetVariant().(type) {
	case *pb.Expression_Constant:
		c := float64(x.Constant)
		return func(*point) (float64, error) { return c, nil }, nil
	case *pb.Expression_Variable:
		return ev.variable(x.Variable)
	case *pb.Expression_Condition:
		c, err := compileCondition(x.Condition)
		if err != nil {
			return nil, err
		}
		return func(p *point) (float64, error) {
			if c(p) {
				return 1, nil
			}
			return 0, nil
		}, nil
	case *pb.Expression_Sum:
		fs, err := list(x.Sum.GetSum())
		if err != nil {
			return nil, err
		}
		return func(p *point) (float64, error) {
			var s float64
			for _, f := range fs {
				v, err := f(p)
				if err != nil {
					return 0, err
				}
				s += v
			}
			return s, nil
		}, nil
	case *pb.Expression_Mult:
		fs, err := list(x.Mult.GetMult())
		if err != nil {
			return nil, err
		}
		return func(p *point) (float64, error) {
			prod := 1.0
			for _, f := range fs {
				v, err := f(p)
				if err != nil {
					return 0, err
				}
				if v == 0 {
					return 0, nil
				}
				prod *= v
			}
			return prod, nil
		}, nil
	case *pb.Expression_Div:
		l, err := ev.compile(x.Div.GetLeft())
		if err != nil {
			return nil, err
		}
		r, err := ev.compile(x.Div.GetRight())
		if err != nil {
			return nil, err
		}
		byZero := x.Div.ByZeroDefault
		return func(p *point) (float64, error) {
			a, err := l(p)
			if err != nil || a == 0 {
				return 0, err
			}
			b, err := r(p)
			if err != nil {
				return 0, err
			}
			if b == 0 && byZero != nil {
				return float64(*byZero), nil
			}
			q := a / b
			if math.IsNaN(q) || math.IsInf(q, 0) {
				return 0, invalidf("Wrong input: non-finite number in formula: %v/%v = %v", a, b, q)
			}
			return q, nil
		}, nil
	case *pb.Expression_Neg:
		return unary(x.Neg, func(v float64) float64 { return -v }, "neg")
	case *pb.Expression_Abs:
		return unary(x.Abs, math.Abs, "abs")
	case *pb.Expression_Sqrt:
		return unary(x.Sqrt, math.Sqrt, "sqrt")
	case *pb.Expression_Exp:
		return unary(x.Exp, math.Exp, "exp")
	case *pb.Expression_Ln:
		return unary(x.Ln, math.Log, "ln")
	case *pb.Expression_Log10:
		return unary(x.Log10, math.Log10, "log10")
	default:
		return nil, invalidf("Wrong input: formula expression %T is not supported by the embedded server", x)
	}
}

// variable resolves "$score", "$score[i]" or a numeric payload key.
func (ev *evaluator) variable(name string) (exprFn, error) {
	def, hasDef := ev.defaults[name]
	if name == "$score" || strings.HasPrefix(name, "$score[") {
		i := 0
		if name != "$score" {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "$score["), "]"))
			if err != nil || !strings.HasSuffix(name, "]") || n < 0 {
				return nil, invalidf("Wrong input: invalid formula variable %q", name)
			}
			i = n
		}
		if i >= len(ev.byList) {
			return nil, invalidf("Wrong input: formula variable %s refers to prefetch %d but there are %d", name, i, len(ev.byList))
		}
		fallback := 0.0
		if hasDef {
			if v, ok := number(def); ok {
				fallback = v
			}
		}
		scores := ev.byList[i]
		return func(p *point) (float64, error) {
			if s, ok := scores[p.key]; ok {
				return float64(s), nil
			}
			return fallback, nil
		}, nil
	}
	return func(p *point) (float64, error) {
		for _, v := range lookup(p.payload, name) {
			if x, ok := number(v); ok {
				return x, nil
			}
		}
		if hasDef {
			if x, ok := number(def); ok {
				return x, nil
			}
		}
		return 0, invalidf("Wrong input: formula variable %q: no number in the payload of point %s nor in defaults", name, keyString(p.id))
	}, nil
}

// errNotFoundPoint is a query by id for a point that does not exist.
type errNotFoundPoint struct{ key string }

func (e errNotFoundPoint) Error() string {
	return "No point with id " + keyString(idFromKey(e.key)) + " found"
}
