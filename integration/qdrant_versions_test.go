package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
)

// serverRelease is the release tg's Qdrant reports.
func serverRelease(t *testing.T, c *qdrant.Client) bm25.Version {
	t.Helper()
	s, err := c.ServerVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := bm25.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestConformanceIDFCorpus searches with IDF computed over a filter
// (Qdrant 1.19's params.idf.corpus): the scores follow the corpus's
// counts on the embedded store and on Qdrant 1.19; an older Qdrant, which
// would ignore the field, gets a clear error instead.
func TestConformanceIDFCorpus(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c := tg.client(t)
		name := newCollection(t, c, true)
		loadCorpus(t, c, name)
		req := qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: querySparse, WithPayload: true,
			IDFCorpus: &qdrant.Filter{Must: []qdrant.Condition{{Key: "lang", Match: "en"}}}}
		hits, err := c.Search(context.Background(), name, req, qdrant.WriteOptions{SparseIDF: true})
		if v := serverRelease(t, c); !v.AtLeast(bm25.V1_19_0) {
			want := "idf_corpus (IDF statistics over a filter) needs Qdrant 1.19 or newer; this Qdrant is " + v.String()
			if !errors.Is(err, qdrant.ErrInvalid) || !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Qdrant %s: got %v, want ErrInvalid saying %q", v, err, want)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// Over lang = en: N = 3 (d1, d3, d5); index 1 is in d1, d5 and
		// index 2 in d1, d3, n = 2 each. d2 (de) is scored with them.
		i := math.Log((3-2+0.5)/(2+0.5) + 1)
		want := map[string]float64{"d1": 1.0*i + 0.5*i, "d2": 0.5 * i, "d3": 2.0 * i, "d5": 0.2 * i}
		expect(t, hits, order(want), want)
	})
}

// TestConformanceBM25StemmerOff writes BM25 Documents whose options turn
// the stemmer off the Qdrant 1.19 way ({"stemmer": {"type": "none"}}):
// every target stores the vectors that option means, the connector
// sending Qdrant before 1.19 the options it reads the same way.
func TestConformanceBM25StemmerOff(t *testing.T) {
	opts := map[string]any{"stemmer": map[string]any{"type": "none"}, "language": "german"}
	docs := []qdrant.Document{
		{ID: "a", Text: "Die Läufer laufen schneller als die anderen Läuferinnen"},
		{ID: "b", Text: "Running runners ran; the runner runs"},
		{ID: "c", Text: "Häuser und Hausaufgaben, Haus und Hof"},
	}
	parsed, err := bm25.ParseOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := bm25.New(parsed)
	if err != nil {
		t.Fatal(err)
	}
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		c, raw := tg.clients(t)
		ctx := context.Background()
		// A collection with a BM25 vector beside the others.
		bname := fmt.Sprintf("spladeq_conformance_bm25_%d_%d", time.Now().UnixNano(), rand.Intn(1e6))
		spec := qdrant.CollectionSpec{Name: bname, Dense: &qdrant.DenseSpec{Size: 4}, Sparse: &qdrant.SparseSpec{}, BM25: &qdrant.BM25Spec{}}
		if err := c.EnsureCollection(ctx, spec); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.DeleteCollection(context.Background(), bname) })
		wo := qdrant.WriteOptions{BM25: &qdrant.StoreModel{Model: qdrant.BM25Model, Options: opts}}
		for i := range docs {
			docs[i].Dense = []float32{1, 0, 0, 0}
		}
		if err := c.Upsert(ctx, bname, docs, wo); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			pts, err := raw.Get(ctx, &qc.GetPoints{CollectionName: bname, Ids: []*qc.PointId{qc.NewID(qdrant.PointID(d.ID, 0))},
				WithVectors: qc.NewWithVectorsInclude(qdrant.DefaultBM25Name)})
			if err != nil || len(pts) != 1 {
				t.Fatalf("get %s: %v (%d points)", d.ID, err, len(pts))
			}
			v := pts[0].GetVectors().GetVectors().GetVectors()[qdrant.DefaultBM25Name]
			idx, val := v.GetSparse().GetIndices(), v.GetSparse().GetValues()
			if v.GetSparse() == nil {
				idx, val = v.GetIndices().GetData(), v.GetData() //nolint:staticcheck // older servers fill the deprecated fields
			}
			order := make([]int, len(idx))
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, func(a, b int) int { return int(int64(idx[a]) - int64(idx[b])) })
			var gi []uint32
			var gv []float32
			for _, i := range order {
				gi, gv = append(gi, idx[i]), append(gv, val[i])
			}
			want := enc.Document(d.Text)
			if !slices.Equal(gi, want.Indices) || !slices.Equal(gv, want.Values) {
				t.Errorf("document %s: stored %v %v, want (stemmer off, German stop words) %v %v", d.ID, gi, gv, want.Indices, want.Values)
			}
		}
		hits, err := c.Search(ctx, bname, qdrant.SearchRequest{Mode: qdrant.ModeBM25, Text: "Läufer", Limit: 3, WithPayload: true}, wo)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].DocID != "a" {
			t.Errorf("search for Läufer, stemmer off: got %v, want document a alone", hits)
		}
	})
}
