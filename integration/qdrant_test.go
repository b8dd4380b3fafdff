// Package integration holds end-to-end tests. The Qdrant conformance suite
// runs every check against the embedded server over loopback gRPC and, in
// the same run, against a real Qdrant: the one QDRANT_URL (and optionally
// QDRANT_API_KEY) names, e.g. QDRANT_URL=localhost:6334 with
// `docker compose up qdrant`, or else one of every release in
// qdranttest.Versions the tests start from its binary ($QDRANT_BIN or
// ../shared/qdrant/bin/qdrant for 1.17.1, $QDRANT_BIN_1_19 or
// ../shared/qdrant/v1.19.0/bin/qdrant for 1.19.0; skipped, saying so, when
// there is none).
package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/splade"
)

// qdrantTarget is one Qdrant the conformance suite runs against: the
// embedded server (always), a real Qdrant started from its binary (when
// there is one, of each release in qdranttest.Versions), or one someone
// else runs (QDRANT_URL).
type qdrantTarget struct {
	name   string
	url    string // "" for the embedded server, served afresh per test
	apiKey string
	// real marks a Qdrant server, where behaviour the embedded server
	// chooses differently (see TestConformanceBadRequests) is checked in
	// its own terms.
	real bool
	// version is the release of a Qdrant the tests started ("" for the
	// embedded server and QDRANT_URL).
	version string
}

// forEachTarget runs fn once per Qdrant under test, as subtests named after
// it. The embedded server always runs; with QDRANT_URL set, the Qdrant it
// names; otherwise a real Qdrant of every release in qdranttest.Versions,
// one node per release shared by the suite's tests (each uses its own
// collections), skipped saying why where a binary is absent.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg qdrantTarget)) {
	t.Run("embedded", func(t *testing.T) { fn(t, qdrantTarget{name: "embedded"}) })
	if url := os.Getenv("QDRANT_URL"); url != "" {
		t.Run("qdrant at QDRANT_URL", func(t *testing.T) {
			fn(t, qdrantTarget{name: "QDRANT_URL", url: url, apiKey: os.Getenv("QDRANT_API_KEY"), real: true})
		})
		return
	}
	qdranttest.ForEachVersion(t, func(t *testing.T, version string) {
		node := qdranttest.Shared(t, version)
		fn(t, qdrantTarget{name: "qdrant " + version, url: node.GRPCAddr(), real: true, version: version})
	})
}

// client connects the connector to the target.
func (tg qdrantTarget) client(t *testing.T) *qdrant.Client {
	t.Helper()
	c, _ := tg.clients(t)
	return c
}

// clients returns the connector and a raw go-client on the same Qdrant,
// the raw one for requests the connector never builds (formula, weighted
// RRF) and for bad requests the connector would refuse before sending.
func (tg qdrantTarget) clients(t *testing.T) (*qdrant.Client, *qc.Client) {
	t.Helper()
	ctx := context.Background()
	cfg := qdrant.Config{URL: tg.url, APIKey: tg.apiKey, Timeout: 10 * time.Second}
	if cfg.URL == "" {
		cfg.URL = serveEmbedded(t)
	}
	c, err := qdrant.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := rawClient(cfg.URL, cfg.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return c, r
}

// rawClient is a go-client on addr (host:port, optionally with a scheme).
func rawClient(addr, apiKey string) (*qc.Client, error) {
	rc := &qc.Config{SkipCompatibilityCheck: true, APIKey: apiKey}
	for _, p := range []string{"http://", "grpc://", "https://", "grpcs://"} {
		if strings.HasPrefix(addr, p) {
			rc.UseTLS = p == "https://" || p == "grpcs://"
			addr = strings.TrimPrefix(addr, p)
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "6334"
	}
	rc.Host = host
	fmt.Sscan(port, &rc.Port)
	return qc.NewClient(rc)
}

// serveEmbedded serves a fresh embedded store on a loopback port until the
// test ends, and returns its address.
func serveEmbedded(t *testing.T) string {
	t.Helper()
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := embedded.NewServer(store)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() {
		srv.Stop()
		store.Close()
	})
	return lis.Addr().String()
}

// newCollection creates a uniquely named collection, dropped at cleanup.
func newCollection(t *testing.T, c *qdrant.Client, idf bool) string {
	t.Helper()
	name := fmt.Sprintf("spladeq_conformance_%d_%d", time.Now().UnixNano(), rand.Intn(1e6))
	spec := qdrant.CollectionSpec{Name: name, Dense: &qdrant.DenseSpec{Size: 4}, Sparse: &qdrant.SparseSpec{IDF: idf}}
	if err := c.EnsureCollection(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeleteCollection(context.Background(), name) })
	return name
}

