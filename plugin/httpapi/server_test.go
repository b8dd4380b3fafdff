package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

const (
	writeKey = "write-key-0123456789"
	readKey  = "read-key-0123456789a"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	wd, _ := os.Getwd()
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(wd)
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + t.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: filepath.Join("..", "..", fixtureSparseModel)},
		"dense":  {Module: config.ModuleONNXDense, Model: filepath.Join("..", "..", fixtureDenseModel)},
	}
	return cfg
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start serves the API on a real loopback listener.
func start(t *testing.T, cfg *config.Config, opts ...plugin.Option) (string, *plugin.Service) {
	t.Helper()
	svc, err := plugin.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(svc, quiet))
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return srv.URL, svc
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, method, url, key, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	json.Unmarshal(data, &r.body)
	return r
}

func (r reply) errorText() string {
	b, _ := json.Marshal(r.body["error"])
	return string(b)
}

func TestEveryRouteAnswers(t *testing.T) {
	base, _ := start(t, testConfig(t))
	steps := []struct {
		method, path, body string
		status             int
		check              func(r reply) string
	}{
		{"GET", "/healthz", "", 200, nil},
		{"GET", "/readyz", "", 200, nil},
		{"PUT", "/v1/collections/docs", `{"idf": false}`, 200, func(r reply) string {
			if r.body["sparse"] != "sparse" || r.body["dense"] != "dense" || r.body["bm25"] != "bm25" || r.body["dense_size"] != 32.0 {
				return "collection info " + r.raw
			}
			return ""
		}},
		{"PUT", "/v1/collections/docs", "", 200, nil}, // ensuring again is a no-op
		{"POST", "/v1/collections/docs/documents", `{"documents": [
			{"id": "a/b.md", "text": "Qdrant stores sparse vectors.", "payload": {"lang": "en"}},
			{"id": "c", "text": "The quick brown fox.", "payload": {"lang": "de"}}]}`, 200, func(r reply) string {
			if r.body["documents"] != 2.0 || r.body["chunks"] != 2.0 {
				return "upsert result " + r.raw
			}
			return ""
		}},
		{"GET", "/v1/collections/docs", "", 200, func(r reply) string {
			if r.body["points"] != 2.0 {
				return "points " + r.raw
			}
			return ""
		}},
		{"POST", "/v1/collections/docs/search", `{"query": "sparse vectors", "mode": "hybrid", "fusion": "dbsf", "explain": true,
			"filter": {"must": [{"key": "lang", "match": "en"}]}}`, 200, func(r reply) string {
			hits, _ := r.body["hits"].([]any)
			if len(hits) != 1 || hits[0].(map[string]any)["doc_id"] != "a/b.md" || r.body["query_terms"] == nil {
				return "search " + r.raw
			}
			if hits[0].(map[string]any)["matched_terms"] == nil {
				return "no matched terms " + r.raw
			}
			return ""
		}},
		{"POST", "/v1/collections/docs/search", `{"query": "brown fox", "signals": ["bm25", "dense"], "fusion": "weighted",
			"weights": {"bm25": 3, "dense": 1}, "explain": true}`, 200, func(r reply) string {
			hits, _ := r.body["hits"].([]any)
			if len(hits) == 0 || r.body["mode"] != "hybrid" || fmt.Sprint(r.body["signals"]) != "[bm25 dense]" || r.body["fusion"] != "weighted" {
				return "three-signal search " + r.raw
			}
			if top := hits[0].(map[string]any); top["doc_id"] != "c" || top["bm25_score"] == nil || top["dense_score"] == nil {
				return "top hit without its bm25 and dense scores " + r.raw
			}
			return ""
		}},
		{"POST", "/v1/collections/docs/search", `{"query": "x", "signals": ["bm25", "words"]}`, 400, func(r reply) string {
			if !strings.Contains(r.raw, `signals[1]: must be one of bm25, sparse, dense, got \"words\"`) {
				return "bad signal " + r.raw
			}
			return ""
		}},
		{"POST", "/v1/encode", `{"texts": ["hello world"], "query": true, "terms": 3}`, 200, func(r reply) string {
			res := r.body["results"].([]any)[0].(map[string]any)
			if len(res["dense"].([]any)) != 32 || len(res["sparse"].(map[string]any)["terms"].([]any)) != 3 {
				return "encode " + r.raw
			}
			return ""
		}},
		{"DELETE", "/v1/collections/docs/documents/a/b.md", "", 200, nil},
		{"GET", "/v1/collections/docs", "", 200, func(r reply) string {
			if r.body["points"] != 1.0 {
				return "points after delete " + r.raw
			}
			return ""
		}},
		{"GET", "/metrics", "", 200, func(r reply) string {
			for _, m := range []string{"spladeq_http_requests_total", "spladeq_http_request_duration_seconds", "spladeq_encode_batch_size",
				"spladeq_encode_duration_seconds", `spladeq_tokens_total{vectorizer="sparse"}`, "spladeq_store_duration_seconds",
				`spladeq_encode_queue_texts{kind="document",vectorizer="sparse"} 0`} {
				if !strings.Contains(r.raw, m) {
					return "metrics lack " + m
				}
			}
			return ""
		}},
		{"GET", "/v1/openapi.json", "", 200, nil},
		{"DELETE", "/v1/collections/docs", "", 200, nil},
		{"GET", "/v1/collections/docs", "", 404, nil},
		{"GET", "/v1/nothing", "", 404, nil},
	}
	for _, s := range steps {
		r := call(t, s.method, base+s.path, "", s.body)
		if r.status != s.status {
			t.Fatalf("%s %s: status %d, want %d: %s", s.method, s.path, r.status, s.status, r.raw)
		}
		if s.check != nil {
			if msg := s.check(r); msg != "" {
				t.Fatalf("%s %s: %s", s.method, s.path, msg)
			}
		}
	}
}

