package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/faultproxy"
	"github.com/spladeq/spladeq/internal/pyarrowtest"
	"github.com/spladeq/spladeq/internal/s3test"
	"github.com/spladeq/spladeq/plugin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pyarrowtest.Cleanup()
	os.Exit(code)
}

// deadLetters reads a dead letter as "where: reason" lines.
func deadLetters(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e deadEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("dead letter line %q: %v", sc.Text(), err)
		}
		out = append(out, e.Where+": "+e.Reason)
	}
	return out
}

func s3Job(svc *plugin.Service, cfg *config.Config, endpoint string) *Job {
	c := cfg.Ingest
	c.Source = config.Source{Type: "s3", Bucket: "docs", Prefix: "kb/", Endpoint: endpoint,
		Include: []string{"**/*.md", "**/*.html", "**/*.txt", "**/*.jsonl"}}
	c.Fields = config.Fields{ID: "id", Text: []string{"text"}}
	return &Job{Service: svc, Config: c, Collection: "docs"}
}

// A job over a bucket stores its documents and JSONL records, and
// dead-letters what is bad — a record without its id, an object that is
// not UTF-8 — naming the object and line.
func TestAnS3JobStoresTheBucketAndNamesItsBadInput(t *testing.T) {
	srv := s3test.Start(t)
	svc, cfg := testService(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	srv.Put(t, "docs", map[string][]byte{
		"kb/guide/intro.md":   []byte("# Getting started\nInstall spladeq and run a job."),
		"kb/guide/page.html":  []byte("<html><head><title>Page</title></head><body><p>Sparse vectors in <b>Qdrant</b></p></body></html>"),
		"kb/latin1.txt":       []byte("caf\xe9 cr\xe8me"),
		"kb/tickets.jsonl":    []byte(`{"id": "t1", "text": "printer on fire"}` + "\n" + `{"text": "a ticket without its id"}` + "\n" + `{"id": "t3", "text": "disk full"}` + "\n"),
		"outside/ignored.txt": []byte("outside the prefix"),
	})
	sum, err := s3Job(svc, cfg, srv.Endpoint).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := stored(t, svc)
	for _, id := range []string{"kb/guide/intro.md", "kb/guide/page.html", "t1", "t3"} {
		if got[id] == nil {
			t.Errorf("%s not stored; stored %v", id, got)
		}
	}
	if len(got) != 4 || sum.Documents != 4 || sum.Errors != 2 {
		t.Errorf("stored %d documents, summary %+v; want 4 documents and 2 errors", len(got), sum)
	}
	if text := strings.Join(got["kb/guide/page.html"], " "); !strings.Contains(text, "Sparse vectors in Qdrant") {
		t.Errorf("html text %q", text)
	}
	dl := deadLetters(t, sum.DeadLetter)
	want := []string{
		"s3://docs/kb/latin1.txt: not valid UTF-8 text (at byte 3)",
		`s3://docs/kb/tickets.jsonl:2: missing id field "id"`,
	}
	if strings.Join(dl, "\n") != strings.Join(want, "\n") {
		t.Errorf("dead letter:\n%s\nwant:\n%s", strings.Join(dl, "\n"), strings.Join(want, "\n"))
	}
}

// A bucket that does not exist, or credentials the store refuses, stop
// the job before it writes anything, with an error that names them.
func TestAnS3JobThatCannotListWritesNothing(t *testing.T) {
	srv := s3test.Start(t)
	svc, cfg := testService(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	srv.Put(t, "docs", map[string][]byte{"kb/a.txt": []byte("a document")})

	j := s3Job(svc, cfg, srv.Endpoint)
	j.Config.Source.Bucket = "no-such-bucket"
	_, err := j.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `ingest.source: list s3://no-such-bucket/kb/ (page 1, after 0 keys): bucket "no-such-bucket" does not exist at `+srv.Endpoint) {
		t.Errorf("missing bucket: %v", err)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	_, err = s3Job(svc, cfg, srv.Endpoint).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused the credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)") {
		t.Errorf("refused credentials: %v", err)
	}
	if got := stored(t, svc); len(got) != 0 {
		t.Errorf("stored %v after failed runs", got)
	}
}

