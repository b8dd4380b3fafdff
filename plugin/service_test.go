package plugin

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/splade"
)

const (
	sparseFixture = "../splade/testdata/models/bert-tiny"
	denseFixture  = "testdata/models/dense-tiny"
)

// testConfig is the default configuration with the fixture models and an
// embedded store in a temporary directory.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(pluginDir)
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + t.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse":  {Module: config.ModuleSPLADE, Model: sparseFixture},
		"dense":   {Module: config.ModuleONNXDense, Model: denseFixture},
		"idf":     {Module: config.ModuleSPLADEIDF, Model: sparseFixture},
		"vectors": {Module: config.ModulePrecomputed, Dimension: 3},
	}
	return cfg
}

var pluginDir = func() string {
	wd, _ := osGetwd()
	return wd
}()

func newService(t *testing.T, cfg *config.Config) *Service {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var docs = []DocumentInput{
	{ID: "fox", Text: "The quick brown fox jumps over the lazy dog.", Payload: map[string]any{"kind": "animal"}},
	{ID: "qdrant", Text: "Qdrant stores sparse vectors next to dense vectors.", Payload: map[string]any{"kind": "database"}},
	{ID: "splade", Text: "SPLADE expands queries and documents with related vocabulary terms.", Payload: map[string]any{"kind": "model"}},
}

func TestServiceRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	info, err := s.EnsureCollection(ctx, "docs", CollectionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Sparse != "sparse" || info.Dense != "dense" || info.DenseSize != 32 {
		t.Fatalf("collection = %+v", info)
	}
	res, err := s.UpsertDocuments(ctx, "docs", docs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Documents != 3 || res.Chunks != 3 {
		t.Errorf("upsert = %+v, want 3 documents in 3 chunks", res)
	}
	for _, mode := range []string{"sparse", "dense", "hybrid"} {
		for _, fusion := range []string{"rrf", "dbsf", "weighted"} {
			if mode != "hybrid" && fusion != "rrf" {
				continue
			}
			t.Run(mode+" "+fusion+" search finds a document by its own text", func(t *testing.T) {
				out, err := s.Search(ctx, "docs", SearchInput{Query: docs[1].Text, Mode: mode, Fusion: fusion, Limit: 3})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Hits) == 0 || out.Hits[0].DocID != "qdrant" {
					t.Fatalf("hits = %+v, want qdrant first", out.Hits)
				}
				if out.Hits[0].Text != docs[1].Text || out.Hits[0].Payload["kind"] != "database" {
					t.Errorf("hit = %+v, want its text and payload", out.Hits[0])
				}
			})
		}
	}
	t.Run("explain lists the query terms and each hit's matching terms", func(t *testing.T) {
		out, err := s.Search(ctx, "docs", SearchInput{Query: "sparse vectors", Explain: true, Mode: "hybrid"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.QueryTerms) == 0 {
			t.Fatal("no query terms")
		}
		h := out.Hits[0]
		if len(h.MatchedTerms) == 0 || h.SparseScore == nil {
			t.Fatalf("top hit has no explanation: %+v", h)
		}
		var sum float32
		for i, m := range h.MatchedTerms {
			if m.Contribution != m.QueryWeight*m.DocWeight || m.Token == "" {
				t.Errorf("term %+v: contribution is not query × doc weight", m)
			}
			if i > 0 && m.Contribution > h.MatchedTerms[i-1].Contribution {
				t.Errorf("terms not sorted by contribution")
			}
			sum += m.Contribution
		}
		if len(h.MatchedTerms) < maxHitTerms && abs(sum-*h.SparseScore) > 1e-3 {
			t.Errorf("contributions sum to %v, the sparse score is %v", sum, *h.SparseScore)
		}
	})
	t.Run("a filter restricts the hits", func(t *testing.T) {
		out, err := s.Search(ctx, "docs", SearchInput{Query: "vectors", Filter: &qdrant.Filter{Must: []qdrant.Condition{{Key: "kind", Match: "model"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Hits) != 1 || out.Hits[0].DocID != "splade" {
			t.Errorf("hits = %+v, want only splade", out.Hits)
		}
	})
	t.Run("deleting a document removes it", func(t *testing.T) {
		if err := s.DeleteDocument(ctx, "docs", "fox"); err != nil {
			t.Fatal(err)
		}
		ci, err := s.Collection(ctx, "docs")
		if err != nil || ci.Points != 2 {
			t.Errorf("points = %d, %v; want 2", ci.Points, err)
		}
	})
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestLongDocumentsAreChunkedAndShrinkingRemovesStaleChunks(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.Ingest.ChunkTokens, cfg.Ingest.ChunkOverlap = 16, 4
	s := newService(t, cfg)
	if _, err := s.EnsureCollection(ctx, "docs", CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("retrieval systems index sparse vectors quickly. ", 20)
	res, err := s.UpsertDocuments(ctx, "docs", []DocumentInput{{ID: "long", Text: long}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks < 5 {
		t.Fatalf("%d chunks, want many", res.Chunks)
	}
	if _, err := s.UpsertDocuments(ctx, "docs", []DocumentInput{{ID: "long", Text: "now short"}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Store().Count(ctx, "docs", &qdrant.Filter{Must: []qdrant.Condition{{Key: "doc_id", Match: "long"}}})
	if err != nil || n != 1 {
		t.Errorf("chunks of the shrunk document = %d, %v; want 1", n, err)
	}
}

func TestBadInputIsRefusedWithEveryFieldNamedAndNothingStored(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.Server.MaxTextBytes = 100
	s := newService(t, cfg)
	if _, err := s.EnsureCollection(ctx, "docs", CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	bad := []DocumentInput{
		{ID: "ok", Text: "fine"},
		{ID: "", Text: "no id"},
		{ID: "empty", Text: "  "},
		{ID: "huge", Text: strings.Repeat("x", 101)},
		{ID: "utf8", Text: "bad \xff"},
		{ID: "nul", Text: "a\x00b"},
		{ID: "ok", Text: "again"},
		{ID: "vec", Text: "x", Vector: []float32{1, 2}},
		{ID: "resv", Text: "x", Payload: map[string]any{"text": "x"}},
	}
	_, err := s.UpsertDocuments(ctx, "docs", bad)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want *InputError", err)
	}
	for _, want := range []string{
		"documents[1].id: must not be empty",
		`documents[2].text (id "empty"): must not be empty`,
		`documents[3].text (id "huge"): is 101 bytes, over the 100-byte limit`,
		`documents[4].text (id "utf8"): is not valid UTF-8`,
		`documents[5].text (id "nul"): contains a NUL byte`,
		`documents[6].id (id "ok"): repeats documents[0].id`,
		`documents[7].vector (id "vec"): has dimension 2, the collection's is 32`,
		`documents[8].payload.text (id "resv"): is a reserved key`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if ci, _ := s.Collection(ctx, "docs"); ci.Points != 0 {
		t.Errorf("%d points stored by a refused batch", ci.Points)
	}
	_, err = s.Search(ctx, "missing", SearchInput{Query: "x"})
	if !errors.Is(err, qdrant.ErrNotFound) {
		t.Errorf("search of an unknown collection: %v, want ErrNotFound", err)
	}
	_, err = s.Search(ctx, "docs", SearchInput{Query: "", Mode: "fuzzy", Limit: -1})
	for _, want := range []string{"mode: must be hybrid, sparse, dense or bm25", "query: must not be empty", "limit: must be 1..1000"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("search error %v does not say %q", err, want)
		}
	}
	_, err = s.EnsureCollection(ctx, "x", CollectionConfig{Sparse: "nope", Dense: "sparse"})
	for _, want := range []string{`sparse: no sparse vectorizer named "nope"`, `dense: no dense vectorizer named "sparse"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ensure error %v does not say %q", err, want)
		}
	}
}

func TestPrecomputedVectorsAreRequiredAndUsed(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	if _, err := s.EnsureCollection(ctx, "pre", CollectionConfig{Dense: "vectors"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpsertDocuments(ctx, "pre", []DocumentInput{{ID: "a", Text: "no vector"}})
	if err == nil || !strings.Contains(err.Error(), "documents[0].vector (id \"a\"): is required") {
		t.Fatalf("got %v, want a required-vector error", err)
	}
	in := []DocumentInput{{ID: "a", Text: "alpha", Vector: []float32{1, 0, 0}}, {ID: "b", Text: "beta", Vector: []float32{0, 1, 0}}}
	if _, err := s.UpsertDocuments(ctx, "pre", in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Search(ctx, "pre", SearchInput{Mode: "dense", Vector: []float32{0, 1, 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Hits) != 2 || out.Hits[0].DocID != "b" {
		t.Errorf("hits = %+v, want b first", out.Hits)
	}
}

func TestSPLADEIDFQueriesCostATokenizerCallAndUseTheTable(t *testing.T) {
	ctx := context.Background()
	s := newService(t, testConfig(t))
	v, _ := s.Vectorizer("idf")
	m := v.(*spladeIDF)
	before := m.Stats().Batches
	q, err := m.EncodeQueries(ctx, []string{"the fox the zzzqqq"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Stats().Batches != before {
		t.Error("a splade-idf query ran the model")
	}
	ids, _ := m.VocabIDs()
	want := map[uint32]float32{ids["the"]: m.idf[ids["the"]], ids["fox"]: m.idf[ids["fox"]]}
	for i, id := range q[0].Indices {
		if w, ok := want[id]; ok && q[0].Values[i] != w {
			t.Errorf("token %d weight %v, want idf %v", id, q[0].Values[i], w)
		}
	}
	if want[ids["the"]] == 0 || want[ids["fox"]] == 0 {
		t.Fatal("fixture idf.json lacks the or fox")
	}
	// "zzzqqq" is not in idf.json: its word pieces weigh 1.
	ones := 0
	for _, w := range q[0].Values {
		if w == 1 {
			ones++
		}
	}
	if ones == 0 {
		t.Errorf("no token weighs 1 in %+v, want the unknown word's pieces at 1", q[0])
	}
	for i := 1; i < len(q[0].Indices); i++ {
		if q[0].Indices[i] <= q[0].Indices[i-1] {
			t.Fatalf("indices not strictly increasing (the repeated 'the' must appear once): %v", q[0].Indices)
		}
	}
}

func TestUnknownModuleAndMissingModelAreNamed(t *testing.T) {
	cfg := testConfig(t)
	cfg.Vectorizers = map[string]config.Vectorizer{"s": {Module: config.ModuleSPLADE, Model: "/no/such/model"}}
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "vectorizers.s:") || !strings.Contains(err.Error(), "/no/such/model") {
		t.Errorf("got %v, want an error naming vectorizers.s and the path", err)
	}
	cfg.Vectorizers = map[string]config.Vectorizer{"s": {Module: "word2vec"}}
	_, err = New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), `unknown vectorizer module "word2vec"`) {
		t.Errorf("got %v", err)
	}
}

func TestRequestTimeoutReachesTheStore(t *testing.T) {
	s := newService(t, testConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := s.EnsureCollection(ctx, "docs", CollectionConfig{}); err == nil {
		t.Error("an expired context did not fail the call")
	}
}

// TestHeadBlockSetting maps vectorizers.NAME.head_block to the encoder's
// option: 0 is the default slice width, -1 turns the blocked head off.
func TestHeadBlockSetting(t *testing.T) {
	for in, want := range map[int]int{0: splade.DefaultHeadBlock, -1: 0, 1024: 1024} {
		if got := HeadBlock(in); got != want {
			t.Errorf("head_block %d: got %d, want %d", in, got, want)
		}
	}
}

// TestAutoThreadsSplitTheCPUBudget: the automatic split reads the CPU
// budget Go computes from the container's quota (runtime.GOMAXPROCS), not
// the node's CPUs: a budget of 8 set in the process gives a hybrid pair 4
// threads each, whatever this machine's core count; one set explicitly
// stays.
func TestAutoThreadsSplitTheCPUBudget(t *testing.T) {
	saved := runtime.GOMAXPROCS(8)
	t.Cleanup(func() { runtime.GOMAXPROCS(saved) })
	cfg := &config.Config{Vectorizers: map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: sparseFixture},
		"dense":  {Module: config.ModuleONNXDense, Model: denseFixture, Threads: 3},
	}}
	vs, err := NewVectorizers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, v := range vs {
			v.Close()
		}
	}()
	if got := vs["sparse"].(*spladeModule).Threads(); got != 4 {
		t.Errorf("sparse with GOMAXPROCS 8: got %d threads, want 4", got)
	}
	if got := vs["dense"].(*onnxDense).Threads(); got != 3 {
		t.Errorf("dense with threads 3: got %d threads, want 3", got)
	}
}

// TestAutoThreads: a splade and an onnx-dense vectorizer together get half
// the cores each (a hybrid query runs both at once); anything else keeps
// the runtime's default.
func TestAutoThreads(t *testing.T) {
	vc := func(modules ...string) map[string]config.Vectorizer {
		m := map[string]config.Vectorizer{}
		for i, mod := range modules {
			m[string(rune('a'+i))] = config.Vectorizer{Module: mod}
		}
		return m
	}
	for _, c := range []struct {
		vcs   map[string]config.Vectorizer
		cores int
		want  int
	}{
		{vc(config.ModuleSPLADE, config.ModuleONNXDense), 2, 1},
		{vc(config.ModuleSPLADE, config.ModuleONNXDense), 16, 8},
		{vc(config.ModuleSPLADE, config.ModuleONNXDense), 1, 1},
		{vc(config.ModuleSPLADE), 16, 0},
		{vc(config.ModuleSPLADEIDF, config.ModuleONNXDense), 16, 0},
		{vc(config.ModuleSPLADE, config.ModuleOpenAI), 16, 0},
	} {
		if got := autoThreads(c.vcs, c.cores); got != c.want {
			t.Errorf("%v on %d cores: got %d, want %d", c.vcs, c.cores, got, c.want)
		}
	}
}
