package embedded

import (
	"math/rand"
	"sort"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/internal/synth"
)

// prunableCollection holds n SPLADE-like points in sparse spaces "s"
// (plain), "idf" (IDF modifier) and "neg" (with some negative weights, so
// never pruned), with a payload field "even", after deleting every 7th point
// and re-putting every 5th, so the postings hold dead slots.
func prunableCollection(t testing.TB, n int) *collection {
	t.Helper()
	c, err := newCollection(&pb.CreateCollection{CollectionName: "m",
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{
			"s": {}, "idf": {Modifier: pb.Modifier_Idf.Enum()}, "neg": {}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	vecs := synth.SparseVectors(n, 60, 2000, 5)
	put := func(i int, v synth.Sparse) {
		neg := synth.Sparse{Indices: v.Indices, Values: append([]float32(nil), v.Values...)}
		if i%3 == 0 {
			neg.Values[0] = -neg.Values[0]
		}
		p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(uint64(i)),
			Payload: map[string]*pb.Value{"even": pb.NewValueBool(i%2 == 0)},
			Vectors: pb.NewVectorsMap(map[string]*pb.Vector{
				"s":   pb.NewVectorSparse(v.Indices, v.Values),
				"idf": pb.NewVectorSparse(v.Indices, v.Values),
				"neg": pb.NewVectorSparse(neg.Indices, neg.Values),
			})})
		if err != nil {
			t.Fatal(err)
		}
		c.put(p)
	}
	for i, v := range vecs {
		put(i, v)
	}
	for i := 0; i < n; i += 7 {
		p, _ := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(uint64(i))})
		c.del(p.key)
	}
	for i := 0; i < n; i += 5 {
		put(i, vecs[(i*31)%n])
	}
	return c
}

// TestMaxScoreEqualsExhaustiveSearch runs the same queries with and without
// MaxScore pruning and requires identical results — same points, same
// scores, same order — for several limits, thresholds, filters, IDF and
// negative weights, zero query weights, and dead slots; and requires that
// pruning actually happened on most of the prunable queries (or this test
// would prove nothing). The benchmark checks both against brute force too.
func TestMaxScoreEqualsExhaustiveSearch(t *testing.T) {
	c := prunableCollection(t, 20_000)
	queries := synth.SparseVectors(60, 30, 2000, 99)
	rng := rand.New(rand.NewSource(3))
	for _, q := range queries[:10] {
		q.Values[rng.Intn(len(q.Values))] = 0
	}
	even, err := compileFilter(&pb.Filter{Must: []*pb.Condition{pb.NewMatchBool("even", true)}})
	if err != nil {
		t.Fatal(err)
	}
	thr := float32(8)
	cases := []struct {
		name string
		n    node
	}{
		{"top-10", node{using: "s", limit: 10}},
		{"top-1", node{using: "s", limit: 1}},
		{"top-100", node{using: "s", limit: 100}},
		{"idf top-10", node{using: "idf", limit: 10}},
		{"threshold", node{using: "s", limit: 10, threshold: &thr}},
		{"filter (not pruned)", node{using: "s", limit: 10, filter: even}},
		{"negative weights (not pruned)", node{using: "neg", limit: 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.prunedRanges.Load()
			for qi, q := range queries {
				sv := sparseVec{idx: q.Indices, val: q.Values}
				sp := c.sparse[tc.n.using]
				c.exhaustive = true
				want := c.nearestSparse(tc.n, sp, sv, nil).points
				c.exhaustive = false
				got := c.nearestSparse(tc.n, sp, sv, nil).points
				if len(got) != len(want) {
					t.Fatalf("query %d: %d results, exhaustive %d", qi, len(got), len(want))
				}
				for i := range want {
					if got[i].p.key != want[i].p.key || got[i].score != want[i].score {
						t.Fatalf("query %d rank %d: pruned %s %v, exhaustive %s %v", qi, i, got[i].p.key, got[i].score, want[i].p.key, want[i].score)
					}
				}
			}
			pruned := c.prunedRanges.Load() - before
			// One worker covers 20,000 slots, so a pruned range is a pruned query.
			t.Logf("%d of %d queries pruned", pruned, len(queries))
			switch {
			case tc.n.filter != nil || tc.n.using == "neg":
				if pruned != 0 {
					t.Errorf("%d queries pruned where pruning must not apply", pruned)
				}
			case pruned < int64(len(queries))/2:
				t.Errorf("only %d of %d queries pruned", pruned, len(queries))
			}
		})
	}
}

