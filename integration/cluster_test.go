package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/splade"
)

// worker is one `spladeq ingest --shard` child process.
type worker struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func startWorker(t *testing.T, dir string, args ...string) *worker {
	t.Helper()
	w := &worker{done: make(chan error, 1)}
	w.cmd = exec.Command(spladeqBinary(t), append([]string{"ingest"}, args...)...)
	w.cmd.Env, w.cmd.Dir = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath()), dir
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() { w.cmd.Process.Kill() })
	return w
}

func (w *worker) running() bool {
	select {
	case err := <-w.done:
		w.done <- err
		return false
	default:
		return true
	}
}

// TestClusterIngestionSurvivesANodeKill runs three ingestion workers, one
// shard each, into a collection of 3 shards × replication 2 on a 3-node
// Qdrant cluster; while they run, one node is SIGKILLed and restarted and
// one worker is SIGKILLed and resumed. The job finishes with no manual
// step, the collection holds exactly the source's documents and chunks
// (each document written by one worker), and searches keep answering
// during the outage. It runs against a cluster of each Qdrant release.
func TestClusterIngestionSurvivesANodeKill(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	qdranttest.ForEachVersion(t, clusterIngestionSurvivesANodeKill)
}

func clusterIngestionSurvivesANodeKill(t *testing.T, version string) {
	nodes := qdranttest.StartCluster(t, 3, qdranttest.Options{Version: version})
	url := nodes[0].GRPCAddr()
	dir := t.TempDir()
	docs := 1500
	if os.Getenv("SPLADEQ_CLUSTER_DOCS") != "" {
		fmt.Sscan(os.Getenv("SPLADEQ_CLUSTER_DOCS"), &docs)
	}
	lines, want := killCorpus(docs)
	src := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	cfg := killJobConfig(dir, url, src, ", shard_number: 3, replication_factor: 2, write_consistency_factor: 1")

	start := time.Now()
	workers := make([]*worker, 3)
	for i := range workers {
		workers[i] = startWorker(t, dir, "--config", cfg, "--shard", fmt.Sprintf("%d/3", i))
	}

	// Searches through node 1 for the whole run, outage included.
	c, err := qdrant.Open(context.Background(), qdrant.Config{URL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var answered, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopSearches := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopSearches() // before c.Close, whatever ends the test
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewSource(1))
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			q := splade.SparseVector{Indices: []uint32{uint32(1000 + rng.Intn(2000)), 5000}, Values: []float32{1, 0.5}}
			if _, err := c.Search(context.Background(), "docs", qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: q, Limit: 5}, qdrant.WriteOptions{}); err != nil {
				if !strings.Contains(err.Error(), "doesn't exist") { // before the first worker created it
					failed.Add(1)
					lastErr.Store(err.Error())
				}
				continue
			}
			answered.Add(1)
		}
	}()

	time.Sleep(1500 * time.Millisecond)
	for i, w := range workers {
		if !w.running() {
			t.Fatalf("worker %d finished before the faults: the corpus must outlast them\n%s", i, w.out.String())
		}
	}
	workers[1].cmd.Process.Kill()
	<-workers[1].done
	nodes[2].Kill()
	killedAt := time.Now()
	answeredBefore := answered.Load()
	time.Sleep(3 * time.Second)
	// A search in flight at the kill may wait out its connection to the
	// dead node first; on a loaded machine that takes seconds. The outage
	// lasts (up to 20 s) until one answers.
	for answered.Load() == answeredBefore && time.Since(killedAt) < 20*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	duringOutage := answered.Load() - answeredBefore
	stillRunning := workers[0].running() || workers[2].running()
	workers[1] = startWorker(t, dir, "--config", cfg, "--shard", "1/3")
	nodes[2].Restart(t)
	t.Logf("node 3 down for %v; %d searches answered meanwhile; workers 0 or 2 still running at restart: %v",
		time.Since(killedAt).Round(time.Millisecond), duringOutage, stillRunning)

	for i, w := range workers {
		select {
		case err := <-w.done:
			if err != nil {
				t.Fatalf("worker %d failed: %v\n%s", i, err, w.out.String())
			}
		case <-time.After(5 * time.Minute):
			t.Fatalf("worker %d did not finish\n%s", i, w.out.String())
		}
	}
	stopSearches()
	t.Logf("ingested %d documents in %v with 3 workers; searches answered %d, failed %d",
		len(want), time.Since(start).Round(time.Millisecond), answered.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d searches failed during the run (last: %v)", failed.Load(), lastErr.Load())
	}
	if duringOutage == 0 {
		t.Error("no search answered while node 3 was down")
	}
	if !stillRunning {
		t.Error("the other workers had finished before node 3 came back: the outage did not overlap their writes")
	}
	waitReplicasActive(t, nodes, "docs")
	checkExact(t, url, want)
	var dead []string
	for i := 0; i < 3; i++ {
		dead = append(dead, filepath.Join(dir, fmt.Sprintf("dead.shard-%d-of-3.jsonl", i)))
	}
	checkDeadLetters(t, 3, dead...)
}

// waitReplicasActive waits until every replica of every shard of the
// collection is Active on every node (a restarted node catches up by shard
// transfer).
func waitReplicasActive(t *testing.T, nodes []*qdranttest.Node, collection string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		states := map[string]int{}
		for _, n := range nodes {
			resp, err := http.Get(n.HTTPURL() + "/collections/" + collection + "/cluster")
			if err != nil {
				states["unreachable"]++
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var info struct {
				Result struct {
					LocalShards  []struct{ State string } `json:"local_shards"`
					RemoteShards []struct{ State string } `json:"remote_shards"`
				} `json:"result"`
			}
			json.Unmarshal(body, &info)
			for _, s := range append(info.Result.LocalShards, info.Result.RemoteShards...) {
				states[s.State]++
			}
		}
		if len(states) == 1 && states["Active"] == 3*2*len(nodes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas not all active after 2 minutes: %v", states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
