package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/plugin"
)

// point is a stored point as a clean run must reproduce it: its payload
// (without the pass id, which names the run) and vectors.
type point struct {
	Payload map[string]any
	Sparse  string
	Dense   []float32
}

// snapshot is the collection "docs": point id → point.
func snapshot(t *testing.T, svc *plugin.Service) map[string]point {
	t.Helper()
	pts, err := svc.Store().Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]point{}
	for _, p := range pts {
		payload := map[string]any{}
		for k, v := range p.Payload {
			if k != PayloadRun {
				payload[k] = v
			}
		}
		if p.Payload[qdrant.PayloadChunk] == int64(0) && p.Payload[PayloadRun] == "" {
			t.Errorf("point %s: document %v is left uncommitted", p.ID, p.Payload[qdrant.PayloadDocID])
		}
		out[p.ID] = point{payload, fmt.Sprint(p.Sparse), p.Dense}
	}
	return out
}

// cleanRun ingests path with a fresh store and returns its collection:
// what any sequence of runs over other sources and crashes must converge
// to.
func cleanRun(t *testing.T, cfg *config.Config, path string, edit func(*Job)) map[string]point {
	t.Helper()
	c := *cfg
	c.Qdrant.URL = qdrant.EmbeddedScheme + filepath.Join(t.TempDir(), "clean")
	c.Ingest.Checkpoint = filepath.Join(t.TempDir(), "clean.checkpoint.json")
	svc, err := plugin.New(context.Background(), &c)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	j := job(svc, &c, path)
	if edit != nil {
		edit(j)
	}
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return snapshot(t, svc)
}

// sameCollection reports the first difference between two collections.
func sameCollection(t *testing.T, got, want map[string]point) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d points, the clean run has %d", len(got), len(want))
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g, ok := got[id]
		w := want[id]
		switch {
		case !ok:
			t.Errorf("point %s (%v#%v) missing", id, w.Payload[qdrant.PayloadDocID], w.Payload[qdrant.PayloadChunk])
		case !reflect.DeepEqual(g, w):
			t.Errorf("point %s (%v#%v) differs:\n got %v\nwant %v", id, w.Payload[qdrant.PayloadDocID], w.Payload[qdrant.PayloadChunk], g.Payload, w.Payload)
		}
		if t.Failed() {
			return
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("stale point %s (%v#%v)", id, g.Payload[qdrant.PayloadDocID], g.Payload[qdrant.PayloadChunk])
			return
		}
	}
}

