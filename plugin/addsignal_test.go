package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
)

// manyDocs are more documents than one add-signal batch.
func manyDocs() []DocumentInput {
	out := append([]DocumentInput(nil), docs...)
	for i, w := range []string{"rivers carry sediment to the sea", "compilers translate source code", "bees pollinate flowering plants",
		"a lighthouse guides ships at night", "glaciers carve valleys slowly", "the sparse index maps terms to postings"} {
		out = append(out, DocumentInput{ID: fmt.Sprintf("extra-%d", i), Text: w})
	}
	return out
}

// sameHits checks two searches rank the same documents with the same
// scores (ties in either order).
func sameHits(t *testing.T, what string, got, want SearchResult) {
	t.Helper()
	if len(got.Hits) != len(want.Hits) || len(want.Hits) == 0 {
		t.Fatalf("%s: %d hits, want %d (> 0)", what, len(got.Hits), len(want.Hits))
	}
	score := map[string]float32{}
	for _, h := range want.Hits {
		score[h.DocID] = h.Score
	}
	for i, h := range got.Hits {
		s, ok := score[h.DocID]
		if !ok || math.Abs(float64(h.Score-want.Hits[i].Score)) > 1e-5 || math.Abs(float64(s-h.Score)) > 1e-5 {
			t.Errorf("%s: hit %d is %s %v, want %s %v", what, i, h.DocID, h.Score, want.Hits[i].DocID, want.Hits[i].Score)
		}
	}
}

