// Package spladeq is a langchaingo vector store (vectorstores.VectorStore)
// backed by spladeq: documents are chunked, encoded with SPLADE and the
// dense model, and stored in Qdrant; SimilaritySearch is hybrid (SPLADE +
// dense, Qdrant-native RRF) by default.
//
// It talks to spladeq through its HTTP API (NewHTTP, or NewClient over a
// configured client.Client) or, in the same process, through the Go
// library (package inprocess, over a *plugin.Service), behind one small
// Backend interface. This package links nothing of spladeq's engine: a
// program using NewHTTP builds with CGO_ENABLED=0; only inprocess brings
// ONNX Runtime and the tokenizers. It lives in its own module so spladeq's
// core module does not take on langchaingo's dependencies.
//
//	store, _ := spladeq.New(spladeq.NewHTTP("http://localhost:8080", apiKey, nil), spladeq.WithCollection("docs"))
//	store.AddDocuments(ctx, []schema.Document{{PageContent: "...", Metadata: map[string]any{"lang": "en"}}})
//	retriever := vectorstores.ToRetriever(store, 4)
package spladeq

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores"

	"github.com/spladeq/spladeq/api"
)

// Backend is what the store needs from spladeq.
type Backend interface {
	// EnsureCollection creates the collection with the configured
	// vectorizers when it is missing.
	EnsureCollection(ctx context.Context, collection string) error
	// Upsert stores documents, replacing those with the same ids.
	Upsert(ctx context.Context, collection string, docs []api.DocumentInput) error
	// Search runs one search.
	Search(ctx context.Context, collection string, in api.SearchRequest) ([]api.Hit, error)
}

// Store is a langchaingo VectorStore over a spladeq Backend.
type Store struct {
	b          Backend
	collection string
	mode       string
	signals    []string
	fusion     string
	weights    map[string]float64
	alpha      *float64
	idKey      string
	ensured    map[string]bool
}

var _ vectorstores.VectorStore = (*Store)(nil)

// Option configures a Store; it fails on a value it cannot accept.
type Option func(*Store) error

// WithCollection names the collection. Default "docs" (a per-call
// vectorstores.WithNameSpace overrides it).
func WithCollection(name string) Option {
	return func(s *Store) error {
		if name == "" {
			return errors.New("collection: must not be empty")
		}
		s.collection = name
		return nil
	}
}

// WithMode sets the search mode: "hybrid", or one signal alone: "sparse",
// "dense" or "bm25". Default: the service's search.mode.
func WithMode(mode string) Option {
	return func(s *Store) error {
		switch mode {
		case "hybrid", "sparse", "dense", "bm25":
			s.mode = mode
			return nil
		}
		return fmt.Errorf("mode: must be hybrid, sparse, dense or bm25, got %q", mode)
	}
}

// WithSignals sets the signals a hybrid search fuses, of "bm25", "sparse"
// and "dense". Default: the service's search.signals, less those the
// collection lacks.
func WithSignals(signals ...string) Option {
	return func(s *Store) error {
		if len(signals) == 0 {
			return errors.New("signals: name at least one of bm25, sparse, dense")
		}
		seen := map[string]bool{}
		for _, sig := range signals {
			if sig != "bm25" && sig != "sparse" && sig != "dense" || seen[sig] {
				return fmt.Errorf("signals: want distinct bm25, sparse, dense, got %v", signals)
			}
			seen[sig] = true
		}
		s.signals = append([]string(nil), signals...)
		return nil
	}
}

// WithWeights sets weighted fusion's weight per signal (relative, >= 0).
// Default: the service's search.weights.
func WithWeights(weights map[string]float64) Option {
	return func(s *Store) error {
		for sig, w := range weights {
			if sig != "bm25" && sig != "sparse" && sig != "dense" {
				return fmt.Errorf("weights: %q is not a signal (want bm25, sparse, dense)", sig)
			}
			if !(w >= 0) {
				return fmt.Errorf("weights.%s: must be >= 0, got %v", sig, w)
			}
		}
		s.weights = weights
		return nil
	}
}

// WithFusion sets hybrid fusion: "rrf", "dbsf", "weighted",
// "weighted_rrf" or "weighted_dbsf" (the weighted ones with WithWeights,
// or WithAlpha for sparse against dense). Default: the service's
// search.fusion.
func WithFusion(fusion string) Option {
	return func(s *Store) error {
		switch fusion {
		case "rrf", "dbsf", "weighted", "weighted_rrf", "weighted_dbsf":
			s.fusion = fusion
			return nil
		}
		return fmt.Errorf("fusion: must be rrf, dbsf, weighted, weighted_rrf or weighted_dbsf, got %q", fusion)
	}
}

// WithAlpha is shorthand for weights sparse 1−alpha and dense alpha,
// 0..1. Default: unset.
func WithAlpha(alpha float64) Option {
	return func(s *Store) error {
		if alpha < 0 || alpha > 1 {
			return fmt.Errorf("alpha: must be 0..1, got %v", alpha)
		}
		s.alpha = &alpha
		return nil
	}
}

// WithIDKey names the metadata key whose value is a document's id (so
// adding it again replaces it). Default "id"; documents without it get a
// random id.
func WithIDKey(key string) Option {
	return func(s *Store) error { s.idKey = key; return nil }
}