func sv(pairs ...float32) splade.SparseVector {
	var v splade.SparseVector
	for i := 0; i < len(pairs); i += 2 {
		v.Indices = append(v.Indices, uint32(pairs[i]))
		v.Values = append(v.Values, pairs[i+1])
	}
	return v
}

// corpus is small enough that every score below is worked out by hand.
//
//	sparse query {1:1, 2:1}:  d3 2.0 > d1 1.5 > d2 0.5 > d5 0.2   (d4 shares no index)
//	dense query [1,0,0,0], cosine: d1 1 > d2 0.8 > d5 0.6 > d3 0.0995 > d4 −0.196
var corpus = []qdrant.Document{
	{ID: "d1", Text: "one", Sparse: sv(1, 1.0, 2, 0.5), Dense: []float32{1, 0, 0, 0}, Payload: map[string]any{"lang": "en", "year": 2020, "published": true}},
	{ID: "d2", Text: "two", Sparse: sv(1, 0.5, 3, 1.0), Dense: []float32{0.8, 0.6, 0, 0}, Payload: map[string]any{"lang": "de", "year": 2021, "published": true}},
	{ID: "d3", Text: "three", Sparse: sv(2, 2.0), Dense: []float32{0.1, 1, 0, 0}, Payload: map[string]any{"lang": "en", "year": 2022, "published": false}},
	{ID: "d4", Text: "four", Sparse: sv(4, 1.0), Dense: []float32{-0.2, 0, 1, 0}, Payload: map[string]any{"lang": "fr", "year": 2023, "published": true}},
	{ID: "d5", Text: "five", Sparse: sv(1, 0.2, 4, 0.3), Dense: []float32{0.6, 0, 0.8, 0}, Payload: map[string]any{"lang": "en", "year": 2024, "published": true}},
}

var (
	querySparse = sv(1, 1, 2, 1)
	queryDense  = []float32{1, 0, 0, 0}
	// The side rankings and raw scores worked out above.
	sparseRanking = []string{"d3", "d1", "d2", "d5"}
	sparseScores  = map[string]float64{"d3": 2.0, "d1": 1.5, "d2": 0.5, "d5": 0.2}
	denseRanking  = []string{"d1", "d2", "d5", "d3", "d4"}
	denseScores   = map[string]float64{"d1": 1, "d2": 0.8, "d5": 0.6, "d3": 0.1 / math.Sqrt(1.01), "d4": -0.2 / math.Sqrt(1.04)}
)

func loadCorpus(t *testing.T, c *qdrant.Client, name string) {
	t.Helper()
	if err := c.Upsert(context.Background(), name, corpus, qdrant.WriteOptions{DenseSize: 4}); err != nil {
		t.Fatal(err)
	}
}

// expect compares hits with want (doc id → score), in want's order. Hits
// whose wanted scores tie may come in either order: Qdrant breaks no ties
// in fused or raw scores, so the place of each hit must hold a document of
// the same score, and no document may come twice.
func expect(t *testing.T, hits []qdrant.Hit, wantOrder []string, want map[string]float64) {
	t.Helper()
	var got []string
	for _, h := range hits {
		got = append(got, h.DocID)
	}
	ok := len(got) == len(wantOrder)
	seen := map[string]bool{}
	for i := 0; ok && i < len(got); i++ {
		w, known := want[got[i]]
		ok = known && !seen[got[i]] && math.Abs(w-want[wantOrder[i]]) <= 1e-9
		seen[got[i]] = true
	}
	if !ok {
		t.Fatalf("hits in order %v, want %v (ties in either order)", got, wantOrder)
	}
	for _, h := range hits {
		if math.Abs(float64(h.Score)-want[h.DocID]) > 1e-4 {
			t.Errorf("%s: score %v, want %v", h.DocID, h.Score, want[h.DocID])
		}
	}
}

// order returns the keys of scores sorted by descending score.
func order(scores map[string]float64) []string {
	var ids []string
	for id := range scores {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return scores[ids[i]] > scores[ids[j]] })
	return ids
}

