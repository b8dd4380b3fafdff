package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
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