func TestAddSignalGivesAnExistingCollectionEachSignalInPlace(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	corpus := manyDocs()
	for _, tc := range []struct {
		signal string
		old    CollectionConfig // the collection made without the signal
	}{
		{"bm25", CollectionConfig{BM25: None}},
		{"sparse", CollectionConfig{Sparse: None}},
		{"dense", CollectionConfig{Dense: None}},
	} {
		t.Run("a collection made without "+tc.signal+" gains it, searched as if ingested with it", func(t *testing.T) {
			old, full := "old-"+tc.signal, "full-"+tc.signal
			for name, cc := range map[string]CollectionConfig{old: tc.old, full: {}} {
				if _, err := s.EnsureCollection(ctx, name, cc); err != nil {
					t.Fatal(err)
				}
				if _, err := s.UpsertDocuments(ctx, name, corpus); err != nil {
					t.Fatal(err)
				}
			}
			var progress []AddSignalProgress
			res, err := s.AddSignal(ctx, old, tc.signal, AddSignalOptions{BatchSize: 4, Progress: func(p AddSignalProgress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatal(err)
			}
			n := uint64(len(corpus))
			if !res.Created || res.Complete || res.Written != n || res.Filled != n || res.Total != n || res.Vectorizer != tc.signal {
				t.Errorf("result %+v, want created, %d written and filled of %d, vectorizer %s", res, n, n, tc.signal)
			}
			if len(progress) < 3 || progress[len(progress)-1].Filled != n || progress[0].Filled != 0 {
				t.Errorf("progress %+v, want 0 first, a report per batch of 4, %d last", progress, n)
			}
			for _, q := range []string{"sparse vectors", "sea and rivers", "translating code"} {
				in := SearchInput{Query: q, Mode: tc.signal, Limit: 20}
				got, err := s.Search(ctx, old, in)
				if err != nil {
					t.Fatal(err)
				}
				want, err := s.Search(ctx, full, in)
				if err != nil {
					t.Fatal(err)
				}
				sameHits(t, tc.signal+" "+q, got, want)
				// The default search fuses the three again, as on the full one.
				got, err = s.Search(ctx, old, SearchInput{Query: q})
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(got.Signals, ",") != "bm25,sparse,dense" {
					t.Errorf("default search fuses %v, want bm25, sparse and dense", got.Signals)
				}
			}
			again, err := s.AddSignal(ctx, old, tc.signal, AddSignalOptions{})
			if err != nil || !again.Complete || again.Written != 0 {
				t.Errorf("a second run = %+v, %v; want complete, nothing written", again, err)
			}
		})
	}
}

func TestAddSignalResumesAndSearchesSayTheSignalIsNotComplete(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	corpus := manyDocs()
	if _, err := s.EnsureCollection(ctx, "old", CollectionConfig{BM25: None}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertDocuments(ctx, "old", corpus); err != nil {
		t.Fatal(err)
	}
	// A run stopped after its first batch leaves the mark, the vector and
	// 4 filled points.
	stopped, stop := context.WithCancel(ctx)
	_, err := s.AddSignal(stopped, "old", "bm25", AddSignalOptions{BatchSize: 4, Progress: func(p AddSignalProgress) {
		if p.Written > 0 {
			stop()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped run returned %v, want context.Canceled", err)
	}
	info, err := s.Collection(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if info.Adding != "bm25" || info.BM25 != "bm25" {
		t.Errorf("collection info %+v, want adding bm25 with vectorizer bm25", info)
	}
	_, err = s.Search(ctx, "old", SearchInput{Query: "sparse vectors", Signals: []string{"bm25", "dense"}})
	if err == nil || !strings.Contains(err.Error(), `signals[0]: collection "old" is still gaining its bm25 signal`) {
		t.Errorf("bm25 named while it is being added: %v, want an error saying so", err)
	}
	_, err = s.Search(ctx, "old", SearchInput{Query: "sparse vectors", Mode: "bm25"})
	if err == nil || !strings.Contains(err.Error(), `collection "old" is still gaining its bm25 signal`) {
		t.Errorf("bm25 mode while it is being added: %v, want an error saying so", err)
	}
	res, err := s.Search(ctx, "old", SearchInput{Query: "sparse vectors"})
	if err != nil || strings.Join(res.Signals, ",") != "sparse,dense" {
		t.Errorf("default search while bm25 is being added: signals %v (%v), want sparse and dense", res.Signals, err)
	}
	// A document written meanwhile carries the new vector.
	if _, err := s.UpsertDocuments(ctx, "old", []DocumentInput{{ID: "late", Text: "written while bm25 was being added"}}); err != nil {
		t.Fatal(err)
	}
	n := uint64(len(corpus) + 1)
	done, err := s.AddSignal(ctx, "old", "bm25", AddSignalOptions{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if done.Created || done.Written != n-5 || done.Filled != n || done.Total != n {
		t.Errorf("the resumed run = %+v, want not created, %d written, %d of %d filled", done, n-5, n, n)
	}
	if info, _ := s.Collection(ctx, "old"); info.Adding != "" {
		t.Errorf("adding = %q after the run, want none", info.Adding)
	}
	if _, err := s.Search(ctx, "old", SearchInput{Query: "sparse vectors", Mode: "bm25"}); err != nil {
		t.Errorf("bm25 search after the run: %v", err)
	}
}

func TestAddSignalRefusesWhatItCannotDo(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.Collection.Dense = "vectors"
	s := newService(t, cfg)
	if _, err := s.EnsureCollection(ctx, "c", CollectionConfig{Dense: None, BM25: None}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ signal, want string }{
		{"tfidf", `signal: must be one of bm25, sparse, dense, got "tfidf"`},
		{"dense", `collection.dense: vectorizer "vectors" is precomputed`},
	} {
		if _, err := s.AddSignal(ctx, "c", tc.signal, AddSignalOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("add-signal %s: %v, want %q", tc.signal, err, tc.want)
		}
	}
	if _, err := s.AddSignal(ctx, "missing", "bm25", AddSignalOptions{}); !errors.Is(err, qdrant.ErrNotFound) {
		t.Errorf("add-signal on a missing collection: %v, want not found", err)
	}
}

// TestAServiceNoticesASignalAddedByAnotherProcess: a serving process keeps
// a collection that lacks a search signal in its cache for at most
// recheckIncomplete; an add-signal run by another process (here: the
// store changed behind the service's back) shows after that, not before.
func TestAServiceNoticesASignalAddedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	if _, err := s.EnsureCollection(ctx, "old", CollectionConfig{BM25: None}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertDocuments(ctx, "old", docs); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Search(ctx, "old", SearchInput{Query: "sparse vectors"}); err != nil || strings.Join(res.Signals, ",") != "sparse,dense" {
		t.Fatalf("default search before: %v (%v), want sparse and dense", res.Signals, err)
	}
	// Another process's add-signal, stopped midway: the mark and the vector.
	if err := s.store.SetMetadata(ctx, "old", map[string]string{MetaAdding: "bm25", MetaBM25: "bm25"}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.AddVector(ctx, "old", qdrant.CollectionSpec{BM25: &qdrant.BM25Spec{Name: "bm25"}}); err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = time.Now })
	bm25 := func() error {
		_, err := s.Search(ctx, "old", SearchInput{Query: "sparse vectors", Mode: "bm25"})
		return err
	}
	clock = clock.Add(recheckIncomplete - time.Second)
	if err := bm25(); err == nil || !strings.Contains(err.Error(), `collection "old" has no bm25 vector`) {
		t.Errorf("bm25 search within %v of the last look: %v, want the cached answer (no bm25 vector)", recheckIncomplete, err)
	}
	clock = clock.Add(2 * time.Second)
	if err := bm25(); err == nil || !strings.Contains(err.Error(), `collection "old" is still gaining its bm25 signal`) {
		t.Errorf("bm25 search after %v: %v, want the signal seen as being added", recheckIncomplete, err)
	}
}