func search(t *testing.T, c *qdrant.Client, name string, req qdrant.SearchRequest) []qdrant.Hit {
	t.Helper()
	req.WithPayload = true
	hits, err := c.Search(context.Background(), name, req, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestConformanceCollectionLifecycle(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		ctx := context.Background()
		name := newCollection(t, c, false)
		t.Run("ensuring the same schema again is a no-op", func(t *testing.T) {
			if err := c.EnsureCollection(ctx, qdrant.CollectionSpec{Name: name, Dense: &qdrant.DenseSpec{Size: 4}, Sparse: &qdrant.SparseSpec{}}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a different schema is refused with every difference named", func(t *testing.T) {
			err := c.EnsureCollection(ctx, qdrant.CollectionSpec{Name: name, Dense: &qdrant.DenseSpec{Size: 8, Distance: "dot"}, Sparse: &qdrant.SparseSpec{IDF: true}})
			if !errors.Is(err, qdrant.ErrSchemaMismatch) {
				t.Fatalf("got %v, want ErrSchemaMismatch", err)
			}
			for _, want := range []string{name, `dense vector is "dense" size 4 cosine in Qdrant, "dense" size 8 dot wanted`, `sparse vector is "splade" without modifier in Qdrant, "splade" with modifier idf wanted`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
		t.Run("scale settings are kept, and an existing collection with other settings is refused, not reused", func(t *testing.T) {
			off := false
			scaled := qdrant.CollectionSpec{Name: name + "_scaled", Dense: &qdrant.DenseSpec{Size: 4}, Sparse: &qdrant.SparseSpec{},
				ShardNumber: 2, WriteConsistencyFactor: 1, OnDiskPayload: &off}
			if err := c.EnsureCollection(ctx, scaled); err != nil {
				t.Fatal(err)
			}
			defer c.DeleteCollection(ctx, scaled.Name)
			info, err := c.Info(ctx, scaled.Name)
			if err != nil {
				t.Fatal(err)
			}
			if info.Spec.ShardNumber != 2 || info.Spec.ReplicationFactor != 1 || info.Spec.OnDiskPayload == nil || *info.Spec.OnDiskPayload {
				t.Errorf("info = shards %d, replication %d, on-disk payload %v", info.Spec.ShardNumber, info.Spec.ReplicationFactor, info.Spec.OnDiskPayload)
			}
			unset := scaled
			unset.ShardNumber, unset.WriteConsistencyFactor, unset.OnDiskPayload = 0, 0, nil
			if err := c.EnsureCollection(ctx, unset); err != nil {
				t.Errorf("settings left to Qdrant's defaults must accept the collection: %v", err)
			}
			on := true
			other := scaled
			other.ShardNumber, other.ReplicationFactor, other.OnDiskPayload = 3, 2, &on
			err = c.EnsureCollection(ctx, other)
			for _, want := range []string{"shard_number is 2 in Qdrant, 3 wanted", "replication_factor is 1 in Qdrant, 2 wanted", "on_disk_payload is false in Qdrant, true wanted"} {
				if !errors.Is(err, qdrant.ErrSchemaMismatch) || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v, want ErrSchemaMismatch saying %q", err, want)
				}
			}
		})
		t.Run("info reports the schema and the count", func(t *testing.T) {
			loadCorpus(t, c, name)
			info, err := c.Info(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if info.Points != 5 || info.Spec.Dense.Size != 4 || info.Spec.Sparse.Name != "splade" {
				t.Errorf("info = %+v", info)
			}
		})
		t.Run("the collection is listed", func(t *testing.T) {
			names, err := c.ListCollections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !contains(names, name) {
				t.Errorf("%s not in %v", name, names)
			}
		})
		t.Run("an unknown collection is not found", func(t *testing.T) {
			_, err := c.Info(ctx, name+"_missing")
			if !errors.Is(err, qdrant.ErrNotFound) || !strings.Contains(err.Error(), name+"_missing") {
				t.Errorf("got %v, want ErrNotFound naming the collection", err)
			}
			_, err = c.Search(ctx, name+"_missing", qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: querySparse}, qdrant.WriteOptions{})
			if !errors.Is(err, qdrant.ErrNotFound) {
				t.Errorf("search: got %v, want ErrNotFound", err)
			}
		})
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestConformancePointsRoundTrip(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		ctx := context.Background()
		name := newCollection(t, c, false)
		loadCorpus(t, c, name)

		t.Run("points read back exactly, with deterministic ids", func(t *testing.T) {
			pts, err := c.Scroll(ctx, name, nil, qdrant.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != len(corpus) {
				t.Fatalf("scrolled %d points, want %d", len(pts), len(corpus))
			}
			byID := map[string]qdrant.StoredPoint{}
			for _, p := range pts {
				byID[p.ID] = p
			}
			for _, d := range corpus {
				p, ok := byID[qdrant.PointID(d.ID, 0)]
				if !ok {
					t.Fatalf("point for %s missing", d.ID)
				}
				if p.Payload["doc_id"] != d.ID || p.Payload["text"] != d.Text || p.Payload["lang"] != d.Payload["lang"] {
					t.Errorf("%s payload = %v", d.ID, p.Payload)
				}
				if fmt.Sprint(p.Sparse) != fmt.Sprint(d.Sparse) {
					t.Errorf("%s sparse = %v, want %v", d.ID, p.Sparse, d.Sparse)
				}
				// Cosine vectors come back normalised, as Qdrant stores them.
				var norm float64
				for _, x := range d.Dense {
					norm += float64(x) * float64(x)
				}
				for i, x := range p.Dense {
					if want := float64(d.Dense[i]) / math.Sqrt(norm); math.Abs(float64(x)-want) > 1e-6 {
						t.Errorf("%s dense[%d] = %v, want %v", d.ID, i, x, want)
					}
				}
			}
		})
		t.Run("re-upserting a document replaces it", func(t *testing.T) {
			d := corpus[0]
			d.Text = "one, rewritten"
			if err := c.Upsert(ctx, name, []qdrant.Document{d}, qdrant.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			n, err := c.Count(ctx, name, nil)
			if err != nil || n != 5 {
				t.Fatalf("count = %d, %v; want 5", n, err)
			}
			hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeDense, Dense: queryDense, Limit: 1})
			if hits[0].Text != "one, rewritten" {
				t.Errorf("text = %q, want the rewritten one", hits[0].Text)
			}
		})
		t.Run("stale chunks are deleted, the rest kept", func(t *testing.T) {
			var chunks []qdrant.Document
			for i := 0; i < 3; i++ {
				chunks = append(chunks, qdrant.Document{ID: "long", Chunk: i, Text: fmt.Sprint("part ", i), Sparse: sv(9, 1)})
			}
			if err := c.Upsert(ctx, name, chunks, qdrant.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteChunksFrom(ctx, name, "long", 1); err != nil {
				t.Fatal(err)
			}
			n, err := c.Count(ctx, name, &qdrant.Filter{Must: []qdrant.Condition{{Key: "doc_id", Match: "long"}}})
			if err != nil || n != 1 {
				t.Fatalf("chunks of long = %d, %v; want 1", n, err)
			}
			if err := c.DeleteDocument(ctx, name, "long"); err != nil {
				t.Fatal(err)
			}
			if n, _ := c.Count(ctx, name, nil); n != 5 {
				t.Errorf("count after delete = %d, want 5", n)
			}
		})
	})
}

func TestConformanceSingleModeScores(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		name := newCollection(t, c, false)
		loadCorpus(t, c, name)
		t.Run("sparse score is the dot product over shared indices, and only sharing points are candidates", func(t *testing.T) {
			hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: querySparse})
			expect(t, hits, sparseRanking, sparseScores)
		})
		t.Run("dense score is the cosine", func(t *testing.T) {
			hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeDense, Dense: queryDense})
			expect(t, hits, denseRanking, denseScores)
		})
		t.Run("limit, offset and score threshold", func(t *testing.T) {
			hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: querySparse, Limit: 2, Offset: 1})
			expect(t, hits, []string{"d1", "d2"}, sparseScores)
			th := float32(1.0)
			hits = search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: querySparse, ScoreThreshold: &th})
			expect(t, hits, []string{"d3", "d1"}, sparseScores)
		})
	})
}

