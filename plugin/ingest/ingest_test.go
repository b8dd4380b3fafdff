package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

func testService(t *testing.T) (*plugin.Service, *config.Config) {
	t.Helper()
	wd, _ := os.Getwd()
	// Found from the package directory; the test then works in a temporary one.
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + filepath.Join(t.TempDir(), "store")
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: filepath.Join(wd, "..", "..", fixtureSparseModel)},
		"dense":  {Module: config.ModuleONNXDense, Model: filepath.Join(wd, "..", "..", fixtureDenseModel)},
	}
	cfg.Ingest.BatchSize = 4
	cfg.Ingest.ChunkTokens, cfg.Ingest.ChunkOverlap = 12, 2
	svc, err := plugin.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, cfg
}

func writeJSONL(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docs.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func job(svc *plugin.Service, cfg *config.Config, path string) *Job {
	c := cfg.Ingest
	c.Source = config.Source{Type: "jsonl", Path: path}
	c.Fields = config.Fields{ID: "id", Text: []string{"text"}, Payload: []string{"n"}}
	return &Job{Service: svc, Config: c, Collection: "docs"}
}

// stored returns doc id → sorted chunk texts in the collection.
func stored(t *testing.T, svc *plugin.Service) map[string][]string {
	t.Helper()
	pts, err := svc.Store().Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	byChunk := map[string]map[int64]string{}
	for _, p := range pts {
		id := p.Payload["doc_id"].(string)
		if byChunk[id] == nil {
			byChunk[id] = map[int64]string{}
		}
		n := p.Payload["chunk"].(int64)
		if _, dup := byChunk[id][n]; dup {
			t.Fatalf("document %s chunk %d stored twice", id, n)
		}
		if qdrant.PointID(id, int(n)) != p.ID {
			t.Fatalf("point %s is not the id of %s#%d", p.ID, id, n)
		}
		byChunk[id][n] = p.Payload["text"].(string)
	}
	for id, m := range byChunk {
		for i := 0; i < len(m); i++ {
			text, ok := m[int64(i)]
			if !ok {
				t.Fatalf("document %s has chunks %v: a gap at %d", id, m, i)
			}
			out[id] = append(out[id], text)
		}
	}
	return out
}

func TestBadRecordsAreDeadLetteredAndTheJobGoesOn(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t,
		`{"id": "a", "text": "first document", "n": 1}`,
		`{"id": "b", "text": "broken",}`,
		`{"text": "no id"}`,
		`{"id": "c"}`,
		`{"id": {"x": 1}, "text": "object id"}`,
		`{"id": "d", "text": "bad `+"\xff"+` bytes"}`,
		`{"id": 7, "text": "numeric id is fine", "n": 2.5}`,
	)
	j := job(svc, cfg, path)
	sum, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Documents != 2 || sum.Errors != 5 || !sum.Complete {
		t.Errorf("summary %+v, want 2 documents and 5 errors", sum)
	}
	got := stored(t, svc)
	if len(got) != 2 || got["a"] == nil || got["7"] == nil {
		t.Errorf("stored %v, want a and 7", got)
	}
	data, err := os.ReadFile(sum.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		var e deadEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("dead letter line %q: %v", sc.Text(), err)
		}
		reasons = append(reasons, e.Where+": "+e.Reason)
	}
	for i, want := range []string{
		"docs.jsonl:2: malformed JSON",
		`docs.jsonl:3: missing id field "id"`,
		`docs.jsonl:4: missing or empty text field(s) ["text"]`,
		`docs.jsonl:5: field "id": id must be a non-empty string or number, got an object`,
		"docs.jsonl:6: invalid UTF-8 at byte 25",
	} {
		if i >= len(reasons) || !strings.HasPrefix(reasons[i], want) {
			t.Errorf("dead letter %d = %q, want prefix %q", i, at(reasons, i), want)
		}
	}
}

func at(xs []string, i int) string {
	if i < len(xs) {
		return xs[i]
	}
	return "<none>"
}

func TestMaxErrorsStopsTheJob(t *testing.T) {
	svc, cfg := testService(t)
	cfg.Ingest.MaxErrors = 1
	path := writeJSONL(t, `{"id": "a", "text": "ok"}`, `{}`, `{}`, `{"id": "b", "text": "never reached"}`)
	_, err := job(svc, cfg, path).Run(context.Background())
	if !errors.Is(err, ErrTooManyErrors) || !strings.Contains(err.Error(), "over ingest.max_errors=1") {
		t.Fatalf("got %v, want ErrTooManyErrors", err)
	}
	if got := stored(t, svc); len(got) != 1 || got["a"] == nil {
		t.Errorf("stored %v, want just a", got)
	}
}

