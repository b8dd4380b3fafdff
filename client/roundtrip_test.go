package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/client"
	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/httpapi"
)

const (
	writeKey = "client-write-key-0123"
	readKey  = "client-read-key-01234"
)

// notCovered are the routes the client leaves out, with why.
var notCovered = map[string]string{
	"GET /{$}":                  "Qdrant's root information, for Qdrant clients' version check",
	"GET /metrics":              "Prometheus text, for Prometheus to scrape",
	"POST /v1/qdrant/inference": "Qdrant's inference protocol, called by Qdrant",
}

// server is the real API (plugin/httpapi over a plugin.Service on the
// embedded store and the repository's random-weight test models) behind a
// recorder of the route each request matched and its status.
type server struct {
	url string
	svc *plugin.Service
	mu  sync.Mutex
	hit map[string][]int // route pattern → statuses answered
}

func startServer(t *testing.T) *server {
	t.Helper()
	wd, _ := os.Getwd()
	t.Chdir(t.TempDir()) // no spladeq.yaml of the checkout
	cfg, err := config.Load(config.LoadOptions{})
	t.Chdir(wd)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + t.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: filepath.Join("..", "splade", "testdata", "models", "bert-tiny")},
		"dense":  {Module: config.ModuleONNXDense, Model: filepath.Join("..", "plugin", "testdata", "models", "dense-tiny")},
	}
	cfg.Server.APIKeys = []string{writeKey}
	cfg.Server.ReadOnlyAPIKeys = []string{readKey}
	svc, err := plugin.New(context.Background(), cfg, plugin.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{svc: svc, hit: map[string][]int{}}
	api := httpapi.Handler(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A mux of the same patterns names the route each request matched.
	mux := http.NewServeMux()
	for _, p := range httpapi.Routes() {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			api.ServeHTTP(rec, r)
			s.mu.Lock()
			s.hit[p] = append(s.hit[p], rec.status)
			s.mu.Unlock()
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	s.url = srv.URL
	return s
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func newClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: url, APIKey: key, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameJSON fails unless got and want encode to the same JSON: what the
// client decoded lost nothing of what the service returned in-process.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s through the client:\n%s\nin-process:\n%s", what, g, w)
	}
}

// TestEveryRouteRoundTrips calls every route through the client against the
// real handler and checks each answer against the service called
// in-process with the same input, then that every route of the server's
// table was answered 2xx (except those the client leaves out, by name).
func TestEveryRouteRoundTrips(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := newClient(t, s.url, writeKey)
	ro := newClient(t, s.url, readKey)

	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("Health = %+v, %v; want ok", h, err)
	}
	if h, err := c.Ready(ctx); err != nil || h.Status != "ready" {
		t.Fatalf("Ready = %+v, %v; want ready", h, err)
	}
	doc, err := c.OpenAPI(ctx)
	if err != nil || !bytes.Equal(doc, httpapi.OpenAPI) {
		t.Fatalf("OpenAPI: %d bytes, %v; want the server's %d bytes", len(doc), err, len(httpapi.OpenAPI))
	}

	idf := false
	info, err := c.EnsureCollection(ctx, "docs", api.CollectionConfig{IDF: &idf})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.svc.Collection(ctx, "docs")
	sameJSON(t, "EnsureCollection", info, want)
	if info.Sparse != "sparse" || info.Dense != "dense" || info.DenseSize != 32 {
		t.Errorf("EnsureCollection = %+v, want sparse, dense, 32 dimensions", info)
	}

	docs := []api.DocumentInput{
		{ID: "notes/a b?.md", Text: "Qdrant stores sparse vectors.", Payload: map[string]any{"lang": "en", "n": 1}},
		{ID: "c%2F", Text: "The quick brown fox jumps over the lazy dog.", Payload: map[string]any{"lang": "de", "n": 2}},
		{ID: "d", Text: "Sparse retrieval with learned term weights.", Payload: map[string]any{"lang": "en", "n": 3}},
	}
	up, err := c.UpsertDocuments(ctx, "docs", api.UpsertRequest{Documents: docs})
	if err != nil || up.Documents != 3 || up.Chunks != 3 {
		t.Fatalf("UpsertDocuments = %+v, %v; want 3 documents in 3 chunks", up, err)
	}
	got, err := ro.Collection(ctx, "docs")
	if err != nil || got.Points != 3 {
		t.Fatalf("Collection = %+v, %v; want 3 points", got, err)
	}

	alpha, threshold, noPayload := 0.3, float32(-1e9), false
	for name, req := range map[string]api.SearchRequest{
		"hybrid rrf, explained and filtered": {Query: "sparse vectors", Mode: "hybrid", Fusion: "rrf", RRFK: 5, Explain: true,
			Filter: &api.Filter{Must: []api.Condition{{Key: "lang", Match: "en"}}}},
		"hybrid weighted with alpha and a threshold": {Query: "sparse vectors", Mode: "hybrid", Fusion: "weighted", Alpha: &alpha,
			ScoreThreshold: &threshold, PrefetchLimit: 7},
		"sparse with limit and offset": {Query: "fox dog", Mode: "sparse", Limit: 1, Offset: 1},
		"dense without payload, a range filter": {Query: "fox", Mode: "dense", WithPayload: &noPayload,
			Filter: &api.Filter{MustNot: []api.Condition{{Key: "n", Range: &api.Range{Gte: ptr(3.0)}}}}},
		"dense from a given vector": {Mode: "dense", Vector: make([]float32, 32)},
		"the server's defaults":     {Query: "brown fox"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := ro.Search(ctx, "docs", req)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.svc.Search(ctx, "docs", req)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "Search", res, want)
			if len(res.Hits) == 0 {
				t.Errorf("no hits: %+v", res)
			}
		})
	}
	res, _ := ro.Search(ctx, "docs", api.SearchRequest{Query: "sparse vectors", Mode: "hybrid", Explain: true,
		Filter: &api.Filter{Must: []api.Condition{{Key: "lang", Match: "en"}}}})
	if len(res.Hits) != 2 || len(res.QueryTerms) == 0 || res.Fusion != "weighted_dbsf" || res.Hits[0].Payload["lang"] != "en" || res.Hits[0].BM25Score == nil {
		t.Errorf("explained hybrid search = %+v; want two English hits, query terms, the default weighted_dbsf fusion, a bm25 score", res)
	}

	enc := api.EncodeRequest{Texts: []string{"hello world", "sparse"}, Query: true, Terms: 3}
	er, err := ro.Encode(ctx, enc)
	if err != nil {
		t.Fatal(err)
	}
	wantEnc, _ := s.svc.Encode(ctx, enc)
	sameJSON(t, "Encode", er.Results, wantEnc)
	if len(er.Results) != 2 || len(er.Results[0].Dense) != 32 || len(er.Results[0].Sparse.Terms) != 3 || er.Results[0].Sparse.Validate() != nil {
		t.Errorf("Encode = %+v; want 2 results with 32-d dense vectors and 3 terms", er)
	}

	for _, id := range []string{"notes/a b?.md", "c%2F"} {
		del, err := c.DeleteDocument(ctx, "docs", id)
		if err != nil || del.Deleted != id {
			t.Fatalf("DeleteDocument(%q) = %+v, %v", id, del, err)
		}
	}
	if got, _ := c.Collection(ctx, "docs"); got.Points != 1 {
		t.Errorf("after deleting two of three documents: %d points, want 1", got.Points)
	}
	del, err := c.DeleteCollection(ctx, "docs")
	if err != nil || del.Deleted != "docs" {
		t.Fatalf("DeleteCollection = %+v, %v", del, err)
	}
	_, err = c.Collection(ctx, "docs")
	var ce *client.Error
	if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &ce) || ce.Status != 404 || ce.Code != api.CodeNotFound {
		t.Errorf("Collection after DeleteCollection: %v; want a 404 not_found matching ErrNotFound", err)
	}

	var missing []string
	for _, p := range httpapi.Routes() {
		ok := false
		for _, st := range s.hit[p] {
			ok = ok || st/100 == 2
		}
		if _, skip := notCovered[p]; !ok && !skip {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes the client never called successfully: %s (cover them, or list them in notCovered with why)", strings.Join(missing, ", "))
	}
}

