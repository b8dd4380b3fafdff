package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
)

// fakeEmbeddings serves /v1/embeddings: vector i of a request is
// [len(text), i], sent in reverse order to check index handling. The first
// failures calls answer status with Retry-After: 2.
func fakeEmbeddings(t *testing.T, failures int32, status int, dim int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
			t.Errorf("got %s %s, want POST /v1/embeddings", r.Method, r.URL.Path)
		}
		if r.Header.Get("Authorization") != "Bearer sk-test" {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		if n <= failures {
			w.Header().Set("Retry-After", "2")
			http.Error(w, `{"error":"slow down"}`, status)
			return
		}
		var req embeddingsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "text-embedding-3-small" {
			t.Errorf("request %+v, %v", req, err)
		}
		var data []string
		for i := len(req.Input) - 1; i >= 0; i-- {
			vec := make([]string, dim)
			for j := range vec {
				vec[j] = "0"
			}
			vec[0] = fmt.Sprint(len(req.Input[i]))
			if dim > 1 {
				vec[1] = fmt.Sprint(i)
			}
			data = append(data, fmt.Sprintf(`{"index":%d,"embedding":[%s]}`, i, strings.Join(vec, ",")))
		}
		fmt.Fprintf(w, `{"data":[%s]}`, strings.Join(data, ","))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func openAIModule(t *testing.T, url string) *openAI {
	v, err := newOpenAI(config.Vectorizer{Module: config.ModuleOpenAI, BaseURL: url + "/v1", APIModel: "text-embedding-3-small",
		APIKey: "sk-test", Dimension: 4, BatchSize: 2, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return v.(*openAI)
}

func noRetrySleep(t *testing.T) *[]time.Duration {
	var slept []time.Duration
	old := retrySleep
	retrySleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	t.Cleanup(func() { retrySleep = old })
	return &slept
}

func TestOpenAIBatchesAndKeepsOrder(t *testing.T) {
	srv, calls := fakeEmbeddings(t, 0, 0, 4)
	m := openAIModule(t, srv.URL)
	texts := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	got, err := m.EmbedDocuments(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v[0] != float32(len(texts[i])) || v[1] != float32(i%2) {
			t.Errorf("text %d: vector %v, want [%d %d …]", i, v, len(texts[i]), i%2)
		}
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls for 5 texts in batches of 2, want 3", calls.Load())
	}
}

func TestOpenAIRetriesAndHonoursRetryAfter(t *testing.T) {
	slept := noRetrySleep(t)
	srv, calls := fakeEmbeddings(t, 2, http.StatusTooManyRequests, 4)
	m := openAIModule(t, srv.URL)
	if _, err := m.EmbedQueries(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(*slept) != 2 || (*slept)[0] < 2*time.Second {
		t.Errorf("calls %d, slept %v; want 3 calls and two waits of at least 2s", calls.Load(), *slept)
	}
}

func TestOpenAIErrorsAreClear(t *testing.T) {
	noRetrySleep(t)
	for _, tc := range []struct {
		name      string
		failures  int32
		status    int
		dim       int
		want      string
		wantCalls int32
	}{
		{"a 401 is not retried", 99, http.StatusUnauthorized, 4, "HTTP 401", 1},
		{"5xx past the retry budget", 99, http.StatusBadGateway, 4, "HTTP 502", 3},
		{"a wrong dimension", 0, 0, 3, "has dimension 3, configured 4", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := fakeEmbeddings(t, tc.failures, tc.status, tc.dim)
			_, err := openAIModule(t, srv.URL).EmbedDocuments(context.Background(), []string{"x"})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("got %v, want an error naming the endpoint and %q", err, tc.want)
			}
			if calls.Load() != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}
