package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
)

// TestSyncSurvivesKillNineAtRandomMoments runs `spladeq ingest` with
// ingest.sync: full over a source that changes between runs — documents
// edited (longer and shorter), added, deleted, a bad record — and kills
// it with SIGKILL at random moments (encoding, writes) and right as its
// deletions start; the source may change again between a kill and the
// next run. After a last run the collection must equal, point for point
// (ids, vectors, payloads), a clean run over the final source into a fresh
// collection: on the embedded store, each real Qdrant release and a cluster.
func TestSyncSurvivesKillNineAtRandomMoments(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		syncKillCycles(t, "embedded://"+filepath.Join(dir, "store"), "embedded://"+filepath.Join(dir, "clean-store"), "docs")
	})
	qdranttest.ForEachVersion(t, func(t *testing.T, version string) {
		node := qdranttest.StartVersion(t, version, qdranttest.Options{})
		syncKillCycles(t, node.GRPCAddr(), node.GRPCAddr(), "clean")
	})
	t.Run("qdrant cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("cluster test")
		}
		// 3 nodes, 3 shards × 2 replicas: a document's chunks, its
		// fingerprint checks and the deletions span nodes.
		nodes := qdranttest.StartCluster(t, 3, qdranttest.Options{Version: qdranttest.Newest()})
		syncClusterSpec = ", shard_number: 3, replication_factor: 2, write_consistency_factor: 2"
		defer func() { syncClusterSpec = "" }()
		syncKillCycles(t, nodes[0].GRPCAddr(), nodes[1].GRPCAddr(), "clean")
	})
}

// syncClusterSpec is extra collection settings of syncJobConfig.
var syncClusterSpec string

// syncCorpus is killCorpus changed by variant (0: as killCorpus): a third
// of the documents edited (some much longer, some shorter), a fifth
// deleted, new ones added, one more bad record; want is id → final text.
func syncCorpus(docs, variant int) (lines []string, want map[string]string, bad int) {
	base, _ := killCorpus(docs)
	if variant == 0 {
		lines, want = killCorpus(docs)
		return lines, want, 3
	}
	rng := rand.New(rand.NewSource(int64(variant)))
	want = map[string]string{}
	seen := map[string]bool{}
	for _, l := range base {
		var rec struct{ ID, Text string }
		err := json.Unmarshal([]byte(l), &rec)
		if err != nil || !strings.HasPrefix(rec.ID, "doc-") || seen[rec.ID] {
			lines = append(lines, l)        // bad records and the repeated id stay
			if err == nil && seen[rec.ID] { // doc-0007's second version
				want[rec.ID] = rec.Text
			}
			continue
		}
		seen[rec.ID] = true
		switch r := rng.Intn(15); {
		case r < 3: // deleted
			continue
		case r < 5: // edited, longer: more chunks
			rec.Text = fmt.Sprintf("%s, edition %d: %s", rec.Text, variant, strings.Repeat("sparse terms expand the query. ", 4+rng.Intn(6)))
			l = fmt.Sprintf(`{"id": %q, "text": %q, "n": %d}`, rec.ID, rec.Text, len(rec.Text))
		case r < 7: // edited, shorter: stale chunks to remove
			rec.Text = fmt.Sprintf("%s, edition %d", rec.ID, variant)
			l = fmt.Sprintf(`{"id": %q, "text": %q, "n": %d}`, rec.ID, rec.Text, len(rec.Text))
		}
		lines = append(lines, l)
		want[rec.ID] = rec.Text
	}
	for i := 0; i < docs/10; i++ {
		id := fmt.Sprintf("new-%d-%03d", variant, i)
		text := fmt.Sprintf("a document added in edition %d: %s", variant, strings.Repeat("learned sparse retrieval. ", 1+i%5))
		lines = append(lines, fmt.Sprintf(`{"id": %q, "text": %q, "n": %d}`, id, text, i))
		want[id] = text
	}
	lines = append(lines, fmt.Sprintf(`{"id": "bad-edition-%d", "text": ["not", "a", "string"]}`, variant))
	// doc-0007's second version (in base) still wins over the first.
	return lines, want, 4
}

// syncJobConfig is killJobConfig with ingest.sync: full into collection
// name, its checkpoint and dead letter named after it.
func syncJobConfig(dir, url, src, name string) string {
	job := fmt.Sprintf(`
qdrant: {url: %q, retries: 40, retry_backoff: 50ms, timeout: 10s}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
collection: {name: %s%s}
ingest:
  source: {type: jsonl, path: %q}
  fields: {id: id, text: [text], payload: [n]}
  chunk_tokens: 24
  chunk_overlap: 4
  batch_size: 8
  max_errors: 10
  sync: full
  max_delete: 1
  dead_letter: %q
  checkpoint: %q
`, url, filepath.Join(repoRoot, fixtureSparseModel), filepath.Join(repoRoot, fixtureDenseModel), name, syncClusterSpec,
		src, filepath.Join(dir, name+".dead.jsonl"), filepath.Join(dir, name+".checkpoint.json"))
	p := filepath.Join(dir, name+".yaml")
	os.WriteFile(p, []byte(job), 0o644)
	return p
}