func TestReingestingAShorterDocumentLeavesNoStaleChunks(t *testing.T) {
	svc, cfg := testService(t)
	long := strings.Repeat("sparse retrieval with learned term weights. ", 12)
	j := job(svc, cfg, writeJSONL(t, fmt.Sprintf(`{"id": "doc", "text": %q}`, long), `{"id": "other", "text": "stays"}`))
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(stored(t, svc)["doc"]); n < 4 {
		t.Fatalf("long document has %d chunks, want several", n)
	}
	j = job(svc, cfg, writeJSONL(t, `{"id": "doc", "text": "now it is short"}`))
	j.Restart = true
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := stored(t, svc)
	if len(got["doc"]) != 1 || got["doc"][0] != "now it is short" {
		t.Errorf("after re-ingest: %q, want one chunk", got["doc"])
	}
	if got["other"] == nil {
		t.Error("a document absent from the new source was removed")
	}
}

func TestInterruptedJobResumesWithoutLossOrDuplicates(t *testing.T) {
	svc, cfg := testService(t)
	var lines []string
	want := map[string]bool{}
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf(`{"id": "d%02d", "text": "document number %d about sparse vectors", "n": %d}`, i, i, i))
		want[fmt.Sprintf("d%02d", i)] = true
	}
	lines = append(lines, `{"broken": `)
	path := writeJSONL(t, lines...)

	// Stop after the third checkpoint, as a Ctrl-C would.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	afterCheckpoint = func(int64) {
		if n++; n == 3 {
			cancel()
		}
	}
	defer func() { afterCheckpoint = nil }()
	sum, err := job(svc, cfg, path).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "resumable") || sum.Complete {
		t.Fatalf("interrupted run: %v, %+v", err, sum)
	}
	partial := len(stored(t, svc))
	if partial == 0 || partial >= 40 {
		t.Fatalf("%d documents after the interruption, want some", partial)
	}
	afterCheckpoint = nil
	sum, err = job(svc, cfg, path).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Resumed || sum.Skipped == 0 || sum.Documents != 40 || sum.Errors != 1 {
		t.Errorf("resumed run summary %+v", sum)
	}
	got := stored(t, svc)
	if len(got) != 40 {
		t.Errorf("%d documents stored, want 40", len(got))
	}
	for id := range want {
		if got[id] == nil {
			t.Errorf("%s missing", id)
		}
	}
	dl, _ := os.ReadFile(sum.DeadLetter)
	if c := strings.Count(string(dl), "\n"); c != 1 {
		t.Errorf("dead letter has %d entries, want the broken line once", c)
	}
}

func TestAChangedSourceStartsANewPassInsteadOfResuming(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, `{"id": "a", "text": "one"}`, `{"id": "b", "text": "two"}`)
	ctx, cancel := context.WithCancel(context.Background())
	afterCheckpoint = func(int64) { cancel() }
	defer func() { afterCheckpoint = nil }()
	cfg.Ingest.BatchSize = 1
	cfg.Ingest.Sync = config.SyncFull
	cfg.Ingest.MaxDelete = 1
	job(svc, cfg, path).Run(ctx)
	afterCheckpoint = nil
	if got := stored(t, svc); len(got) != 1 {
		t.Fatalf("after the interruption: %v, want one document", got)
	}
	os.WriteFile(path, []byte(`{"id": "z", "text": "different"}`+"\n"), 0o644)
	var progress strings.Builder
	j := job(svc, cfg, path)
	j.Progress = &progress
	sum, err := j.Run(context.Background())
	if err != nil || sum.Resumed || sum.Added != 1 || sum.Deleted != 1 {
		t.Fatalf("run over the changed source: %+v, %v; want a new pass adding z and deleting a", sum, err)
	}
	if !strings.Contains(progress.String(), "the source changed") {
		t.Errorf("progress %q does not say why the pass was not resumed", progress.String())
	}
	if got := stored(t, svc); len(got) != 1 || got["z"] == nil {
		t.Errorf("stored %v, want exactly z", got)
	}
}

// generated is a source of n synthetic records made on the fly. Progress
// is called beside Next (the progress line), as with every source.
type generated struct {
	n int64
	i atomic.Int64
}

