package plugin

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

func TestBM25OptionsAreQdrantsBm25Config(t *testing.T) {
	b0 := 0.0
	off := false
	for _, tc := range []struct {
		name string
		vc   config.Vectorizer
		want map[string]any
	}{
		{"the defaults send no options (Qdrant's defaults)", config.Vectorizer{Module: "bm25"}, map[string]any{}},
		{"every scalar option by its Qdrant name", config.Vectorizer{Module: "bm25", K: 0.9, B: &b0, AvgLen: 120, Tokenizer: "whitespace",
			Lowercase: &off, ASCIIFolding: true, MinTokenLen: 2, MaxTokenLen: 30, Language: "German"},
			map[string]any{"k": 0.9, "b": 0.0, "avg_len": 120.0, "tokenizer": "whitespace", "lowercase": false, "ascii_folding": true,
				"min_token_len": 2, "max_token_len": 30, "language": "german"}},
		{"extra stop words join the language's list", config.Vectorizer{Module: "bm25", Stopwords: []string{"spladeq"}},
			map[string]any{"stopwords": map[string]any{"languages": []any{"english"}, "custom": []any{"spladeq"}}}},
		{"another stemmer is named as Qdrant's snowball config", config.Vectorizer{Module: "bm25", Stemmer: "en"},
			map[string]any{"stemmer": map[string]any{"type": "snowball", "language": "en"}}},
		{"no stemmer: Qdrant 1.19's stemmer none (the connector rewrites it for older releases)", config.Vectorizer{Module: "bm25", Stemmer: "none"},
			map[string]any{"stemmer": map[string]any{"type": "none"}}},
		{"no stemmer, extra stop words", config.Vectorizer{Module: "bm25", Stemmer: "none", Language: "de", Stopwords: []string{"und"}},
			map[string]any{"stemmer": map[string]any{"type": "none"}, "language": "de", "stopwords": map[string]any{"languages": []any{"de"}, "custom": []any{"und"}}}},
		{"language none turns both off", config.Vectorizer{Module: "bm25", Language: "none", Stemmer: "none"},
			map[string]any{"language": "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BM25Options(tc.vc); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestCollectionsCarryBM25AsAThirdVector(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	info, err := s.EnsureCollection(ctx, "three", CollectionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if info.BM25 != "bm25" || info.Sparse != "sparse" || info.Dense != "dense" {
		t.Fatalf("collection = %+v, want bm25, sparse and dense", info)
	}
	raw, err := s.Store().Info(ctx, "three")
	if err != nil {
		t.Fatal(err)
	}
	if raw.Spec.BM25 == nil || raw.Spec.BM25.Name != "bm25" || raw.Spec.Sparse == nil || raw.Spec.Dense == nil {
		t.Errorf("stored spec = %+v, want a dense, a sparse and a bm25 vector", raw.Spec)
	}
	if raw.Spec.Metadata[MetaBM25] != "bm25" {
		t.Errorf("metadata = %v, want %s: bm25", raw.Spec.Metadata, MetaBM25)
	}
	if _, err := s.EnsureCollection(ctx, "other", CollectionConfig{BM25: "sparse"}); err == nil || !strings.Contains(err.Error(), `bm25: no bm25 vectorizer named "sparse" (have bm25)`) {
		t.Errorf("a sparse vectorizer as bm25: got %v", err)
	}
}

// TestACollectionMadeBeforeBM25KeepsWorking: a collection without a BM25
// vector is accepted as it is by the defaults, searched over the signals it
// has, and refused only where BM25 is asked for by name.
func TestACollectionMadeBeforeBM25KeepsWorking(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	if _, err := s.EnsureCollection(ctx, "old", CollectionConfig{BM25: None}); err != nil {
		t.Fatal(err)
	}
	s.forget("old")
	info, err := s.EnsureCollection(ctx, "old", CollectionConfig{})
	if err != nil {
		t.Fatalf("the defaults refused a collection without BM25: %v", err)
	}
	if info.BM25 != None {
		t.Errorf("bm25 = %q, want none", info.BM25)
	}
	if _, err := s.UpsertDocuments(ctx, "old", docs); err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(ctx, "old", SearchInput{Query: docs[1].Text})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Signals, ",") != "sparse,dense" || res.Mode != "hybrid" || res.Hits[0].DocID != "qdrant" {
		t.Errorf("default search = mode %s signals %v top %+v, want sparse and dense fused, qdrant first", res.Mode, res.Signals, res.Hits[0])
	}
	_, err = s.Search(ctx, "old", SearchInput{Query: "x", Signals: []string{"bm25", "dense"}})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `signals[0]: collection "old" has no bm25 vector`) {
		t.Errorf("bm25 by name on an old collection: got %v", err)
	}
	if _, err := s.Search(ctx, "old", SearchInput{Query: "x", Mode: "bm25"}); err == nil || !strings.Contains(err.Error(), `bm25 search: collection "old" has no bm25 vector`) {
		t.Errorf("bm25 mode on an old collection: got %v", err)
	}
	_, err = s.EnsureCollection(ctx, "old", CollectionConfig{BM25: "bm25"})
	if !errors.Is(err, qdrant.ErrSchemaMismatch) || !strings.Contains(err.Error(), "BM25 vector is none in Qdrant") ||
		!strings.Contains(err.Error(), `collection "old" lacks the bm25 signal the configuration names: add it in place`) ||
		!strings.Contains(err.Error(), "spladeq collection add-signal bm25 --config FILE") {
		t.Errorf("bm25 by name on an old collection: got %v, want a schema mismatch naming BM25 and how to add it in place", err)
	}
	// A configuration naming a sparse vectorizer, on a collection made
	// without one, is told the same way.
	if _, err := s.EnsureCollection(ctx, "dense-only", CollectionConfig{Sparse: None, BM25: None}); err != nil {
		t.Fatal(err)
	}
	_, err = s.EnsureCollection(ctx, "dense-only", CollectionConfig{BM25: None})
	if !errors.Is(err, qdrant.ErrSchemaMismatch) || !strings.Contains(err.Error(), "spladeq collection add-signal sparse --config FILE") {
		t.Errorf("sparse named on a collection without it: got %v, want the add-signal path", err)
	}
}

