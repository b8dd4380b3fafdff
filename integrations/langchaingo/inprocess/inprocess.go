// Package inprocess is the langchaingo store's backend over a
// *plugin.Service in the same process: no server, but the program links
// spladeq's engine (ONNX Runtime and the tokenizers, through cgo). A
// program that talks to a running spladeq over HTTP uses spladeq.NewHTTP
// instead and links none of it.
//
//	svc, _ := plugin.New(ctx, cfg)
//	store, _ := spladeq.New(inprocess.New(svc), spladeq.WithCollection("docs"))
package inprocess

import (
	"context"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/plugin"
)

// Backend is a spladeq.Backend over a *plugin.Service.
type Backend struct{ svc *plugin.Service }

// New returns a backend over svc; the caller keeps svc and closes it.
func New(svc *plugin.Service) *Backend { return &Backend{svc} }

// EnsureCollection creates the collection with the configured vectorizers
// when it is missing.
func (b *Backend) EnsureCollection(ctx context.Context, collection string) error {
	_, err := b.svc.EnsureCollection(ctx, collection, api.CollectionConfig{})
	return err
}

// Upsert stores documents, replacing those with the same ids.
func (b *Backend) Upsert(ctx context.Context, collection string, docs []api.DocumentInput) error {
	_, err := b.svc.UpsertDocuments(ctx, collection, docs)
	return err
}

// Search runs one search.
func (b *Backend) Search(ctx context.Context, collection string, in api.SearchRequest) ([]api.Hit, error) {
	res, err := b.svc.Search(ctx, collection, in)
	if err != nil {
		return nil, err
	}
	hits := make([]api.Hit, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = h.Hit
	}
	return hits, nil
}