func TestAuth(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.APIKeys = []string{"old-write-key-000000", writeKey}
	cfg.Server.ReadOnlyAPIKeys = []string{readKey}
	base, _ := start(t, cfg)
	if r := call(t, "PUT", base+"/v1/collections/docs", writeKey, ""); r.status != 200 {
		t.Fatalf("setup: %d %s", r.status, r.raw)
	}
	search := `{"query": "x"}`
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"no key is refused", "POST", "/v1/collections/docs/search", "", search, 401},
		{"a wrong key is refused", "POST", "/v1/collections/docs/search", "wrong-key-0000000000", search, 401},
		{"a read-only key may search", "POST", "/v1/collections/docs/search", readKey, search, 200},
		{"a read-only key may encode", "POST", "/v1/encode", readKey, `{"texts": ["x"]}`, 200},
		{"a read-only key may not write", "POST", "/v1/collections/docs/documents", readKey, `{"documents": [{"id": "a", "text": "x"}]}`, 403},
		{"a read-only key may not drop collections", "DELETE", "/v1/collections/docs", readKey, "", 403},
		{"an older key still works during rotation", "POST", "/v1/collections/docs/documents", "old-write-key-000000", `{"documents": [{"id": "a", "text": "x"}]}`, 200},
		{"probes need no key", "GET", "/healthz", "", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := call(t, tc.method, base+tc.path, tc.key, tc.body); r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
		})
	}
	t.Run("X-API-Key works like Bearer", func(t *testing.T) {
		req, _ := http.NewRequest("POST", base+"/v1/encode", strings.NewReader(`{"texts": ["x"]}`))
		req.Header.Set("X-API-Key", readKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.MaxBodyBytes = 2000
	cfg.Server.MaxTexts = 3
	base, _ := start(t, cfg)
	call(t, "PUT", base+"/v1/collections/docs", "", "")
	docs := base + "/v1/collections/docs/documents"
	for _, tc := range []struct {
		name, method, url, body string
		status                  int
		want                    []string
	}{
		{"malformed JSON names the byte offset", "POST", docs, `{"documents": [{"id": "a",, }]}`, 400, []string{"invalid_json", "byte offset 27"}},
		{"truncated JSON", "POST", docs, `{"documents": [`, 400, []string{"invalid_json", "ends early"}},
		{"an unknown field is named", "POST", docs, `{"documents": [], "docs": 1}`, 400, []string{`"field":"docs"`, "unknown field"}},
		{"a wrong type names the array element", "POST", docs, `{"documents": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}, {"id": "c", "text": 517}]}`, 400,
			[]string{`"field":"documents[2].text"`, "has JSON type number, want string"}},
		{"a wrong type of a nested field", "POST", base + "/v1/collections/docs/search", `{"query": "x", "filter": {"must": [{"key": "a", "match": "b"}, {"key": 7}]}}`, 400,
			[]string{`"field":"filter.must[1].key"`, "want string"}},
		{"an empty text is named", "POST", docs, `{"documents": [{"id": "a", "text": ""}]}`, 400, []string{`"field":"documents[0].text"`, "must not be empty"}},
		{"too many documents", "POST", docs, `{"documents": [{"id":"a","text":"x"},{"id":"b","text":"x"},{"id":"c","text":"x"},{"id":"d","text":"x"}]}`, 400, []string{"over the limit of 3"}},
		{"a body over the limit", "POST", docs, `{"documents": [{"id": "a", "text": "` + strings.Repeat("x", 3000) + `"}]}`, 413, []string{"too_large", "2000-byte limit"}},
		{"an unknown collection", "POST", base + "/v1/collections/nope/search", `{"query": "x"}`, 404, []string{"not_found", "nope"}},
		{"a wrong dense dimension", "POST", docs, `{"documents": [{"id": "a", "text": "x", "vector": [1, 2]}]}`, 400, []string{`"field":"documents[0].vector"`, "dimension 2"}},
		{"an unknown vectorizer", "PUT", base + "/v1/collections/x", `{"sparse": "bm25"}`, 400, []string{`"field":"sparse"`, `no sparse vectorizer named \"bm25\"`}},
		{"a schema mismatch", "PUT", base + "/v1/collections/docs", `{"idf": true}`, 409, []string{"schema_mismatch", "modifier idf"}},
		{"an empty search body", "POST", base + "/v1/collections/docs/search", ``, 400, []string{"body", "is empty"}},
		{"trailing data", "POST", base + "/v1/encode", `{"texts": ["x"]} {}`, 400, []string{"data after the JSON object"}},
		{"deeply nested JSON", "POST", base + "/v1/encode", strings.Repeat("[", 900) + strings.Repeat("]", 900), 400, []string{"invalid_json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, tc.url, "", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.raw, w) {
					t.Errorf("body %s does not contain %q", r.raw, w)
				}
			}
		})
	}
	if r := call(t, "GET", base+"/v1/collections/docs", "", ""); r.body["points"] != 0.0 {
		t.Errorf("refused requests stored points: %s", r.raw)
	}
}

