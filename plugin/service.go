package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/splade"
)

// Collection metadata keys recording which vectorizers fill a collection.
const (
	MetaSparse = "spladeq.sparse_vectorizer"
	MetaDense  = "spladeq.dense_vectorizer"
)

// None, as a collection's sparse or dense vectorizer, means that side is
// absent.
const None = "none"

// Problem is one thing wrong with a request.
type Problem struct {
	// Field is the JSON path of the bad field ("documents[2].text").
	Field string `json:"field"`
	// ID is the document id concerned, when there is one.
	ID      string `json:"id,omitempty"`
	Message string `json:"message"`
}

// InputError lists everything wrong with a request; nothing was stored.
type InputError struct{ Problems []Problem }

func (e *InputError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
		if p.ID != "" {
			parts[i] = fmt.Sprintf("%s (id %q): %s", p.Field, p.ID, p.Message)
		}
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func problems(ps ...Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return &InputError{Problems: ps}
}

// Service is spladeq as a Go library: vectorizers and a Qdrant connection
// behind collection, document, search and encode operations. It is safe for
// concurrent use.
type Service struct {
	cfg     *config.Config
	store   *qdrant.Client
	vecs    map[string]Vectorizer
	metrics *Metrics
	log     *slog.Logger

	sparseDocs, sparseQueries map[string]*batcher[splade.SparseVector]
	denseDocs, denseQueries   map[string]*batcher[[]float32]

	mu          sync.Mutex
	collections map[string]CollectionInfo // cache of Collection()

	inferModels map[string]inferenceModel // Infer's model names, by lower case
}

// Option configures New.
type Option func(*Service)

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithMetrics sets the metrics. Default: NewMetrics().
func WithMetrics(m *Metrics) Option { return func(s *Service) { s.metrics = m } }

// WithVectorizer adds a vectorizer built by the caller (a custom module),
// under name; a configured vectorizer of the same name is not built. The
// Service closes it.
func WithVectorizer(name string, v Vectorizer) Option {
	return func(s *Service) {
		if s.vecs == nil {
			s.vecs = map[string]Vectorizer{}
		}
		s.vecs[name] = v
	}
}

// New opens the store and builds every configured vectorizer.
func New(ctx context.Context, cfg *config.Config, opts ...Option) (*Service, error) {
	s := &Service{cfg: cfg, log: slog.Default(), collections: map[string]CollectionInfo{},
		sparseDocs: map[string]*batcher[splade.SparseVector]{}, sparseQueries: map[string]*batcher[splade.SparseVector]{},
		denseDocs: map[string]*batcher[[]float32]{}, denseQueries: map[string]*batcher[[]float32]{}}
	for _, o := range opts {
		o(s)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	rest := *cfg
	rest.Vectorizers = map[string]config.Vectorizer{}
	for name, vc := range cfg.Vectorizers {
		if _, given := s.vecs[name]; !given {
			rest.Vectorizers[name] = vc
		}
	}
	built, err := NewVectorizers(&rest)
	if err != nil {
		s.closeVectorizers()
		return nil, err
	}
	if s.vecs == nil {
		s.vecs = map[string]Vectorizer{}
	}
	for name, v := range built {
		s.vecs[name] = v
		vc := cfg.Vectorizers[name]
		if vc.Model != "" {
			model, _ := filepath.Abs(ResolveModel(vc.Model, cfg.Models.Dir))
			s.log.Info("vectorizer loaded", "name", name, "module", vc.Module, "model", model)
		}
	}
	vecs := s.vecs
	s.indexInferenceModels()
	store, err := qdrant.Open(ctx, qdrant.Config{URL: cfg.Qdrant.URL, APIKey: cfg.Qdrant.APIKey, TLS: cfg.Qdrant.TLS,
		CACertFile: cfg.Qdrant.CACertFile, Timeout: cfg.Qdrant.Timeout, MaxMessageSize: cfg.Qdrant.MaxMessageSize,
		Retries: cfg.Qdrant.Retries, RetryBackoff: cfg.Qdrant.RetryBackoff, BatchSize: cfg.Qdrant.BatchSize, Concurrency: cfg.Qdrant.Concurrency,
		WriteOrdering: cfg.Qdrant.WriteOrdering, ReadConsistency: cfg.Qdrant.ReadConsistency, Inference: s.embeddedInference})
	if err != nil {
		s.closeVectorizers()
		return nil, err
	}
	s.store = store
	sv := cfg.Server
	for name, v := range vecs {
		observe := func(kind string) func(int, time.Duration) {
			return func(n int, d time.Duration) {
				s.metrics.EncodeBatch.WithLabelValues(name, kind).Observe(float64(n))
				s.metrics.EncodeDuration.WithLabelValues(name, kind).Observe(d.Seconds())
			}
		}
		switch m := v.(type) {
		case Sparse:
			s.sparseDocs[name] = newBatcher(m.EncodeDocuments, sv.BatchMaxSize, sv.BatchMaxDelay, sv.QueueSize)
			s.sparseQueries[name] = newBatcher(m.EncodeQueries, sv.BatchMaxSize, sv.BatchMaxDelay, sv.QueueSize)
			s.sparseDocs[name].observe, s.sparseQueries[name].observe = observe("document"), observe("query")
		case Dense:
			s.denseDocs[name] = newBatcher(m.EmbedDocuments, sv.BatchMaxSize, sv.BatchMaxDelay, sv.QueueSize)
			s.denseQueries[name] = newBatcher(m.EmbedQueries, sv.BatchMaxSize, sv.BatchMaxDelay, sv.QueueSize)
			s.denseDocs[name].observe, s.denseQueries[name].observe = observe("document"), observe("query")
		}
		if st, ok := v.(interface{ Stats() splade.Stats }); ok {
			s.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "spladeq_tokens_total", Help: "Non-padding tokens run through each model.",
				ConstLabels: prometheus.Labels{"vectorizer": name}}, func() float64 { return float64(st.Stats().Tokens) }))
		}
	}
	return s, nil
}

