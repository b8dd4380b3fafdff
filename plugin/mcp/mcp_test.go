package mcp

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

// The repository's random-weight test models: the tests check the
// protocol and the plumbing; integration/mcp_test.go runs the real models.
const (
	fixtureSparseModel = "splade/testdata/models/bert-tiny"
	fixtureDenseModel  = "plugin/testdata/models/dense-tiny"
)

func testService(t *testing.T) *plugin.Service {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	wd, _ := os.Getwd()
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	t.Chdir(wd)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + t.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: filepath.Join(root, fixtureSparseModel)},
		"dense":  {Module: config.ModuleONNXDense, Model: filepath.Join(root, fixtureDenseModel)},
	}
	svc, err := plugin.New(context.Background(), cfg, plugin.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// connect runs the server in memory and returns a client session of the
// SDK's own client.
func connect(t *testing.T, s *sdk.Server) *sdk.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := sdk.NewInMemoryTransports()
	if _, err := s.Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func call[T any](t *testing.T, cs *sdk.ClientSession, tool string, args any) (T, *sdk.CallToolResult) {
	t.Helper()
	var out T
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if !res.IsError {
		data, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s result: %v: %s", tool, err, data)
		}
	}
	return out, res
}

func errorText(res *sdk.CallToolResult) string {
	if !res.IsError || len(res.Content) == 0 {
		return ""
	}
	if tc, ok := res.Content[0].(*sdk.TextContent); ok {
		return tc.Text
	}
	return ""
}

func tools(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	return names
}

func TestSearchOnlyUnlessAddDocumentsIsEnabled(t *testing.T) {
	svc := testService(t)
	if got := tools(t, connect(t, New(svc, Options{}))); strings.Join(got, ",") != "search" {
		t.Errorf("tools = %v, want search only", got)
	}
	if got := tools(t, connect(t, New(svc, Options{AddDocuments: true}))); strings.Join(got, ",") != "add_documents,search" && strings.Join(got, ",") != "search,add_documents" {
		t.Errorf("tools = %v, want search and add_documents", got)
	}
}

func TestAddThenSearchWithFilterAndTerms(t *testing.T) {
	cs := connect(t, New(testService(t), Options{AddDocuments: true}))
	added, res := call[AddOutput](t, cs, "add_documents", map[string]any{"collection": "notes", "documents": []map[string]any{
		{"id": "a", "text": "sparse retrieval with learned term weights", "payload": map[string]any{"lang": "en"}},
		{"id": "b", "text": "dense vectors and cosine similarity", "payload": map[string]any{"lang": "de"}},
		{"id": "c", "text": "learned sparse retrieval expands queries", "payload": map[string]any{"lang": "en"}},
	}})
	if res.IsError || added.Documents != 3 || added.Chunks != 3 {
		t.Fatalf("add_documents = %+v (%s)", added, errorText(res))
	}
	out, res := call[SearchOutput](t, cs, "search", map[string]any{"collection": "notes", "query": "learned sparse retrieval", "mode": "sparse",
		"filter": map[string]any{"must": []map[string]any{{"key": "lang", "match": "en"}}}, "limit": 5})
	if res.IsError || len(out.Hits) != 2 {
		t.Fatalf("search = %+v (%s), want the 2 English documents", out, errorText(res))
	}
	for _, h := range out.Hits {
		if h.Payload["lang"] != "en" || h.Text == "" || h.Score <= 0 || len(h.MatchingTerms) == 0 {
			t.Errorf("hit %+v: want text, an English payload, a score and matching terms", h)
		}
		if _, leaked := h.Payload["doc_id"]; leaked {
			t.Errorf("hit payload carries spladeq's own keys: %v", h.Payload)
		}
	}
	if len(out.QueryTerms) == 0 || out.Mode != "sparse" {
		t.Errorf("query terms %v, mode %q", out.QueryTerms, out.Mode)
	}
	out, res = call[SearchOutput](t, cs, "search", map[string]any{"collection": "notes", "query": "cosine similarity",
		"signals": []string{"bm25", "sparse", "dense"}, "fusion": "weighted", "weights": map[string]float64{"bm25": 2}})
	if res.IsError || out.Mode != "hybrid" || strings.Join(out.Signals, ",") != "bm25,sparse,dense" || len(out.Hits) == 0 {
		t.Fatalf("three-signal search = %+v (%s)", out, errorText(res))
	}
	if top := out.Hits[0]; top.DocID != "b" || top.BM25Score == nil || top.SparseScore == nil || top.DenseScore == nil {
		t.Errorf("top hit %+v: want b with its bm25, sparse and dense scores", top)
	}
}

func TestToolErrorsAreToolResults(t *testing.T) {
	svc := testService(t)
	if _, err := svc.EnsureCollection(context.Background(), "docs", plugin.CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	cs := connect(t, New(svc, Options{}))
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"query": "  "}, "query: must not be empty"},
		{map[string]any{"query": "x", "limit": 1000}, "limit: must be 1..100"},
		{map[string]any{"query": "x", "collection": "missing"}, "missing"},
		{map[string]any{"query": "x", "mode": "psychic"}, "mode"},
	} {
		_, res := call[SearchOutput](t, cs, "search", tc.args)
		if !res.IsError || !strings.Contains(errorText(res), tc.want) {
			t.Errorf("search %v: error %v %q, want one saying %q", tc.args, res.IsError, errorText(res), tc.want)
		}
	}
}

func TestHTTPTransportChecksKeys(t *testing.T) {
	svc := testService(t)
	write, read := "write-key-0123456789abcdef", "read-key-0123456789abcdef"
	srv := httptest.NewServer(HTTPHandler(New(svc, Options{AddDocuments: true}), []string{write}, []string{read}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no key: status %d, want 401", resp.StatusCode)
	}
	session := func(key string) *sdk.ClientSession {
		client := &http.Client{Transport: keyTransport{key}}
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "v0"}, nil).Connect(context.Background(),
			&sdk.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: client, DisableStandaloneSSE: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	doc := map[string]any{"documents": []map[string]any{{"id": "a", "text": "hello world"}}}
	ro := session(read)
	if _, res := call[AddOutput](t, ro, "add_documents", doc); !res.IsError || !strings.Contains(errorText(res), "read-only") {
		t.Errorf("add_documents with a read-only key: %v %q, want refused", res.IsError, errorText(res))
	}
	rw := session(write)
	if out, res := call[AddOutput](t, rw, "add_documents", doc); res.IsError || out.Documents != 1 {
		t.Errorf("add_documents with a read-write key: %+v %q", out, errorText(res))
	}
	if out, res := call[SearchOutput](t, ro, "search", map[string]any{"query": "hello"}); res.IsError || len(out.Hits) != 1 {
		t.Errorf("search with a read-only key: %+v %q", out, errorText(res))
	}
}

type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	// A client cannot grant itself read-write access with the internal header.
	r.Header.Set(readOnlyHeader, "0")
	return http.DefaultTransport.RoundTrip(r)
}