// gate is a sparse vectorizer that blocks every call until released.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (g *gate) Module() string { return "gate" }
func (g *gate) Close() error   { return nil }
func (g *gate) encode(_ context.Context, texts []string) ([]splade.SparseVector, error) {
	g.entered <- struct{}{}
	<-g.release
	out := make([]splade.SparseVector, len(texts))
	for i := range out {
		out[i] = splade.SparseVector{Indices: []uint32{1}, Values: []float32{1}}
	}
	return out, nil
}
func (g *gate) EncodeDocuments(ctx context.Context, t []string) ([]splade.SparseVector, error) {
	return g.encode(ctx, t)
}
func (g *gate) EncodeQueries(ctx context.Context, t []string) ([]splade.SparseVector, error) {
	return g.encode(ctx, t)
}

func TestBackPressureAnswers429(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.QueueSize = 2
	cfg.Server.BatchMaxDelay = 0
	g := newGate()
	base, _ := start(t, cfg, plugin.WithVectorizer("sparse", g))
	body := `{"texts": ["a", "b"], "dense": "none"}`
	done := make(chan reply, 1)
	go func() { done <- call(t, "POST", base+"/v1/encode", "", body) }()
	<-g.entered // the first request holds the queue
	r := call(t, "POST", base+"/v1/encode", "", body)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.raw, "overloaded") {
		t.Errorf("second request: status %d, Retry-After %q, body %s; want 429 with Retry-After", r.status, r.header.Get("Retry-After"), r.raw)
	}
	const held = `spladeq_encode_queue_texts{kind="document",vectorizer="sparse"} 2`
	if m := call(t, "GET", base+"/metrics", "", ""); !strings.Contains(m.raw, held) {
		t.Errorf("while two texts are held, /metrics lacks %s", held)
	}
	close(g.release)
	if first := <-done; first.status != 200 {
		t.Errorf("first request: %d %s", first.status, first.raw)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	cfg := testConfig(t)
	g := newGate()
	svc, err := plugin.New(context.Background(), cfg, plugin.WithVectorizer("sparse", g))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, svc, quiet, nil) }()
	base := "http://" + l.Addr().String()

	inflight := make(chan reply, 1)
	go func() { inflight <- call(t, "POST", base+"/v1/encode", "", `{"texts": ["x"], "dense": "none"}`) }()
	<-g.entered
	stop() // SIGTERM arrives while the request is being encoded
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("new connections are still accepted 5s into shutdown")
	}
	close(g.release)
	if r := <-inflight; r.status != 200 {
		t.Errorf("in-flight request: %d %s", r.status, r.raw)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}

