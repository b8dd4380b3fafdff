package qdrant

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/spladeq/spladeq/internal/synth"
	"github.com/spladeq/spladeq/splade"
)

// benchDocs is the corpus size: $SPLADEQ_BENCH_DOCS or 100000.
func benchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkHybridVsSingleMode loads N synthetic documents (about 120
// Zipf-distributed non-zeros each, 384-d dense vectors) into the embedded
// store and, in every iteration, runs the same query as sparse-only,
// dense-only and hybrid (RRF, 100 candidates a side) through the connector
// over gRPC. It reports each mode's p50 and p99 and hybrid's p50 as a
// multiple of each single mode's.
func BenchmarkHybridVsSingleMode(b *testing.B) {
	ctx := context.Background()
	n := benchDocs()
	c, err := Open(ctx, Config{URL: EmbeddedScheme + b.TempDir(), BatchSize: 2000, Concurrency: 1, Timeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const dim = 384
	if err := c.EnsureCollection(ctx, CollectionSpec{Name: "bench", Dense: &DenseSpec{Size: dim}, Sparse: &SparseSpec{}}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const chunk = 10_000
	for off := 0; off < n; off += chunk {
		m := min(chunk, n-off)
		sparse := synth.SparseVectors(m, 120, 30522, int64(off+1))
		dense := synth.DenseVectors(m, dim, int64(off+2))
		docs := make([]Document, m)
		for i := range docs {
			docs[i] = Document{ID: "doc-" + strconv.Itoa(off+i), Sparse: splade.SparseVector(sparse[i]), Dense: dense[i]}
		}
		if err := c.Upsert(ctx, "bench", docs, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d documents in %v", n, time.Since(start).Round(time.Millisecond))

	queries := synth.SparseVectors(64, 40, 30522, 999)
	qdense := synth.DenseVectors(64, dim, 998)
	modes := []Mode{ModeSparse, ModeDense, ModeHybrid}
	lat := map[Mode][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := i % len(queries)
		for _, mode := range modes {
			req := SearchRequest{Mode: mode, Sparse: splade.SparseVector(queries[q]), Dense: qdense[q], Limit: 10, PrefetchLimit: 100}
			t0 := time.Now()
			if _, err := c.Search(ctx, "bench", req, WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			lat[mode] = append(lat[mode], time.Since(t0))
		}
	}
	b.StopTimer()
	p := func(mode Mode, q float64) float64 {
		d := append([]time.Duration(nil), lat[mode]...)
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	for _, mode := range modes {
		b.ReportMetric(p(mode, 0.5), fmt.Sprintf("%s-p50-ms", mode))
		b.ReportMetric(p(mode, 0.99), fmt.Sprintf("%s-p99-ms", mode))
	}
	b.ReportMetric(p(ModeHybrid, 0.5)/p(ModeSparse, 0.5), "hybrid/sparse-p50")
	b.ReportMetric(p(ModeHybrid, 0.5)/p(ModeDense, 0.5), "hybrid/dense-p50")
}