func corpusLines(n int, edit func(i int) string) []string {
	var lines []string
	for i := 0; i < n; i++ {
		line := fmt.Sprintf(`{"id": "d%02d", "text": "document %d about sparse retrieval and learned term weights, part %d", "n": %d}`, i, i, i%4, i)
		if edit != nil {
			line = edit(i)
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

func syncJob(svc *plugin.Service, cfg *config.Config, path string) *Job {
	j := job(svc, cfg, path)
	j.Config.Sync, j.Config.MaxDelete = config.SyncFull, 1
	return j
}

func TestASecondRunEncodesNothing(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(30, nil)...)
	first, err := job(svc, cfg, path).Run(context.Background())
	if err != nil || first.Added != 30 || first.Tokens == 0 {
		t.Fatalf("first run: %+v, %v", first, err)
	}
	before := snapshot(t, svc)
	second, err := job(svc, cfg, path).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.Unchanged != 30 || second.Added+second.Updated+second.Deleted != 0 || second.Tokens != 0 || second.Chunks != 0 || !second.Complete {
		t.Errorf("second run: %+v; want 30 unchanged, no token encoded, no chunk written", second)
	}
	sameCollection(t, snapshot(t, svc), before)
}

func TestASyncWritesWhatChangedAndDeletesWhatVanished(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(30, nil)...)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := corpusLines(30, func(i int) string {
		switch i {
		case 3:
			return `{"id": "d03", "text": "document three, rewritten at length: ` + strings.Repeat("sparse vectors and more terms ", 8) + `", "n": 3}`
		case 5:
			return `{"id": "d05", "text": "document 5 about sparse retrieval and learned term weights, part 1", "n": 500}` // payload only
		case 7:
			return ""
		}
		return fmt.Sprintf(`{"id": "d%02d", "text": "document %d about sparse retrieval and learned term weights, part %d", "n": %d}`, i, i, i%4, i)
	})
	lines = append(lines, `{"id": "d99", "text": "a new document", "n": 99}`)
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	sum, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != 1 || sum.Updated != 2 || sum.Unchanged != 27 || sum.Deleted != 1 {
		t.Errorf("summary %+v: want 1 added, 2 updated, 27 unchanged, 1 deleted", sum)
	}
	want := cleanRun(t, cfg, path, func(j *Job) { j.Config.Sync = config.SyncFull })
	sameCollection(t, snapshot(t, svc), want)
	chunks := 0
	for _, p := range want {
		if id := p.Payload[qdrant.PayloadDocID]; id == "d03" || id == "d05" || id == "d99" {
			chunks++
		}
	}
	if sum.Chunks != int64(chunks) {
		t.Errorf("%d chunks written, want the %d of the three changed documents", sum.Chunks, chunks)
	}
}

func TestChangingTheChunkingOrAVectorizerReencodesEverything(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(12, nil)...)
	if _, err := job(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Ingest.ChunkTokens = 10
	sum, err := job(svc, cfg, path).Run(context.Background())
	if err != nil || sum.Updated != 12 || sum.Unchanged != 0 {
		t.Fatalf("after chunk_tokens changed: %+v, %v; want all 12 updated", sum, err)
	}
	sameCollection(t, snapshot(t, svc), cleanRun(t, cfg, path, nil))

	c := *cfg
	c.Vectorizers = map[string]config.Vectorizer{}
	for name, v := range cfg.Vectorizers {
		c.Vectorizers[name] = v
	}
	sparse := c.Vectorizers["sparse"]
	sparse.TopK = 8 // changes the sparse vectors
	c.Vectorizers["sparse"] = sparse
	svc.Close() // one process per embedded store
	other, err := plugin.New(context.Background(), &c)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if sum, err = job(other, &c, path).Run(context.Background()); err != nil || sum.Updated != 12 {
		t.Errorf("after the sparse vectorizer's top_k changed: %+v, %v; want all 12 updated", sum, err)
	}
	c.Vectorizers["sparse"] = func() config.Vectorizer { v := sparse; v.Threads = 1; return v }()
	other.Close()
	third, err := plugin.New(context.Background(), &c)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if sum, err = job(third, &c, path).Run(context.Background()); err != nil || sum.Unchanged != 12 {
		t.Errorf("after threads changed (vectors do not): %+v, %v; want all 12 unchanged", sum, err)
	}
}

func TestOnlyTheJobsOwnPointsAreDeleted(t *testing.T) {
	svc, cfg := testService(t)
	ctx := context.Background()
	path := writeJSONL(t, `{"id": "mine-1", "text": "one"}`, `{"id": "mine-2", "text": "two"}`)
	if _, err := syncJob(svc, cfg, path).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpsertDocuments(ctx, "docs", []plugin.DocumentInput{{ID: "by-hand", Text: "written through the API"}}); err != nil {
		t.Fatal(err)
	}
	other := writeJSONL(t, `{"id": "theirs", "text": "another job's document"}`)
	if _, err := syncJob(svc, cfg, other).Run(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(`{"id": "mine-1", "text": "one"}`+"\n"), 0o644)
	sum, err := syncJob(svc, cfg, path).Run(ctx)
	if err != nil || sum.Deleted != 1 {
		t.Fatalf("%+v, %v; want mine-2 deleted", sum, err)
	}
	got := stored(t, svc)
	if len(got) != 3 || got["mine-1"] == nil || got["by-hand"] == nil || got["theirs"] == nil {
		t.Errorf("stored %v, want mine-1, by-hand and theirs", got)
	}
}

func TestMaxDeleteRefusesAMassDeleteUntilForced(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(10, nil)...)
	j := syncJob(svc, cfg, path)
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, svc)
	os.WriteFile(path, []byte(strings.Join(corpusLines(2, nil), "\n")+"\n"), 0o644)
	j = syncJob(svc, cfg, path)
	j.Config.MaxDelete = 0.5
	_, err := j.Run(context.Background())
	if !errors.Is(err, ErrTooManyDeletes) {
		t.Fatalf("got %v, want ErrTooManyDeletes", err)
	}
	for _, want := range []string{fmt.Sprintf("%d of the %d points", len(before)-2, len(before)), "8 documents", "--max-delete 1", "nothing was deleted", "ingest.max_delete=0.5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := snapshot(t, svc); len(got) != len(before) {
		t.Errorf("%d points after the refusal, want all %d", len(got), len(before))
	}
	j = syncJob(svc, cfg, path) // --max-delete 1
	sum, err := j.Run(context.Background())
	if err != nil || sum.Deleted != 8 || !sum.Resumed || sum.Records != 0 {
		t.Errorf("forced: %+v, %v; want the pass resumed at its deletions (no record read again), 8 deleted", sum, err)
	}
	sameCollection(t, snapshot(t, svc), cleanRun(t, cfg, path, nil))
}