// TestServerErrorsDecode checks the server's real error answers arrive as
// *client.Error with the status, code, problems and sentinel.
func TestServerErrorsDecode(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := newClient(t, s.url, writeKey)
	if _, err := c.EnsureCollection(ctx, "docs", api.CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		call     func() error
		sentinel error
		status   int
		code     string
		problem  api.Problem
	}{
		{"bad documents name each field and id", func() error {
			_, err := c.UpsertDocuments(ctx, "docs", api.UpsertRequest{Documents: []api.DocumentInput{{ID: "ok", Text: "fine"}, {ID: "x", Text: " "}}})
			return err
		}, client.ErrInvalidInput, 400, api.CodeInvalidInput, api.Problem{Field: "documents[1].text", ID: "x", Message: "must not be empty"}},
		{"a bad search option", func() error {
			_, err := c.Search(ctx, "docs", api.SearchRequest{Query: "q", Mode: "psychic"})
			return err
		}, client.ErrInvalidInput, 400, api.CodeInvalidInput, api.Problem{Field: "mode", Message: `must be hybrid, sparse, dense or bm25, got "psychic"`}},
		{"a read-only key cannot write", func() error {
			_, err := newClient(t, s.url, readKey).UpsertDocuments(ctx, "docs", api.UpsertRequest{Documents: []api.DocumentInput{{ID: "a", Text: "b"}}})
			return err
		}, client.ErrUnauthorized, 403, api.CodeUnauthorized, api.Problem{}},
		{"no key", func() error { _, err := newClient(t, s.url, "").Collection(ctx, "docs"); return err },
			client.ErrUnauthorized, 401, api.CodeUnauthorized, api.Problem{}},
		{"a wrong key", func() error { _, err := newClient(t, s.url, "nope").Collection(ctx, "docs"); return err },
			client.ErrUnauthorized, 401, api.CodeUnauthorized, api.Problem{}},
		{"a schema mismatch", func() error {
			idf := true
			_, err := c.EnsureCollection(ctx, "docs", api.CollectionConfig{IDF: &idf})
			return err
		}, client.ErrConflict, 409, api.CodeSchemaMismatch, api.Problem{}},
		{"a missing collection", func() error {
			_, err := c.Search(ctx, "nope", api.SearchRequest{Query: "q"})
			return err
		}, client.ErrNotFound, 404, api.CodeNotFound, api.Problem{}},
		{"an empty collection name is refused before sending", func() error {
			_, err := c.Collection(ctx, "")
			return err
		}, client.ErrInvalidInput, 0, api.CodeInvalidInput, api.Problem{Field: "name", Message: "must not be empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ce *client.Error
			if !errors.As(err, &ce) || !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v (%T), want a *client.Error matching %v", err, err, tc.sentinel)
			}
			if ce.Status != tc.status || ce.Code != tc.code || ce.Message == "" {
				t.Errorf("got status %d, code %q, message %q; want %d, %q and a message", ce.Status, ce.Code, ce.Message, tc.status, tc.code)
			}
			if tc.problem != (api.Problem{}) && (len(ce.Problems) != 1 || ce.Problems[0] != tc.problem) {
				t.Errorf("problems %+v, want [%+v]", ce.Problems, tc.problem)
			}
			for _, other := range []error{client.ErrInvalidInput, client.ErrUnauthorized, client.ErrNotFound, client.ErrConflict, client.ErrUnavailable} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