// Metrics returns the service's metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Config returns the configuration the service runs with.
func (s *Service) Config() *config.Config { return s.cfg }

// Vectorizer returns a vectorizer by name.
func (s *Service) Vectorizer(name string) (Vectorizer, bool) {
	v, ok := s.vecs[name]
	return v, ok
}

// Store returns the Qdrant connection.
func (s *Service) Store() *qdrant.Client { return s.store }

// Ready reports whether the store answers (the models are loaded by New).
func (s *Service) Ready(ctx context.Context) error {
	defer s.metrics.observeStore("ping", time.Now())
	return s.store.Ping(ctx)
}

// Close stops the batchers and releases the vectorizers and the store.
func (s *Service) Close() error {
	for _, m := range []map[string]*batcher[splade.SparseVector]{s.sparseDocs, s.sparseQueries} {
		for _, b := range m {
			b.Close()
		}
	}
	for _, m := range []map[string]*batcher[[]float32]{s.denseDocs, s.denseQueries} {
		for _, b := range m {
			b.Close()
		}
	}
	errs := []error{s.closeVectorizers()}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

func (s *Service) closeVectorizers() error {
	var errs []error
	for _, v := range s.vecs {
		errs = append(errs, v.Close())
	}
	return errors.Join(errs...)
}

// CollectionConfig is how a collection is created.
type CollectionConfig struct {
	// Sparse names the sparse vectorizer; "" uses collection.sparse from
	// the configuration, "none" makes a dense-only collection.
	Sparse string `json:"sparse,omitempty"`
	// Dense names the dense vectorizer; "" uses collection.dense, "none"
	// makes a sparse-only collection.
	Dense string `json:"dense,omitempty"`
	// DenseSize must match the dense vectorizer's dimension when given.
	DenseSize int `json:"dense_size,omitempty"`
	// IDF turns on Qdrant's IDF modifier. Default collection.idf.
	IDF *bool `json:"idf,omitempty"`
	// Distance of the dense vector. Default collection.distance.
	Distance string `json:"distance,omitempty"`
}

// CollectionInfo describes a collection.
type CollectionInfo struct {
	Name      string `json:"name"`
	Points    uint64 `json:"points"`
	Sparse    string `json:"sparse"`
	Dense     string `json:"dense"`
	DenseSize int    `json:"dense_size,omitempty"`
	IDF       bool   `json:"idf"`
	Distance  string `json:"distance,omitempty"`
}

// EnsureCollection creates a collection, or checks that an existing one
// matches.
func (s *Service) EnsureCollection(ctx context.Context, name string, cc CollectionConfig) (CollectionInfo, error) {
	var ps []Problem
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") {
		ps = append(ps, Problem{Field: "name", Message: "must be 1..255 characters without / \\ or NUL"})
	}
	if cc.Sparse == "" {
		cc.Sparse = orNone(s.cfg.Collection.Sparse)
	}
	if cc.Dense == "" {
		cc.Dense = orNone(s.cfg.Collection.Dense)
	}
	if cc.Distance == "" {
		cc.Distance = s.cfg.Collection.Distance
	}
	idf := s.cfg.Collection.IDF
	if cc.IDF != nil {
		idf = *cc.IDF
	}
	col := s.cfg.Collection
	spec := qdrant.CollectionSpec{Name: name, Metadata: map[string]string{MetaSparse: cc.Sparse, MetaDense: cc.Dense},
		ShardNumber: uint32(col.ShardNumber), ReplicationFactor: uint32(col.ReplicationFactor),
		WriteConsistencyFactor: uint32(col.WriteConsistencyFactor), OnDiskPayload: col.OnDiskPayload}
	if cc.Sparse != None {
		if _, ok := s.vecs[cc.Sparse].(Sparse); !ok {
			ps = append(ps, Problem{Field: "sparse", Message: fmt.Sprintf("no sparse vectorizer named %q (have %s)", cc.Sparse, s.names(true))})
		}
		spec.Sparse = &qdrant.SparseSpec{IDF: idf, OnDisk: col.SparseOnDisk}
	}
	if cc.Dense != None {
		d, ok := s.vecs[cc.Dense].(Dense)
		switch {
		case !ok:
			ps = append(ps, Problem{Field: "dense", Message: fmt.Sprintf("no dense vectorizer named %q (have %s)", cc.Dense, s.names(false))})
		case cc.DenseSize != 0 && cc.DenseSize != d.Dimension():
			ps = append(ps, Problem{Field: "dense_size", Message: fmt.Sprintf("vectorizer %q gives %d dimensions, not %d", cc.Dense, d.Dimension(), cc.DenseSize)})
		default:
			spec.Dense = &qdrant.DenseSpec{Size: d.Dimension(), Distance: cc.Distance}
		}
	}
	if cc.Sparse == None && cc.Dense == None {
		ps = append(ps, Problem{Field: "sparse", Message: "a collection needs a sparse or a dense vectorizer"})
	}
	if err := problems(ps...); err != nil {
		return CollectionInfo{}, err
	}
	start := time.Now()
	err := s.store.EnsureCollection(ctx, spec)
	s.metrics.observeStore("ensure_collection", start)
	if err != nil {
		return CollectionInfo{}, err
	}
	s.forget(name)
	return s.Collection(ctx, name)
}