// New returns a store over b.
func New(b Backend, opts ...Option) (*Store, error) {
	if b == nil {
		return nil, errors.New("spladeq: nil backend")
	}
	s := &Store{b: b, collection: "docs", idKey: "id", ensured: map[string]bool{}}
	var errs []error
	for _, o := range opts {
		errs = append(errs, o(s))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("spladeq: %w", err)
	}
	return s, nil
}

func (s *Store) collectionOf(o vectorstores.Options) string {
	if o.NameSpace != "" {
		return o.NameSpace
	}
	return s.collection
}

// AddDocuments stores docs: PageContent is the text (chunked by tokens),
// Metadata the payload (usable in filters). It returns the documents' ids.
func (s *Store) AddDocuments(ctx context.Context, docs []schema.Document, options ...vectorstores.Option) ([]string, error) {
	var o vectorstores.Options
	for _, opt := range options {
		opt(&o)
	}
	if o.Embedder != nil {
		return nil, errors.New("spladeq: the store encodes with its own SPLADE and dense models; WithEmbedder is not supported")
	}
	collection := s.collectionOf(o)
	in := make([]api.DocumentInput, 0, len(docs))
	ids := make([]string, 0, len(docs))
	for i, d := range docs {
		if o.Deduplicater != nil && o.Deduplicater(ctx, d) {
			continue
		}
		id, payload, err := s.split(d.Metadata)
		if err != nil {
			return nil, fmt.Errorf("spladeq: documents[%d]: %w", i, err)
		}
		in = append(in, api.DocumentInput{ID: id, Text: d.PageContent, Payload: payload})
		ids = append(ids, id)
	}
	if len(in) == 0 {
		return ids, nil
	}
	if !s.ensured[collection] {
		if err := s.b.EnsureCollection(ctx, collection); err != nil {
			return nil, fmt.Errorf("spladeq: collection %s: %w", collection, err)
		}
		s.ensured[collection] = true
	}
	if err := s.b.Upsert(ctx, collection, in); err != nil {
		return nil, fmt.Errorf("spladeq: add documents to %s: %w", collection, err)
	}
	return ids, nil
}

// split takes the id out of the metadata and refuses spladeq's own keys.
func (s *Store) split(meta map[string]any) (string, map[string]any, error) {
	payload := map[string]any{}
	id := ""
	for k, v := range meta {
		switch {
		case k == s.idKey:
			str, ok := v.(string)
			if !ok || str == "" {
				return "", nil, fmt.Errorf("metadata.%s: the id must be a non-empty string, got %T", k, v)
			}
			id = str
		case k == api.PayloadDocID || k == api.PayloadChunk || k == api.PayloadText:
			return "", nil, fmt.Errorf("metadata.%s: reserved by spladeq (it is the hit's doc_id, chunk or text)", k)
		default:
			payload[k] = v
		}
	}
	if id == "" {
		var b [16]byte
		rand.Read(b[:])
		id = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	if len(payload) == 0 {
		payload = nil
	}
	return id, payload, nil
}

// SimilaritySearch returns the numDocuments best chunks for query.
// vectorstores.WithScoreThreshold drops hits scoring below it (in the
// mode's own scale: an RRF score for hybrid rrf, a dot product for sparse,
// a BM25 score for bm25, a cosine for dense); vectorstores.WithFilters takes
// an api.Filter (the same type as api.Filter) or its JSON form as a map:
// {"must": [{"key": "lang", "match": "en"}]}.
// Each document's Metadata is its payload plus doc_id and chunk.
func (s *Store) SimilaritySearch(ctx context.Context, query string, numDocuments int, options ...vectorstores.Option) ([]schema.Document, error) {
	var o vectorstores.Options
	for _, opt := range options {
		opt(&o)
	}
	if o.Embedder != nil {
		return nil, errors.New("spladeq: the store encodes with its own SPLADE and dense models; WithEmbedder is not supported")
	}
	in := api.SearchRequest{Query: query, Mode: s.mode, Signals: s.signals, Fusion: s.fusion, Weights: s.weights,
		Limit: numDocuments, Alpha: s.alpha}
	if o.ScoreThreshold != 0 {
		th := o.ScoreThreshold
		in.ScoreThreshold = &th
	}
	if o.Filters != nil {
		f, err := toFilter(o.Filters)
		if err != nil {
			return nil, fmt.Errorf("spladeq: filters: %w", err)
		}
		in.Filter = f
	}
	hits, err := s.b.Search(ctx, s.collectionOf(o), in)
	if err != nil {
		return nil, fmt.Errorf("spladeq: search %s: %w", s.collectionOf(o), err)
	}
	out := make([]schema.Document, 0, len(hits))
	for _, h := range hits {
		meta := map[string]any{}
		for k, v := range h.Payload {
			if k != api.PayloadText {
				meta[k] = v
			}
		}
		meta[api.PayloadDocID], meta[api.PayloadChunk] = h.DocID, h.Chunk
		out = append(out, schema.Document{PageContent: h.Text, Metadata: meta, Score: h.Score})
	}
	return out, nil
}

// toFilter accepts an api.Filter, a pointer to one, or anything that
// marshals to its JSON form.
func toFilter(v any) (*api.Filter, error) {
	switch f := v.(type) {
	case api.Filter:
		return &f, nil
	case *api.Filter:
		return f, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var f api.Filter
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("want a api.Filter or its JSON form ({\"must\": [{\"key\": ..., \"match\": ...}]}): %w", err)
	}
	return &f, nil
}
