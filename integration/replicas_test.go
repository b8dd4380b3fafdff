package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/splade"
)

// roundRobin is a reverse proxy over backends, one request each in turn,
// with its own transport; a dead backend's request gets 502 (no retry), as
// a plain L7 balancer in front of the Deployment would answer.
func roundRobin(t *testing.T, backends ...string) (*httptest.Server, *proxyErrors) {
	t.Helper()
	var targets []*url.URL
	for _, b := range backends {
		u, err := url.Parse("http://" + b)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, u)
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, ResponseHeaderTimeout: 30 * time.Second},
	}
	errs := &proxyErrors{}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			errs.refused.Add(1)
		} else {
			errs.inFlight.Add(1)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv, errs
}

// proxyErrors counts the proxy's 502s: connections refused by a dead
// backend, and requests cut while a backend was handling them.
type proxyErrors struct{ refused, inFlight atomic.Int64 }

// TestReplicaLossBehindQdrant: two `spladeq serve` processes behind a
// round-robin proxy that a real Qdrant's inference.address points at; a
// stream of upserts, each one point with its own id and text as a Document,
// while one replica is SIGKILLed a third of the way in. Every upsert Qdrant
// acknowledged must be stored with the vector spladeq computes for its text;
// every upsert that failed must have reached the client as an error and be
// stored nowhere.
func TestReplicaLossBehindQdrant(t *testing.T) {
	const token = "replica-test-inference-token-01"
	cfg := func() string {
		return fixtureServeConfig(t, "embedded://"+filepath.Join(t.TempDir(), "store"), fmt.Sprintf(", inference_tokens: [%q]", token))
	}
	a, b := startServeProcess(t, cfg()), startServeProcess(t, cfg())
	proxy, proxyErrs := roundRobin(t, a.addr, b.addr)
	node := qdranttest.Start(t, qdranttest.Options{InferenceAddress: proxy.URL + "/v1/qdrant/inference", InferenceToken: token})
	c, err := rawClient(node.GRPCAddr(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sparseCollection(t, c, "replicas")

	const n, workers, killAt = 150, 4, 50
	text := func(i int) string {
		return fmt.Sprintf("document %d about replica %d and sparse retrieval, topic %d", i, i%7, i*31%101)
	}
	type outcome struct {
		err  error
		when time.Time
	}
	results := make([]outcome, n)
	var acked atomic.Int64
	var killed time.Time
	killOnce := sync.Once{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				wait := true
				_, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "replicas", Wait: &wait, Points: []*qc.PointStruct{{
					Id:      qc.NewIDNum(uint64(i + 1)),
					Payload: qc.NewValueMap(map[string]any{"text": text(i)}),
					Vectors: qc.NewVectorsMap(map[string]*qc.Vector{"splade": qc.NewVectorDocument(&qc.Document{Text: text(i), Model: "spladeq/sparse"})}),
				}}})
				cancel()
				results[i] = outcome{err: err, when: time.Now()}
				if err == nil && acked.Add(1) == killAt {
					killOnce.Do(func() {
						a.cmd.Process.Signal(syscall.SIGKILL)
						killed = time.Now()
					})
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if killed.IsZero() {
		t.Fatalf("only %d upserts were acknowledged before the stream ended; the replica was never killed", acked.Load())
	}
	// SIGKILL cannot be caught: wait for the replica however long this
	// machine takes to reap it, and check that it was the signal that
	// ended it.
	<-a.done
	if ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the replica ended with %v, not by the SIGKILL", a.cmd.ProcessState)
	}

	// What spladeq computes directly for each text: the surviving replica's
	// own /v1/encode.
	var texts []string
	for i := 0; i < n; i++ {
		texts = append(texts, text(i))
	}
	body, _ := json.Marshal(map[string]any{"texts": texts, "dense": "none"})
	resp, err := http.Post("http://"+b.addr+"/v1/encode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var enc struct {
		Results []struct {
			Sparse splade.SparseVector `json:"sparse"`
		} `json:"results"`
	}
	err = json.NewDecoder(resp.Body).Decode(&enc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(enc.Results) != n {
		t.Fatalf("reference encode: %d, %v, %d results", resp.StatusCode, err, len(enc.Results))
	}

	ctx := context.Background()
	var ok, failed, failedAfterKill, okAfterKill int
	for i := 0; i < n; i++ {
		pts, err := c.Get(ctx, &qc.GetPoints{CollectionName: "replicas", Ids: []*qc.PointId{qc.NewIDNum(uint64(i + 1))},
			WithVectors: qc.NewWithVectors(true), WithPayload: qc.NewWithPayload(true)})
		if err != nil {
			t.Fatal(err)
		}
		if results[i].err != nil {
			failed++
			if results[i].when.After(killed) {
				failedAfterKill++
			}
			if len(pts) != 0 {
				t.Errorf("point %d: its upsert failed (%v) but it is stored", i+1, results[i].err)
			}
			continue
		}
		ok++
		if results[i].when.After(killed) {
			okAfterKill++
		}
		if len(pts) != 1 {
			t.Errorf("point %d: its upsert was acknowledged but it is not stored", i+1)
			continue
		}
		if got := pts[0].GetPayload()["text"].GetStringValue(); got != text(i) {
			t.Errorf("point %d: payload text %q, want %q", i+1, got, text(i))
		}
		sameSparse(t, fmt.Sprintf("point %d", i+1), storedSparse(pts[0].GetVectors()), enc.Results[i].Sparse)
	}
	count, err := c.Count(ctx, &qc.CountPoints{CollectionName: "replicas"})
	if err != nil {
		t.Fatal(err)
	}
	if int(count) != ok {
		t.Errorf("%d points stored, %d upserts acknowledged", count, ok)
	}
	t.Logf("%d upserts: %d acknowledged (%d after the kill), %d failed (%d after the kill); the proxy's 502s: %d refused, %d cut in flight",
		n, ok, okAfterKill, failed, failedAfterKill, proxyErrs.refused.Load(), proxyErrs.inFlight.Load())
	for i := range results {
		if results[i].err != nil {
			t.Logf("a failed upsert, as the client saw it: %v", results[i].err)
			break
		}
	}
	if failedAfterKill == 0 || okAfterKill == 0 {
		t.Errorf("after the kill %d upserts failed and %d succeeded: want both (the dead replica's share failing, the live one's going through)",
			failedAfterKill, okAfterKill)
	}
}