func TestADryRunPrintsThePlanAndWritesNothing(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(6, nil)...)
	var plan bytes.Buffer
	j := syncJob(svc, cfg, path)
	j.DryRun, j.Plan = true, &plan
	sum, err := j.Run(context.Background())
	if err != nil || sum.Added != 6 || !sum.DryRun || sum.Complete {
		t.Fatalf("dry run into no collection: %+v, %v", sum, err)
	}
	if names, _ := svc.Store().ListCollections(context.Background()); len(names) != 0 {
		t.Fatalf("a dry run created collections %v", names)
	}
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, svc)
	cp, _ := os.ReadFile(j.checkpointPath())
	lines := corpusLines(6, func(i int) string {
		switch i {
		case 1:
			return `{"id": "d01", "text": "changed"}`
		case 2:
			return ""
		case 3:
			return `{"id": "d03", "text": "bad ` + "\xff" + `"}`
		}
		return fmt.Sprintf(`{"id": "d%02d", "text": "document %d about sparse retrieval and learned term weights, part %d", "n": %d}`, i, i, i%4, i)
	})
	lines = append(lines, `{"id": "new", "text": "added"}`, `{"text": "no id"}`)
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	plan.Reset()
	j = syncJob(svc, cfg, path)
	j.DryRun, j.Plan = true, &plan
	sum, err = j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"~ d01", "! docs.jsonl:3: invalid UTF-8", "+ new", `! docs.jsonl:7: missing id field "id"`, "- d02"}
	got := strings.Split(strings.TrimSpace(plan.String()), "\n")
	if len(got) != len(want) {
		t.Errorf("plan:\n%s\nwant %d lines: %q", plan.String(), len(want), want)
	}
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("plan line %d = %q, want %q", i, at(got, i), w)
		}
	}
	if sum.Added != 1 || sum.Updated != 1 || sum.Unchanged != 3 || sum.Deleted != 1 || sum.Errors != 2 {
		t.Errorf("dry-run summary %+v: want 1 added, 1 updated, 3 unchanged (d03 is kept, not counted), 1 deleted, 2 errors", sum)
	}
	sameCollection(t, snapshot(t, svc), before)
	if after, _ := os.ReadFile(j.checkpointPath()); !bytes.Equal(after, cp) {
		t.Error("a dry run rewrote the checkpoint")
	}
}

