package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
)

// TestConformanceVectorUpdatesAndMetadata covers what adding a signal in
// place is built from: points that lack a vector (has_vector), updating
// one vector of existing points, BM25 Documents in such an update, and
// collection metadata merged and removed.
func TestConformanceVectorUpdatesAndMetadata(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		ctx := context.Background()
		c := tg.client(t)
		// Two collections with a BM25 vector: "full" written with BM25,
		// "late" without, its BM25 vectors set afterwards.
		mk := func(suffix string) string {
			name := fmt.Sprintf("spladeq_fill_%s_%d_%d", suffix, time.Now().UnixNano(), rand.Intn(1e6))
			spec := qdrant.CollectionSpec{Name: name, Dense: &qdrant.DenseSpec{Size: 4}, Sparse: &qdrant.SparseSpec{}, BM25: &qdrant.BM25Spec{}}
			if err := c.EnsureCollection(ctx, spec); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.DeleteCollection(ctx, name) })
			return name
		}
		full, late := mk("full"), mk("late")
		bm25 := qdrant.WriteOptions{DenseSize: 4, BM25: &qdrant.StoreModel{Model: qdrant.BM25Model}}
		if err := c.Upsert(ctx, full, corpus, bm25); err != nil {
			t.Fatal(err)
		}
		if err := c.Upsert(ctx, late, corpus, qdrant.WriteOptions{DenseSize: 4}); err != nil {
			t.Fatal(err)
		}
		var ids []string
		text := map[string]string{}
		for _, d := range corpus {
			ids = append(ids, qdrant.PointID(d.ID, 0))
			text[qdrant.PointID(d.ID, 0)] = d.Text
		}
		sortStrings(ids)

		t.Run("points lacking a vector are listed in id order, a page at a time", func(t *testing.T) {
			var got []string
			offset := ""
			for pages := 0; pages < 10; pages++ {
				page, next, err := c.Unfilled(ctx, late, "bm25", offset, 2)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > 2 {
					t.Fatalf("page of %d points, limit 2", len(page))
				}
				for _, u := range page {
					got = append(got, u.ID)
					if u.Text != text[u.ID] || u.DocID == "" {
						t.Errorf("point %s: text %q doc %q, want text %q and its document id", u.ID, u.Text, u.DocID, text[u.ID])
					}
				}
				if offset = next; offset == "" {
					break
				}
			}
			if !reflect.DeepEqual(got, ids) {
				t.Errorf("unfilled points %v, want %v", got, ids)
			}
			if n, err := c.CountHaving(ctx, late, "bm25"); err != nil || n != 0 {
				t.Errorf("CountHaving = %d, %v; want 0", n, err)
			}
			if page, _, err := c.Unfilled(ctx, full, "bm25", "", 10); err != nil || len(page) != 0 {
				t.Errorf("the collection written with BM25 lists %d unfilled points (%v), want 0", len(page), err)
			}
		})
		t.Run("BM25 set by a vector update scores as BM25 written by an upsert; other vectors and payload stay", func(t *testing.T) {
			var ups []qdrant.VectorUpdate
			for _, id := range ids {
				ups = append(ups, qdrant.VectorUpdate{ID: id, Text: text[id]})
			}
			if err := c.UpdateVectors(ctx, late, qdrant.SignalBM25, ups[:2], bm25); err != nil {
				t.Fatal(err)
			}
			if n, err := c.CountHaving(ctx, late, "bm25"); err != nil || n != 2 {
				t.Errorf("CountHaving after 2 updates = %d, %v; want 2", n, err)
			}
			page, _, err := c.Unfilled(ctx, late, "bm25", "", 10)
			if err != nil || len(page) != 3 || page[0].ID != ids[2] {
				t.Fatalf("unfilled after 2 updates: %v (%v), want %v", page, err, ids[2:])
			}
			if err := c.UpdateVectors(ctx, late, qdrant.SignalBM25, ups[2:], bm25); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"one", "two three", "five"} {
				req := qdrant.SearchRequest{Mode: qdrant.ModeBM25, Text: q, WithPayload: true}
				want := search(t, c, full, req)
				got := search(t, c, late, req)
				if len(want) == 0 || len(got) != len(want) {
					t.Fatalf("bm25 %q: %d hits, want %d (> 0)", q, len(got), len(want))
				}
				// Same scores rank by rank, the same points (ties in either order).
				score := map[string]float32{}
				for _, h := range want {
					score[h.ID] = h.Score
				}
				for i := range want {
					s, ok := score[got[i].ID]
					if !ok || math.Abs(float64(got[i].Score-want[i].Score)) > 1e-5 || math.Abs(float64(s-got[i].Score)) > 1e-5 {
						t.Errorf("bm25 %q hit %d: %s %v, want %s %v", q, i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
					}
				}
			}
			stored, err := c.Scroll(ctx, late, nil, qdrant.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]qdrant.Document{}
			for _, d := range corpus {
				byID[qdrant.PointID(d.ID, 0)] = d
			}
			for _, p := range stored {
				d := byID[p.ID]
				if p.Payload[qdrant.PayloadText] != d.Text || !reflect.DeepEqual(p.Sparse, d.Sparse) || len(p.Dense) != 4 {
					t.Errorf("point %s after the update: payload text %v, sparse %v, dense %v; want %q, %v and its dense vector",
						p.ID, p.Payload[qdrant.PayloadText], p.Sparse, p.Dense, d.Text, d.Sparse)
				}
			}
		})
		t.Run("a sparse vector update replaces that vector only", func(t *testing.T) {
			v := sv(9, 0.5)
			if err := c.UpdateVectors(ctx, late, qdrant.SignalSparse, []qdrant.VectorUpdate{{ID: ids[0], Sparse: v}}, qdrant.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			hits := search(t, c, late, qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: sv(9, 1)})
			if len(hits) != 1 || hits[0].ID != ids[0] || math.Abs(float64(hits[0].Score)-0.5) > 1e-6 {
				t.Errorf("sparse query on the new term: %+v, want only %s scoring 0.5", hits, ids[0])
			}
			if n, _ := c.CountHaving(ctx, late, "bm25"); n != 5 {
				t.Errorf("bm25 vectors after a sparse update: %d, want 5", n)
			}
		})
		t.Run("updating a point that does not exist is ErrNotFound", func(t *testing.T) {
			err := c.UpdateVectors(ctx, late, qdrant.SignalBM25, []qdrant.VectorUpdate{{ID: qdrant.PointID("nobody", 0), Text: "x"}}, bm25)
			if !errors.Is(err, qdrant.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
		t.Run("metadata is merged, and removed by key", func(t *testing.T) {
			if err := c.SetMetadata(ctx, late, map[string]string{"a": "1", "b": "2"}); err != nil {
				t.Fatal(err)
			}
			if err := c.SetMetadata(ctx, late, map[string]string{"c": "3"}, "a"); err != nil {
				t.Fatal(err)
			}
			info, err := c.Info(ctx, late)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"b": "2", "c": "3"}; !reflect.DeepEqual(info.Spec.Metadata, want) {
				t.Errorf("metadata %v, want %v", info.Spec.Metadata, want)
			}
		})
	})
}

func sortStrings(xs []string) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}