func orNone(name string) string {
	if name == "" {
		return None
	}
	return name
}

func (s *Service) names(sparse bool) string {
	var out []string
	for n, v := range s.vecs {
		if _, ok := v.(Sparse); ok == sparse {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// Collection describes an existing collection; the vectorizers come from
// its metadata, or from the configuration for collections made elsewhere.
func (s *Service) Collection(ctx context.Context, name string) (CollectionInfo, error) {
	start := time.Now()
	info, err := s.store.Info(ctx, name)
	s.metrics.observeStore("collection_info", start)
	if err != nil {
		return CollectionInfo{}, err
	}
	ci := CollectionInfo{Name: name, Points: info.Points, Sparse: None, Dense: None}
	if sp := info.Spec.Sparse; sp != nil {
		ci.IDF = sp.IDF
		ci.Sparse = orNone(s.cfg.Collection.Sparse)
		if m := info.Spec.Metadata[MetaSparse]; m != "" {
			ci.Sparse = m
		}
	}
	if d := info.Spec.Dense; d != nil {
		ci.DenseSize, ci.Distance = d.Size, d.Distance
		ci.Dense = orNone(s.cfg.Collection.Dense)
		if m := info.Spec.Metadata[MetaDense]; m != "" {
			ci.Dense = m
		}
	}
	s.mu.Lock()
	s.collections[name] = ci
	s.mu.Unlock()
	return ci, nil
}

// cached returns a collection's info, asking Qdrant on a miss.
func (s *Service) cached(ctx context.Context, name string) (CollectionInfo, error) {
	s.mu.Lock()
	ci, ok := s.collections[name]
	s.mu.Unlock()
	if ok {
		return ci, nil
	}
	return s.Collection(ctx, name)
}

func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.collections, name)
	s.mu.Unlock()
}

// DeleteCollection drops a collection.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	defer s.forget(name)
	defer s.metrics.observeStore("delete_collection", time.Now())
	if _, err := s.store.Info(ctx, name); err != nil {
		return err
	}
	return s.store.DeleteCollection(ctx, name)
}

// DocumentInput is a document to store.
type DocumentInput struct {
	ID      string         `json:"id"`
	Text    string         `json:"text"`
	Payload map[string]any `json:"payload,omitempty"`
	// Vector is a precomputed dense vector (required with the precomputed
	// module; it replaces the dense vectorizer's otherwise). A document with
	// a vector is stored as one chunk.
	Vector []float32 `json:"vector,omitempty"`
}