func rrfByHand(k int) map[string]float64 {
	want := map[string]float64{}
	for _, ranking := range [][]string{sparseRanking, denseRanking} {
		for rank, id := range ranking {
			want[id] += 1 / float64(rank+k) // 0-based rank
		}
	}
	return want
}

// weightedRRFByHand is Qdrant's weighted RRF: a list of weight w adds
// 1/((rank+1)/w + k − 1) for 0-based rank (1/(rank+k) at w = 1).
func weightedRRFByHand(k int, wSparse, wDense float64) map[string]float64 {
	want := map[string]float64{}
	for i, ranking := range [][]string{sparseRanking, denseRanking} {
		w := []float64{wSparse, wDense}[i]
		for rank, id := range ranking {
			want[id] += 1 / (float64(rank+1)/w + float64(k) - 1)
		}
	}
	return want
}

// weightedDBSFByHand is Σ wᵢ·dbsfᵢ over sparse and dense, the weights
// scaled to sum to 1, a point absent from a list counting 0 there.
func weightedDBSFByHand(wSparse, wDense float64) map[string]float64 {
	sum := wSparse + wDense
	return dbsfWeighted(wSparse/sum, wDense/sum)
}

func dbsfByHand() map[string]float64 { return dbsfWeighted(1, 1) }