// A Parquet source maps columns like the other sources' fields: an
// integer id column, text, payload columns of several types; a file
// without a mapped column stops the job listing the file's columns.
func TestAParquetJob(t *testing.T) {
	pf := pyarrowtest.All(t)
	svc, cfg := testService(t)
	c := cfg.Ingest
	c.Source = config.Source{Type: "parquet", Path: pf.Path("types")}
	c.Fields = config.Fields{ID: "id", Text: []string{"text"}, Payload: []string{"score", "tags", "ts", "st"}}
	sum, err := (&Job{Service: svc, Config: c, Collection: "docs"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Documents != 5 || sum.Errors != 0 {
		t.Errorf("summary %+v, want 5 documents", sum)
	}
	pts, err := svc.Store().Scroll(context.Background(), "docs", nil, qdrant.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pts {
		if p.Payload["doc_id"] != "1" {
			continue
		}
		found = true
		if p.Payload["score"] != 1.5 || p.Payload["ts"] != "2024-01-02T03:04:05.678Z" {
			t.Errorf("payload of document 1: %v", p.Payload)
		}
		if tags, _ := json.Marshal(p.Payload["tags"]); string(tags) != `["x","y"]` {
			t.Errorf("tags %s", tags)
		}
		if st, _ := json.Marshal(p.Payload["st"]); string(st) != `{"a":1,"b":"x"}` {
			t.Errorf("struct column %s", st)
		}
	}
	if !found {
		t.Error("document 1 (an integer id) not stored")
	}

	c.Source.Path = pf.Path("other")
	c.Checkpoint = "other.checkpoint.json"
	_, err = (&Job{Service: svc, Config: c, Collection: "other"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `no column "text" (ingest.fields.text), "score" (ingest.fields.payload)`) ||
		!strings.Contains(err.Error(), "the file's columns are: id (STRING), title (STRING), body (STRING)") {
		t.Errorf("a file without the mapped columns: %v", err)
	}
}

// getCounter is a proxy in front of an S3 server that counts, per key,
// the GETs of bucket's objects and can make requests fail.
type getCounter struct {
	*faultproxy.HTTPProxy
	mu   sync.Mutex
	gets map[string]int
	fail func(r *http.Request) faultproxy.HTTPFault
}

func countGets(t *testing.T, srv *s3test.Server, bucket string) *getCounter {
	t.Helper()
	c := &getCounter{gets: map[string]int{}}
	p, err := faultproxy.StartHTTP(srv.Endpoint, func(r *http.Request) faultproxy.HTTPFault {
		c.mu.Lock()
		defer c.mu.Unlock()
		if s3test.IsGet(r, bucket) {
			c.gets[strings.TrimPrefix(r.URL.Path, "/"+bucket+"/")]++
		}
		if c.fail != nil {
			return c.fail(r)
		}
		return faultproxy.Pass
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c.HTTPProxy = p
	return c
}

// take returns the GETs counted since the last call, as sorted "key×n".
func (c *getCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k, n := range c.gets {
		out = append(out, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(out)
	c.gets = map[string]int{}
	return out
}

func (c *getCounter) failing(f func(r *http.Request) faultproxy.HTTPFault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = f
}

// s3SyncJob is a job named "bucket" with ingest.sync mode over the
// objects under prefix, through endpoint.
func s3SyncJob(svc *plugin.Service, cfg *config.Config, endpoint, prefix, mode string) *Job {
	j := s3Job(svc, cfg, endpoint)
	j.Config.Source.Prefix = prefix
	j.Config.Job = "bucket"
	j.Config.Sync, j.Config.MaxDelete = mode, 1
	return j
}

// Two prefixes of a bucket synced by one job with ingest.sync: scoped. A
// re-run downloads only the objects whose ETag changed (counted at a
// proxy in front of the server, not by the job), deletes the documents of
// the objects deleted under its own prefix, and never those of the other
// prefix; a run over an unchanged prefix downloads nothing at all.
func TestAnS3SyncDownloadsOnlyChangedObjectsAndDeletesWithinItsPrefix(t *testing.T) {
	srv := s3test.Start(t)
	svc, cfg := testService(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	srv.Put(t, "docs", map[string][]byte{
		"kb/a.md":       []byte("# Alpha\nThe first guide."),
		"kb/b.txt":      []byte("the second page"),
		"kb/c/d.html":   []byte("<title>Dee</title><p>the third page</p>"),
		"kb/rows.jsonl": []byte(`{"id": "r1", "text": "row one"}` + "\n" + `{"id": "r2", "text": "row two"}` + "\n"),
		"kb/gone.txt":   []byte("deleted soon"),
		"faq/x.txt":     []byte("a question"),
		"faq/y.txt":     []byte("another question"),
	})
	p := countGets(t, srv, "docs")
	run := func(prefix string) Summary {
		t.Helper()
		sum, err := s3SyncJob(svc, cfg, p.URL(), prefix, config.SyncScoped).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if sum := run("kb/"); sum.Added != 6 || sum.Deleted != 0 {
		t.Fatalf("first run over kb/: %+v, want 6 added", sum)
	}
	if sum := run("faq/"); sum.Added != 2 || sum.Deleted != 0 {
		t.Fatalf("first run over faq/: %+v, want 2 added and nothing of kb/ deleted", sum)
	}
	p.take()

	srv.Put(t, "docs", map[string][]byte{"kb/a.md": []byte("# Alpha\nThe first guide, edited."), "kb/new.txt": []byte("added")})
	srv.Delete(t, "docs", "kb/gone.txt", "faq/y.txt")
	sum := run("kb/")
	if sum.Added != 1 || sum.Updated != 1 || sum.Unchanged != 4 || sum.Deleted != 1 || sum.NotRead != 3 || sum.Errors != 0 {
		t.Errorf("second run over kb/: %+v; want 1 added, 1 updated, 4 unchanged (3 objects unread), 1 deleted", sum)
	}
	if got, want := p.take(), []string{"kb/a.md×1", "kb/new.txt×1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("objects downloaded %v, want %v (only the new and the changed ones)", got, want)
	}
	got := stored(t, svc)
	if got["kb/gone.txt"] != nil || got["faq/y.txt"] == nil || len(got) != 8 {
		t.Errorf("stored %v: want kb/gone.txt deleted, faq/y.txt (another prefix) kept", got)
	}
	if got["kb/a.md"][0] != "# Alpha\nThe first guide, edited." {
		t.Errorf("kb/a.md stored as %q", got["kb/a.md"])
	}

	if sum := run("kb/"); sum.Unchanged != 6 || sum.Records != 0 || sum.NotRead != 5 || sum.Chunks != 0 {
		t.Errorf("third run over kb/: %+v; want 6 unchanged from 5 objects, none read", sum)
	}
	if got := p.take(); len(got) != 0 {
		t.Errorf("an unchanged prefix downloaded %v", got)
	}
	if sum := run("faq/"); sum.Deleted != 1 || sum.Unchanged != 1 {
		t.Errorf("run over faq/: %+v; want y.txt deleted", sum)
	}
	if got := stored(t, svc); got["faq/y.txt"] != nil || len(got) != 7 {
		t.Errorf("stored %v after the faq/ run", got)
	}
}

// A sync whose listing or downloads keep failing (5xx after the SDK's
// retries) stops with an error naming what failed and deletes nothing,
// although objects were deleted from the bucket; the next run, with the
// store healthy again, converges to what a clean run over the bucket
// stores.
func TestAnS3SyncThatFailsDeletesNothingAndTheNextRunConverges(t *testing.T) {
	srv := s3test.Start(t)
	svc, cfg := testService(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	objs := map[string][]byte{}
	for i := range 12 {
		objs[fmt.Sprintf("kb/%02d.txt", i)] = []byte(fmt.Sprintf("document %d about learned sparse retrieval", i))
	}
	srv.Put(t, "docs", objs)
	p := countGets(t, srv, "docs")
	job := func() *Job { return s3SyncJob(svc, cfg, p.URL(), "kb/", config.SyncFull) }
	if _, err := job().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Delete(t, "docs", "kb/00.txt", "kb/01.txt")
	srv.Put(t, "docs", map[string][]byte{"kb/05.txt": []byte("document 5, edited"), "kb/09.txt": []byte("document 9, edited")})

	p.failing(func(r *http.Request) faultproxy.HTTPFault {
		if s3test.IsListing(r) {
			return faultproxy.InternalError
		}
		return faultproxy.Pass
	})
	_, err := job().Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "list s3://docs/kb/ (page 1, after 0 keys)") || !strings.Contains(err.Error(), "InternalError") {
		t.Errorf("a listing that keeps failing: %v", err)
	}
	if got := stored(t, svc); len(got) != 12 {
		t.Errorf("%d documents stored after a failed listing, want the 12 of the first run", len(got))
	}

	p.failing(func(r *http.Request) faultproxy.HTTPFault {
		if s3test.IsGet(r, "docs") && strings.HasSuffix(r.URL.Path, "/09.txt") {
			return faultproxy.InternalError
		}
		return faultproxy.Pass
	})
	sum, err := job().Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read s3://docs/kb/09.txt") || sum.Deleted != 0 {
		t.Errorf("a download that keeps failing: %+v, %v", sum, err)
	}
	if got := stored(t, svc); len(got) != 12 || got["kb/00.txt"] == nil || got["kb/01.txt"] == nil {
		t.Errorf("stored %v: want nothing deleted", got)
	}

	p.failing(nil)
	sum, err = job().Run(context.Background())
	if err != nil || sum.Deleted != 2 {
		t.Fatalf("the next run: %+v, %v; want the 2 deleted objects' documents deleted", sum, err)
	}
	want := snapshot(t, svc)
	cleanCfg := *cfg
	cleanCfg.Qdrant.URL = qdrant.EmbeddedScheme + filepath.Join(t.TempDir(), "clean")
	cleanCfg.Ingest.Checkpoint = filepath.Join(t.TempDir(), "clean.checkpoint.json")
	clean, err := plugin.New(context.Background(), &cleanCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	if _, err := s3SyncJob(clean, &cleanCfg, srv.Endpoint, "kb/", config.SyncFull).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameCollection(t, want, snapshot(t, clean))
}

// Watching an s3 source lists the bucket again every
// ingest.watch_interval: an object added and one deleted are synced by a
// later cycle, and the cycles in between download nothing.
func TestWatchResyncsAnS3PrefixOnAnInterval(t *testing.T) {
	srv := s3test.Start(t)
	svc, cfg := testService(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	srv.Put(t, "docs", map[string][]byte{"kb/a.txt": []byte("first"), "kb/b.txt": []byte("second")})
	p := countGets(t, srv, "docs")
	j := s3SyncJob(svc, cfg, p.URL(), "kb/", config.SyncFull)
	j.Config.WatchInterval = 200 * time.Millisecond
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports, done := startWatch(t, j, stop, context.Background())
	if c := next(t, reports); c.err != nil || c.sum.Added != 2 {
		t.Fatalf("first sync: %+v, %v", c.sum, c.err)
	}
	if c := next(t, reports); c.err != nil || c.sum.Unchanged != 2 || c.sum.NotRead != 2 {
		t.Fatalf("second sync: %+v, %v; want both objects unchanged, unread", c.sum, c.err)
	}
	p.take()
	srv.Put(t, "docs", map[string][]byte{"kb/c.txt": []byte("third")})
	srv.Delete(t, "docs", "kb/a.txt")
	// A cycle may list the bucket between the two changes.
	var added, deleted int64
	for i := 0; added < 1 || deleted < 1; i++ {
		c := next(t, reports)
		if c.err != nil {
			t.Fatal(c.err)
		}
		added, deleted = added+c.sum.Added, deleted+c.sum.Deleted
		if i == 20 {
			t.Fatalf("20 syncs and the changes not seen: %+v", c.sum)
		}
	}
	if added != 1 || deleted != 1 {
		t.Errorf("%d added, %d deleted, want 1 and 1", added, deleted)
	}
	if got, want := p.take(), []string{"kb/c.txt×1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("objects downloaded while watching %v, want %v", got, want)
	}
	cancel()
	<-done
	if got := stored(t, svc); len(got) != 2 || got["kb/c.txt"] == nil || got["kb/a.txt"] != nil {
		t.Errorf("stored %v, want kb/b.txt and kb/c.txt", got)
	}
}

// An object read whole was stamped with its token; a later version adds a
// bad record and keeps the other records: its unchanged documents lose the
// stamp (the object is read again next time, its bad record dead-lettered
// again), as a clean run over that version leaves them.
func TestAnObjectThatGainsABadRecordLosesItsStamp(t *testing.T) {
	srv := s3test.Start(t)
	svc, cfg := testService(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	good := `{"id": "r1", "text": "row one"}` + "\n" + `{"id": "r2", "text": "row two"}` + "\n"
	srv.Put(t, "docs", map[string][]byte{"kb/rows.jsonl": []byte(good)})
	job := func(svc *plugin.Service, cfg *config.Config) *Job {
		return s3SyncJob(svc, cfg, srv.Endpoint, "kb/", config.SyncFull)
	}
	if _, err := job(svc, cfg).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "docs", map[string][]byte{"kb/rows.jsonl": []byte(good + `{"text": "no id"}` + "\n")})
	for run := 1; run <= 2; run++ {
		sum, err := job(svc, cfg).Run(context.Background())
		if err != nil || sum.Unchanged != 2 || sum.Errors != 1 || sum.NotRead != 0 {
			t.Errorf("run %d over the object with a bad record: %+v, %v; want it read, 2 unchanged, 1 bad", run, sum, err)
		}
	}
	cleanCfg := *cfg
	cleanCfg.Qdrant.URL = qdrant.EmbeddedScheme + filepath.Join(t.TempDir(), "clean")
	cleanCfg.Ingest.Checkpoint = filepath.Join(t.TempDir(), "clean.checkpoint.json")
	clean, err := plugin.New(context.Background(), &cleanCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	if _, err := job(clean, &cleanCfg).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameCollection(t, snapshot(t, svc), snapshot(t, clean))
}
