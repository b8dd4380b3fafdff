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

func TestIngestSurvivesKillNineAtRandomMoments(t *testing.T) {
	bin := spladeqBinary(t)
	root, _ := filepath.Abs("..")
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	// The corpus grows with the kill count so the job outlasts the kills.
	docs := max(700, 120*killCycles())
	t.Logf("%d documents, up to %d kills", docs, killCycles())

	// A corpus with short and multi-chunk documents, a repeated id (the
	// later version wins) and three bad records.
	var lines []string
	want := map[string]string{} // id → final text
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
	src := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	store := filepath.Join(dir, "store")
	job := fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
collection: {name: docs}
ingest:
  source: {type: jsonl, path: %q}
  fields: {id: id, text: [text], payload: [n]}
  chunk_tokens: 24
  chunk_overlap: 4
  batch_size: 8
  max_errors: 10
  dead_letter: %q
  checkpoint: %q
`, store, filepath.Join(root, "splade/testdata/models/bert-tiny"), filepath.Join(root, "plugin/testdata/models/dense-tiny"),
		src, filepath.Join(dir, "dead.jsonl"), filepath.Join(dir, "checkpoint.json"))
	cfgPath := filepath.Join(dir, "job.yaml")
	os.WriteFile(cfgPath, []byte(job), 0o644)
	env := append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath())

	run := func(kill time.Duration) (exited bool, out string) {
		cmd := exec.Command(bin, "ingest", "--config", cfgPath)
		cmd.Env, cmd.Dir = env, dir
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
				t.Fatalf("final run failed: %v\n%s", err, buf.String())
			}
			return true, buf.String()
		case <-time.After(5 * time.Minute):
			cmd.Process.Kill()
			t.Fatal("final run did not finish")
		}
		return false, ""
	}
	kills := 0
	for i := 0; i < killCycles(); i++ {
		exited, _ := run(time.Duration(150+rng.Intn(900)) * time.Millisecond)
		if exited {
			break
		}
		kills++
	}
	_, out := run(0)
	t.Logf("killed %d times; final run: %s", kills, strings.TrimSpace(out))
	if kills == 0 {
		t.Error("the job finished before the first kill: nothing was tested; the corpus must outlast the kill window")
	}

	// The collection must hold exactly the source's documents.
	c, err := qdrant.Open(context.Background(), qdrant.Config{URL: qdrant.EmbeddedScheme + store})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pts, err := c.Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := splade.New(filepath.Join(root, "splade/testdata/models/bert-tiny"))
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
	dead, _ := os.ReadFile(filepath.Join(dir, "dead.jsonl"))
	var reasons []string
	for _, l := range strings.Split(strings.TrimSpace(string(dead)), "\n") {
		var e struct{ Where string }
		json.Unmarshal([]byte(l), &e)
		reasons = append(reasons, e.Where)
	}
	if len(reasons) != 3 {
		t.Errorf("dead letter lists %v, want the 3 bad records once each", reasons)
	}
}
