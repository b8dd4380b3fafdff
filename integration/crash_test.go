package integration

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/splade"
)

// TestMain lets the test binary double as the crash test's writer child.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SPLADEQ_CRASH_CHILD"); dir != "" {
		start, _ := strconv.Atoi(os.Getenv("SPLADEQ_CRASH_START"))
		crashChild(dir, start)
		os.Exit(0)
	}
	qdranttest.Main(m)
}

const (
	crashBatch = 20 // points per upsert
	crashDim   = 8
)

// batchContent is what batch b writes: batches below 100 add new points
// (every fourth from the fifth on overwrites batch b-3 instead); from 100
// on every batch overwrites one of the first 100, so the store stays
// bounded however many cycles run. Content is versioned by b.
func batchContent(b int) (target int, docs []qdrant.Document) {
	target = batchTarget(b)
	for j := 0; j < crashBatch; j++ {
		docs = append(docs, pointContent(target, j, b))
	}
	return target, docs
}

// batchTarget is the batch whose points batch b writes.
func batchTarget(b int) int {
	switch {
	case b >= 100:
		return (b * 37) % 100
	case b >= 5 && b%4 == 3:
		return b - 3
	}
	return b
}

// pointContent is point (target, j) as written by batch version.
func pointContent(target, j, version int) qdrant.Document {
	rng := rand.New(rand.NewSource(int64(version*1000 + j)))
	var sv splade.SparseVector
	for idx := uint32(rng.Intn(5)); idx < 3000 && sv.Len() < 12; idx += uint32(1 + rng.Intn(300)) {
		sv.Indices = append(sv.Indices, idx)
		sv.Values = append(sv.Values, float32(0.1+rng.Float64()))
	}
	dense := make([]float32, crashDim)
	for i := range dense {
		dense[i] = float32(rng.NormFloat64())
	}
	return qdrant.Document{ID: fmt.Sprintf("p%d-%d", target, j), Text: fmt.Sprintf("batch %d point %d version %d", target, j, version),
		Payload: map[string]any{"version": int64(version)}, Sparse: sv, Dense: dense}
}

// crashChild upserts batches from start on, printing ACK n after each
// acknowledged write, until it is killed.
func crashChild(dir string, start int) {
	ctx := context.Background()
	c, err := qdrant.Open(ctx, qdrant.Config{URL: qdrant.EmbeddedScheme + dir, BatchSize: crashBatch})
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	if err := c.EnsureCollection(ctx, qdrant.CollectionSpec{Name: "crash", Dense: &qdrant.DenseSpec{Size: crashDim, Distance: "dot"}, Sparse: &qdrant.SparseSpec{}}); err != nil {
		fmt.Println("ERR", err)
		return
	}
	fmt.Println("READY")
	for b := start; ; b++ {
		fmt.Println("SEND", b)
		_, docs := batchContent(b)
		if err := c.Upsert(ctx, "crash", docs, qdrant.WriteOptions{}); err != nil {
			fmt.Println("ERR", err)
			return
		}
		fmt.Println("ACK", b)
	}
}

func crashCycles() int {
	if n, err := strconv.Atoi(os.Getenv("SPLADEQ_CRASH_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 50
}

func TestEmbeddedStoreSurvivesKillNine(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	acked := -1    // highest acknowledged batch
	inflight := -1 // a batch sent but not acknowledged when the child died
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	cycles := crashCycles()
	for cycle := 0; cycle < cycles; cycle++ {
		start := acked + 1
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "SPLADEQ_CRASH_CHILD="+dir, fmt.Sprintf("SPLADEQ_CRASH_START=%d", start))
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		deadline := time.After(time.Duration(30+rng.Intn(250)) * time.Millisecond)
		ready := false
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				f := strings.Fields(l)
				switch f[0] {
				case "READY":
					ready = true
				case "SEND":
					inflight, _ = strconv.Atoi(f[1])
				case "ACK":
					acked, _ = strconv.Atoi(f[1])
					inflight = -1
				case "ERR":
					t.Fatalf("cycle %d: child: %s", cycle, l)
				}
			case <-deadline:
				if !ready {
					deadline = time.After(50 * time.Millisecond)
					continue
				}
				cmd.Process.Kill()
				break read
			}
		}
		cmd.Wait()
		for l := range lines { // lines printed before the kill landed
			if f := strings.Fields(l); len(f) == 2 && f[0] == "ACK" {
				acked, _ = strconv.Atoi(f[1])
				inflight = -1
			} else if len(f) == 2 && f[0] == "SEND" {
				inflight, _ = strconv.Atoi(f[1])
			}
		}
		checkCrashInvariants(t, dir, acked, inflight)
	}
	t.Logf("%d crash/restart cycles, %d batches acknowledged (%d points written)", cycles, acked+1, (acked+1)*crashBatch)
}

