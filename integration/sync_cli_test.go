package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dirJobConfig is an ingestion job over the directory src into an embedded
// store, with ingest.sync: full.
func dirJobConfig(dir, src string, extra string) string {
	job := fmt.Sprintf(`
qdrant: {url: %q}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
ingest:
  source: {type: dir, path: %q}
  chunk_tokens: 24
  chunk_overlap: 4
  batch_size: 8
  sync: full
  watch_debounce: 200ms
  checkpoint: %q
  dead_letter: %q
%s`, "embedded://"+filepath.Join(dir, "store"), filepath.Join(repoRoot, fixtureSparseModel), filepath.Join(repoRoot, fixtureDenseModel),
		src, filepath.Join(dir, "checkpoint.json"), filepath.Join(dir, "dead.jsonl"), extra)
	p := filepath.Join(dir, "job.yaml")
	os.WriteFile(p, []byte(job), 0o644)
	return p
}

func writeDocs(t *testing.T, root string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		p := filepath.Join(root, fmt.Sprintf("part%d", i%4), fmt.Sprintf("doc%03d.md", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		body := fmt.Sprintf("# Page %d\n\n%s", i, strings.Repeat(fmt.Sprintf("learned sparse retrieval, page %d. ", i), 1+i%6))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ingestCLI runs `spladeq ingest args...` to its end and returns its exit
// error and output.
func ingestCLI(t *testing.T, dir string, args ...string) (error, string) {
	t.Helper()
	w := startWorker(t, dir, args...)
	select {
	case err := <-w.done:
		return err, w.out.String()
	case <-time.After(5 * time.Minute):
		t.Fatalf("spladeq ingest %v did not finish", args)
	}
	return nil, ""
}

func TestIngestCLIReportsDryRunsAndRefusesMassDeletes(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "site")
	writeDocs(t, src, 0, 10)
	cfg := dirJobConfig(dir, src, "")
	err, out := ingestCLI(t, dir, "--config", cfg)
	if err != nil || !strings.Contains(out, ": 10 added, 0 updated, 0 unchanged, 0 deleted, 0 dead-lettered") {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(src, "part1", "doc001.md"), []byte("# Page 1\n\nrewritten"), 0o644)
	os.Remove(filepath.Join(src, "part2", "doc002.md"))
	os.WriteFile(filepath.Join(src, "bad.md"), []byte("not \xff text"), 0o644)
	writeDocs(t, src, 10, 11)
	err, out = ingestCLI(t, dir, "--config", cfg, "--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"\n! bad.md: not valid UTF-8", "\n~ part1/doc001.md\n", "\n+ part2/doc010.md\n", "\n- part2/doc002.md\n",
		"ingest dry run (nothing written) in", ": 1 added, 1 updated, 8 unchanged, 1 deleted, 1 dead-lettered"} {
		if !strings.Contains("\n"+out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	// Most of the site gone (an unmounted share, say): refused.
	for _, part := range []string{"part0", "part2", "part3"} {
		os.RemoveAll(filepath.Join(src, part))
	}
	err, out = ingestCLI(t, dir, "--config", cfg)
	if err == nil || !regexp.MustCompile(`sync would delete too much: \d+ of the \d+ points of job ".*site/" \(7 documents, \d+%\) .*ingest.max_delete=0.5; nothing was deleted.*--max-delete 1`).MatchString(out) {
		t.Fatalf("mass delete: %v\n%s", err, out)
	}
	err, out = ingestCLI(t, dir, "--config", cfg, "--max-delete", "1")
	if err != nil || !strings.Contains(out, " 7 deleted, ") {
		t.Fatalf("forced: %v\n%s", err, out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func metricsText(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// waitFor polls cond every 20 ms for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIngestWatchSyncsOnChangesAndFinishesTheCycleOnSIGTERM runs
// `spladeq ingest --watch` over a directory: each change makes a sync
// whose counts the metrics endpoint shows, and SIGTERM in the middle of a
// sync lets it finish before the process exits 0.
func TestIngestWatchSyncsOnChangesAndFinishesTheCycleOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "site")
	writeDocs(t, src, 0, 20)
	cfg := dirJobConfig(dir, src, "")
	addr := freeAddr(t)
	w := startWorker(t, dir, "--config", cfg, "--watch", "--metrics-listen", addr)
	checkpoint := filepath.Join(dir, "checkpoint.json")
	done := func() bool {
		data, _ := os.ReadFile(checkpoint)
		return strings.Contains(string(data), `"done": true`)
	}
	waitFor(t, 3*time.Minute, "the first sync", func() bool {
		return strings.Contains(metricsText(addr), `spladeq_ingest_last_pass_documents{job="`+filepath.ToSlash(src)+`/",outcome="added"} 20`)
	})
	os.Remove(filepath.Join(src, "part3", "doc003.md"))
	writeDocs(t, src, 20, 22)
	waitFor(t, 3*time.Minute, "a sync of the changes", func() bool {
		m := metricsText(addr)
		return strings.Contains(m, `outcome="deleted"} 1`) && strings.Contains(m, `outcome="added"} 2`)
	})
	// A large change, moved in at once, and SIGTERM while it is synced.
	staging := filepath.Join(dir, "staging")
	writeDocs(t, staging, 22, 400)
	if err := os.Rename(staging, filepath.Join(src, "more")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, "the big sync to start", func() bool {
		data, _ := os.ReadFile(checkpoint)
		return strings.Contains(string(data), `"done": false`) && !strings.Contains(string(data), `"seq": 0`)
	})
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, w.out.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("no exit after SIGTERM")
	}
	out := w.out.String()
	if !done() || !strings.Contains(out, ": 378 added, 0 updated, 21 unchanged, 0 deleted") {
		t.Errorf("the sync in flight at SIGTERM did not finish:\n%s", out)
	}
	if !strings.Contains(out, "stopping after the sync in flight") {
		t.Errorf("no word of the stop in the log:\n%s", out)
	}
}