func TestAPassOverMaxErrorsDeletesNothing(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(5, nil)...)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(`{"id": "d00", "text": "only one left"}`+"\n"+`{"text": "no id"}`+"\n"), 0o644)
	j := syncJob(svc, cfg, path)
	j.Config.MaxErrors = 0
	_, err := j.Run(context.Background())
	if !errors.Is(err, ErrTooManyErrors) || !strings.Contains(err.Error(), "nothing was deleted") {
		t.Fatalf("got %v, want ErrTooManyErrors saying nothing was deleted", err)
	}
	if got := stored(t, svc); len(got) != 5 {
		t.Errorf("%d documents after a failed pass, want all 5", len(got))
	}
}

func TestABadNewVersionKeepsTheStoredOne(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, `{"id": "x", "text": "the good version"}`, `{"id": "y", "text": "another"}`)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(`{"id": "x", "text": "a bad `+"\xff"+` version"}`+"\n"+`{"id": "y", "text": "another"}`+"\n"), 0o644)
	sum, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil || sum.Errors != 1 || sum.Deleted != 0 {
		t.Fatalf("%+v, %v; want one bad record and nothing deleted", sum, err)
	}
	if got := stored(t, svc); len(got["x"]) != 1 || got["x"][0] != "the good version" {
		t.Errorf("x = %q, want the stored version kept", got["x"])
	}
	dl, _ := os.ReadFile(sum.DeadLetter)
	if !strings.Contains(string(dl), `"where":"docs.jsonl:1"`) || !strings.Contains(string(dl), "invalid UTF-8") {
		t.Errorf("dead letter %s does not name the record", dl)
	}
}

func TestScopedSyncDeletesOnlyWithinWhatTheRunRead(t *testing.T) {
	svc, cfg := testService(t)
	cfg.Ingest.Job = "tickets"
	dir := t.TempDir()
	a, b := filepath.Join(dir, "2024.jsonl"), filepath.Join(dir, "2025.jsonl")
	os.WriteFile(a, []byte(`{"id": "a1", "text": "one"}`+"\n"+`{"id": "a2", "text": "two"}`+"\n"), 0o644)
	os.WriteFile(b, []byte(`{"id": "b1", "text": "three"}`+"\n"+`{"id": "b2", "text": "four"}`+"\n"), 0o644)
	run := func(path, mode string) Summary {
		t.Helper()
		j := syncJob(svc, cfg, path)
		j.Config.Sync = mode
		sum, err := j.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Job != "tickets" {
			t.Errorf("job %q, want ingest.job's name", sum.Job)
		}
		return sum
	}
	run(a, config.SyncScoped)
	if sum := run(b, config.SyncScoped); sum.Deleted != 0 {
		t.Errorf("scoped run over 2025.jsonl deleted %d documents of 2024.jsonl", sum.Deleted)
	}
	os.WriteFile(b, []byte(`{"id": "b1", "text": "three"}`+"\n"), 0o644)
	if sum := run(b, config.SyncScoped); sum.Deleted != 1 {
		t.Errorf("scoped run deleted %d, want b2", sum.Deleted)
	}
	if got := stored(t, svc); len(got) != 3 || got["a1"] == nil || got["b2"] != nil {
		t.Errorf("stored %v, want a1, a2, b1", got)
	}
	if sum := run(b, config.SyncFull); sum.Deleted != 2 {
		t.Errorf("full run over 2025.jsonl deleted %d, want the job's a1 and a2", sum.Deleted)
	}
}

func TestAShardSyncsItsOwnShare(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(24, nil)...)
	const n = 3
	for i := 0; i < n; i++ {
		j := syncJob(svc, cfg, path)
		j.Shard = Shard{i, n}
		if _, err := j.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	gone := map[string]bool{}
	lines := corpusLines(24, func(i int) string {
		if i%2 == 1 {
			gone[fmt.Sprintf("d%02d", i)] = true
			return ""
		}
		return fmt.Sprintf(`{"id": "d%02d", "text": "document %d about sparse retrieval and learned term weights, part %d", "n": %d}`, i, i, i%4, i)
	})
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	j := syncJob(svc, cfg, path)
	j.Shard = Shard{1, n}
	sum, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := stored(t, svc)
	deleted := 0
	for id := range gone {
		owned := (Shard{1, n}).owns(id)
		switch _, kept := got[id]; {
		case owned && kept:
			t.Errorf("%s is shard 1's and gone from the source, but was kept", id)
		case !owned && !kept:
			t.Errorf("%s is another shard's, but shard 1 deleted it", id)
		case owned:
			deleted++
		}
	}
	if sum.Deleted != int64(deleted) || deleted == 0 {
		t.Errorf("shard 1 reports %d deleted, deleted %d", sum.Deleted, deleted)
	}
}