func (g *generated) Next() (source.Record, error) {
	if g.i.Load() == g.n {
		return source.Record{}, io.EOF
	}
	i := g.i.Add(1)
	return source.Record{Seq: i, Where: fmt.Sprint("gen:", i), Fields: map[string]any{
		"id": fmt.Sprint("g", i), "text": fmt.Sprintf("generated document %d about retrieval and vectors", i)}}, nil
}
func (g *generated) Close() error                     { return nil }
func (g *generated) Progress() (int64, int64, string) { return g.i.Load(), g.n, "records" }

func TestMemoryStaysBoundedOnASourceMuchLargerThanTheQueues(t *testing.T) {
	svc, cfg := testService(t)
	cfg.Ingest.BatchSize, cfg.Ingest.QueueSize = 16, 2
	const n = 3000 // 3000 records in batches of 16: ~190 batches through queues of 2
	j := job(svc, cfg, "generated")
	src := &generated{n: n}
	j.Open = func() (source.Source, error) { return src, nil }

	var peak uint64
	var ms runtime.MemStats
	samples := 0
	afterCheckpoint = func(int64) {
		if samples++; samples%10 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	defer func() { afterCheckpoint = nil }()
	var stats *runStats
	captureStats = func(s *runStats) { stats = s }
	defer func() { captureStats = nil }()
	sum, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Documents != n {
		t.Fatalf("%d documents, want %d", sum.Documents, n)
	}
	// The reader can be at most the two queues plus one batch in each stage ahead.
	if got := stats.maxInflight.Load(); got > int64(cfg.Ingest.QueueSize)+2 {
		t.Errorf("up to %d batches waited for the encoder; the queue holds %d", got, cfg.Ingest.QueueSize)
	}
	if peak > 512<<20 {
		t.Errorf("heap in use peaked at %d MiB", peak>>20)
	}
	t.Logf("%d records, peak heap in use %d MiB, at most %d batches queued", n, peak>>20, stats.maxInflight.Load())
}

// diesReading is a source whose first read fails, after the pass has begun;
// its version differs from any file's, so the pass does not resume another.
type diesReading struct{ generated }

func (*diesReading) Version() string { return "another edition" }
func (*diesReading) Next() (source.Record, error) {
	return source.Record{}, errors.New("source died")
}

// A new pass cuts the dead letter to nothing. If it dies before writing a
// checkpoint of its own, the earlier unfinished pass's checkpoint (which
// counts dead-letter bytes) must not be left on disk to be resumed against
// the cut file.
func TestANewPassDyingEarlyLeavesNoCheckpointCountingCutDeadLetters(t *testing.T) {
	svc, cfg := testService(t)
	var lines []string
	for i := 0; i < 20; i++ {
		lines = append(lines, fmt.Sprintf(`{"id": "d%02d", "text": "document number %d"}`, i, i))
		if i == 0 {
			lines = append(lines, `{"broken": `)
		}
	}
	path := writeJSONL(t, lines...)
	cfg.Ingest.BatchSize = 1
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	afterCheckpoint = func(int64) {
		if n++; n == 3 {
			cancel()
		}
	}
	defer func() { afterCheckpoint = nil }()
	sum, err := job(svc, cfg, path).Run(ctx)
	afterCheckpoint = nil
	if err == nil || sum.Complete {
		t.Fatalf("first pass: %+v, %v; want it interrupted", sum, err)
	}
	if st, err := os.Stat(sum.DeadLetter); err != nil || st.Size() == 0 {
		t.Fatalf("the interrupted pass wrote no dead letter (%v): nothing to test", err)
	}

	j := job(svc, cfg, path)
	j.Open = func() (source.Source, error) { return &diesReading{}, nil }
	if _, err := j.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "source died") {
		t.Fatalf("second pass: %v, want the source's failure", err)
	}

	// The file is as the first pass left it: that pass must not be resumed
	// against a dead letter the second one cut.
	sum, err = job(svc, cfg, path).Run(context.Background())
	if err != nil {
		t.Fatalf("third pass: %v", err)
	}
	if sum.Documents != 20 || sum.Errors != 1 {
		t.Errorf("third pass %+v, want 20 documents and the broken line", sum)
	}
	dl, _ := os.ReadFile(sum.DeadLetter)
	if c := strings.Count(string(dl), "\n"); c != 1 {
		t.Errorf("dead letter has %d entries, want the broken line once", c)
	}
}