func TestSearchRequestsAreCheckedSignalByWeight(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	if _, err := s.EnsureCollection(ctx, "docs", CollectionConfig{BM25: None}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Search(ctx, "docs", SearchInput{Query: "q", Signals: []string{"sparse", "splade", "sparse"}, Mode: "dense",
		Fusion: "weighted", Weights: map[string]float64{"tfidf": 1, "dense": -2}})
	for _, want := range []string{
		`signals[1]: must be one of bm25, sparse, dense, got "splade"`,
		`signals[2]: "sparse" is listed twice`,
		`mode: dense contradicts signals [sparse splade sparse]`,
		`weights.dense: must be a finite number >= 0, got -2`,
		`weights.tfidf: not a signal`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	// alpha 1 weighs sparse 0; the request's weights, applied after it,
	// weigh dense 0.
	one := 1.0
	_, err = s.Search(ctx, "docs", SearchInput{Query: "q", Signals: []string{"sparse", "dense"}, Fusion: "weighted", Alpha: &one,
		Weights: map[string]float64{"dense": 0}})
	if err == nil || !strings.Contains(err.Error(), "weights: the signals [sparse dense] all weigh 0") {
		t.Errorf("every signal weighing 0: got %v", err)
	}
}

func TestHybridSearchOverThreeSignals(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	if _, err := s.EnsureCollection(ctx, "docs", CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertDocuments(ctx, "docs", docs); err != nil {
		t.Fatal(err)
	}
	t.Run("the default search fuses bm25, sparse and dense", func(t *testing.T) {
		res, err := s.Search(ctx, "docs", SearchInput{Query: docs[1].Text, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != "hybrid" || strings.Join(res.Signals, ",") != "bm25,sparse,dense" || res.Hits[0].DocID != "qdrant" {
			t.Fatalf("mode %s signals %v hits %+v, want the three fused and qdrant first", res.Mode, res.Signals, res.Hits)
		}
		h := res.Hits[0]
		if h.BM25Score == nil || *h.BM25Score <= 0 || h.SparseScore == nil || h.DenseScore == nil {
			t.Errorf("explained top hit's side scores = bm25 %v sparse %v dense %v, want all three", h.BM25Score, h.SparseScore, h.DenseScore)
		}
	})
	t.Run("bm25 alone matches words, not meanings", func(t *testing.T) {
		res, err := s.Search(ctx, "docs", SearchInput{Query: "lazy dogs", Mode: "bm25"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != "bm25" || len(res.Hits) != 1 || res.Hits[0].DocID != "fox" {
			t.Errorf("mode %s hits %+v, want only fox (the only text with lazy or dog)", res.Mode, res.Hits)
		}
	})
	for _, fusion := range []string{"rrf", "dbsf", "weighted", "weighted_rrf", "weighted_dbsf"} {
		t.Run(fusion+" over each pair and the three finds a document by its text", func(t *testing.T) {
			for _, signals := range [][]string{{"bm25", "sparse"}, {"bm25", "dense"}, {"sparse", "dense"}, {"dense", "sparse", "bm25"}} {
				res, err := s.Search(ctx, "docs", SearchInput{Query: docs[2].Text, Signals: signals, Fusion: fusion,
					Weights: map[string]float64{"bm25": 2}})
				if err != nil {
					t.Fatal(err)
				}
				if res.Hits[0].DocID != "splade" || res.Fusion != fusion || !reflect.DeepEqual(res.Signals, signals) {
					t.Errorf("%v %s: fusion %s signals %v top %s, want splade", signals, fusion, res.Fusion, res.Signals, res.Hits[0].DocID)
				}
			}
		})
	}
}

// TestIDFCorpusReachesTheStore: a search's idf_corpus weighs BM25 by the
// documents it matches (here the store is embedded, which has Qdrant
// 1.19's params.idf), and a bad one is a problem naming the field.
func TestIDFCorpusReachesTheStore(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	if _, err := s.EnsureCollection(ctx, "corpus", CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	docs := []DocumentInput{
		{ID: "a", Text: "timeout of the connection", Payload: map[string]any{"lang": "en"}},
		{ID: "b", Text: "connection pool", Payload: map[string]any{"lang": "en"}},
		{ID: "c", Text: "timeout timeout", Payload: map[string]any{"lang": "de"}},
		{ID: "d", Text: "a timeout", Payload: map[string]any{"lang": "de"}},
	}
	if _, err := s.UpsertDocuments(ctx, "corpus", docs); err != nil {
		t.Fatal(err)
	}
	search := func(corpus *qdrant.Filter) map[string]float32 {
		res, err := s.Search(ctx, "corpus", SearchInput{Query: "timeout connection", Mode: "bm25", Limit: 10, IDFCorpus: corpus})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float32{}
		for _, h := range res.Hits {
			out[h.DocID] = h.Score
		}
		return out
	}
	global := search(nil)
	en := search(&qdrant.Filter{Must: []qdrant.Condition{{Key: "lang", Match: "en"}}})
	// Over the English half, "timeout" is in 1 of 2 documents and
	// "connection" in 2 of 2; over all four, in 3 and 2: timeout weighs
	// more over en (c, d gain), connection less (b loses).
	if !(en["c"] > global["c"]) || !(en["d"] > global["d"]) || !(en["b"] < global["b"]) || len(en) != len(global) {
		t.Errorf("IDF over lang = en: %v; over the collection: %v; want every document scored, timeout weighing more, connection less", en, global)
	}
	_, err := s.Search(ctx, "corpus", SearchInput{Query: "timeout", Mode: "bm25", Limit: 10,
		IDFCorpus: &qdrant.Filter{Must: []qdrant.Condition{{Key: ""}}}})
	if err == nil || !strings.Contains(err.Error(), "idf_corpus") {
		t.Errorf("a bad idf_corpus: got %v, want a problem naming idf_corpus", err)
	}
}
