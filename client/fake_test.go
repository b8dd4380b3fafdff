package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spladeq/spladeq/api"
)

// fake serves the answers in order (the last one again once they run out)
// and records the requests.
type fake struct {
	t       *testing.T
	answers []answer
	calls   atomic.Int32
	mu      sync.Mutex
	reqs    []*http.Request
}

type answer struct {
	status int
	header map[string]string
	body   string
}

func newFake(t *testing.T, answers ...answer) (*fake, string) {
	f := &fake{t: t, answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.calls.Add(1))
		f.mu.Lock()
		f.reqs = append(f.reqs, r)
		f.mu.Unlock()
		a := f.answers[min(n, len(f.answers))-1]
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// recordWaits replaces the wait between attempts with a recorder.
func recordWaits(t *testing.T) *[]time.Duration {
	var waits []time.Duration
	old := wait
	wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	t.Cleanup(func() { wait = old })
	return &waits
}

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const overloaded = `{"error": {"code": "overloaded", "message": "encode queue is full"}}`

func TestRetriesHonourRetryAfter(t *testing.T) {
	// The client reads an HTTP date against its clock, fixed here: the
	// wait is exact, however long the machine takes between the answer
	// and the reading.
	clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	old := now
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = old })
	date := clock.Add(90 * time.Second).Format(http.TimeFormat)
	for _, tc := range []struct {
		name       string
		retryAfter string
		status     int
		min, max   time.Duration
	}{
		{"429 with seconds", "2", http.StatusTooManyRequests, 2 * time.Second, 2 * time.Second},
		{"503 with an HTTP date", date, http.StatusServiceUnavailable, 90 * time.Second, 90 * time.Second},
		{"429 without Retry-After backs off", "", http.StatusTooManyRequests, 10 * time.Millisecond, 14 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waits := recordWaits(t)
			h := map[string]string{}
			if tc.retryAfter != "" {
				h["Retry-After"] = tc.retryAfter
			}
			f, url := newFake(t, answer{tc.status, h, overloaded}, answer{tc.status, h, overloaded},
				answer{200, nil, `{"results": [{"dense": [1, 2]}]}`})
			c := mustNew(t, Config{BaseURL: url, RetryBackoff: 10 * time.Millisecond})
			res, err := c.Encode(context.Background(), api.EncodeRequest{Texts: []string{"x"}})
			if err != nil || len(res.Results) != 1 || len(res.Results[0].Dense) != 2 {
				t.Fatalf("Encode = %+v, %v; want the third answer", res, err)
			}
			if f.calls.Load() != 3 || len(*waits) != 2 {
				t.Fatalf("%d calls, waits %v; want 3 calls and 2 waits", f.calls.Load(), *waits)
			}
			first := (*waits)[0]
			if first < tc.min || first > tc.max {
				t.Errorf("first wait %v, want %v..%v", first, tc.min, tc.max)
			}
			if tc.retryAfter == "" && (*waits)[1] < 20*time.Millisecond {
				t.Errorf("second wait %v: the backoff did not double", (*waits)[1])
			}
		})
	}
}

func TestRetriesStopAtTheBudgetAndOnlyFor429And503(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		sentinel  error
		wantCalls int32
	}{
		{503, `{"error": {"code": "store_unavailable", "message": "qdrant unavailable"}}`, ErrUnavailable, 3},
		{429, overloaded, ErrOverloaded, 3},
		{500, `{"error": {"code": "internal", "message": "internal error (see the server log)"}}`, ErrServer, 1},
		{504, `{"error": {"code": "timeout", "message": "request took longer than 30s"}}`, ErrTimeout, 1},
		{502, `<html>bad gateway</html>`, ErrServer, 1},
		{400, `{"error": {"code": "invalid_json", "message": "query: unknown field", "problems": [{"field": "query", "message": "unknown field"}]}}`, ErrInvalidInput, 1},
		{413, `{"error": {"code": "too_large", "message": "request body is over the 10-byte limit"}}`, ErrTooLarge, 1},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			waits := recordWaits(t)
			f, url := newFake(t, answer{tc.status, nil, tc.body})
			c := mustNew(t, Config{BaseURL: url, Retries: 2})
			_, err := c.Search(context.Background(), "docs", api.SearchRequest{Query: "q"})
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, tc.sentinel) || ce.Status != tc.status {
				t.Fatalf("got %v, want a *Error with status %d matching %v", err, tc.status, tc.sentinel)
			}
			if f.calls.Load() != tc.wantCalls || len(*waits) != int(tc.wantCalls)-1 {
				t.Errorf("%d calls, %d waits; want %d calls", f.calls.Load(), len(*waits), tc.wantCalls)
			}
			if ce.Op != "POST /v1/collections/docs/search" || !strings.Contains(err.Error(), ce.Op) {
				t.Errorf("Op %q, message %q; want the request named", ce.Op, err)
			}
			if tc.status == 502 && (ce.Code != "" || ce.Message != "<html>bad gateway</html>") {
				t.Errorf("a proxy's page: code %q, message %q; want no code and the page as the message", ce.Code, ce.Message)
			}
		})
	}
}

