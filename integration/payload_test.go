package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/spladeq/spladeq/connectors/qdrant"
)

// TestConformancePayloadOperations checks what sync builds on — payload
// updates in one batch request, points by id with chosen payload keys,
// metadata scrolls with must_not and match-any filters, deletes by id —
// against the embedded server and every real Qdrant release, with the same
// expectations.
func TestConformancePayloadOperations(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg qdrantTarget) {
		ctx := context.Background()
		c := tg.client(t)
		name := newCollection(t, c, false)
		loadCorpus(t, c, name)
		if err := c.IndexKeywords(ctx, name, "run", "job"); err != nil {
			t.Fatal(err)
		}
		id := func(doc string) string { return qdrant.PointID(doc, 0) }
		err := c.SetPayloads(ctx, name, []qdrant.PayloadUpdate{{IDs: []string{qdrant.PointID("absent", 0)}, Payload: map[string]any{"run": "r9"}}})
		if !errors.Is(err, qdrant.ErrNotFound) {
			t.Errorf("setting the payload of a missing point: %v, want ErrNotFound", err)
		}
		err = c.SetPayloads(ctx, name, []qdrant.PayloadUpdate{
			{IDs: []string{id("d1"), id("d2"), id("d3")}, Payload: map[string]any{"job": "a", "run": "r1"}},
			{Filter: &qdrant.Filter{Must: []qdrant.Condition{{Key: "doc_id", Match: []string{"d4", "zz"}}}}, Payload: map[string]any{"job": "a", "run": "r1"}},
			{IDs: []string{id("d2")}, Payload: map[string]any{"run": "r2", "unit": "/x/d2"}}, // later operations win
			{Filter: &qdrant.Filter{Must: []qdrant.Condition{{Key: "doc_id", Match: "nothing"}}}, Payload: map[string]any{"run": "r9"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctx, name, []string{id("d2"), id("d5"), qdrant.PointID("absent", 0)}, []string{"doc_id", "run", "unit", "lang"})
		if err != nil {
			t.Fatal(err)
		}
		byDoc := map[string]map[string]any{}
		for _, p := range got {
			byDoc[p.Payload["doc_id"].(string)] = p.Payload
		}
		if len(got) != 2 || fmt.Sprint(byDoc["d2"]) != "map[doc_id:d2 lang:de run:r2 unit:/x/d2]" || fmt.Sprint(byDoc["d5"]) != "map[doc_id:d5 lang:en]" {
			t.Errorf("get = %v, want d2 updated (other keys kept) and d5 untouched", byDoc)
		}
		// Points of job a not seen in run r2: d1, d3, d4 (d5 has no job).
		var stale []string
		f := &qdrant.Filter{Must: []qdrant.Condition{{Key: "job", Match: "a"}}, MustNot: []qdrant.Condition{{Key: "run", Match: "r2"}}}
		err = c.ScrollPayload(ctx, name, f, []string{"doc_id"}, func(page []qdrant.StoredPoint) error {
			for _, p := range page {
				stale = append(stale, p.Payload["doc_id"].(string))
				if len(p.Payload) != 1 {
					t.Errorf("scroll returned payload %v, want doc_id only", p.Payload)
				}
			}
			return nil
		})
		sort.Strings(stale)
		if err != nil || fmt.Sprint(stale) != "[d1 d3 d4]" {
			t.Errorf("scroll = %v, %v; want [d1 d3 d4]", stale, err)
		}
		var some []string
		err = c.ScrollPayload(ctx, name, &qdrant.Filter{Must: []qdrant.Condition{{Key: "doc_id", Match: []string{"d1", "d4", "zz"}}}}, []string{"doc_id"},
			func(page []qdrant.StoredPoint) error {
				for _, p := range page {
					some = append(some, p.Payload["doc_id"].(string))
				}
				return nil
			})
		sort.Strings(some)
		if err != nil || fmt.Sprint(some) != "[d1 d4]" {
			t.Errorf("match-any scroll = %v, %v", some, err)
		}
		if err := c.DeletePoints(ctx, name, []string{id("d1"), id("d3"), qdrant.PointID("absent", 0)}); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Count(ctx, name, nil); err != nil || n != 3 {
			t.Errorf("count after deleting 2 = %d, %v; want 3", n, err)
		}
	})
}
