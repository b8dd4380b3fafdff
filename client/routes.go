package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/spladeq/spladeq/api"
)

// One method per route of the server's routes table (plugin/httpapi),
// except GET /metrics (Prometheus text: scrape it with Prometheus) and POST
// /v1/qdrant/inference (Qdrant's own inference protocol, which Qdrant
// calls; it is not spladeq's API). TestEveryRouteIsCovered holds the list.

// EnsureCollection creates collection name as cfg says (PUT
// /v1/collections/{name}), or checks that an existing one matches it
// (ErrConflict when it does not), and describes it.
func (c *Client) EnsureCollection(ctx context.Context, name string, cfg api.CollectionConfig) (api.CollectionInfo, error) {
	var out api.CollectionInfo
	path, err := collectionPath("PUT", name, "")
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, call{method: http.MethodPut, path: path, body: cfg, out: &out})
}

// Collection describes a collection (GET /v1/collections/{name}):
// ErrNotFound when it does not exist.
func (c *Client) Collection(ctx context.Context, name string) (api.CollectionInfo, error) {
	var out api.CollectionInfo
	path, err := collectionPath("GET", name, "")
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, call{method: http.MethodGet, path: path, out: &out})
}

// DeleteCollection drops a collection and its documents (DELETE
// /v1/collections/{name}): ErrNotFound when it does not exist (also when a
// retry follows a deletion whose answer was lost).
func (c *Client) DeleteCollection(ctx context.Context, name string) (api.Deleted, error) {
	var out api.Deleted
	path, err := collectionPath("DELETE", name, "")
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, call{method: http.MethodDelete, path: path, out: &out})
}

// UpsertDocuments chunks, encodes and stores documents (POST
// /v1/collections/{name}/documents), replacing those with the same ids.
// The server checks every document first: on ErrInvalidInput nothing was
// stored and Error.Problems names each bad field and document id.
func (c *Client) UpsertDocuments(ctx context.Context, collection string, req api.UpsertRequest) (api.UpsertResult, error) {
	var out api.UpsertResult
	path, err := collectionPath("POST", collection, "/documents")
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, call{method: http.MethodPost, path: path, body: req, out: &out})
}

// DeleteDocument removes every chunk of document id (DELETE
// /v1/collections/{name}/documents/{id}); an id that is not there is not
// an error, a collection that is not there is ErrNotFound.
func (c *Client) DeleteDocument(ctx context.Context, collection, id string) (api.Deleted, error) {
	var out api.Deleted
	if id == "" {
		return out, &Error{Op: "DELETE /v1/collections/" + url.PathEscape(collection) + "/documents/", Code: api.CodeInvalidInput,
			Message: "document id must not be empty", Problems: []api.Problem{{Field: "id", Message: "must not be empty"}}}
	}
	path, err := collectionPath("DELETE", collection, "/documents/"+url.PathEscape(id))
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, call{method: http.MethodDelete, path: path, out: &out})
}

// Search runs a sparse, dense or hybrid search (POST
// /v1/collections/{name}/search); zero fields of req take the server's
// configured defaults.
func (c *Client) Search(ctx context.Context, collection string, req api.SearchRequest) (api.SearchResult, error) {
	var out api.SearchResult
	path, err := collectionPath("POST", collection, "/search")
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, call{method: http.MethodPost, path: path, body: req, out: &out})
}

// Encode returns the sparse and/or dense vectors of texts (POST
// /v1/encode), one api.Encoded per text, in order.
func (c *Client) Encode(ctx context.Context, req api.EncodeRequest) (api.EncodeResult, error) {
	var out api.EncodeResult
	return out, c.do(ctx, call{method: http.MethodPost, path: "/v1/encode", body: req, out: &out})
}

// OpenAPI returns the server's OpenAPI 3 document (GET /v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var out []byte
	return out, c.do(ctx, call{method: http.MethodGet, path: "/v1/openapi.json", out: &out})
}

// Health is the liveness probe (GET /healthz): Status "ok" when the process
// serves. Probes are not retried.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	return out, c.do(ctx, call{method: http.MethodGet, path: "/healthz", out: &out, probe: true})
}

// Ready is the readiness probe (GET /readyz): Status "ready" when the
// server's store answers. When it does not, the error matches
// ErrUnavailable, its Message is the server's reason, and the returned
// api.Health is the server's answer (Status "unavailable"). Probes are not
// retried.
func (c *Client) Ready(ctx context.Context) (api.Health, error) {
	var out api.Health
	return out, c.do(ctx, call{method: http.MethodGet, path: "/readyz", out: &out, probe: true})
}

// collectionPath is /v1/collections/{name}{rest}, refusing an empty name
// (which would address another route).
func collectionPath(method, name, rest string) (string, error) {
	if name == "" {
		return "", &Error{Op: method + " /v1/collections/" + rest, Code: api.CodeInvalidInput,
			Message: "collection name must not be empty", Problems: []api.Problem{{Field: "name", Message: "must not be empty"}}}
	}
	return "/v1/collections/" + url.PathEscape(name) + rest, nil
}
