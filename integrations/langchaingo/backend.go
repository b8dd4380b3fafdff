package spladeq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
)

// NewLibrary is a Backend over the Go library: a *plugin.Service in this
// process.
func NewLibrary(svc *plugin.Service) Backend { return library{svc} }

type library struct{ svc *plugin.Service }

func (l library) EnsureCollection(ctx context.Context, collection string) error {
	_, err := l.svc.EnsureCollection(ctx, collection, plugin.CollectionConfig{})
	return err
}

func (l library) Upsert(ctx context.Context, collection string, docs []plugin.DocumentInput) error {
	_, err := l.svc.UpsertDocuments(ctx, collection, docs)
	return err
}

func (l library) Search(ctx context.Context, collection string, in plugin.SearchInput) ([]qdrant.Hit, error) {
	res, err := l.svc.Search(ctx, collection, in)
	if err != nil {
		return nil, err
	}
	hits := make([]qdrant.Hit, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = h.Hit
	}
	return hits, nil
}

// NewHTTP is a Backend over spladeq's HTTP API at baseURL (e.g.
// "http://localhost:8080"), with an API key when the server wants one.
// client nil means http.DefaultClient.
func NewHTTP(baseURL, apiKey string, client *http.Client) Backend {
	if client == nil {
		client = http.DefaultClient
	}
	return &httpBackend{base: strings.TrimRight(baseURL, "/"), key: apiKey, client: client}
}

type httpBackend struct {
	base, key string
	client    *http.Client
}

// HTTPError is an error answer of the HTTP API.
type HTTPError struct {
	Status  int
	Code    string
	Message string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message) }

func (h *httpBackend) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.key != "" {
		req.Header.Set("Authorization", "Bearer "+h.key)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(data, &e)
		return &HTTPError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (h *httpBackend) EnsureCollection(ctx context.Context, collection string) error {
	return h.do(ctx, http.MethodPut, "/v1/collections/"+url.PathEscape(collection), struct{}{}, nil)
}

func (h *httpBackend) Upsert(ctx context.Context, collection string, docs []plugin.DocumentInput) error {
	return h.do(ctx, http.MethodPost, "/v1/collections/"+url.PathEscape(collection)+"/documents", map[string]any{"documents": docs}, nil)
}

func (h *httpBackend) Search(ctx context.Context, collection string, in plugin.SearchInput) ([]qdrant.Hit, error) {
	var res struct {
		Hits []qdrant.Hit `json:"hits"`
	}
	err := h.do(ctx, http.MethodPost, "/v1/collections/"+url.PathEscape(collection)+"/search", in, &res)
	return res.Hits, err
}