// writeTree writes files under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// swapKeepingToken replaces a file's content with as many other bytes and
// restores its modification time: its change token is the same, so a run
// that reads it anyway sees the new content.
func swapKeepingToken(t *testing.T, path string, content byte) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, bytes.Repeat([]byte{content}, int(st.Size())), 0o644)
	os.Chtimes(path, st.ModTime(), st.ModTime())
}

func TestADirSyncSkipsUnchangedFilesWithoutReadingThem(t *testing.T) {
	svc, cfg := testService(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.md": "# Alpha\nFirst guide.", "b.txt": "second page", "c/d.html": "<title>Dee</title><p>third</p>", "e.txt": "fifth", "gone.txt": "deleted soon",
	})
	dirJob := func() *Job {
		j := syncJob(svc, cfg, root)
		j.Config.Source = config.Source{Type: "dir", Path: root}
		j.Config.Fields = config.Fields{ID: "id", Text: []string{"text"}, Payload: []string{"title"}}
		return j
	}
	if sum, err := dirJob().Run(context.Background()); err != nil || sum.Added != 5 {
		t.Fatalf("first run: %+v, %v", sum, err)
	}
	// b.txt's bytes change under the same token: a run that read it would
	// see invalid UTF-8. e.txt is touched: a new token, the same content.
	swapKeepingToken(t, filepath.Join(root, "b.txt"), 0xff)
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(root, "e.txt"), later, later)
	writeTree(t, root, map[string]string{"a.md": "# Alpha\nFirst guide, edited.", "new.txt": "added"})
	os.Remove(filepath.Join(root, "gone.txt"))
	sum, err := dirJob().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 || sum.Added != 1 || sum.Updated != 1 || sum.Unchanged != 3 || sum.Deleted != 1 || sum.Chunks == 0 {
		t.Errorf("second run %+v: want b.txt skipped unread, e.txt read and unchanged; 1 added, 1 updated, 3 unchanged, 1 deleted", sum)
	}
	// e.txt's new token is stamped: the third run skips it too.
	swapKeepingToken(t, filepath.Join(root, "e.txt"), 0xfe)
	if sum, err = dirJob().Run(context.Background()); err != nil || sum.Errors != 0 || sum.Unchanged != 5 || sum.Records != 0 || sum.NotRead != 5 {
		t.Errorf("third run %+v, %v: want every file unchanged, none read", sum, err)
	}
	if got := stored(t, svc); len(got) != 5 || got["b.txt"][0] != "second page" || got["a.md"][0] != "# Alpha\nFirst guide, edited." {
		t.Errorf("stored %v", got)
	}
}

func TestAWriteCutShortIsNeverTrustedEvenAfterTheSourceReverts(t *testing.T) {
	svc, cfg := testService(t)
	long := func(tag string) string {
		return fmt.Sprintf(`{"id": "doc", "text": "%s %s"}`, tag, strings.Repeat("learned sparse retrieval with expansion terms ", 10))
	}
	path := writeJSONL(t, long("version two"), `{"id": "other", "text": "stays"}`)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, svc)
	// Version three is stored but not committed when the pass dies.
	os.WriteFile(path, []byte(long("version three")+"\n"+`{"id": "other", "text": "stays"}`+"\n"), 0o644)
	afterUpsert = func() error { return errors.New("killed") }
	_, err := syncJob(svc, cfg, path).Run(context.Background())
	afterUpsert = nil
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("got %v, want the injected crash", err)
	}
	os.WriteFile(path, []byte(long("version two")+"\n"+`{"id": "other", "text": "stays"}`+"\n"), 0o644)
	later := time.Now().Add(time.Hour)
	os.Chtimes(path, later, later)
	sum, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil || sum.Updated != 1 {
		t.Fatalf("%+v, %v; want doc rewritten (its stored chunks are version three's)", sum, err)
	}
	sameCollection(t, snapshot(t, svc), want)
}