func TestNoSleepPastTheDeadline(t *testing.T) {
	// Retry-After asks for two hours; the context has one. The call
	// returns the server's answer at once (a client that slept would hang
	// this test until go test's own timeout).
	f, url := newFake(t, answer{503, map[string]string{"Retry-After": "7200"}, `{"error": {"code": "store_unavailable", "message": "down"}}`})
	c := mustNew(t, Config{BaseURL: url, Retries: 5})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err := c.Collection(ctx, "docs")
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 503 || ce.Message != "down" || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want the 503 answer", err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("%d calls, want 1: the retry could not happen before the deadline", f.calls.Load())
	}
}

func TestTheCallersContextEndsTheCall(t *testing.T) {
	waits := recordWaits(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	c := mustNew(t, Config{BaseURL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := c.Search(ctx, "docs", api.SearchRequest{Query: "q"})
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, context.Canceled) || ce.Status != 0 {
		t.Fatalf("got %v, want a *Error matching context.Canceled", err)
	}
	if errors.Is(err, ErrUnavailable) || len(*waits) != 0 {
		t.Errorf("a cancelled call matched ErrUnavailable (%v) or was retried (%d waits)", errors.Is(err, ErrUnavailable), len(*waits))
	}
}

func TestAttemptTimeoutAndUnreachableServerAreRetried(t *testing.T) {
	waits := recordWaits(t)
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := mustNew(t, Config{BaseURL: srv.URL, Timeout: 20 * time.Millisecond, Retries: 1})
	_, err := c.Collection(context.Background(), "docs")
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) ||
		!strings.Contains(err.Error(), "client's 20ms timeout") {
		t.Fatalf("got %v, want a timeout naming the client's timeout, matching ErrUnavailable", err)
	}
	if calls.Load() != 2 || len(*waits) != 1 {
		t.Errorf("%d calls, %d waits; want 2 calls (one retry)", calls.Load(), len(*waits))
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	*waits = nil
	c = mustNew(t, Config{BaseURL: "http://" + addr, Retries: 2})
	_, err = c.Collection(context.Background(), "docs")
	if !errors.As(err, &ce) || ce.Status != 0 || !errors.Is(err, ErrUnavailable) || len(*waits) != 2 {
		t.Errorf("unreachable server: %v after %d waits; want ErrUnavailable after 2 retries", err, len(*waits))
	}
}

func TestRequestsCarryKeyAgentAndJSON(t *testing.T) {
	f, url := newFake(t, answer{200, nil, `{"documents": 1, "chunks": 2}`})
	c := mustNew(t, Config{BaseURL: url + "/prefix/", APIKey: "k-123", UserAgent: "my-app/2"})
	res, err := c.UpsertDocuments(context.Background(), "my docs/x", api.UpsertRequest{Documents: []api.DocumentInput{{ID: "a", Text: "b"}}})
	if err != nil || res != (api.UpsertResult{Documents: 1, Chunks: 2}) {
		t.Fatalf("UpsertDocuments = %+v, %v", res, err)
	}
	r := f.reqs[0]
	for _, tc := range []struct{ what, got, want string }{
		{"method", r.Method, "POST"},
		{"path", r.URL.EscapedPath(), "/prefix/v1/collections/my%20docs%2Fx/documents"},
		{"Authorization", r.Header.Get("Authorization"), "Bearer k-123"},
		{"User-Agent", r.Header.Get("User-Agent"), "my-app/2"},
		{"Content-Type", r.Header.Get("Content-Type"), "application/json"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

func TestReadyIsNotRetriedAndReturnsTheServersAnswer(t *testing.T) {
	waits := recordWaits(t)
	f, url := newFake(t, answer{503, nil, `{"status": "unavailable", "error": "qdrant unavailable: connection refused"}`})
	h, err := mustNew(t, Config{BaseURL: url}).Ready(context.Background())
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrUnavailable) || ce.Message != "qdrant unavailable: connection refused" {
		t.Fatalf("Ready = %v, want ErrUnavailable with the server's reason", err)
	}
	if h.Status != "unavailable" || f.calls.Load() != 1 || len(*waits) != 0 {
		t.Errorf("Ready answer %+v after %d calls; want the server's body, one call", h, f.calls.Load())
	}
}

func TestConfigDefaultsAndChecks(t *testing.T) {
	c := mustNew(t, Config{})
	if c.base != DefaultBaseURL || c.timeout != 60*time.Second || c.retries != 3 || c.backoff != 250*time.Millisecond ||
		c.userAgent != "spladeq-go-client" || c.http == nil || c.http == http.DefaultClient {
		t.Errorf("defaults: %+v", c)
	}
	if c := mustNew(t, Config{Retries: -1, Timeout: -1}); c.retries != 0 || c.timeout != -1 {
		t.Errorf("negative retries and timeout: %d, %v; want none", c.retries, c.timeout)
	}
	_, err := New(Config{BaseURL: "localhost:8080", APIKey: "a\nb", RetryBackoff: -1})
	for _, want := range []string{"base_url: scheme must be http or https", "api_key: must not contain a line break", "retry_backoff: must be >= 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with three bad fields: %v; want it to say %q", err, want)
		}
	}
	for _, bad := range []string{"http://", "ftp://host", "http://h/?q=1", "http://h/#f", "http://%zz"} {
		if _, err := New(Config{BaseURL: bad}); err == nil {
			t.Errorf("New(BaseURL %q) succeeded", bad)
		}
	}
}

func TestErrorMessageNamesEveryProblem(t *testing.T) {
	e := &Error{Op: "POST /v1/collections/docs/documents", Status: 400, Code: "invalid_input", Message: "invalid input",
		Problems: []api.Problem{{Field: "documents[0].text", ID: "a", Message: "must not be empty"}, {Field: "documents", Message: "too many"}}}
	want := `spladeq POST /v1/collections/docs/documents: HTTP 400 invalid_input: invalid input: documents[0].text (id "a"): must not be empty; documents: too many`
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
}

func TestARequestThatIsNotIdempotentIsRetriedOnlyWhenTheServerSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    answer
		wantCalls int32
	}{
		{"503 without Retry-After", answer{503, nil, `{"error": {"code": "store_unavailable", "message": "x"}}`}, 1},
		{"429 with Retry-After", answer{429, map[string]string{"Retry-After": "1"}, overloaded}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recordWaits(t)
			f, url := newFake(t, tc.answer)
			c := mustNew(t, Config{BaseURL: url, Retries: 2})
			err := c.do(context.Background(), call{method: "POST", path: "/v1/not-idempotent", body: struct{}{}, unsafe: true})
			if err == nil || f.calls.Load() != tc.wantCalls {
				t.Errorf("%v after %d calls, want an error after %d", err, f.calls.Load(), tc.wantCalls)
			}
		})
	}
	// Unreachable: no answer says whether the request took effect.
	waits := recordWaits(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c := mustNew(t, Config{BaseURL: "http://" + addr, Retries: 2})
	if err := c.do(context.Background(), call{method: "POST", path: "/v1/x", unsafe: true}); !errors.Is(err, ErrUnavailable) || len(*waits) != 0 {
		t.Errorf("unreachable, not idempotent: %v after %d waits; want ErrUnavailable, no retry", err, len(*waits))
	}
}
