package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/connectors/source/parquet"
	"github.com/spladeq/spladeq/internal/faultproxy"
	"github.com/spladeq/spladeq/internal/pyarrowtest"
	"github.com/spladeq/spladeq/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pyarrowtest.Cleanup()
	os.Exit(code)
}

// readAll reads every record, or stops at the first fatal error.
func readAll(s *Source) ([]source.Record, error) {
	var recs []source.Record
	for {
		r, err := s.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
}

// proxied starts a fault proxy in front of srv that counts requests by
// kind and injects what decide says (nil: nothing).
type proxied struct {
	*faultproxy.HTTPProxy
	lists, gets atomic.Int64
	mu          sync.Mutex
	got         map[string]int // GETs per key
}

func proxy(t *testing.T, srv *s3test.Server, bucket string, decide func(r *http.Request, list, get int64) faultproxy.HTTPFault) *proxied {
	t.Helper()
	p := &proxied{got: map[string]int{}}
	fp, err := faultproxy.StartHTTP(srv.Endpoint, func(r *http.Request) faultproxy.HTTPFault {
		var list, get int64
		switch {
		case s3test.IsListing(r):
			list = p.lists.Add(1)
		case s3test.IsGet(r, bucket):
			get = p.gets.Add(1)
			p.mu.Lock()
			p.got[strings.TrimPrefix(r.URL.Path, "/"+bucket+"/")]++
			p.mu.Unlock()
		}
		if decide == nil {
			return faultproxy.Pass
		}
		return decide(r, list, get)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fp.Close)
	p.HTTPProxy = fp
	return p
}

func (p *proxied) fetched(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[key]
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// A bucket of 1,100 documents under a prefix, and keys that must not be
// read: the listing takes two pages, every document is read once, in key
// order, with its key as id and unit and its ETag as token.
func TestListingPastOneThousandKeys(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	objs := map[string][]byte{
		"other/outside.txt":         []byte("outside the prefix"),
		"kb/skip.pdf":               []byte("not included"),
		"kb/dir/":                   nil,
		"kb/guide/intro.md":         []byte("# Getting started\nSome words."),
		"kb/guide/page.html":        []byte("<html><head><title>Page</title></head><body><p>Hello <b>there</b></p><script>x()</script></body></html>"),
		"kb/zipped.txt.gz":          gz("compressed text"),
		"kb/private/secret.txt":     []byte("excluded"),
		"kb/ünïcode name/file.txt":  []byte("a key beyond ASCII"),
		"kb/guide/with space.txt":   []byte("spaces in keys"),
		"kb/guide/percent%2F20.txt": []byte("a percent sign in a key"),
	}
	for i := range 1100 {
		objs[fmt.Sprintf("kb/bulk/%05d.txt", i)] = []byte(fmt.Sprintf("bulk document %d", i))
	}
	srv.Put(t, "docs", objs)
	p := proxy(t, srv, "docs", nil)
	s, err := Open(context.Background(), Config{Bucket: "docs", Prefix: "kb/", Endpoint: p.URL(),
		Include: []string{"**/*.txt", "**/*.md", "**/*.html", "**/*.gz"}, Exclude: []string{"private/**"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p.lists.Load() < 2 {
		t.Errorf("%d listing requests for 1,100+ keys, want at least 2 pages", p.lists.Load())
	}
	recs, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"kb/guide/intro.md", "kb/guide/page.html", "kb/guide/percent%2F20.txt", "kb/guide/with space.txt", "kb/zipped.txt.gz", "kb/ünïcode name/file.txt"}
	for i := range 1100 {
		wantKeys = append(wantKeys, fmt.Sprintf("kb/bulk/%05d.txt", i))
	}
	sort.Strings(wantKeys)
	if len(recs) != len(wantKeys) {
		var got []string
		for _, r := range recs {
			if !strings.Contains(r.Unit, "/bulk/") {
				got = append(got, r.Unit)
			}
		}
		t.Fatalf("%d records, want %d; outside bulk/: %q", len(recs), len(wantKeys), got)
	}
	byKey := map[string]source.Record{}
	for i, r := range recs {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Where, r.Err)
		}
		if got := r.Fields["id"]; got != wantKeys[i] {
			t.Fatalf("record %d is %v, want %s (key order)", i, got, wantKeys[i])
		}
		if r.Seq != int64(i+1)<<32|1 {
			t.Errorf("%s: seq %x, want %x", r.Where, r.Seq, int64(i+1)<<32|1)
		}
		if r.Unit != "s3://docs/"+wantKeys[i] || r.Where != r.Unit || !strings.HasPrefix(r.Token, `"`) {
			t.Errorf("record %d: unit %q where %q token %q", i, r.Unit, r.Where, r.Token)
		}
		if i > 0 && r.Seq <= recs[i-1].Seq {
			t.Errorf("seq not increasing at %s", r.Where)
		}
		byKey[wantKeys[i]] = r
	}
	if r := byKey["kb/guide/page.html"]; r.Fields["text"] != "Hello there" || r.Fields["title"] != "Page" {
		t.Errorf("html: %q / %q", r.Fields["text"], r.Fields["title"])
	}
	if r := byKey["kb/guide/intro.md"]; r.Fields["title"] != "Getting started" {
		t.Errorf("markdown title %q", r.Fields["title"])
	}
	if r := byKey["kb/zipped.txt.gz"]; r.Fields["text"] != "compressed text" {
		t.Errorf("gzip object text %q", r.Fields["text"])
	}
	for k := range objs {
		if n := p.fetched(k); n > 1 || (n == 0) != (byKey[k].Unit == "") {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	if done, total, unit := s.Progress(); done != total || unit != "bytes" || total == 0 {
		t.Errorf("progress %d/%d %s", done, total, unit)
	}
	if got := s.Scope(); got != "s3://docs/kb/" {
		t.Errorf("scope %q", got)
	}
}

// The job's unit check is asked in listing order, in batches; an object
// it calls unchanged yields one Unchanged record with the same seq and is
// never fetched.
func TestUnchangedObjectsAreNotDownloaded(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	objs := map[string][]byte{}
	for i := range 300 {
		objs[fmt.Sprintf("d/%03d.txt", i)] = []byte(fmt.Sprintf("text %d", i))
	}
	objs["d/rows.jsonl"] = []byte("{\"id\":\"r1\",\"text\":\"one\"}\n{\"id\":\"r2\",\"text\":\"two\"}\n")
	srv.Put(t, "docs", objs)
	p := proxy(t, srv, "docs", nil)
	open := func() *Source {
		s, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: p.URL(), Include: []string{"**"}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// First pass: read everything, remember tokens.
	s := open()
	first, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	tokens := map[string]string{}
	for _, r := range first {
		tokens[r.Unit] = r.Token
	}
	if len(first) != 302 {
		t.Fatalf("%d records, want 302 (300 documents, 2 rows)", len(first))
	}
	// Change one document and the JSONL object.
	srv.Put(t, "docs", map[string][]byte{"d/007.txt": []byte("text 7, edited"), "d/rows.jsonl": []byte("{\"id\":\"r1\",\"text\":\"one, edited\"}\n")})
	before := p.gets.Load()
	var batches []int
	s = open()
	s.SkipUnchanged(func(units []source.Unit) ([]bool, error) {
		batches = append(batches, len(units))
		out := make([]bool, len(units))
		for i, u := range units {
			out[i] = tokens[u.Key] == u.Token
		}
		return out, nil
	})
	second, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.gets.Load() - before; got != 2 {
		t.Errorf("%d objects downloaded, want 2 (the changed ones)", got)
	}
	if !reflect.DeepEqual(batches, []int{256, 45}) {
		t.Errorf("unit check batches %v, want [256 45]", batches)
	}
	seqs := map[string]int64{}
	for _, r := range first {
		if _, ok := seqs[r.Unit]; !ok {
			seqs[r.Unit] = r.Seq
		}
	}
	var read []string
	for _, r := range second {
		if r.Seq&0xffffffff == 1 && r.Seq != seqs[r.Unit] {
			t.Errorf("%s: seq %x, was %x", r.Unit, r.Seq, seqs[r.Unit])
		}
		if !r.Unchanged {
			read = append(read, fmt.Sprint(r.Unit, " ", r.Fields["text"]))
		} else if r.Fields != nil || r.Token != tokens[r.Unit] {
			t.Errorf("unchanged record %+v", r)
		}
	}
	if want := []string{"s3://docs/d/007.txt text 7, edited", "s3://docs/d/rows.jsonl one, edited"}; !reflect.DeepEqual(read, want) {
		t.Errorf("read %v, want %v", read, want)
	}
	if v1, v2 := first[0].Token, second[7].Token; v1 == v2 {
		t.Errorf("token of the edited object did not change (%s)", v1)
	}
}

// JSONL (gzip too), CSV and Parquet objects are read with the other
// sources' parsers; a Parquet object is read by ranges, its unmapped
// column never fetched; objects that cannot be parsed are bad records
// naming the object, and reading goes on.
func TestRecordObjects(t *testing.T) {
	pf := pyarrowtest.All(t)
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "data")
	read := func(name string) []byte {
		b, err := os.ReadFile(pf.Path(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	large := read("large")
	srv.Put(t, "data", map[string][]byte{
		"a.jsonl":              []byte("{\"id\":\"j1\",\"text\":\"first\"}\n\n{\"id\":\"j2\",\"text\":\"second\"}\n"),
		"b.jsonl.gz":           gz("{\"id\":\"g1\",\"text\":\"zipped\"}\n"),
		"c.csv":                []byte("id,text\nc1,\"a, quoted\"\nc2,plain\n"),
		"d.csv":                []byte(""),
		"e-large.parquet":      large,
		"f-other.parquet":      read("other"),
		"g-bad.parquet":        read("badutf8"),
		"h-notparquet.parquet": []byte("plain text"),
		"i.txt":                []byte("a document"),
	})
	p := proxy(t, srv, "data", nil)
	s, err := Open(context.Background(), Config{Bucket: "data", Endpoint: p.URL(), Include: []string{"**"},
		Columns: []parquet.Column{{Name: "id", Key: "ingest.fields.id"}, {Name: "text", Key: "ingest.fields.text"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	units := map[string]int{}
	for _, r := range recs {
		units[r.Unit]++
		if r.Err != nil {
			got = append(got, r.Where+": "+r.Err.Error())
			continue
		}
		if r.Unit != "s3://data/e-large.parquet" || units[r.Unit] <= 2 {
			got = append(got, fmt.Sprintf("%s: %v %v", r.Where, r.Fields["id"], r.Fields["text"]))
		}
	}
	want := []string{
		"s3://data/a.jsonl:1: j1 first",
		"s3://data/a.jsonl:3: j2 second",
		"s3://data/b.jsonl.gz:1: g1 zipped",
		"s3://data/c.csv:row 1 (line 2): c1 a, quoted",
		"s3://data/c.csv:row 2 (line 3): c2 plain",
		"s3://data/d.csv: s3://data/d.csv: empty file: want a header row",
		"s3://data/e-large.parquet:row 1 (row group 1): doc-000000 row 0 of the large file, word0",
		"s3://data/e-large.parquet:row 2 (row group 1): doc-000001 row 1 of the large file, word1",
		`s3://data/f-other.parquet: s3://data/f-other.parquet: no column "text" (ingest.fields.text); the file's columns are: id (STRING), title (STRING), body (STRING)`,
		"s3://data/g-bad.parquet:row 1 (row group 1): a fine",
		`s3://data/g-bad.parquet:row 2 (row group 1): column "text": not valid UTF-8 (at byte 4)`,
		"s3://data/g-bad.parquet:row 3 (row group 1): c also fine",
		"s3://data/h-notparquet.parquet: s3://data/h-notparquet.parquet: not a readable Parquet file: " + recs[len(recs)-2].Err.Error()[len("s3://data/h-notparquet.parquet: not a readable Parquet file: "):],
		"s3://data/i.txt: i.txt a document",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := units["s3://data/e-large.parquet"]; n != 5000 {
		t.Errorf("%d rows of the large Parquet object, want 5000", n)
	}
	for _, r := range recs {
		if r.Token == "" || !strings.HasPrefix(r.Unit, "s3://data/") {
			t.Errorf("%s: unit %q token %q", r.Where, r.Unit, r.Token)
		}
	}
}

// Ranged reads of a Parquet object fetch its footer and the mapped
// columns, not the object.
func TestParquetObjectsFetchOnlyMappedColumns(t *testing.T) {
	pf := pyarrowtest.All(t)
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "data")
	large, err := os.ReadFile(pf.Path("large"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "data", map[string][]byte{"large.parquet": large})
	var fetched atomic.Int64
	p := proxy(t, srv, "data", func(r *http.Request, _, get int64) faultproxy.HTTPFault {
		if get > 0 {
			var from, to int64
			if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &from, &to); err != nil {
				fetched.Add(1 << 40) // a whole-object GET
			} else {
				fetched.Add(to - from + 1)
			}
		}
		return faultproxy.Pass
	})
	s, err := Open(context.Background(), Config{Bucket: "data", Endpoint: p.URL(), Include: []string{"**"},
		Columns: []parquet.Column{{Name: "id", Key: "ingest.fields.id"}, {Name: "text", Key: "ingest.fields.text"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5000 {
		t.Fatalf("%d rows, want 5000", len(recs))
	}
	if f := fetched.Load(); f > int64(len(large))/4 {
		t.Errorf("fetched %d of %d bytes for two small columns", f, len(large))
	} else {
		t.Logf("fetched %d of %d bytes in %d requests", f, len(large), p.gets.Load())
	}
}

func TestAMissingBucketIsNamed(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	_, err := Open(context.Background(), Config{Bucket: "no-such-bucket", Prefix: "docs/", Endpoint: srv.Endpoint})
	if err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist at `+srv.Endpoint) {
		t.Errorf("error = %v, want the bucket named as missing", err)
	}
}

func TestRefusedCredentialsAreNamed(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	for _, c := range []struct {
		name, id, secret, code string
	}{
		{"wrong secret", s3test.AccessKey, "not-the-secret", "SignatureDoesNotMatch"},
		// versitygw answers an unknown key with 404 XAdminUserNotFound
		// where AWS says 403 InvalidAccessKeyId.
		{"unknown key", "AKIAUNKNOWNKEY000000", s3test.SecretKey, "XAdminUserNotFound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", c.id)
			t.Setenv("AWS_SECRET_ACCESS_KEY", c.secret)
			_, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: srv.Endpoint})
			if err == nil {
				t.Fatal("opened with refused credentials")
			}
			for _, want := range []string{"refused the credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), access key …" + c.id[len(c.id)-4:], c.code, "list s3://docs/"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), c.secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	t.Run("explicit keys in the job", func(t *testing.T) {
		_, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: srv.Endpoint, AccessKeyID: s3test.AccessKey, SecretAccessKey: "wrong"})
		if err == nil || !strings.Contains(err.Error(), "refused the credentials from ingest.source.access_key_id and secret_access_key") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("a profile of the shared files", func(t *testing.T) {
		creds := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
		os.WriteFile(creds, []byte("[ingest]\naws_access_key_id = "+s3test.AccessKey+"\naws_secret_access_key = "+s3test.SecretKey+"\n"), 0o600)
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		s, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: srv.Endpoint, Profile: "ingest"})
		if err != nil {
			t.Fatalf("the profile's keys were not used: %v", err)
		}
		s.Close()
		os.WriteFile(creds, []byte("[ingest]\naws_access_key_id = "+s3test.AccessKey+"\naws_secret_access_key = stale\n"), 0o600)
		_, err = Open(context.Background(), Config{Bucket: "docs", Endpoint: srv.Endpoint, Profile: "ingest"})
		if err == nil || !strings.Contains(err.Error(), `the shared credentials file `+creds+` (profile "ingest")`) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("none at all", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		_, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: srv.Endpoint})
		if err == nil || !strings.Contains(err.Error(), "no AWS credentials for s3://docs/") {
			t.Errorf("error = %v", err)
		}
	})
}

// A throttled (503 SlowDown) or failing (500) listing page is retried by
// the SDK; one that keeps failing stops Open with an error naming the
// page, the code and the attempts.
func TestThrottledListingIsRetriedThenNamed(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	objs := map[string][]byte{}
	for i := range 1005 {
		objs[fmt.Sprintf("d/%04d.txt", i)] = []byte("x")
	}
	srv.Put(t, "docs", objs)
	for _, c := range []struct {
		name  string
		fault faultproxy.HTTPFault
		code  string
	}{{"slow down", faultproxy.SlowDown, "SlowDown"}, {"internal error", faultproxy.InternalError, "InternalError"}, {"connection cut", faultproxy.Cut, "connection reset"}} {
		t.Run(c.name+" once", func(t *testing.T) {
			p := proxy(t, srv, "docs", func(r *http.Request, list, _ int64) faultproxy.HTTPFault {
				if list == 2 {
					return c.fault
				}
				return faultproxy.Pass
			})
			s, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: p.URL()})
			if err != nil {
				t.Fatalf("a fault on one attempt was not retried: %v", err)
			}
			if n := len(s.objects); n != 1005 {
				t.Errorf("%d objects listed, want 1005", n)
			}
			if p.lists.Load() != 3 {
				t.Errorf("%d listing requests, want 3 (page 2 twice)", p.lists.Load())
			}
		})
		t.Run(c.name+" always", func(t *testing.T) {
			p := proxy(t, srv, "docs", func(r *http.Request, list, _ int64) faultproxy.HTTPFault {
				if list >= 2 {
					return c.fault
				}
				return faultproxy.Pass
			})
			_, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: p.URL()})
			if err == nil {
				t.Fatal("Open succeeded with page 2 failing")
			}
			for _, want := range []string{"list s3://docs/ (page 2, after 1000 keys)", c.code, "attempts, 3"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// Go's transport itself retries an idempotent request once
			// when a reused connection breaks before any reply.
			if n := p.lists.Load(); n < 4 || n > 5 {
				t.Errorf("%d listing requests, want 4 (page 2 three times) or 5 (a cut retried by the transport too)", n)
			}
		})
	}
}

// A download that breaks half-way is resumed where it broke (a document
// and a JSONL object); an object deleted after the listing is a bad
// record; a fetch that keeps failing stops the run naming the object.
func TestDownloadsThatBreak(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	long := strings.Repeat("a long document. ", 4000)
	var lines strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&lines, "{\"id\":\"r%d\",\"text\":\"row %d\"}\n", i, i)
	}
	srv.Put(t, "docs", map[string][]byte{"a.txt": []byte(long), "b.jsonl": []byte(lines.String()), "c.txt": []byte("soon gone"), "d.txt": []byte("fine")})
	p := proxy(t, srv, "docs", func(r *http.Request, _, get int64) faultproxy.HTTPFault {
		key := strings.TrimPrefix(r.URL.Path, "/docs/")
		switch {
		case get == 0:
		case (key == "a.txt" || key == "b.jsonl") && r.Header.Get("Range") == "":
			return faultproxy.Truncate
		case key == "c.txt":
			srv.Delete(t, "docs", "c.txt")
		}
		return faultproxy.Pass
	})
	s, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: p.URL(), Include: []string{"**"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(s)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2003 {
		t.Fatalf("%d records, want 2003", len(recs))
	}
	if recs[0].Fields["text"] != long {
		t.Errorf("the resumed document has %d bytes, want %d", len(fmt.Sprint(recs[0].Fields["text"])), len(long))
	}
	if last := recs[2000]; last.Fields["id"] != "r1999" {
		t.Errorf("the resumed JSONL object ends with %v", last.Fields)
	}
	if r := recs[2001]; r.Err == nil || r.Err != errGone || r.Where != "s3://docs/c.txt" {
		t.Errorf("deleted object: %s %v", r.Where, r.Err)
	}
	if p.Count(faultproxy.Truncate) != 2 {
		t.Errorf("%d truncated downloads, want 2", p.Count(faultproxy.Truncate))
	}

	// Every GET of d.txt fails: after the SDK's retries, Next stops.
	p.SetDecide(func(r *http.Request) faultproxy.HTTPFault {
		if strings.HasSuffix(r.URL.Path, "/d.txt") {
			return faultproxy.InternalError
		}
		return faultproxy.Pass
	})
	s, err = Open(context.Background(), Config{Bucket: "docs", Endpoint: p.URL(), Include: []string{"d.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Next()
	if err == nil || !strings.Contains(err.Error(), "read s3://docs/d.txt") || !strings.Contains(err.Error(), "InternalError") {
		t.Errorf("error = %v", err)
	}
}

func TestNotUTF8ObjectIsABadRecordWithItsID(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Isolate(t)
	srv.Bucket(t, "docs")
	srv.Put(t, "docs", map[string][]byte{"latin1.txt": []byte("caf\xe9 cr\xe8me")})
	s, err := Open(context.Background(), Config{Bucket: "docs", Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := readAll(s)
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	r := recs[0]
	if r.Err == nil || r.Err.Error() != "not valid UTF-8 text (at byte 3)" || r.Where != "s3://docs/latin1.txt" || r.Fields["id"] != "latin1.txt" {
		t.Errorf("record %s: %v, fields %v", r.Where, r.Err, r.Fields)
	}
	raw, _ := json.Marshal(r.Raw)
	if !strings.Contains(string(raw), "latin1.txt") {
		t.Errorf("raw %s", raw)
	}
}