func TestAdvanceGallops(t *testing.T) {
	var list []posting
	for s := int32(0); s < 1000; s += 3 {
		list = append(list, posting{slot: s})
	}
	for p := 0; p < len(list); p += 17 {
		for slot := int32(0); slot < 1003; slot += 7 {
			got := advance(list, p, slot)
			want := p
			for want < len(list) && list[want].slot < slot {
				want++
			}
			if got != want {
				t.Fatalf("advance(p=%d, slot=%d) = %d, want %d", p, slot, got, want)
			}
		}
	}
	if got := advance(nil, 0, 5); got != 0 {
		t.Errorf("empty list: %d", got)
	}
}

// TestMaxScoreWithTightBounds makes the bounds exact: every stored weight
// is 1, so a term's bound is its query weight, and for every query and every
// split point there is a "sleeper" document holding exactly the query's
// lighter terms from that point on — it scores exactly the bound MaxScore
// compares against when it decides to stop admitting new documents. A
// pruning rule even slightly too eager loses a sleeper from the top k.
func TestMaxScoreWithTightBounds(t *testing.T) {
	c, err := newCollection(&pb.CreateCollection{CollectionName: "t",
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {}})})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(11))
	id := uint64(0)
	add := func(terms []uint32) {
		sorted := append([]uint32(nil), terms...)
		sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
		ones := make([]float32, len(sorted))
		for i := range ones {
			ones[i] = 1
		}
		p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(id),
			Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"s": pb.NewVectorSparse(sorted, ones)})})
		if err != nil {
			t.Fatal(err)
		}
		id++
		c.put(p)
	}
	for i := 0; i < 40000; i++ {
		add(distinct(rng, 3+rng.Intn(12), 60))
	}
	type query struct {
		idx []uint32
		val []float32
	}
	var queries []query
	for qi := 0; qi < 40; qi++ {
		terms := distinct(rng, 20, 60)
		byWeight := make([]float32, len(terms))
		for i := range byWeight {
			byWeight[i] = 0.5 + 2.5*rng.Float32()
		}
		// Sleepers: the terms from split s on, heaviest query weight first.
		order := make([]int, len(terms))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return byWeight[order[a]] > byWeight[order[b]] })
		for s := 1; s < len(order); s++ {
			var sleeper []uint32
			for _, j := range order[s:] {
				sleeper = append(sleeper, terms[j])
			}
			add(sleeper)
		}
		q := query{}
		idx := make([]int, len(terms))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return terms[idx[a]] < terms[idx[b]] })
		for _, i := range idx {
			q.idx = append(q.idx, terms[i])
			q.val = append(q.val, byWeight[i])
		}
		queries = append(queries, q)
	}
	before := c.prunedRanges.Load()
	for _, k := range []int{1, 3, 10} {
		for qi, q := range queries {
			n := node{using: "s", limit: k}
			c.exhaustive = true
			want := c.nearestSparse(n, c.sparse["s"], sparseVec{q.idx, q.val}, nil).points
			c.exhaustive = false
			got := c.nearestSparse(n, c.sparse["s"], sparseVec{q.idx, q.val}, nil).points
			for i := range want {
				if i >= len(got) || got[i].p.key != want[i].p.key || got[i].score != want[i].score {
					t.Fatalf("k=%d query %d rank %d: pruned %v, exhaustive %s %v", k, qi, i, got, want[i].p.key, want[i].score)
				}
			}
		}
	}
	if pruned := c.prunedRanges.Load() - before; pruned < 60 {
		t.Errorf("only %d of 120 searches pruned", pruned)
	}
}

