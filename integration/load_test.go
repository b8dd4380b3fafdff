package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/splade"
)

// loadDuration is how long the load runs: $SPLADEQ_LOAD_SECONDS, or 5 (CI).
func loadDuration() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("SPLADEQ_LOAD_SECONDS")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 5 * time.Second
}

// rssKiB reads a process's resident set size and its peak from /proc.
func rssKiB(pid int) (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "VmRSS:":
				rss = v
			case "VmHWM:":
				peak = v
			}
		}
	}
	return rss, peak
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestLoadShedsWith429AndHoldsMemory runs 64 clients against a `spladeq
// serve` child on loopback for a bounded time: 80% searches, 20% upserts
// of 4 documents.
func TestLoadShedsWith429AndHoldsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	bin := spladeqBinary(t)
	root, _ := filepath.Abs("..")
	dir := t.TempDir()
	addr := freePort(t)
	cfg := fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
server:
  listen: %s
  queue_size: 16
  batch_max_size: 16
  request_timeout: 10s
log: {level: warn}
`, filepath.Join(dir, "store"), filepath.Join(root, "splade/testdata/models/bert-tiny"), filepath.Join(root, "plugin/testdata/models/dense-tiny"), addr)
	cfgPath := filepath.Join(dir, "serve.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("server did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, _ := http.NewRequest("PUT", base+"/v1/collections/docs", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create collection: %v %v", resp, err)
	}

	const clients = 64
	dur := loadDuration()
	deadline := time.Now().Add(dur)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		codes     = map[int]int{}
		failures  []string
		peakRSS   int64
	)
	stopRSS := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopRSS:
				return
			case <-time.After(100 * time.Millisecond):
				if rss, _ := rssKiB(cmd.Process.Pid); rss > peakRSS {
					mu.Lock()
					peakRSS = rss
					mu.Unlock()
				}
			}
		}
	}()
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				var resp *http.Response
				var err error
				t0 := time.Now()
				if n%5 == 4 {
					body := fmt.Sprintf(`{"documents": [{"id": "c%d-%d-a", "text": "client %d writes document %d about sparse retrieval"},
						{"id": "c%d-%d-b", "text": "second"}, {"id": "c%d-%d-c", "text": "third"}, {"id": "c%d-%d-d", "text": "fourth"}]}`, c, n, c, n, c, n, c, n, c, n)
					resp, err = client.Post(base+"/v1/collections/docs/documents", "application/json", strings.NewReader(body))
				} else {
					resp, err = client.Post(base+"/v1/collections/docs/search", "application/json", strings.NewReader(fmt.Sprintf(`{"query": "sparse retrieval %d"}`, n)))
				}
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					codes[resp.StatusCode]++
					if resp.StatusCode == 200 {
						latencies = append(latencies, d)
					}
				}
				mu.Unlock()
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 429 {
						time.Sleep(20 * time.Millisecond) // a client honouring back-pressure
					}
				}
			}
		}(c)
	}
	wg.Wait()
	close(stopRSS)
	_, hwm := rssKiB(cmd.Process.Pid)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if len(latencies) == 0 {
		t.Fatalf("no request succeeded: codes %v, failures %v", codes, failures)
	}
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	total := 0
	for _, n := range codes {
		total += n
	}
	t.Logf("%d clients for %v: %d requests (%.0f/s), %d ok (p50 %v, p99 %v), status codes %v, transport errors %d, server RSS peak %d MiB (sampled %d MiB)",
		clients, dur, total, float64(total)/dur.Seconds(), len(latencies), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond),
		codes, len(failures), hwm>>10, peakRSS>>10)
	for code, n := range codes {
		if code != 200 && code != 429 {
			t.Errorf("%d responses with status %d: overload must answer 429, nothing else", n, code)
		}
	}
	if codes[429] == 0 {
		t.Error("no request was shed with 429: the load never filled the 16-text queue, so back-pressure went untested")
	}
	if len(failures) > 0 {
		t.Errorf("%d transport errors, e.g. %s", len(failures), failures[0])
	}
	if hwm > 1<<20 { // KiB: 1 GiB
		t.Errorf("server RSS peaked at %d MiB", hwm>>10)
	}
}
