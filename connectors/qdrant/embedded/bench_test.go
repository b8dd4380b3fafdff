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
// collection and runs 40-term queries for exact top-10, reporting p50/p99,
// heap bytes per document, and checking every result against a brute-force
// scan.
func BenchmarkSparseSearch(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_DOCS")); err == nil && v > 0 {
		n = v
	}
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
		for i, v := range synth.SparseVectors(m, 120, 30522, int64(off+1)) {
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
	queries := synth.SparseVectors(50, 40, 30522, 777)
	// Exactness: the index's top-10 equals a brute-force scan's.
	for _, q := range queries[:5] {
		got := c.nearestSparse(node{using: "s", limit: 10}, c.sparse["s"], sparseVec{q.Indices, q.Values}, nil).points
		want := bruteForce(c, q, 10)
		for i := range want {
			if got[i].p.key != want[i].p.key || got[i].score != want[i].score {
				b.Fatalf("rank %d: index %s %v, brute force %s %v", i, got[i].p.key, got[i].score, want[i].p.key, want[i].score)
			}
		}
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := queries[i%len(queries)]
		t0 := time.Now()
		c.nearestSparse(node{using: "s", limit: 10}, c.sparse["s"], sparseVec{q.Indices, q.Values}, nil)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(n), "heap-bytes/doc")
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
