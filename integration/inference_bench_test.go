package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin"
)

// BenchmarkQdrantInferenceVsOwnPath compares, in one run against one real
// Qdrant: upserting 1,000 documents as Documents through Qdrant's
// server-side inference (Qdrant calls spladeq over HTTP) with spladeq's own
// upsert path into the same Qdrant (spladeq encodes, then upserts vectors
// over gRPC); and hybrid RRF queries sent to Qdrant as Documents with
// spladeq's own search (Service.Search, what /v1/.../search runs). Both
// paths share one Service, its models and micro-batchers; 64 documents per
// request; the paths alternate per batch so drift hits both alike.
//
//	go test -run '^$' -bench QdrantInferenceVsOwnPath -benchtime 1x ./integration/
func BenchmarkQdrantInferenceVsOwnPath(b *testing.B) {
	const docs, batch, queries = 1000, 64, 50
	var all []plugin.DocumentInput
	for i := 0; i < docs; i++ {
		d := inferenceDocs[i%len(inferenceDocs)]
		all = append(all, plugin.DocumentInput{ID: fmt.Sprint("doc", i), Text: fmt.Sprintf("%s Record %d of the benchmark corpus, on %s.", d.Text, i, d.ID)})
	}
	var node *qdranttest.Node
	_, srv := inferenceService(b, func(c *config.Config) {})
	node = qdranttest.Start(b, qdranttest.Options{InferenceAddress: srv.URL + "/v1/qdrant/inference", InferenceToken: inferenceToken})
	// The service's store is the real Qdrant too.
	own, _ := inferenceService(b, func(c *config.Config) { c.Qdrant.URL = node.GRPCAddr() })
	ctx := context.Background()
	client, err := rawClient(node.GRPCAddr(), "")
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	for n := 0; n < b.N; n++ {
		viaName, ownName := fmt.Sprint("via_inference_", n), fmt.Sprint("own_", n)
		err := client.CreateCollection(ctx, &qc.CreateCollection{CollectionName: viaName,
			VectorsConfig:       qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"dense": {Size: 384, Distance: qc.Distance_Cosine}}),
			SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"splade": {}, "bm25": {Modifier: qc.Modifier_Idf.Enum()}})})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := own.EnsureCollection(ctx, ownName, plugin.CollectionConfig{}); err != nil {
			b.Fatal(err)
		}
		var via, mine time.Duration
		wait := true
		for lo := 0; lo < docs; lo += batch {
			part := all[lo:min(lo+batch, docs)]
			pts := documentPoints(part)
			start := time.Now()
			if _, err := client.Upsert(ctx, &qc.UpsertPoints{CollectionName: viaName, Wait: &wait, Points: pts}); err != nil {
				b.Fatal(err)
			}
			via += time.Since(start)
			start = time.Now()
			if _, err := own.UpsertDocuments(ctx, ownName, part); err != nil {
				b.Fatal(err)
			}
			mine += time.Since(start)
		}
		b.ReportMetric(docs/via.Seconds(), "inference-docs/s")
		b.ReportMetric(docs/mine.Seconds(), "own-docs/s")
		b.ReportMetric(mine.Seconds()/via.Seconds(), "inference/own-throughput")

		pl, l := uint64(50), uint64(10)
		sp, dn := "splade", "dense"
		var viaLat, ownLat []float64
		for i := 0; i < queries; i++ {
			q := fmt.Sprintf("%s %d", inferenceQueries[i%len(inferenceQueries)], i)
			sq := qc.NewQueryNearest(qc.NewVectorInputDocument(&qc.Document{Text: q, Model: "spladeq/sparse"}))
			dq := qc.NewQueryNearest(qc.NewVectorInputDocument(&qc.Document{Text: q, Model: "spladeq/dense"}))
			start := time.Now()
			if _, err := client.Query(ctx, &qc.QueryPoints{CollectionName: viaName, Limit: &l, WithPayload: qc.NewWithPayload(true),
				Prefetch: []*qc.PrefetchQuery{{Query: sq, Using: &sp, Limit: &pl}, {Query: dq, Using: &dn, Limit: &pl}},
				Query:    qc.NewQueryFusion(qc.Fusion_RRF)}); err != nil {
				b.Fatal(err)
			}
			viaLat = append(viaLat, time.Since(start).Seconds())
			start = time.Now()
			if _, err := own.Search(ctx, ownName, plugin.SearchInput{Query: q, Mode: "hybrid", Fusion: "rrf", Limit: 10}); err != nil {
				b.Fatal(err)
			}
			ownLat = append(ownLat, time.Since(start).Seconds())
		}
		p50 := func(x []float64) float64 { sort.Float64s(x); return x[len(x)/2] }
		v, o := p50(viaLat), p50(ownLat)
		b.ReportMetric(v*1e3, "inference-query-p50-ms")
		b.ReportMetric(o*1e3, "own-query-p50-ms")
		b.ReportMetric(v/o, "inference/own-query-p50")
	}
}