// UpsertResult says what an upsert stored.
type UpsertResult struct {
	Documents int `json:"documents"`
	Chunks    int `json:"chunks"`
}

// checkText validates one text, appending problems for field.
func (s *Service) checkText(ps []Problem, field, id, text string, maxBytes int) []Problem {
	switch {
	case strings.TrimSpace(text) == "":
		return append(ps, Problem{Field: field, ID: id, Message: "must not be empty"})
	case len(text) > maxBytes:
		return append(ps, Problem{Field: field, ID: id, Message: fmt.Sprintf("is %d bytes, over the %d-byte limit", len(text), maxBytes)})
	case !utf8.ValidString(text):
		return append(ps, Problem{Field: field, ID: id, Message: "is not valid UTF-8"})
	case strings.IndexByte(text, 0) >= 0:
		return append(ps, Problem{Field: field, ID: id, Message: "contains a NUL byte"})
	}
	return ps
}

func checkVector(v []float32, want int) string {
	if want > 0 && len(v) != want {
		return fmt.Sprintf("has dimension %d, the collection's is %d", len(v), want)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprintf("element %d is %v", i, x)
		}
	}
	return ""
}

// UpsertDocuments chunks, vectorizes and stores documents, replacing
// documents with the same ids (and removing chunks a shorter new version no
// longer has). Every document is checked first and every problem reported;
// then all chunks go to Qdrant in one request, so a failed call stores none
// of them.
func (s *Service) UpsertDocuments(ctx context.Context, collection string, docs []DocumentInput) (UpsertResult, error) {
	ci, err := s.cached(ctx, collection)
	if err != nil {
		return UpsertResult{}, err
	}
	var ps []Problem
	if len(docs) == 0 {
		ps = append(ps, Problem{Field: "documents", Message: "must not be empty"})
	}
	if len(docs) > s.cfg.Server.MaxTexts {
		ps = append(ps, Problem{Field: "documents", Message: fmt.Sprintf("has %d documents, over the limit of %d", len(docs), s.cfg.Server.MaxTexts)})
	}
	_, precomputedDense := s.vecs[ci.Dense].(*precomputed)
	seen := map[string]int{}
	for i, d := range docs {
		f := fmt.Sprintf("documents[%d]", i)
		if d.ID == "" {
			ps = append(ps, Problem{Field: f + ".id", Message: "must not be empty"})
		} else if j, dup := seen[d.ID]; dup {
			ps = append(ps, Problem{Field: f + ".id", ID: d.ID, Message: fmt.Sprintf("repeats documents[%d].id", j)})
		}
		seen[d.ID] = i
		ps = s.checkText(ps, f+".text", d.ID, d.Text, s.cfg.Server.MaxTextBytes)
		for k := range d.Payload {
			if k == qdrant.PayloadDocID || k == qdrant.PayloadChunk || k == qdrant.PayloadText {
				ps = append(ps, Problem{Field: f + ".payload." + k, ID: d.ID, Message: "is a reserved key"})
			}
		}
		switch {
		case d.Vector != nil && ci.Dense == None:
			ps = append(ps, Problem{Field: f + ".vector", ID: d.ID, Message: "the collection has no dense vector"})
		case d.Vector != nil:
			if msg := checkVector(d.Vector, ci.DenseSize); msg != "" {
				ps = append(ps, Problem{Field: f + ".vector", ID: d.ID, Message: msg})
			}
		case precomputedDense:
			ps = append(ps, Problem{Field: f + ".vector", ID: d.ID, Message: "is required: the collection's dense vectorizer is precomputed"})
		}
	}
	if err := problems(ps...); err != nil {
		return UpsertResult{}, err
	}

	chunks, err := s.chunk(ci, docs)
	if err != nil {
		return UpsertResult{}, err
	}
	if err := s.vectorize(ctx, ci, chunks, s.sparseDocs[ci.Sparse].Do, s.denseDocs[ci.Dense].Do); err != nil {
		return UpsertResult{}, err
	}
	start := time.Now()
	err = s.store.Upsert(ctx, collection, chunks, qdrant.WriteOptions{DenseSize: ci.DenseSize, Atomic: true})
	s.metrics.observeStore("upsert", start)
	if err != nil {
		return UpsertResult{}, err
	}
	// Remove chunks an earlier, longer version of each document left.
	counts := map[string]int{}
	for _, c := range chunks {
		counts[c.ID]++
	}
	if err := s.store.DeleteStaleChunks(ctx, collection, counts); err != nil {
		return UpsertResult{}, fmt.Errorf("documents stored, but removing their stale chunks failed (retry the call): %w", err)
	}
	return UpsertResult{Documents: len(docs), Chunks: len(chunks)}, nil
}

