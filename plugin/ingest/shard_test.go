package ingest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
)

func TestShardedWorkersWriteEachDocumentOnce(t *testing.T) {
	svc, cfg := testService(t)
	var lines []string
	for i := 0; i < 90; i++ {
		lines = append(lines, fmt.Sprintf(`{"id": "doc%02d", "text": "document number %d about topic %d", "n": %d}`, i, i, i%7, i))
		if i%15 == 0 {
			lines = append(lines, fmt.Sprintf(`{"id": "bad%d", "text": 5}`, i), `{"broken json`)
		}
	}
	// A later version of doc03 must win, so both versions go to one worker.
	lines = append(lines, `{"id": "doc03", "text": "document three, rewritten", "n": 3}`)
	path := writeJSONL(t, lines...)
	const n = 3
	if _, err := svc.EnsureCollection(context.Background(), "docs", plugin.CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	dead := map[string]int{}
	var total int64
	for i := 0; i < n; i++ {
		before := stored(t, svc)
		j := job(svc, cfg, path)
		j.Shard = Shard{Index: i, Of: n}
		sum, err := j.Run(context.Background())
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if sum.Shard != fmt.Sprintf("%d/%d", i, n) || !strings.Contains(sum.Checkpoint, fmt.Sprintf(".shard-%d-of-%d.", i, n)) {
			t.Errorf("shard %d summary: shard %q, checkpoint %s", i, sum.Shard, sum.Checkpoint)
		}
		total += sum.Records
		for id := range stored(t, svc) {
			if _, had := before[id]; !had {
				seen[id]++
				if !(Shard{i, n}).owns(id) {
					t.Errorf("shard %d wrote %s, which hashes to another shard", i, id)
				}
			}
		}
		f, err := os.Open(sum.DeadLetter)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			dead[sc.Text()[:strings.Index(sc.Text(), `","seq"`)]]++
		}
		f.Close()
	}
	if len(seen) != 90 {
		t.Errorf("the shards stored %d documents, want 90", len(seen))
	}
	if total != int64(len(lines)) {
		t.Errorf("the shards read %d records between them, the source has %d", total, len(lines))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s written by %d shards", id, k)
		}
	}
	if len(dead) != 12 {
		t.Errorf("%d distinct dead-lettered records, want 12: %v", len(dead), dead)
	}
	for where, k := range dead {
		if k != 1 {
			t.Errorf("%s dead-lettered %d times", where, k)
		}
	}
	if got := stored(t, svc)["doc03"]; len(got) != 1 || got[0] != "document three, rewritten" {
		t.Errorf("doc03 = %q, want the later version", got)
	}
}

func TestAReshardedRunIsRefusedWhileAnotherSplitIsUnfinished(t *testing.T) {
	svc, cfg := testService(t)
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf(`{"id": "d%d", "text": "text %d"}`, i, i))
	}
	path := writeJSONL(t, lines...)
	ctx, cancel := context.WithCancel(context.Background())
	afterCheckpoint = func(int64) { cancel() }
	defer func() { afterCheckpoint = nil }()
	j := job(svc, cfg, path)
	j.Shard = Shard{1, 3}
	if _, err := j.Run(ctx); err == nil {
		t.Fatal("the interrupted shard finished")
	}
	afterCheckpoint = nil
	j = job(svc, cfg, path)
	j.Shard = Shard{0, 2}
	_, err := j.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unfinished run split 3 ways") || !strings.Contains(err.Error(), "--shard I/3") {
		t.Fatalf("got %v, want a refusal naming the 3-way split", err)
	}
	j = job(svc, cfg, path)
	if _, err := j.Run(context.Background()); err == nil {
		t.Fatal("an unsharded run was not refused either")
	}
	j = job(svc, cfg, path)
	j.Shard = Shard{1, 3}
	if sum, err := j.Run(context.Background()); err != nil || !sum.Resumed {
		t.Fatalf("the same shard must resume: %+v, %v", sum, err)
	}
	j = job(svc, cfg, path)
	j.Shard, j.Restart = Shard{0, 2}, true
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatalf("--restart must be allowed: %v", err)
	}
}

func TestParseShard(t *testing.T) {
	t.Setenv("JOB_COMPLETION_INDEX", "2")
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/3", Shard{0, 3}, ""},
		{"JOB_COMPLETION_INDEX/3", Shard{2, 3}, ""},
		{"3/3", Shard{}, "want 0 <= index < count"},
		{"-1/2", Shard{}, "want 0 <= index < count"},
		{"1", Shard{}, "want I/N"},
		{"NOT_SET_ANYWHERE/3", Shard{}, "environment variable"},
	} {
		got, err := ParseShard(tc.in)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) || (err == nil && got != tc.want) {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, error containing %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestADroppedCollectionOrAnotherStoreIsWrittenAgain(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, `{"id": "a", "text": "one"}`, `{"id": "b", "text": "two"}`)
	if _, err := job(svc, cfg, path).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteCollection(context.Background(), "docs"); err != nil {
		t.Fatal(err)
	}
	// The checkpoint says the job is done; the collection, that nothing is
	// stored: the collection is what counts.
	sum, err := job(svc, cfg, path).Run(context.Background())
	if err != nil || sum.Added != 2 || len(stored(t, svc)) != 2 {
		t.Errorf("a run over a dropped collection: %+v, %v; want both documents added again", sum, err)
	}
	cfg2 := *cfg
	cfg2.Qdrant.URL = qdrant.EmbeddedScheme + filepath.Join(t.TempDir(), "other")
	other, err := plugin.New(context.Background(), &cfg2)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sum, err = job(other, cfg, path).Run(context.Background())
	if err != nil || sum.Added != 2 || len(stored(t, other)) != 2 {
		t.Errorf("the same checkpoint with another store: %+v, %v; want both documents added there", sum, err)
	}
}