// distinct returns n distinct ids below vocab.
func distinct(rng *rand.Rand, n, vocab int) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for len(out) < n {
		x := uint32(rng.Intn(vocab))
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// TestMaxScoreKeepsDocumentsAtTheBound builds the case MaxScore must get
// right to the last percent: the first window holds one document scoring
// exactly 1 (term A), so θ = 1 for top-1; the second window holds a
// document made of the light terms B and C whose bounds add up to 1.01 —
// exactly its score, since every stored weight is its list's maximum. It
// must win. A rule that called B non-essential, or dropped the candidate
// before probing C, a bare 5% too early, would return the first document.
func TestMaxScoreKeepsDocumentsAtTheBound(t *testing.T) {
	c, err := newCollection(&pb.CreateCollection{CollectionName: "b",
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {}})})
	if err != nil {
		t.Fatal(err)
	}
	const A, B, C, Z = 1, 2, 3, 99
	add := func(id uint64, idx []uint32) {
		vals := make([]float32, len(idx))
		for i := range vals {
			vals[i] = 1
		}
		p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(id),
			Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"s": pb.NewVectorSparse(idx, vals)})})
		if err != nil {
			t.Fatal(err)
		}
		c.put(p)
	}
	add(0, []uint32{A})
	for id := uint64(1); id < window; id++ {
		add(id, []uint32{Z})
	}
	add(window, []uint32{B, C})
	// Documents with C alone make C's list long in the second window, so
	// it is probed at the candidates rather than read in full.
	for id := uint64(window + 1); id < window+12; id++ {
		add(id, []uint32{C})
	}
	q := sparseVec{idx: []uint32{A, B, C}, val: []float32{1, 0.6, 0.41}}
	for _, exhaustive := range []bool{true, false} {
		c.exhaustive = exhaustive
		got := c.nearestSparse(node{using: "s", limit: 1}, c.sparse["s"], q, nil).points
		if len(got) != 1 || got[0].p.key != c.slots[window].key {
			t.Fatalf("exhaustive=%v: top-1 %v, want the B+C document (score 1.01)", exhaustive, got)
		}
	}
	if c.prunedRanges.Load() == 0 {
		t.Error("the second window was not pruned: the test proves nothing")
	}
}

// TestBlockMaxSkipsWindows: ten documents in the first block of slots
// match the query far more strongly than anything stored after them, so
// once they are held every later block's bounds (each term's largest weight
// in that block) sum below the 10th score and block-max must skip those
// windows without reading a posting — while returning exactly the
// exhaustive top 10, and a later document that does beat them (put last,
// in the last block) must still be found.
func TestBlockMaxSkipsWindows(t *testing.T) {
	c, err := newCollection(&pb.CreateCollection{CollectionName: "b",
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {}})})
	if err != nil {
		t.Fatal(err)
	}
	id := uint64(0)
	put := func(v synth.Sparse) {
		p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(id),
			Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"s": pb.NewVectorSparse(v.Indices, v.Values)})})
		if err != nil {
			t.Fatal(err)
		}
		id++
		c.put(p)
	}
	query := synth.Sparse{Indices: []uint32{3, 10, 42, 77, 100}, Values: []float32{1, 1, 1, 1, 1}}
	strong := func(w float32) synth.Sparse {
		v := synth.Sparse{Indices: query.Indices}
		for range query.Indices {
			v.Values = append(v.Values, w)
		}
		return v
	}
	for i := 0; i < 10; i++ {
		put(strong(50 + float32(i)))
	}
	for _, v := range synth.SparseVectors(8*window, 60, 2000, 21) {
		put(v) // weights in (0, 1]: at most 5 for the query
	}
	put(strong(1000)) // the best document, in the last block
	sv := sparseVec{idx: query.Indices, val: query.Values}
	n := node{using: "s", limit: 10}
	c.exhaustive = true
	want := c.nearestSparse(n, c.sparse["s"], sv, nil).points
	c.exhaustive = false
	before := c.skippedWindows.Load()
	got := c.nearestSparse(n, c.sparse["s"], sv, nil).points
	skipped := c.skippedWindows.Load() - before
	if len(got) != len(want) {
		t.Fatalf("%d results, exhaustive %d", len(got), len(want))
	}
	for i := range want {
		if got[i].p.key != want[i].p.key || got[i].score != want[i].score {
			t.Fatalf("rank %d: block-max %s %v, exhaustive %s %v", i, got[i].p.key, got[i].score, want[i].p.key, want[i].score)
		}
	}
	if last, _ := pointKey(pb.NewIDNum(id - 1)); got[0].p.key != last {
		t.Errorf("the strongest document (last block) is not first: %s", got[0].p.key)
	}
	// 9 blocks, at most two workers: the first starts with the strong ten
	// and skips the rest of its at least 4 blocks; another worker's first
	// window fills its own top 10.
	if skipped < 3 {
		t.Errorf("block-max skipped %d windows, want at least 3 of 9", skipped)
	}
	t.Logf("skipped %d of 9 windows", skipped)
}