func TestDeletionsCutShortFinishOnTheNextRun(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(20, nil)...)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(strings.Join(corpusLines(5, nil), "\n")+"\n"), 0o644)
	deleteBatch = 4
	defer func() { deleteBatch = 1024 }()
	calls := 0
	afterDelete = func() error {
		if calls++; calls == 2 {
			return errors.New("killed")
		}
		return nil
	}
	_, err := syncJob(svc, cfg, path).Run(context.Background())
	afterDelete = nil
	if err == nil || !strings.Contains(err.Error(), "resumable") {
		t.Fatalf("got %v, want a resumable error", err)
	}
	if n := len(stored(t, svc)); n == 5 || n == 20 {
		t.Fatalf("%d documents after the cut: the deletions were not cut short", n)
	}
	sum, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil || !sum.Resumed || sum.Records != 0 {
		t.Fatalf("%+v, %v; want the pass resumed at its deletions", sum, err)
	}
	sameCollection(t, snapshot(t, svc), cleanRun(t, cfg, path, nil))
}

// rawPayloads is point id → full payload, the pass id included.
func rawPayloads(t *testing.T, svc *plugin.Service) map[string]map[string]any {
	t.Helper()
	pts, err := svc.Store().Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, p := range pts {
		out[p.ID] = p.Payload
	}
	return out
}

// A sync re-run's cost follows the change: an unchanged document of a
// source without unit tokens (one JSONL file) gets no write at all, not
// even its pass id; only the changed one is rewritten.
func TestASyncReRunWritesNothingOnUnchangedDocuments(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(12, nil)...)
	first, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := rawPayloads(t, svc)
	os.WriteFile(path, []byte(strings.Join(corpusLines(12, func(i int) string {
		if i == 4 {
			return `{"id": "d04", "text": "document four, edited", "n": 4}`
		}
		return fmt.Sprintf(`{"id": "d%02d", "text": "document %d about sparse retrieval and learned term weights, part %d", "n": %d}`, i, i, i%4, i)
	}), "\n")+"\n"), 0o644)
	second, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil || second.Updated != 1 || second.Unchanged != 11 {
		t.Fatalf("%+v, %v; want 1 updated, 11 unchanged", second, err)
	}
	for id, p := range rawPayloads(t, svc) {
		switch {
		case p[qdrant.PayloadDocID] == "d04":
			if p[PayloadRun] != second.Run && p[qdrant.PayloadChunk] == int64(0) {
				t.Errorf("d04 chunk 0 has run %v, want the second pass's %s", p[PayloadRun], second.Run)
			}
		case !reflect.DeepEqual(p, before[id]):
			t.Errorf("unchanged point %s was written: %v, was %v (first pass %s)", id, p, before[id], first.Run)
		}
	}
	if _, err := os.Stat(seenPath(second.Checkpoint)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the seen list of a done pass is left behind: %v", err)
	}
}