func dbsfWeighted(wSparse, wDense float64) map[string]float64 {
	want := map[string]float64{}
	for i, scores := range []map[string]float64{sparseScores, denseScores} {
		w := []float64{wSparse, wDense}[i]
		var mean, ss float64
		for _, s := range scores {
			mean += s
		}
		mean /= float64(len(scores))
		for _, s := range scores {
			ss += (s - mean) * (s - mean)
		}
		std := math.Sqrt(ss / float64(len(scores)-1)) // sample σ
		lo, hi := mean-3*std, mean+3*std
		for id, s := range scores {
			want[id] += w * (s - lo) / (hi - lo)
		}
	}
	return want
}

func weightedByHand(alpha float64) map[string]float64 {
	norm := func(scores map[string]float64) map[string]float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range scores {
			lo, hi = math.Min(lo, s), math.Max(hi, s)
		}
		out := map[string]float64{}
		for id, s := range scores {
			out[id] = (s - lo) / (hi - lo)
		}
		return out
	}
	sn, dn := norm(sparseScores), norm(denseScores)
	want := map[string]float64{}
	for _, id := range denseRanking {
		want[id] = alpha*dn[id] + (1-alpha)*sn[id]
	}
	return want
}

func TestConformanceHybridFusion(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		name := newCollection(t, c, false)
		loadCorpus(t, c, name)
		hybrid := qdrant.SearchRequest{Mode: qdrant.ModeHybrid, Sparse: querySparse, Dense: queryDense}

		t.Run("RRF with Qdrant's default k=2 sums 1/(rank+k) over 0-based ranks", func(t *testing.T) {
			want := rrfByHand(2)
			expect(t, search(t, c, name, hybrid), order(want), want)
		})
		t.Run("RRF honours a configured k", func(t *testing.T) {
			req := hybrid
			req.RRFK = 60
			want := rrfByHand(60)
			expect(t, search(t, c, name, req), order(want), want)
		})
		t.Run("DBSF normalises each list by mean ± 3 sample sigma and sums", func(t *testing.T) {
			req := hybrid
			req.Fusion = qdrant.FusionDBSF
			want := dbsfByHand()
			expect(t, search(t, c, name, req), order(want), want)
		})
		weights := map[qdrant.Signal]float64{qdrant.SignalSparse: 1, qdrant.SignalDense: 3}
		t.Run("weighted RRF divides each list's ranks by its weight, server-side", func(t *testing.T) {
			req := hybrid
			req.Fusion, req.RRFK, req.Weights = qdrant.FusionWeightedRRF, 5, weights
			want := weightedRRFByHand(5, 1, 3)
			expect(t, search(t, c, name, req), order(want), want)
		})
		t.Run("weighted DBSF sums each list's DBSF-normalised scores by weight in one formula query", func(t *testing.T) {
			req := hybrid
			req.Fusion, req.Weights = qdrant.FusionWeightedDBSF, weights
			want := weightedDBSFByHand(1, 3)
			expect(t, search(t, c, name, req), order(want), want)
			req.Limit, req.Offset = 2, 1
			expect(t, search(t, c, name, req), order(want)[1:3], want)
		})
		for _, alpha := range []float64{0, 0.3, 1} {
			t.Run(fmt.Sprintf("weighted fusion at alpha %v combines min-max normalised scores", alpha), func(t *testing.T) {
				req := hybrid
				req.Fusion, req.Alpha = qdrant.FusionWeighted, alpha
				want := weightedByHand(alpha)
				hits := search(t, c, name, req)
				for _, h := range hits {
					if math.Abs(float64(h.Score)-want[h.DocID]) > 1e-4 {
						t.Errorf("%s: score %v, want %v", h.DocID, h.Score, want[h.DocID])
					}
				}
				if len(hits) != 5 {
					t.Errorf("%d hits, want 5", len(hits))
				}
			})
		}
		t.Run("side scores are each list's raw score", func(t *testing.T) {
			req := hybrid
			req.WithSideScores = true
			for _, h := range search(t, c, name, req) {
				if h.DenseScore == nil || math.Abs(float64(*h.DenseScore)-denseScores[h.DocID]) > 1e-4 {
					t.Errorf("%s dense side score = %v, want %v", h.DocID, h.DenseScore, denseScores[h.DocID])
				}
				want, ok := sparseScores[h.DocID]
				if ok != (h.SparseScore != nil) || (ok && math.Abs(float64(*h.SparseScore)-want) > 1e-4) {
					t.Errorf("%s sparse side score = %v, want %v (present %v)", h.DocID, h.SparseScore, want, ok)
				}
			}
		})
		t.Run("offset pages through fused results", func(t *testing.T) {
			req := hybrid
			req.Limit, req.Offset = 2, 2
			want := rrfByHand(2)
			expect(t, search(t, c, name, req), order(want)[2:4], want)
		})
	})
}