// ChunkDocuments splits documents into chunks as UpsertDocuments does: the
// collection's sparse vectorizer's token windows (ingest.chunk_tokens,
// ingest.chunk_overlap), one chunk for a document with a vector.
func (s *Service) ChunkDocuments(ci CollectionInfo, docs []DocumentInput) ([]qdrant.Document, error) {
	return s.chunk(ci, docs)
}

// Vectorize fills chunks' sparse and dense vectors by calling the
// collection's vectorizers directly, without the service's micro-batching
// and queue limit: for batch jobs, which batch by themselves.
func (s *Service) Vectorize(ctx context.Context, ci CollectionInfo, chunks []qdrant.Document) error {
	var sparse func(context.Context, []string) ([]splade.SparseVector, error)
	var dense func(context.Context, []string) ([][]float32, error)
	if v, ok := s.vecs[ci.Sparse].(Sparse); ok {
		sparse = v.EncodeDocuments
	}
	if v, ok := s.vecs[ci.Dense].(Dense); ok {
		dense = v.EmbedDocuments
	}
	return s.vectorize(ctx, ci, chunks, sparse, dense)
}

// vectorize fills the vectors of chunks with the given encode functions;
// dense vectors already present (precomputed) are kept.
func (s *Service) vectorize(ctx context.Context, ci CollectionInfo, chunks []qdrant.Document,
	sparse func(context.Context, []string) ([]splade.SparseVector, error),
	dense func(context.Context, []string) ([][]float32, error)) error {
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.Text
	}
	if ci.Sparse != None {
		if sparse == nil {
			return fmt.Errorf("collection's sparse vectorizer %q is not configured", ci.Sparse)
		}
		vecs, err := sparse(ctx, texts)
		if err != nil {
			return fmt.Errorf("encode documents with %s: %w", ci.Sparse, err)
		}
		for i := range chunks {
			chunks[i].Sparse = vecs[i]
		}
	}
	if ci.Dense == None {
		return nil
	}
	if dense == nil {
		return fmt.Errorf("collection's dense vectorizer %q is not configured", ci.Dense)
	}
	var need []int
	for i := range chunks {
		if chunks[i].Dense == nil {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	sub := make([]string, len(need))
	for k, i := range need {
		sub[k] = texts[i]
	}
	vecs, err := dense(ctx, sub)
	if err != nil {
		return fmt.Errorf("embed documents with %s: %w", ci.Dense, err)
	}
	for k, i := range need {
		chunks[i].Dense = vecs[k]
	}
	return nil
}

// chunk splits documents into the connector's documents, one per chunk.
func (s *Service) chunk(ci CollectionInfo, docs []DocumentInput) ([]qdrant.Document, error) {
	var chunker Chunker
	if c, ok := s.vecs[ci.Sparse].(Chunker); ok {
		chunker = c
	}
	var out []qdrant.Document
	for _, d := range docs {
		if chunker == nil || d.Vector != nil {
			out = append(out, qdrant.Document{ID: d.ID, Text: d.Text, Payload: d.Payload, Dense: d.Vector})
			continue
		}
		parts, err := chunker.Chunks(d.Text, s.cfg.Ingest.ChunkTokens, s.cfg.Ingest.ChunkOverlap)
		if err != nil {
			return nil, fmt.Errorf("chunk document %q: %w", d.ID, err)
		}
		for n, p := range parts {
			out = append(out, qdrant.Document{ID: d.ID, Chunk: n, Text: p.Text, Payload: d.Payload})
		}
	}
	return out, nil
}

// DeleteDocument removes every chunk of a document.
func (s *Service) DeleteDocument(ctx context.Context, collection, id string) error {
	if id == "" {
		return problems(Problem{Field: "id", Message: "must not be empty"})
	}
	if _, err := s.cached(ctx, collection); err != nil {
		return err
	}
	defer s.metrics.observeStore("delete", time.Now())
	return s.store.DeleteDocument(ctx, collection, id)
}

// SearchInput is one search. Zero fields take the configured defaults.
type SearchInput struct {
	Query string `json:"query"`
	// Vector is the dense query vector, required with the precomputed
	// module and used instead of the dense vectorizer otherwise.
	Vector         []float32      `json:"vector,omitempty"`
	Mode           string         `json:"mode,omitempty"`
	Fusion         string         `json:"fusion,omitempty"`
	Alpha          *float64       `json:"alpha,omitempty"`
	RRFK           int            `json:"rrf_k,omitempty"`
	Limit          int            `json:"limit,omitempty"`
	Offset         int            `json:"offset,omitempty"`
	PrefetchLimit  int            `json:"prefetch_limit,omitempty"`
	ScoreThreshold *float32       `json:"score_threshold,omitempty"`
	Filter         *qdrant.Filter `json:"filter,omitempty"`
	// Explain returns the query's expanded terms and, per hit, the terms
	// that contributed most to its sparse score.
	Explain bool `json:"explain,omitempty"`
	// WithPayload returns payloads. Default true.
	WithPayload *bool `json:"with_payload,omitempty"`
}

// MatchedTerm is a term shared by the query and a hit.
type MatchedTerm struct {
	Token        string  `json:"token"`
	QueryWeight  float32 `json:"query_weight"`
	DocWeight    float32 `json:"doc_weight"`
	Contribution float32 `json:"contribution"`
}

// SearchHit is one hit, with its explanation when asked for.
type SearchHit struct {
	qdrant.Hit
	MatchedTerms []MatchedTerm `json:"matched_terms,omitempty"`
}

// SearchResult is a search's answer.
type SearchResult struct {
	Hits []SearchHit `json:"hits"`
	// QueryTerms are the query's expanded terms, heaviest first (explain).
	QueryTerms []splade.Term `json:"query_terms,omitempty"`
	Mode       string        `json:"mode"`
	Fusion     string        `json:"fusion,omitempty"`
}

// maxExplainTerms bounds the terms an explanation lists.
const (
	maxQueryTerms = 32
	maxHitTerms   = 8
)

// Search runs a sparse, dense or hybrid search.
func (s *Service) Search(ctx context.Context, collection string, in SearchInput) (SearchResult, error) {
	ci, err := s.cached(ctx, collection)
	if err != nil {
		return SearchResult{}, err
	}
	d := s.cfg.Search
	if in.Mode == "" {
		in.Mode = d.Mode
		// A one-sided collection searches the side it has.
		if ci.Dense == None {
			in.Mode = "sparse"
		} else if ci.Sparse == None {
			in.Mode = "dense"
		}
	}
	if in.Fusion == "" {
		in.Fusion = d.Fusion
	}
	alpha := d.Alpha
	if in.Alpha != nil {
		alpha = *in.Alpha
	}
	if in.RRFK == 0 {
		in.RRFK = d.RRFK
	}
	if in.Limit == 0 {
		in.Limit = d.Limit
	}
	if in.PrefetchLimit == 0 {
		in.PrefetchLimit = d.PrefetchLimit
	}
	withPayload := in.WithPayload == nil || *in.WithPayload
	var ps []Problem
	needSparse := in.Mode == "sparse" || in.Mode == "hybrid"
	needDense := in.Mode == "dense" || in.Mode == "hybrid"
	switch {
	case in.Mode != "sparse" && in.Mode != "dense" && in.Mode != "hybrid":
		ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("must be sparse, dense or hybrid, got %q", in.Mode)})
	case needSparse && ci.Sparse == None:
		ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("%s search needs a sparse vector; collection %q has none", in.Mode, collection)})
	case needDense && ci.Dense == None:
		ps = append(ps, Problem{Field: "mode", Message: fmt.Sprintf("%s search needs a dense vector; collection %q has none", in.Mode, collection)})
	}
	_, precomputedDense := s.vecs[ci.Dense].(*precomputed)
	if in.Query == "" && !(needDense && !needSparse && in.Vector != nil) {
		ps = append(ps, Problem{Field: "query", Message: "must not be empty"})
	} else if in.Query != "" {
		ps = s.checkText(ps, "query", "", in.Query, s.cfg.Server.MaxTextBytes)
	}
	if needDense && precomputedDense && in.Vector == nil {
		ps = append(ps, Problem{Field: "vector", Message: "is required: the collection's dense vectorizer is precomputed"})
	}
	if in.Vector != nil {
		if msg := checkVector(in.Vector, ci.DenseSize); msg != "" {
			ps = append(ps, Problem{Field: "vector", Message: msg})
		}
	}
	if in.Limit < 1 || in.Limit > 1000 {
		ps = append(ps, Problem{Field: "limit", Message: fmt.Sprintf("must be 1..1000, got %d", in.Limit)})
	}
	if in.Offset < 0 || in.Offset > 10000 {
		ps = append(ps, Problem{Field: "offset", Message: fmt.Sprintf("must be 0..10000, got %d", in.Offset)})
	}
	if in.Fusion != "rrf" && in.Fusion != "dbsf" && in.Fusion != "weighted" {
		ps = append(ps, Problem{Field: "fusion", Message: fmt.Sprintf("must be rrf, dbsf or weighted, got %q", in.Fusion)})
	}
	if math.IsNaN(alpha) || alpha < 0 || alpha > 1 {
		ps = append(ps, Problem{Field: "alpha", Message: fmt.Sprintf("must be in [0, 1], got %v", alpha)})
	}
	if in.RRFK < 1 {
		ps = append(ps, Problem{Field: "rrf_k", Message: fmt.Sprintf("must be >= 1, got %d", in.RRFK)})
	}
	if err := in.Filter.Validate(); err != nil {
		ps = append(ps, Problem{Field: "filter", Message: err.Error()})
	}
	if err := problems(ps...); err != nil {
		return SearchResult{}, err
	}

	req := qdrant.SearchRequest{Mode: qdrant.Mode(in.Mode), Fusion: qdrant.Fusion(in.Fusion), RRFK: in.RRFK, Alpha: alpha,
		Filter: in.Filter, Limit: in.Limit, Offset: in.Offset, PrefetchLimit: in.PrefetchLimit, ScoreThreshold: in.ScoreThreshold,
		WithPayload: withPayload, WithSideScores: in.Explain && in.Mode == "hybrid", WithSparseVector: in.Explain && needSparse}
	// A hybrid query's two encodes run at once: its latency is the slower
	// encode, not their sum (BENCHMARKS.md, BenchmarkHybridQueryEncode).
	var sparseErr error
	var wg sync.WaitGroup
	if needSparse {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vecs, err := s.sparseQueries[ci.Sparse].Do(ctx, []string{in.Query})
			if err != nil {
				sparseErr = fmt.Errorf("encode query with %s: %w", ci.Sparse, err)
				return
			}
			req.Sparse = vecs[0]
		}()
	}
	var denseErr error
	if needDense {
		req.Dense = in.Vector
		if req.Dense == nil {
			vecs, err := s.denseQueries[ci.Dense].Do(ctx, []string{in.Query})
			if err != nil {
				denseErr = fmt.Errorf("embed query with %s: %w", ci.Dense, err)
			} else {
				req.Dense = vecs[0]
			}
		}
	}
	wg.Wait()
	if err := errors.Join(sparseErr, denseErr); err != nil {
		return SearchResult{}, err
	}
	start := time.Now()
	hits, err := s.store.Search(ctx, collection, req, qdrant.WriteOptions{})
	s.metrics.observeStore("search", start)
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Hits: make([]SearchHit, len(hits)), Mode: in.Mode}
	if in.Mode == "hybrid" {
		res.Fusion = in.Fusion
	}
	for i, h := range hits {
		res.Hits[i] = SearchHit{Hit: h}
	}
	if in.Explain && needSparse {
		if err := s.explain(ci, req.Sparse, &res); err != nil {
			return SearchResult{}, err
		}
	}
	return res, nil
}