// checkCrashInvariants opens the store after a crash and checks that every
// acknowledged write is there exactly, the batch in flight is all or
// nothing, nothing else exists, count equals scroll, and the sparse index
// finds every point.
func checkCrashInvariants(t *testing.T, dir string, acked, inflight int) {
	t.Helper()
	ctx := context.Background()
	c, err := qdrant.Open(ctx, qdrant.Config{URL: qdrant.EmbeddedScheme + dir})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer c.Close()
	if acked < 0 {
		if _, err := c.Info(ctx, "crash"); err != nil {
			return // killed before anything was acknowledged
		}
	}
	// Expected version of every point after the acknowledged batches.
	want := map[string]int{}
	for b := 0; b <= acked; b++ {
		target := batchTarget(b)
		for j := 0; j < crashBatch; j++ {
			want[fmt.Sprintf("p%d-%d", target, j)] = b
		}
	}
	pts, err := c.Scroll(ctx, "crash", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Count(ctx, "crash", nil)
	if err != nil || n != uint64(len(pts)) {
		t.Fatalf("count %d (%v) != scroll %d", n, err, len(pts))
	}
	got := map[string]qdrant.StoredPoint{}
	for _, p := range pts {
		id := p.Payload["doc_id"].(string)
		if _, dup := got[id]; dup {
			t.Fatalf("point %s stored twice", id)
		}
		got[id] = p
	}
	// The batch in flight landed entirely or not at all.
	var inflightTarget int
	inflightLanded := 0
	if inflight >= 0 {
		var docs []qdrant.Document
		inflightTarget, docs = batchContent(inflight)
		for j := range docs {
			if p, ok := got[fmt.Sprintf("p%d-%d", inflightTarget, j)]; ok && p.Payload["version"] == int64(inflight) {
				inflightLanded++
			}
		}
		if inflightLanded != 0 && inflightLanded != crashBatch {
			t.Fatalf("batch %d in flight at the crash: %d of %d points landed (a torn write)", inflight, inflightLanded, crashBatch)
		}
		if inflightLanded == crashBatch {
			for j := 0; j < crashBatch; j++ {
				want[fmt.Sprintf("p%d-%d", inflightTarget, j)] = inflight
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d points stored, want %d (acked up to batch %d, in flight %d)", len(got), len(want), acked, inflight)
	}
	for id, version := range want {
		p, ok := got[id]
		if !ok {
			t.Fatalf("acknowledged point %s is missing", id)
		}
		var target, j int
		fmt.Sscanf(id, "p%d-%d", &target, &j)
		exp := pointContent(target, j, version)
		if p.Payload["version"] != int64(version) || p.Payload["text"] != exp.Text {
			t.Fatalf("point %s: version %v text %q, want version %d", id, p.Payload["version"], p.Payload["text"], version)
		}
		if fmt.Sprint(p.Sparse) != fmt.Sprint(exp.Sparse) {
			t.Fatalf("point %s sparse vector differs", id)
		}
		for i := range exp.Dense {
			if math.Abs(float64(p.Dense[i]-exp.Dense[i])) > 0 {
				t.Fatalf("point %s dense[%d] = %v, want %v", id, i, p.Dense[i], exp.Dense[i])
			}
		}
	}
	// The rebuilt index finds every point by its own sparse vector, with
	// its own dot product as the score.
	checked := 0
	for id, p := range got { // map order: a different sample every cycle
		if checked++; checked > 20 {
			break
		}
		hits, err := c.Search(ctx, "crash", qdrant.SearchRequest{Mode: qdrant.ModeSparse, Sparse: p.Sparse, Limit: len(got), WithPayload: true}, qdrant.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, h := range hits {
			if h.DocID == id {
				found = math.Abs(float64(h.Score)-p.Sparse.Dot(p.Sparse)) < 1e-3
			}
		}
		if !found {
			t.Fatalf("point %s is not found by its own sparse vector with the right score", id)
		}
	}
}