func TestConformanceFilters(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		name := newCollection(t, c, false)
		loadCorpus(t, c, name)
		f64 := func(x float64) *float64 { return &x }
		for _, tc := range []struct {
			name   string
			filter qdrant.Filter
			want   []string // dense ranking restricted to the filter
		}{
			{"keyword match", qdrant.Filter{Must: []qdrant.Condition{{Key: "lang", Match: "en"}}}, []string{"d1", "d5", "d3"}},
			{"integer match", qdrant.Filter{Must: []qdrant.Condition{{Key: "year", Match: 2021}}}, []string{"d2"}},
			{"bool match", qdrant.Filter{Must: []qdrant.Condition{{Key: "published", Match: false}}}, []string{"d3"}},
			{"range", qdrant.Filter{Must: []qdrant.Condition{{Key: "year", Range: &qdrant.Range{Gte: f64(2021), Lt: f64(2024)}}}}, []string{"d2", "d3", "d4"}},
			{"match any and must not", qdrant.Filter{Must: []qdrant.Condition{{Key: "lang", Match: []string{"en", "fr"}}}, MustNot: []qdrant.Condition{{Key: "year", Match: 2020}}}, []string{"d5", "d3", "d4"}},
			{"should", qdrant.Filter{Should: []qdrant.Condition{{Key: "lang", Match: "de"}, {Key: "lang", Match: "fr"}}}, []string{"d2", "d4"}},
		} {
			t.Run(tc.name+" restricts dense search", func(t *testing.T) {
				f := tc.filter
				hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeDense, Dense: queryDense, Filter: &f})
				expect(t, hits, tc.want, denseScores)
			})
		}
		t.Run("a filter restricts both sides of a hybrid search", func(t *testing.T) {
			f := qdrant.Filter{Must: []qdrant.Condition{{Key: "lang", Match: "en"}}}
			hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeHybrid, Sparse: querySparse, Dense: queryDense, Filter: &f})
			// sparse among en: d3, d1, d5; dense among en: d1, d5, d3.
			want := map[string]float64{"d3": 1.0/2 + 1.0/4, "d1": 1.0/3 + 1.0/2, "d5": 1.0/4 + 1.0/3}
			expect(t, hits, order(want), want)
		})
	})
}

func TestConformanceIDF(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		name := newCollection(t, c, true)
		loadCorpus(t, c, name)
		// N = 5 points; index 1 is in d1, d2, d5 (n=3); index 2 in d1, d3 (n=2).
		idf := func(n float64) float64 { return math.Log((5-n+0.5)/(n+0.5) + 1) }
		i1, i2 := idf(3), idf(2)
		want := map[string]float64{"d1": 1.0*i1 + 0.5*i2, "d2": 0.5 * i1, "d3": 2.0 * i2, "d5": 0.2 * i1}
		hits := search(t, c, name, qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: querySparse})
		expect(t, hits, order(want), want)
	})
}