func syncKillCycles(t *testing.T, url, cleanURL, cleanName string) {
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	docs := max(700, 120*killCycles())
	src := filepath.Join(dir, "corpus.jsonl")
	write := func(variant int) {
		lines, _, _ := syncCorpus(docs, variant)
		tmp := src + ".tmp"
		os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		os.Rename(tmp, src)
	}
	write(0)
	cfg := syncJobConfig(dir, url, src, "docs")
	runIngest(t, dir, 0, "--config", cfg)

	variant, out := killSyncRuns(t, dir, cfg, seed, rng, write)
	t.Logf("final source edition %d; final run: %s", variant, out)
	_, want, bad := syncCorpus(docs, variant)
	checkExact(t, url, want)
	checkDeadLetters(t, bad, filepath.Join(dir, "docs.dead.jsonl"))

	clean := syncJobConfig(dir, cleanURL, src, cleanName)
	runIngest(t, dir, 0, "--config", clean)
	compareCollections(t, url, "docs", cleanURL, cleanName)
}

// killSyncRuns drives the kill -9 cycles of a sync job: source edition 1 is
// written, then each cycle may change the edition (write), and runs
// `spladeq ingest --config cfg` killed at a random moment or, every third
// cycle, as its deletions begin. A last run is let finish; it returns the
// final edition and that run's output. A test whose runs all finished
// before their kills fails.
func killSyncRuns(t *testing.T, dir, cfg string, seed int64, rng *rand.Rand, write func(variant int)) (int, string) {
	t.Helper()
	variant, kills, atDelete := 1, 0, 0
	write(variant)
	for i := 0; i < killCycles(); i++ {
		if rng.Intn(3) == 0 {
			// The source changes between a kill and the next run.
			variant = 1 + rng.Intn(3)
			write(variant)
		}
		var exited bool
		if i%3 == 2 {
			exited = runIngestKilledAtDeletion(t, dir, filepath.Join(dir, "docs.checkpoint.json"), "--config", cfg)
			if !exited {
				atDelete++
			}
		} else {
			exited, _ = runIngest(t, dir, time.Duration(100+rng.Intn(900))*time.Millisecond, "--config", cfg)
		}
		if !exited {
			kills++
		}
	}
	_, out := runIngest(t, dir, 0, "--config", cfg)
	t.Logf("seed %d: killed %d times (%d as deletions began)", seed, kills, atDelete)
	if kills == 0 {
		t.Error("every run finished before its kill: nothing was tested")
	}
	return variant, strings.TrimSpace(out)
}

// runIngestKilledAtDeletion runs `spladeq ingest` and kills it with
// SIGKILL as soon as its checkpoint says the deletions began; it reports
// whether the run ended first.
func runIngestKilledAtDeletion(t *testing.T, dir, checkpoint string, args ...string) bool {
	t.Helper()
	w := startWorker(t, dir, args...)
	for {
		select {
		case <-w.done:
			return true
		default:
		}
		if data, err := os.ReadFile(checkpoint); err == nil && strings.Contains(string(data), `"phase": "delete"`) {
			w.cmd.Process.Kill()
			<-w.done
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// compareCollections checks two collections hold the same points: ids,
// payloads (but the pass id, which names a run) and vectors (to 1e-5:
// a text's vectors may differ in the last bits with its batchmates).
func compareCollections(t *testing.T, urlA, a, urlB, b string) {
	t.Helper()
	read := func(url, name string) map[string]qdrant.StoredPoint {
		c, err := qdrant.Open(context.Background(), qdrant.Config{URL: url, ReadConsistency: "all"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pts, err := c.Scroll(context.Background(), name, nil, qdrant.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]qdrant.StoredPoint{}
		for _, p := range pts {
			delete(p.Payload, "spladeq_run")
			out[p.ID] = p
		}
		return out
	}
	got, want := read(urlA, a), read(urlB, b)
	if len(got) != len(want) {
		t.Errorf("%d points, the clean run has %d", len(got), len(want))
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	diffs := 0
	for _, id := range ids {
		g, ok := got[id]
		w := want[id]
		why := ""
		switch {
		case !ok:
			why = "missing"
		case fmt.Sprint(g.Payload) != fmt.Sprint(w.Payload):
			why = fmt.Sprintf("payload %v, want %v", g.Payload, w.Payload)
		case !close32(g.Sparse.Values, w.Sparse.Values) || fmt.Sprint(g.Sparse.Indices) != fmt.Sprint(w.Sparse.Indices):
			why = "sparse vector differs"
		case !close32(g.Dense, w.Dense):
			why = "dense vector differs"
		}
		if why != "" {
			if diffs++; diffs <= 5 {
				t.Errorf("point %s (%v#%v): %s", id, w.Payload["doc_id"], w.Payload["chunk"], why)
			}
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			if diffs++; diffs <= 5 {
				t.Errorf("stale point %s (%v#%v)", id, g.Payload["doc_id"], g.Payload["chunk"])
			}
		}
	}
	if diffs > 5 {
		t.Errorf("... %d differences in all", diffs)
	}
}

func close32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}