// A sync pass cut short while reading resumes with the list of the
// documents it had read: they are kept, and only what the source no longer
// holds is deleted.
func TestAResumedSyncKeepsWhatItReadBeforeTheCut(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(30, nil)...)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// d20…d29 leave the source; d00…d19 change, so the cut pass writes.
	os.WriteFile(path, []byte(strings.Join(corpusLines(20, func(i int) string {
		return fmt.Sprintf(`{"id": "d%02d", "text": "document %d, second edition", "n": %d}`, i, i, i)
	}), "\n")+"\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	checkpoints := 0
	afterCheckpoint = func(int64) {
		if checkpoints++; checkpoints == 2 {
			cancel()
		}
	}
	_, err := syncJob(svc, cfg, path).Run(ctx)
	afterCheckpoint = nil
	if err == nil || !strings.Contains(err.Error(), "resumable") {
		t.Fatalf("got %v, want the pass interrupted", err)
	}
	sum, err := syncJob(svc, cfg, path).Run(context.Background())
	if err != nil || !sum.Resumed || sum.Records == 20 || sum.Deleted != 10 {
		t.Fatalf("%+v, %v; want the pass resumed after its checkpoint and d20…d29 deleted", sum, err)
	}
	sameCollection(t, snapshot(t, svc), cleanRun(t, cfg, path, nil))
}

// gated is a source of records that, before record gate, waits until
// ready says so.
type gated struct {
	recs  []source.Record
	i     int
	gate  int
	ready func() bool
}

func (g *gated) Next() (source.Record, error) {
	if g.i == len(g.recs) {
		return source.Record{}, io.EOF
	}
	if g.i+1 == g.gate {
		for !g.ready() {
			time.Sleep(time.Millisecond)
		}
	}
	g.i++
	return g.recs[g.i-1], nil
}
func (g *gated) Close() error                     { return nil }
func (g *gated) Progress() (int64, int64, string) { return 0, 0, "records" }

// A document that comes twice in one source ends as its last version,
// even when that version is the one stored before the pass and the first
// was already written: a sync: full pass compares it with the collection,
// not with what the collection held when the pass began.
func TestADocumentSeenTwiceEndsAsItsLastVersion(t *testing.T) {
	svc, cfg := testService(t)
	cfg.Ingest.Job = "twice"
	path := writeJSONL(t, corpusLines(3, nil)...)
	if _, err := syncJob(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, svc)
	var unit string // the file's, as the first run stored it
	for _, p := range want {
		unit, _ = p.Payload[PayloadUnit].(string)
	}
	rec := func(seq int, id, text string, n int) source.Record {
		return source.Record{Seq: int64(seq), Where: fmt.Sprint("test:", seq), Unit: unit, Fields: map[string]any{"id": id, "text": text, "n": json.Number(fmt.Sprint(n))}}
	}
	var recs []source.Record
	recs = append(recs, rec(1, "d01", "document 1, a version that does not last", 1))
	for i := 0; i < checkGroupSize+10; i++ {
		recs = append(recs, rec(len(recs)+1, fmt.Sprintf("filler%03d", i), "filler", i))
	}
	recs = append(recs, rec(len(recs)+1, "d00", "document 0 about sparse retrieval and learned term weights, part 0", 0))
	recs = append(recs, rec(len(recs)+1, "d01", "document 1 about sparse retrieval and learned term weights, part 1", 1))
	recs = append(recs, rec(len(recs)+1, "d02", "document 2 about sparse retrieval and learned term weights, part 2", 2))
	var acked atomic.Int64
	afterCheckpoint = func(seq int64) { acked.Store(seq) }
	defer func() { afterCheckpoint = nil }()
	j := syncJob(svc, cfg, path)
	j.Open = func() (source.Source, error) {
		// The second group waits for the first version of d01 to be stored.
		return &gated{recs: recs, gate: checkGroupSize + 2, ready: func() bool { return acked.Load() >= 1 }}, nil
	}
	sum, err := j.Run(context.Background())
	if err != nil || sum.Updated != 2 || sum.Unchanged != 2 || sum.Deleted != 0 {
		t.Fatalf("%+v, %v; want d01 updated twice, d00 and d02 unchanged", sum, err)
	}
	got := snapshot(t, svc)
	for id, p := range want {
		// The payload (text, fingerprint) says which version is stored.
		if !reflect.DeepEqual(got[id].Payload, p.Payload) {
			t.Errorf("point %s (%v): %v, want the stored version back %v", id, p.Payload[qdrant.PayloadDocID], got[id].Payload, p.Payload)
		}
	}
}