func TestConcurrentRequestsAreMicroBatched(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.BatchMaxDelay = 20 * time.Millisecond
	base, svc := start(t, cfg)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if r := call(t, "POST", base+"/v1/encode", "", fmt.Sprintf(`{"texts": ["text %d"], "dense": "none", "query": true}`, i)); r.status != 200 {
				t.Errorf("request %d: %d", i, r.status)
			}
		}(i)
	}
	wg.Wait()
	v, _ := svc.Vectorizer("sparse")
	if b := v.(interface{ Stats() splade.Stats }).Stats().Batches; b >= 16 {
		t.Errorf("16 concurrent requests ran %d forward passes: nothing was coalesced", b)
	}
}

// TestOpenAPIMatchesTheRoutes checks the document against the routes the
// server registers, both ways, and response bodies against their schemas.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				inDoc[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	wild := regexp.MustCompile(`\{(\w+)\.\.\.\}`)
	for _, rt := range routes {
		// "/{$}" is the path "/" alone (no subtree) in a ServeMux pattern.
		key := strings.ReplaceAll(wild.ReplaceAllString(rt.pattern, "{$1}"), "{$}", "")
		if !inDoc[key] {
			t.Errorf("route %s is not in openapi.json", rt.pattern)
		}
		delete(inDoc, key)
	}
	for op := range inDoc {
		t.Errorf("openapi.json documents %s, which no route serves", op)
	}
}

func TestResponsesFollowTheirSchemas(t *testing.T) {
	var doc map[string]any
	json.Unmarshal(OpenAPI, &doc)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	base, _ := start(t, testConfig(t))
	call(t, "PUT", base+"/v1/collections/docs", "", "")
	call(t, "POST", base+"/v1/collections/docs/documents", "", `{"documents": [{"id": "a", "text": "sparse retrieval", "payload": {"k": 1}}]}`)
	for _, tc := range []struct{ method, path, body, schema string }{
		{"GET", "/v1/collections/docs", "", "CollectionInfo"},
		{"POST", "/v1/collections/docs/search", `{"query": "sparse", "explain": true}`, "SearchResult"},
		{"POST", "/v1/collections/docs/search", `{"query": "sparse retrieval", "mode": "bm25", "explain": true}`, "SearchResult"},
		{"POST", "/v1/encode", `{"texts": ["x"], "terms": 2}`, "EncodeResult"},
		{"POST", "/v1/encode", `{}`, "Error"},
	} {
		r := call(t, tc.method, base+tc.path, "", tc.body)
		var v any
		json.Unmarshal([]byte(r.raw), &v)
		if err := conforms(v, schemas[tc.schema].(map[string]any), schemas, tc.schema); err != "" {
			t.Errorf("%s %s: %s\n%s", tc.method, tc.path, err, r.raw)
		}
	}
}

// conforms is a small JSON-schema check: types, required keys, and no
// property the schema does not declare.
func conforms(v any, schema, all map[string]any, at string) string {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return conforms(v, all[name].(map[string]any), all, at)
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return at + ": not an object"
		}
		props, _ := schema["properties"].(map[string]any)
		for _, req := range asStrings(schema["required"]) {
			if _, ok := obj[req]; !ok {
				return at + ": missing required " + req
			}
		}
		if props == nil {
			return ""
		}
		for k, val := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				return at + ": undocumented property " + k
			}
			if err := conforms(val, ps, all, at+"."+k); err != "" {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return at + ": not an array"
		}
		for i, e := range arr {
			if err := conforms(e, schema["items"].(map[string]any), all, fmt.Sprintf("%s[%d]", at, i)); err != "" {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return at + ": not a string"
		}
	case "number", "integer":
		if _, ok := v.(float64); !ok {
			return at + ": not a number"
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return at + ": not a boolean"
		}
	}
	return ""
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }
