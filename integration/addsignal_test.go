package integration

import (
	"bytes"
	"context"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

// TestAddSignalSurvivesKillNine: a collection ingested without BM25 gains
// it with `spladeq collection add-signal bm25`, SIGKILLed at random moments
// while it fills the vector, then run to the end. Every point then has the
// BM25 vector ingestion would have written (BM25 searches give the ids and
// scores of a collection ingested with BM25 from the start), and while it
// was stopped, the default search fused the old signals and a search
// naming bm25 said the signal is being added. On the embedded store and
// Qdrant 1.19.0.
func TestAddSignalSurvivesKillNine(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		addSignalKillCycles(t, "embedded://"+filepath.Join(t.TempDir(), "store"))
	})
	t.Run("qdrant "+qdranttest.V1_19, func(t *testing.T) {
		node := qdranttest.StartVersion(t, qdranttest.V1_19, qdranttest.Options{})
		addSignalKillCycles(t, node.GRPCAddr())
	})
}

// TestAddSignalOnQdrant117IsRefused: Qdrant 1.17 cannot add a vector to a
// collection; the command says so, says what to do, and changes nothing.
func TestAddSignalOnQdrant117IsRefused(t *testing.T) {
	node := qdranttest.StartVersion(t, qdranttest.V1_17, qdranttest.Options{})
	dir := t.TempDir()
	lines, _ := killCorpus(40)
	src := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	runIngest(t, dir, 0, "--config", killJobConfig(dir, node.GRPCAddr(), src, ", bm25: none"))
	cfg := killJobConfig(dir, node.GRPCAddr(), src, "")
	exited, out := runSpladeq(t, dir, 2*time.Minute, "collection", "add-signal", "bm25", "--config", cfg)
	for _, want := range []string{"Qdrant 1.17.1 cannot add a vector to an existing collection", "Upgrade Qdrant to 1.18 or later", `collection "docs" is unchanged`} {
		if !exited || !strings.Contains(out, want) {
			t.Errorf("add-signal on Qdrant 1.17.1: exited %v, output %q; want a failure saying %q", exited, out, want)
		}
	}
	c, err := qdrant.Open(context.Background(), qdrant.Config{URL: node.GRPCAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(context.Background(), "docs")
	if err != nil {
		t.Fatal(err)
	}
	if info.Spec.BM25 != nil || info.Spec.Metadata[plugin.MetaAdding] != "" {
		t.Errorf("after the refusal: bm25 %+v, metadata %v; want neither a BM25 vector nor the adding mark", info.Spec.BM25, info.Spec.Metadata)
	}
}

func addSignalKillCycles(t *testing.T, url string) {
	ctx := context.Background()
	dir, refDir := t.TempDir(), t.TempDir()
	// The kill corpus less its second version of a document: Qdrant's IDF
	// counts the replaced chunks until its optimizer vacuums them, in the
	// reference collection, ingested with BM25, and not in the one given
	// BM25 afterwards.
	var lines []string
	all, _ := killCorpus(300)
	for _, l := range all {
		if !strings.Contains(l, "second version") {
			lines = append(lines, l)
		}
	}
	src := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	runIngest(t, dir, 0, "--config", killJobConfig(dir, url, src, ", bm25: none"))
	// The reference: the same corpus ingested with BM25.
	runIngest(t, refDir, 0, "--config", killJobConfig(refDir, url, src, ""), "--collection", "ref")
	cfg := killJobConfig(dir, url, src, "")
	open := func() *qdrant.Client {
		c, err := qdrant.Open(ctx, qdrant.Config{URL: url, ReadConsistency: "all"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open()
	info, err := c.Info(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	total := info.Points
	c.Close()

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	midway, checkedSearch := 0, false
	for i := 0; i < min(killCycles(), 3); i++ {
		// Killed at a random moment after it reports its first progress
		// line, so the kill lands while it fills the vector. Batches of 2
		// keep a whole fill well above the longest delay (in batches of 4
		// one took 0.45–1.1 s against Qdrant 1.19.0, too close to it).
		exited, out := runUntilThenKill(t, dir, "add-signal docs bm25:", time.Duration(rng.Intn(300))*time.Millisecond,
			"collection", "add-signal", "bm25", "--config", cfg, "--batch-size", "2")
		if exited {
			t.Logf("run %d finished before its kill: %s", i, strings.TrimSpace(out))
			break
		}
		c := open()
		n, err := c.CountHaving(ctx, "docs", "bm25")
		info, ierr := c.Info(ctx, "docs")
		c.Close()
		if err != nil || ierr != nil {
			t.Fatal(err, ierr)
		}
		if n > 0 && n < total {
			midway++
		}
		// The mark goes only once every point has the vector: a kill that
		// lands after that (as the process exits) finds it gone, and the
		// next run has nothing to do.
		if marked := info.Spec.Metadata[plugin.MetaAdding] == "bm25"; !marked && n != total {
			t.Errorf("after a kill, %d of %d points have bm25 and metadata %v lacks the adding mark", n, total, info.Spec.Metadata)
		} else if !marked {
			t.Logf("run %d was killed after it finished", i)
			break
		}
		if !checkedSearch {
			checkedSearch = true
			_, out := runSpladeq(t, dir, 0, "search", "--config", cfg, "--json", "sparse retrieval")
			if !strings.Contains(out, `"signals":["sparse","dense"]`) {
				t.Errorf("default search while bm25 is being added: %s; want sparse and dense fused", out)
			}
			exited, out := runSpladeq(t, dir, 2*time.Minute, "search", "--config", cfg, "--mode", "bm25", "sparse retrieval")
			if !exited || !strings.Contains(out, `collection "docs" is still gaining its bm25 signal`) {
				t.Errorf("bm25 search while it is being added: exited %v, %s; want an error saying so", exited, out)
			}
		}
	}
	_, out := runSpladeq(t, dir, 0, "collection", "add-signal", "bm25", "--config", cfg, "--batch-size", "4")
	t.Logf("%d kills while filling; final run: %s", midway, lastLine(out))
	if midway == 0 {
		t.Error("no kill landed while the vector was being filled: nothing was tested")
	}
	c = open()
	defer c.Close()
	n, err := c.CountHaving(ctx, "docs", "bm25")
	if err != nil || n != total {
		t.Errorf("%d of %d points have a bm25 vector (%v), want all", n, total, err)
	}
	if info, _ := c.Info(ctx, "docs"); info.Spec.Metadata[plugin.MetaAdding] != "" {
		t.Errorf("metadata after the final run: %v, want no adding mark", info.Spec.Metadata)
	}
	wo := qdrant.WriteOptions{BM25: &qdrant.StoreModel{Model: qdrant.BM25Model}}
	for _, q := range []string{"learned sparse retrieval", "document 42", "expansion terms document 7"} {
		// Every matching point, so tied scores cannot cut the two lists apart.
		req := qdrant.SearchRequest{Mode: qdrant.ModeBM25, Text: q, Limit: int(total) + 1}
		got, err := c.Search(ctx, "docs", req, wo)
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.Search(ctx, "ref", req, wo)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("bm25 %q: %d hits, the reference %d", q, len(got), len(want))
		}
		score := map[string]float32{}
		for _, h := range want {
			score[h.ID] = h.Score
		}
		for i := range got {
			s, ok := score[got[i].ID]
			if !ok || math.Abs(float64(got[i].Score-want[i].Score)) > 1e-4 || math.Abs(float64(s-got[i].Score)) > 1e-4 {
				t.Errorf("bm25 %q hit %d: %s %v, the reference %s %v", q, i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runUntilThenKill runs spladeq with args in dir and SIGKILLs it after
// after once its output contains marker; exited reports that it ended
// first (out then holds its error and output).
func runUntilThenKill(t *testing.T, dir, marker string, after time.Duration, args ...string) (exited bool, out string) {
	t.Helper()
	cmd := exec.Command(spladeqBinary(t), args...)
	cmd.Env, cmd.Dir = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath()), dir
	var buf lockedBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(5 * time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(buf.String(), marker) {
		select {
		case err := <-done:
			return true, strings.TrimSpace(strings.Join([]string{errString(err), buf.String()}, " "))
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v printed no %q in 5 minutes: %s", args, marker, buf.String())
		case <-tick.C:
		}
	}
	select {
	case err := <-done:
		return true, strings.TrimSpace(strings.Join([]string{errString(err), buf.String()}, " "))
	case <-time.After(after):
		cmd.Process.Kill() // SIGKILL: no cleanup, no deferred writes
		<-done
		return false, buf.String()
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
