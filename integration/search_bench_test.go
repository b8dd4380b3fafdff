package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/internal/synth"
	"github.com/spladeq/spladeq/splade"
)

// BenchmarkSearchEmbeddedVsQdrant loads the same synthetic vectors (120
// non-zeros per document with a Zipf-like term distribution, 384-d dense)
// into the embedded store and into a real Qdrant node, then runs the same
// 200 queries (40-term sparse, dense, hybrid RRF) on both, alternating:
// p50/p99 per store and mode, their ratio, and the top-10 agreement
// (overlap of the returned ids). $SPLADEQ_SEARCH_DOCS sets the size
// (default 100000); SPLADEQ_SEARCH_SPARSE_ONLY=1 loads and runs sparse only
// (no dense vectors, so no HNSW index to build); SPLADEQ_SEARCH_EXACT_DENSE=1
// starts Qdrant with no HNSW graph, so both stores search dense vectors
// exactly (the 1M hybrid run).
//
//	go test -run '^$' -bench SearchEmbeddedVsQdrant -benchtime 1x -timeout 60m ./integration/
func BenchmarkSearchEmbeddedVsQdrant(b *testing.B) {
	docs := 100000
	if n, err := strconv.Atoi(os.Getenv("SPLADEQ_SEARCH_DOCS")); err == nil && n > 0 {
		docs = n
	}
	const dim, queries = 384, 200
	sparseOnly := os.Getenv("SPLADEQ_SEARCH_SPARSE_ONLY") == "1"
	modes := []qdrant.Mode{qdrant.ModeSparse, qdrant.ModeDense, qdrant.ModeHybrid}
	spec := qdrant.CollectionSpec{Name: "bench", Dense: &qdrant.DenseSpec{Size: dim}, Sparse: &qdrant.SparseSpec{}}
	if sparseOnly {
		modes, spec.Dense = modes[:1], nil
	}
	// SPLADEQ_SEARCH_EXACT_DENSE=1: Qdrant builds no HNSW graph (m = 0),
	// so its dense search scans every vector, exactly, as the embedded
	// store does (and a million dense vectors load in minutes, not hours,
	// on this machine's test build).
	var env []string
	if os.Getenv("SPLADEQ_SEARCH_EXACT_DENSE") == "1" {
		env = append(env, "QDRANT__STORAGE__HNSW_INDEX__M=0")
	}
	node := qdranttest.Start(b, qdranttest.Options{Env: env})
	ctx := context.Background()
	open := func(url string) *qdrant.Client {
		c, err := qdrant.Open(ctx, qdrant.Config{URL: url, BatchSize: 1000, Concurrency: 2, Timeout: 5 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if err := c.EnsureCollection(ctx, spec); err != nil {
			b.Fatal(err)
		}
		return c
	}
	stores := map[string]*qdrant.Client{"embedded": open(qdrant.EmbeddedScheme + b.TempDir()), "qdrant": open(node.GRPCAddr())}
	load := time.Now()
	for off := 0; off < docs; off += 10000 {
		m := min(10000, docs-off)
		sparse := synth.SparseVectorsFreqWeighted(m, 120, 30522, int64(off+1))
		var dense [][]float32
		if !sparseOnly {
			dense = synth.DenseVectors(m, dim, int64(off+2))
		}
		batch := make([]qdrant.Document, m)
		for i := range batch {
			batch[i] = qdrant.Document{ID: fmt.Sprint("d", off+i), Sparse: splade.SparseVector(sparse[i])}
			if !sparseOnly {
				batch[i].Dense = dense[i]
			}
		}
		for _, c := range stores {
			if err := c.Upsert(ctx, "bench", batch, qdrant.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("loaded %d documents into both stores in %v", docs, time.Since(load).Round(time.Second))
	// Let Qdrant finish indexing before timing it: its optimizer would
	// take cores from both stores' searches.
	idle := time.Now()
	if err := node.WaitIdle("bench", 30*time.Minute); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	b.Logf("Qdrant idle after %v more", time.Since(idle).Round(time.Second))
	qs, qd := synth.SparseVectorsFreqWeighted(queries, 40, 30522, 999), synth.DenseVectors(queries, dim, 998)
	for n := 0; n < b.N; n++ {
		lat := map[string][]time.Duration{}
		agree := map[qdrant.Mode]float64{}
		for i := 0; i < queries; i++ {
			for _, m := range modes {
				req := qdrant.SearchRequest{Mode: m, Sparse: splade.SparseVector(qs[i]), Dense: qd[i], Limit: 10}
				ids := map[string][]string{}
				for _, name := range []string{"embedded", "qdrant"} {
					t0 := time.Now()
					hits, err := stores[name].Search(ctx, "bench", req, qdrant.WriteOptions{})
					if err != nil {
						b.Fatal(err)
					}
					lat[name+" "+string(m)] = append(lat[name+" "+string(m)], time.Since(t0))
					for _, h := range hits {
						ids[name] = append(ids[name], h.ID)
					}
				}
				shared := 0
				for _, a := range ids["embedded"] {
					for _, q := range ids["qdrant"] {
						if a == q {
							shared++
						}
					}
				}
				agree[m] += float64(shared) / float64(max(len(ids["qdrant"]), 1)) / queries
			}
		}
		for _, m := range modes {
			e, q := lat["embedded "+string(m)], lat["qdrant "+string(m)]
			b.ReportMetric(ms(pctl(e, 0.5)), "embedded-"+string(m)+"-p50-ms")
			b.ReportMetric(ms(pctl(e, 0.99)), "embedded-"+string(m)+"-p99-ms")
			b.ReportMetric(ms(pctl(q, 0.5)), "qdrant-"+string(m)+"-p50-ms")
			b.ReportMetric(ms(pctl(q, 0.99)), "qdrant-"+string(m)+"-p99-ms")
			b.ReportMetric(ms(pctl(e, 0.5))/ms(pctl(q, 0.5)), "embedded/qdrant-"+string(m)+"-p50")
			b.ReportMetric(agree[m], string(m)+"-top10-agreement")
		}
	}
}

func pctl(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }
