package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spladeq/spladeq/api"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/splade"
)

// Collection metadata keys recording which vectorizers fill a collection.
const (
	MetaSparse = "spladeq.sparse_vectorizer"
	MetaDense  = "spladeq.dense_vectorizer"
	MetaBM25   = "spladeq.bm25_vectorizer"
)

// None, as a collection's sparse or dense vectorizer, means that side is
// absent.
const None = "none"

// Problem is one thing wrong with a request.
type Problem = api.Problem

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
	collections map[string]cachedCollection // cache of Collection()

	inferModels map[string]inferenceModel // Infer's model names, by lower case

	closed atomic.Bool
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
	s := &Service{cfg: cfg, log: slog.Default(), collections: map[string]cachedCollection{},
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
	// The default bm25 vectorizer runs no model: a configuration whose
	// collection.bm25 names it without defining it (one built in Go, or
	// written before BM25) gets it, as config.Load gives it.
	if name := cfg.Collection.BM25; name == config.DefaultBM25 {
		if _, ok := cfg.Vectorizers[name]; !ok {
			if _, given := s.vecs[name]; !given {
				rest.Vectorizers[name] = config.DefaultVectorizers()[name]
			}
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
			s.metrics.registerQueue(name, "document", s.sparseDocs[name].Pending)
			s.metrics.registerQueue(name, "query", s.sparseQueries[name].Pending)
		case Dense:
			s.denseDocs[name] = newBatcher(m.EmbedDocuments, sv.BatchMaxSize, sv.BatchMaxDelay, sv.QueueSize)
			s.denseQueries[name] = newBatcher(m.EmbedQueries, sv.BatchMaxSize, sv.BatchMaxDelay, sv.QueueSize)
			s.denseDocs[name].observe, s.denseQueries[name].observe = observe("document"), observe("query")
			s.metrics.registerQueue(name, "document", s.denseDocs[name].Pending)
			s.metrics.registerQueue(name, "query", s.denseQueries[name].Pending)
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
// Closing again does nothing.
func (s *Service) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
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
