package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/splade"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// spladeqBinary builds the command once per test run.
func spladeqBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spladeq-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "spladeq")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/spladeq").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// killCycles is how many times the child is killed: $SPLADEQ_KILL_CYCLES,
// or 6 (CI).
func killCycles() int {
	if n, err := strconv.Atoi(os.Getenv("SPLADEQ_KILL_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 6
}

// TestIngestSurvivesKillNineAtRandomMoments kills `spladeq ingest` with
// SIGKILL at random moments, then lets it finish: the collection must hold
// exactly the source's documents, on the embedded store and on a real
// Qdrant server.
func TestIngestSurvivesKillNineAtRandomMoments(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		ingestKillCycles(t, "embedded://"+filepath.Join(t.TempDir(), "store"))
	})
	t.Run("qdrant server", func(t *testing.T) {
		node := qdranttest.Start(t, qdranttest.Options{})
		ingestKillCycles(t, node.GRPCAddr())
	})
}

// killCorpus is a corpus with short and multi-chunk documents, a repeated
// id (the later version wins) and three bad records; want is id → final
// text.
func killCorpus(docs int) (lines []string, want map[string]string) {
	want = map[string]string{}
	for i := 0; i < docs; i++ {
		id := fmt.Sprintf("doc-%04d", i)
		text := fmt.Sprintf("document %d: ", i) + strings.Repeat("learned sparse retrieval with expansion terms. ", 1+i%9)
		lines = append(lines, fmt.Sprintf(`{"id": %q, "text": %q, "n": %d}`, id, text, i))
		want[id] = text
		switch i {
		case 100:
			lines = append(lines, `{"id": "bad-1", "text": }`)
		case 300:
			lines = append(lines, `{"text": "no id"}`)
		case 500:
			lines = append(lines, `{"id": "doc-0007", "text": "doc-0007, second version, short"}`)
			want["doc-0007"] = "doc-0007, second version, short"
			lines = append(lines, `{"id": "bad-3", "text": "`+"\xff"+`"}`)
		}
	}
	return lines, want
}

// killJobConfig is an ingestion job over src into url with the fixture
// models, small chunks and batches; collection is the collection section's
// extra settings (YAML flow-map entries).
func killJobConfig(dir, url, src, collection string) string {
	job := fmt.Sprintf(`
qdrant: {url: %q, retries: 40, retry_backoff: 50ms, timeout: 10s}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
collection: {name: docs%s}
ingest:
  source: {type: jsonl, path: %q}
  fields: {id: id, text: [text], payload: [n]}
  chunk_tokens: 24
  chunk_overlap: 4
  batch_size: 8
  max_errors: 10
  dead_letter: %q
  checkpoint: %q
`, url, filepath.Join(repoRoot, fixtureSparseModel), filepath.Join(repoRoot, fixtureDenseModel), collection,
		src, filepath.Join(dir, "dead.jsonl"), filepath.Join(dir, "checkpoint.json"))
	p := filepath.Join(dir, "job.yaml")
	os.WriteFile(p, []byte(job), 0o644)
	return p
}

// runIngest runs `spladeq ingest` with args; with kill > 0 it is killed
// with SIGKILL after kill unless it exits first (exited reports which);
// with kill == 0 it must finish.
func runIngest(t *testing.T, dir string, kill time.Duration, args ...string) (exited bool, out string) {
	t.Helper()
	return runSpladeq(t, dir, kill, append([]string{"ingest"}, args...)...)
}

// runSpladeq runs the spladeq command with args in dir; with kill > 0 it
// is killed with SIGKILL after kill unless it exits first (exited reports
// which; out then holds its error and output); with kill == 0 it must
// finish, successfully.
func runSpladeq(t *testing.T, dir string, kill time.Duration, args ...string) (exited bool, out string) {
	t.Helper()
	cmd := exec.Command(spladeqBinary(t), args...)
	cmd.Env, cmd.Dir = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath()), dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if kill > 0 {
		select {
		case err := <-done:
			return true, fmt.Sprint(err, buf.String())
		case <-time.After(kill):
			cmd.Process.Kill() // SIGKILL: no cleanup, no deferred writes
			<-done
			return false, buf.String()
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("final run of %v failed: %v\n%s", args, err, buf.String())
		}
		return true, buf.String()
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("final run of %v did not finish", args)
	}
	return false, ""
}

func ingestKillCycles(t *testing.T, url string) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	// The corpus grows with the kill count so the job outlasts the kills.
	docs := max(700, 120*killCycles())
	t.Logf("%d documents, up to %d kills", docs, killCycles())
	lines, want := killCorpus(docs)
	src := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	cfgPath := killJobConfig(dir, url, src, "")
	kills := 0
	for i := 0; i < killCycles(); i++ {
		exited, _ := runIngest(t, dir, time.Duration(150+rng.Intn(900))*time.Millisecond, "--config", cfgPath)
		if exited {
			break
		}
		kills++
	}
	_, out := runIngest(t, dir, 0, "--config", cfgPath)
	t.Logf("killed %d times; final run: %s", kills, strings.TrimSpace(out))
	if kills == 0 {
		t.Error("the job finished before the first kill: nothing was tested; the corpus must outlast the kill window")
	}
	checkExact(t, url, want)
	checkDeadLetters(t, 3, filepath.Join(dir, "dead.jsonl"))
}

// checkExact checks the collection "docs" at url holds exactly want's
// documents, chunked as the job chunks them, no stale or missing chunk.
func checkExact(t *testing.T, url string, want map[string]string) {
	t.Helper()
	c, err := qdrant.Open(context.Background(), qdrant.Config{URL: url, ReadConsistency: "all"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pts, err := c.Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := splade.New(filepath.Join(repoRoot, fixtureSparseModel))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	got := map[string]map[int]string{}
	for _, p := range pts {
		id, n := p.Payload["doc_id"].(string), int(p.Payload["chunk"].(int64))
		if got[id] == nil {
			got[id] = map[int]string{}
		}
		got[id][n] = p.Payload["text"].(string)
	}
	if len(got) != len(want) {
		t.Errorf("%d documents stored, the source has %d", len(got), len(want))
	}
	total := 0
	for id, text := range want {
		chunks, err := enc.Chunks(text, 24, 4)
		if err != nil {
			t.Fatal(err)
		}
		total += len(chunks)
		if len(got[id]) != len(chunks) {
			t.Errorf("%s: %d chunks stored, want %d (stale or missing chunks)", id, len(got[id]), len(chunks))
			continue
		}
		for n, ch := range chunks {
			if got[id][n] != ch.Text {
				t.Errorf("%s chunk %d = %q, want %q", id, n, got[id][n], ch.Text)
			}
		}
	}
	if len(pts) != total {
		t.Errorf("%d points stored, want exactly %d", len(pts), total)
	}
}

// checkDeadLetters checks the dead-letter files list n bad records, each
// once.
func checkDeadLetters(t *testing.T, n int, files ...string) {
	t.Helper()
	seen := map[string]int{}
	for _, f := range files {
		dead, _ := os.ReadFile(f)
		for _, l := range strings.Split(strings.TrimSpace(string(dead)), "\n") {
			if l == "" {
				continue
			}
			var e struct{ Where string }
			json.Unmarshal([]byte(l), &e)
			seen[e.Where]++
		}
	}
	if len(seen) != n {
		t.Errorf("dead letters list %v, want %d bad records", seen, n)
	}
	for w, k := range seen {
		if k != 1 {
			t.Errorf("%s dead-lettered %d times", w, k)
		}
	}
}