// explain fills the query terms and each hit's top matching terms.
func (s *Service) explain(ci CollectionInfo, q splade.SparseVector, res *SearchResult) error {
	dec, ok := s.vecs[ci.Sparse].(TermDecoder)
	if !ok {
		return nil
	}
	terms, err := dec.Terms(q, maxQueryTerms)
	if err != nil {
		return err
	}
	res.QueryTerms = terms
	type match struct {
		idx             uint32
		qw, dw, contrib float32
	}
	for i := range res.Hits {
		d := res.Hits[i].Sparse
		var ms []match
		for a, b := 0, 0; a < len(q.Indices) && b < len(d.Indices); {
			switch {
			case q.Indices[a] < d.Indices[b]:
				a++
			case q.Indices[a] > d.Indices[b]:
				b++
			default:
				ms = append(ms, match{q.Indices[a], q.Values[a], d.Values[b], q.Values[a] * d.Values[b]})
				a++
				b++
			}
		}
		// Terms orders by weight, ties by lower index; sort the same way so
		// the decoded tokens line up with ms.
		sort.Slice(ms, func(x, y int) bool {
			if ms[x].contrib != ms[y].contrib {
				return ms[x].contrib > ms[y].contrib
			}
			return ms[x].idx < ms[y].idx
		})
		if len(ms) > maxHitTerms {
			ms = ms[:maxHitTerms]
		}
		var v splade.SparseVector
		for _, m := range ms {
			v.Indices, v.Values = append(v.Indices, m.idx), append(v.Values, m.contrib)
		}
		toks, err := dec.Terms(v, 0)
		if err != nil {
			return err
		}
		for k, m := range ms {
			res.Hits[i].MatchedTerms = append(res.Hits[i].MatchedTerms, MatchedTerm{Token: toks[k].Token, QueryWeight: m.qw, DocWeight: m.dw, Contribution: m.contrib})
		}
	}
	return nil
}

