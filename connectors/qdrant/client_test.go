package qdrant

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/spladeq/spladeq/splade"
)

func TestPointIDMatchesPythonUUID5(t *testing.T) {
	// Expected values from Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "spladeq"), name).
	for name, want := range map[[2]any]string{
		{"doc-1", 0}: "ba150e70-2354-58aa-9728-718dd739d894",
		{"doc-1", 1}: "b75d659c-ed1f-5f66-97fa-5c19bd0631a0",
		{"é/ü", 7}:   "f3c77299-4798-5abe-a602-1c3ee2acf7d1",
	} {
		if got := PointID(name[0].(string), name[1].(int)); got != want {
			t.Errorf("PointID(%q, %d) = %s, want %s", name[0], name[1], got, want)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want endpoint
		err  string
	}{
		{"embedded://./data", endpoint{embeddedDir: "./data"}, ""},
		{"localhost", endpoint{host: "localhost", port: 6334}, ""},
		{"qdrant:7000", endpoint{host: "qdrant", port: 7000}, ""},
		{"http://qdrant:6334", endpoint{host: "qdrant", port: 6334}, ""},
		{"https://cloud.example:6334", endpoint{host: "cloud.example", port: 6334, tls: true}, ""},
		{"embedded://", endpoint{}, "names no directory"},
		{"ftp://x", endpoint{}, `scheme "ftp"`},
		{"qdrant:0", endpoint{}, "port must be 1..65535"},
		{"http://qdrant:6334/collections", endpoint{}, "has no path"},
	} {
		got, err := parseURL(tc.in, false)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseURL(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{URL: "ftp://x", Timeout: -1, BatchSize: -2}.Validate()
	for _, want := range []string{"url:", "timeout: must be >= 0", "batch_size: must be >= 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

// flakyPoints fails the first failures upserts with code, then succeeds.
type flakyPoints struct {
	qc.UnimplementedPointsServer
	failures  int32
	code      codes.Code
	retryHint string
	msg       string // the status message, "injected failure" when empty
	calls     atomic.Int32
}

func (f *flakyPoints) Upsert(ctx context.Context, _ *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	if n := f.calls.Add(1); n <= f.failures {
		if f.retryHint != "" {
			grpc.SetTrailer(ctx, metadata.Pairs("retry-after", f.retryHint))
		}
		msg := f.msg
		if msg == "" {
			msg = "injected failure"
		}
		return nil, status.Error(f.code, msg)
	}
	return &qc.PointsOperationResponse{Result: &qc.UpdateResult{Status: qc.UpdateStatus_Completed}}, nil
}

func serveFake(t *testing.T, points qc.PointsServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	qc.RegisterPointsServer(s, points)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func noSleep(t *testing.T) *[]time.Duration {
	var slept []time.Duration
	old := sleep
	sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }
	t.Cleanup(func() { sleep = old })
	return &slept
}

var oneDoc = []Document{{ID: "a", Sparse: splade.SparseVector{Indices: []uint32{1}, Values: []float32{1}}}}

const shardMissingMsg = `Pre-condition failure: 1 out of 3 shards failed to apply operation. First error captured: Precondition failed: status: FailedPrecondition, message: "Pre-condition failure: Precondition failed: No target shard 0 found for update"`

func TestUpsertRetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      codes.Code
		hint      string
		msg       string
		failures  int32
		retries   int
		wantCalls int32
		wantErr   error
		minDelay  time.Duration
	}{
		{"Unavailable is retried until it succeeds", codes.Unavailable, "", "", 2, 5, 3, nil, 0},
		{"ResourceExhausted honours retry-after", codes.ResourceExhausted, "3", "", 1, 5, 2, nil, 3 * time.Second},
		{"the retry budget runs out with ErrUnavailable", codes.Unavailable, "", "", 10, 2, 3, ErrUnavailable, 0},
		{"InvalidArgument is not retried", codes.InvalidArgument, "", "", 10, 5, 1, ErrInvalid, 0},
		{"FailedPrecondition is not retried", codes.FailedPrecondition, "", "", 10, 5, 1, ErrInvalid, 0},
		// What a Qdrant 1.17.1 cluster answered a worker starting while a
		// node restarted (TestClusterIngestionSurvivesANodeKill).
		{"a shard with no active replica is retried", codes.FailedPrecondition, "", shardMissingMsg, 2, 5, 3, nil, 0},
		{"a shard that stays missing ends as ErrUnavailable", codes.FailedPrecondition, "", shardMissingMsg, 10, 2, 3, ErrUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slept := noSleep(t)
			fake := &flakyPoints{failures: tc.failures, code: tc.code, retryHint: tc.hint, msg: tc.msg}
			c, err := Open(context.Background(), Config{URL: serveFake(t, fake), Retries: tc.retries})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Upsert(context.Background(), "col", oneDoc, WriteOptions{})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Upsert = %v, want %v", err, tc.wantErr)
			}
			if got := fake.calls.Load(); got != tc.wantCalls {
				t.Errorf("server saw %d calls, want %d", got, tc.wantCalls)
			}
			if tc.minDelay > 0 && (len(*slept) == 0 || (*slept)[0] < tc.minDelay) {
				t.Errorf("slept %v, want a first delay of at least %v", *slept, tc.minDelay)
			}
			if err != nil && !strings.Contains(err.Error(), `batch of documents "a"#0`) {
				t.Errorf("error %q does not name the failed documents", err)
			}
		})
	}
}

func TestUnreachableQdrantFailsClearly(t *testing.T) {
	noSleep(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	c, err := Open(context.Background(), Config{URL: addr, Retries: 2, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping = %v, want ErrUnavailable", err)
	}
}

func TestEmbeddedStorePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	spec := CollectionSpec{Name: "docs", Dense: &DenseSpec{Size: 2}, Sparse: &SparseSpec{IDF: true}}
	doc := Document{ID: "a", Text: "hello", Sparse: splade.SparseVector{Indices: []uint32{3, 9}, Values: []float32{0.5, 1.5}}, Dense: []float32{1, 0}}

	c, err := Open(ctx, Config{URL: EmbeddedScheme + dir})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Embedded() {
		t.Fatal("embedded:// did not open the embedded store")
	}
	if err := c.EnsureCollection(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(ctx, "docs", []Document{doc}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("a second opener is refused while the store is open", func(t *testing.T) {
		_, err := Open(ctx, Config{URL: EmbeddedScheme + dir})
		if err == nil || !strings.Contains(err.Error(), "locked by another process") {
			t.Errorf("got %v, want a lock error", err)
		}
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c, err = Open(ctx, Config{URL: EmbeddedScheme + dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.EnsureCollection(ctx, spec); err != nil {
		t.Fatalf("schema after restart: %v", err)
	}
	pts, err := c.Scroll(ctx, "docs", nil, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 || pts[0].Payload["text"] != "hello" || pts[0].Sparse.Values[1] != 1.5 {
		t.Fatalf("after restart: %+v", pts)
	}
	hits, err := c.Search(ctx, "docs", SearchRequest{Mode: ModeSparse, Sparse: doc.Sparse}, WriteOptions{})
	if err != nil || len(hits) != 1 {
		t.Fatalf("search after restart: %v, %v", hits, err)
	}
}

func TestPrefetchLimitDefaultsAndRaises(t *testing.T) {
	for _, tc := range []struct{ prefetch, limit, offset, want int }{
		{0, 10, 0, 50},    // default
		{0, 40, 30, 70},   // default raised to limit + offset
		{20, 10, 0, 20},   // as asked
		{20, 25, 5, 30},   // raised to limit + offset, not to the default
		{200, 10, 0, 200}, // as asked
	} {
		r := SearchRequest{Mode: ModeSparse, PrefetchLimit: tc.prefetch, Limit: tc.limit, Offset: tc.offset}
		if err := r.normalise(); err != nil {
			t.Fatal(err)
		}
		if r.PrefetchLimit != tc.want {
			t.Errorf("prefetch %d, limit %d, offset %d: got %d, want %d", tc.prefetch, tc.limit, tc.offset, r.PrefetchLimit, tc.want)
		}
	}
}
