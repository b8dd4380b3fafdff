package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/faultproxy"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/httpapi"
	"github.com/spladeq/spladeq/plugin/ingest"
	"github.com/spladeq/spladeq/splade"
)

// storeBehindProxy puts a fault proxy in front of the store at backend; faults hit upsert, delete and query calls with the given
// probability, or every call fails with Unavailable while *failAll is set.
func storeBehindProxy(t *testing.T, backend string, rate *float64, failAll *bool) (*faultproxy.Proxy, string) {
	t.Helper()
	var mu sync.Mutex
	rng := rand.New(rand.NewSource(1))
	p, err := faultproxy.Start(backend, func(method string) faultproxy.Fault {
		if !strings.HasSuffix(method, "/Upsert") && !strings.HasSuffix(method, "/Delete") && !strings.HasSuffix(method, "/Query") {
			return faultproxy.None
		}
		mu.Lock()
		defer mu.Unlock()
		if *failAll {
			return faultproxy.Unavailable
		}
		if rng.Float64() >= *rate {
			return faultproxy.None
		}
		return faultproxy.Fault(1 + rng.Intn(5)) // delay, unavailable, exhausted, drop, reset
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Delay = 20 * time.Millisecond
	p.RetryAfter = "0" // honouring retry-after is covered by the connector's unit tests
	t.Cleanup(p.Close)
	return p, backend
}

func faultConfig(t *testing.T, url string) *config.Config {
	t.Helper()
	root, _ := filepath.Abs("..")
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Qdrant.URL = url
	cfg.Qdrant.Retries = 8
	cfg.Qdrant.RetryBackoff = 5 * time.Millisecond
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: filepath.Join(root, fixtureSparseModel)},
		"dense":  {Module: config.ModuleONNXDense, Model: filepath.Join(root, fixtureDenseModel)},
	}
	return cfg
}

// serviceBehindFaults is a Service whose store sits behind a fault proxy;
// direct reaches the store without faults, for checking what was stored.
func serviceBehindFaults(t *testing.T, backend string, rate *float64, failAll *bool) (proxy *faultproxy.Proxy, direct string, cfg *config.Config, svc *plugin.Service) {
	t.Helper()
	proxy, direct = storeBehindProxy(t, backend, rate, failAll)
	cfg = faultConfig(t, proxy.Addr())
	svc, err := plugin.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return proxy, direct, cfg, svc
}

// forEachBackend runs fn against a fresh embedded store served on loopback
// and a fresh real Qdrant node (skipped, saying why, without a binary).
func forEachBackend(t *testing.T, fn func(t *testing.T, backend string)) {
	t.Run("embedded", func(t *testing.T) { fn(t, serveEmbedded(t)) })
	t.Run("qdrant server", func(t *testing.T) { fn(t, qdranttest.Start(t, qdranttest.Options{}).GRPCAddr()) })
}

func TestIngestionThroughFaultsEndsExact(t *testing.T) { forEachBackend(t, ingestionThroughFaults) }

