package embedded

import (
	"os"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	pb "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/internal/synth"
)

// BenchmarkSparseSearch loads $SPLADEQ_BENCH_DOCS (default 100000)
// SPLADE-like documents (about 120 Zipf-distributed non-zeros each) into a
// collection and runs 40-term queries for exact top-10, each with MaxScore
// pruning (p50-ms, p99-ms: the store's default) and exhaustively, reporting
// both and heap bytes per document, and checking results against a
// brute-force scan and against each other. Two weight
// distributions: "uniform" (weights independent of term frequency: the
// worst case for pruning) and "freq-weighted" (frequent terms light, as in
// trained SPLADE models).
func BenchmarkSparseSearch(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_DOCS")); err == nil && v > 0 {
		n = v
	}
	for _, dist := range []struct {
		name string
		gen  func(n, nnz, vocab int, seed int64) []synth.Sparse
	}{{"uniform", synth.SparseVectors}, {"freq-weighted", synth.SparseVectorsFreqWeighted}} {
		b.Run(dist.name, func(b *testing.B) { benchSparseSearch(b, n, dist.gen) })
	}
}

func benchSparseSearch(b *testing.B, n int, gen func(n, nnz, vocab int, seed int64) []synth.Sparse) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := newCollection(&pb.CreateCollection{CollectionName: "b",
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {}})})
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < n; off += 50_000 {
		m := min(50_000, n-off)
		for i, v := range gen(m, 120, 30522, int64(off+1)) {
			p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(uint64(off + i)),
				Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"s": pb.NewVectorSparse(v.Indices, v.Values)})})
			if err != nil {
				b.Fatal(err)
			}
			c.put(p)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	qnnz := 40
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_QUERY_TERMS")); err == nil && v > 0 {
		qnnz = v
	}
	queries := gen(50, qnnz, 30522, 777)
	heap := float64(after.HeapInuse-before.HeapInuse) / float64(n)
	// Exactness: the index's top-10 equals a brute-force scan's, with and
	// without pruning.
	for _, exhaustive := range []bool{false, true} {
		c.exhaustive = exhaustive
		for _, q := range queries[:5] {
			got := c.nearestSparse(node{using: "s", limit: 10}, c.sparse["s"], sparseVec{q.Indices, q.Values}, nil).points
			want := bruteForce(c, q, 10)
			for i := range want {
				if got[i].p.key != want[i].p.key || got[i].score != want[i].score {
					b.Fatalf("exhaustive=%v rank %d: index %s %v, brute force %s %v", exhaustive, i, got[i].p.key, got[i].score, want[i].p.key, want[i].score)
				}
			}
		}
	}
	// Each iteration runs one query both ways, alternating which goes
	// first, so drift of this shared machine hits both alike.
	pruned := c.prunedRanges.Load()
	var lat [2][]time.Duration // [maxscore, exhaustive]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := queries[i%len(queries)]
		var res [2][]scored
		for j := 0; j < 2; j++ {
			v := (i + j) % 2
			c.exhaustive = v == 1
			t0 := time.Now()
			res[v] = c.nearestSparse(node{using: "s", limit: 10}, c.sparse["s"], sparseVec{q.Indices, q.Values}, nil).points
			lat[v] = append(lat[v], time.Since(t0))
		}
		for r := range res[1] {
			if res[0][r].p.key != res[1][r].p.key || res[0][r].score != res[1][r].score {
				b.Fatalf("query %d rank %d: pruned %s, exhaustive %s", i, r, res[0][r].p.key, res[1][r].p.key)
			}
		}
	}
	b.StopTimer()
	p := func(l []time.Duration, f float64) float64 {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return float64(l[int(f*float64(len(l)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(lat[0], 0.5), "p50-ms")
	b.ReportMetric(p(lat[0], 0.99), "p99-ms")
	b.ReportMetric(p(lat[1], 0.5), "exhaustive-p50-ms")
	b.ReportMetric(p(lat[1], 0.99), "exhaustive-p99-ms")
	b.ReportMetric(float64(c.prunedRanges.Load()-pruned)/float64(b.N), "pruned-ranges/query")
	b.ReportMetric(heap, "heap-bytes/doc")
	b.ReportMetric(float64(n), "docs")
}

func bruteForce(c *collection, q synth.Sparse, k int) []scored {
	qi, qw := q.Indices, make([]float64, len(q.Values))
	for i, v := range q.Values {
		qw[i] = float64(v)
	}
	var all []scored
	for _, p := range c.slots {
		if p == nil {
			continue
		}
		if s, shared := sparseDot(qi, qw, p.sparse["s"]); shared {
			all = append(all, scored{p: p, score: float32(s)})
		}
	}
	sortScored(all, false)
	return all[:min(k, len(all))]
}

// BenchmarkDenseSearch: exact top-10 over $SPLADEQ_BENCH_DOCS (default
// 200000) 384-d cosine vectors, the full scan the embedded store does.
func BenchmarkDenseSearch(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_DOCS")); err == nil && v > 0 {
		n = v
	}
	const dim = 384
	c, err := newCollection(&pb.CreateCollection{CollectionName: "d",
		VectorsConfig: pb.NewVectorsConfigMap(map[string]*pb.VectorParams{"d": {Size: dim, Distance: pb.Distance_Cosine}})})
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < n; off += 50_000 {
		for i, v := range synth.DenseVectors(min(50_000, n-off), dim, int64(off+1)) {
			p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(uint64(off + i)),
				Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"d": pb.NewVectorDense(v)})})
			if err != nil {
				b.Fatal(err)
			}
			c.put(p)
		}
	}
	queries := synth.DenseVectors(20, dim, 99)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res := c.nearestDense(node{using: "d", limit: 10}, c.dense["d"], queries[i%len(queries)], nil)
		lat = append(lat, time.Since(t0))
		if len(res.points) != 10 {
			b.Fatalf("%d results", len(res.points))
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(n*dim*4)/lat[len(lat)/2].Seconds()/1e9, "GB/s")
}
