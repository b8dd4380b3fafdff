package spladeq

import (
	"context"
	"net/http"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/client"
)

// NewHTTP is a Backend over spladeq's HTTP API at baseURL (e.g.
// "http://localhost:8080"), with an API key when the server wants one,
// through package client with its defaults (timeouts, retries on 429 and
// 503). httpClient nil means a client of its own. A baseURL that client.New
// refuses makes every call fail with its error; NewClient takes a client
// configured by the caller.
func NewHTTP(baseURL, apiKey string, httpClient *http.Client) Backend {
	c, err := client.New(client.Config{BaseURL: baseURL, APIKey: apiKey, HTTPClient: httpClient})
	if err != nil {
		return failed{err}
	}
	return NewClient(c)
}

// NewClient is a Backend over a spladeq Go client.
func NewClient(c *client.Client) Backend { return httpBackend{c} }

// HTTPError is an error answer of the HTTP API: *client.Error, which
// matches client.ErrNotFound, client.ErrInvalidInput, ... with errors.Is.
type HTTPError = client.Error

type httpBackend struct{ c *client.Client }

func (h httpBackend) EnsureCollection(ctx context.Context, collection string) error {
	_, err := h.c.EnsureCollection(ctx, collection, api.CollectionConfig{})
	return err
}

func (h httpBackend) Upsert(ctx context.Context, collection string, docs []api.DocumentInput) error {
	_, err := h.c.UpsertDocuments(ctx, collection, api.UpsertRequest{Documents: docs})
	return err
}

func (h httpBackend) Search(ctx context.Context, collection string, in api.SearchRequest) ([]api.Hit, error) {
	res, err := h.c.Search(ctx, collection, in)
	if err != nil {
		return nil, err
	}
	hits := make([]api.Hit, len(res.Hits))
	for i, hit := range res.Hits {
		hits[i] = hit.Hit
	}
	return hits, nil
}

// failed is a Backend whose client could not be made.
type failed struct{ err error }

func (f failed) EnsureCollection(context.Context, string) error { return f.err }
func (f failed) Upsert(context.Context, string, []api.DocumentInput) error {
	return f.err
}
func (f failed) Search(context.Context, string, api.SearchRequest) ([]api.Hit, error) {
	return nil, f.err
}