// EncodeInput asks for vectors of texts.
type EncodeInput struct {
	Texts []string `json:"texts"`
	// Sparse and Dense name vectorizers; "" uses collection.sparse and
	// collection.dense; "none" skips that side.
	Sparse string `json:"sparse,omitempty"`
	Dense  string `json:"dense,omitempty"`
	// Query encodes as queries.
	Query bool `json:"query,omitempty"`
	// Terms adds the N heaviest decoded terms of each sparse vector.
	Terms int `json:"terms,omitempty"`
}

// EncodedSparse is a sparse vector with optional decoded terms.
type EncodedSparse struct {
	splade.SparseVector
	Terms []splade.Term `json:"terms,omitempty"`
}

// Encoded is one text's vectors.
type Encoded struct {
	Sparse *EncodedSparse `json:"sparse,omitempty"`
	Dense  []float32      `json:"dense,omitempty"`
}

// Encode returns sparse and/or dense vectors for texts.
func (s *Service) Encode(ctx context.Context, in EncodeInput) ([]Encoded, error) {
	var ps []Problem
	if len(in.Texts) == 0 {
		ps = append(ps, Problem{Field: "texts", Message: "must not be empty"})
	}
	if len(in.Texts) > s.cfg.Server.MaxTexts {
		ps = append(ps, Problem{Field: "texts", Message: fmt.Sprintf("has %d texts, over the limit of %d", len(in.Texts), s.cfg.Server.MaxTexts)})
	}
	for i, t := range in.Texts {
		ps = s.checkText(ps, fmt.Sprintf("texts[%d]", i), "", t, s.cfg.Server.MaxTextBytes)
	}
	if in.Sparse == "" {
		in.Sparse = orNone(s.cfg.Collection.Sparse)
	}
	if in.Dense == "" {
		in.Dense = orNone(s.cfg.Collection.Dense)
	}
	if in.Sparse != None {
		if _, ok := s.vecs[in.Sparse].(Sparse); !ok {
			ps = append(ps, Problem{Field: "sparse", Message: fmt.Sprintf("no sparse vectorizer named %q (have %s)", in.Sparse, s.names(true))})
		}
	}
	if in.Dense != None {
		if _, ok := s.vecs[in.Dense].(Dense); !ok {
			ps = append(ps, Problem{Field: "dense", Message: fmt.Sprintf("no dense vectorizer named %q (have %s)", in.Dense, s.names(false))})
		} else if _, pre := s.vecs[in.Dense].(*precomputed); pre {
			ps = append(ps, Problem{Field: "dense", Message: fmt.Sprintf("vectorizer %q is precomputed: it cannot encode text", in.Dense)})
		}
	}
	if in.Terms < 0 || in.Terms > 1000 {
		ps = append(ps, Problem{Field: "terms", Message: fmt.Sprintf("must be 0..1000, got %d", in.Terms)})
	}
	if err := problems(ps...); err != nil {
		return nil, err
	}
	out := make([]Encoded, len(in.Texts))
	if in.Sparse != None {
		b := s.sparseDocs[in.Sparse]
		if in.Query {
			b = s.sparseQueries[in.Sparse]
		}
		vecs, err := b.Do(ctx, in.Texts)
		if err != nil {
			return nil, err
		}
		dec, _ := s.vecs[in.Sparse].(TermDecoder)
		for i, v := range vecs {
			e := &EncodedSparse{SparseVector: v}
			if e.Indices == nil {
				e.Indices, e.Values = []uint32{}, []float32{}
			}
			if in.Terms > 0 && dec != nil {
				terms, err := dec.Terms(v, in.Terms)
				if err != nil {
					return nil, err
				}
				e.Terms = terms
			}
			out[i].Sparse = e
		}
	}
	if in.Dense != None {
		b := s.denseDocs[in.Dense]
		if in.Query {
			b = s.denseQueries[in.Dense]
		}
		vecs, err := b.Do(ctx, in.Texts)
		if err != nil {
			return nil, err
		}
		for i, v := range vecs {
			out[i].Dense = v
		}
	}
	return out, nil
}