func ingestionThroughFaults(t *testing.T, backend string) {
	rate, failAll := 0.3, false
	proxy, direct, cfg, svc := serviceBehindFaults(t, backend, &rate, &failAll)
	var lines []string
	for i := 0; i < 150; i++ {
		lines = append(lines, fmt.Sprintf(`{"id": "f%03d", "text": "fault tolerant document %d"}`, i, i))
	}
	os.WriteFile("src.jsonl", []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	ic := cfg.Ingest
	ic.Source = config.Source{Type: "jsonl", Path: "src.jsonl"}
	ic.BatchSize = 8
	job := &ingest.Job{Service: svc, Config: ic, Collection: "docs"}
	sum, err := job.Run(context.Background())
	if err != nil {
		t.Fatalf("ingest through %v faults: %v", proxy.Counts(), err)
	}
	if proxy.Injected() < 10 {
		t.Fatalf("only %d faults injected: the test proves nothing", proxy.Injected())
	}
	checkExactDocs(t, direct, 150)
	t.Logf("ingested %d documents through %d injected faults %v", sum.Documents, proxy.Injected(), proxy.Counts())

	t.Run("an exhausted retry budget fails clearly and resumes exactly", func(t *testing.T) {
		failAll = true
		lines = append(lines, `{"id": "late", "text": "added later"}`)
		os.WriteFile("src2.jsonl", []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		ic.Source.Path = "src2.jsonl"
		ic.Checkpoint = "data/src2.checkpoint.json"
		job := &ingest.Job{Service: svc, Config: ic, Collection: "docs"}
		_, err := job.Run(context.Background())
		if !errors.Is(err, qdrant.ErrUnavailable) || !strings.Contains(err.Error(), "resumable") {
			t.Fatalf("got %v, want ErrUnavailable and a resumable message", err)
		}
		failAll = false
		if _, err := job.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkExactDocs(t, direct, 151)
	})
}

// checkExactDocs reads the store directly (not through the proxy).
func checkExactDocs(t *testing.T, addr string, want int) {
	t.Helper()
	c, err := qdrant.Open(context.Background(), qdrant.Config{URL: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pts, err := c.Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pts {
		id := p.Payload["doc_id"].(string)
		if seen[id] || p.Payload["chunk"].(int64) != 0 {
			t.Fatalf("document %s duplicated or chunked: %v", id, p.Payload)
		}
		seen[id] = true
	}
	if len(seen) != want {
		t.Errorf("%d documents stored, want %d", len(seen), want)
	}
}

func TestHTTPAPIThroughFaults(t *testing.T) { forEachBackend(t, httpAPIThroughFaults) }

func httpAPIThroughFaults(t *testing.T, backend string) {
	rate, failAll := 0.3, false
	proxy, direct, _, svc := serviceBehindFaults(t, backend, &rate, &failAll)
	srv := httptest.NewServer(httpapi.Handler(svc, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	post := func(path, body string) (int, string) {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	rate = 0
	req, _ := http.NewRequest("PUT", srv.URL+"/v1/collections/docs", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create: %v %v", resp, err)
	}
	rate = 0.3
	acked := map[string]bool{}
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("h%02d", i)
		code, body := post("/v1/collections/docs/documents", fmt.Sprintf(`{"documents": [{"id": %q, "text": "document %d"}]}`, id, i))
		switch code {
		case 200:
			acked[id] = true
		case 503:
			if !strings.Contains(body, "store_unavailable") {
				t.Errorf("503 body %s", body)
			}
		default:
			t.Fatalf("upsert %s: %d %s", id, code, body)
		}
		if code, body := post("/v1/collections/docs/search", `{"query": "document"}`); code != 200 && code != 503 {
			t.Fatalf("search: %d %s", code, body)
		}
	}
	if proxy.Injected() < 10 {
		t.Fatalf("only %d faults injected", proxy.Injected())
	}
	if len(acked) < 30 {
		t.Errorf("only %d of 40 upserts succeeded through 30%% faults with retries", len(acked))
	}
	failAll = true
	if code, body := post("/v1/collections/docs/documents", `{"documents": [{"id": "doomed", "text": "x"}]}`); code != 503 {
		t.Errorf("with every call failing: %d %s, want 503", code, body)
	}
	// Every acknowledged document is stored; nothing never attempted is.
	c, err := qdrant.Open(context.Background(), qdrant.Config{URL: direct})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pts, _ := c.Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	stored := map[string]bool{}
	for _, p := range pts {
		id := p.Payload["doc_id"].(string)
		if !strings.HasPrefix(id, "h") && id != "doomed" {
			t.Errorf("unexpected document %s", id)
		}
		stored[id] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged document %s is missing", id)
		}
	}
	t.Logf("%d upserts acknowledged, %d stored, faults %v", len(acked), len(stored), proxy.Counts())
}
