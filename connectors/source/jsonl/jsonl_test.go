package jsonl

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, name, body string, gz bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := []byte(body)
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
		data = b.Bytes()
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, s *Source) []recordView {
	t.Helper()
	var out []recordView
	for {
		r, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		v := recordView{seq: r.Seq, where: r.Where}
		if r.Err != nil {
			v.err = r.Err.Error()
		} else {
			v.id = r.Fields["id"]
		}
		out = append(out, v)
	}
}

type recordView struct {
	seq   int64
	where string
	id    any
	err   string
}

const body = `{"id": 1, "text": "one"}

{"id": "two", "text": "two"}
{"id": 3, "text": "three",}
{"id": 4, "text": "bad ` + "\xff" + `"}
[1, 2]
{"id": 6} {"id": 7}
{"id": 8, "text": "last"}`

func TestRecordsAndBadLinesAreNamedByLine(t *testing.T) {
	for _, gz := range []bool{false, true} {
		s, err := Open(write(t, "docs.jsonl", body, gz), 0)
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, s)
		s.Close()
		want := []recordView{
			{1, "docs.jsonl:1", "1", ""},
			{2, "docs.jsonl:3", "two", ""},
			{3, "docs.jsonl:4", nil, "malformed JSON at byte 27"},
			{4, "docs.jsonl:5", nil, "invalid UTF-8 at byte 23"},
			{5, "docs.jsonl:6", nil, "not a JSON object"},
			{6, "docs.jsonl:7", nil, "more than one JSON value"},
			{7, "docs.jsonl:8", "8", ""},
		}
		if len(got) != len(want) {
			t.Fatalf("gzip %v: got %d records %+v, want %d", gz, len(got), got, len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.seq != w.seq || g.where != w.where || (w.err == "" && g.err != "") || !strings.Contains(g.err, w.err) || (w.id != nil && toString(g.id) != w.id) {
				t.Errorf("gzip %v: record %d = %+v, want %+v", gz, i, g, w)
			}
		}
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case interface{ String() string }:
		return x.String()
	}
	return ""
}

func TestOverlongLinesAreBadRecordsNotFatal(t *testing.T) {
	p := write(t, "big.jsonl", `{"id": 1, "text": "`+strings.Repeat("x", 5000)+`"}`+"\n"+`{"id": 2, "text": "ok"}`+"\n", false)
	s, err := Open(p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := readAll(t, s)
	if len(got) != 2 || !strings.Contains(got[0].err, "longer than 1000 bytes") || got[1].err != "" {
		t.Errorf("got %+v", got)
	}
}

// TestTruncatedGzipIsAClearError: a gzip file cut in the middle ends the
// source with an error naming the file, the line and the gzip stream.
func TestTruncatedGzipIsAClearError(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(zw, "{\"id\": %d, \"text\": \"document number %d\"}\n", i, i)
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "cut.jsonl.gz")
	os.WriteFile(p, buf.Bytes()[:buf.Len()/2], 0o644)
	s, err := Open(p, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		_, err := s.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("a truncated gzip file read to a clean end")
		}
		if err != nil {
			if !strings.Contains(err.Error(), "cut.jsonl.gz:") || !strings.Contains(err.Error(), "truncated gzip stream") {
				t.Errorf("error %q does not name the file, line and gzip stream", err)
			}
			return
		}
	}
}

func FuzzNext(f *testing.F) {
	f.Add([]byte(body))
	f.Add([]byte("{\"a\":1}\n\n\n{"))
	f.Add([]byte{0xff, '\n', '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.jsonl")
		os.WriteFile(p, data, 0o644)
		// Bytes that start with the gzip signature are read as gzip, and a
		// broken stream is an error of the file — which must say so.
		gz := bytes.HasPrefix(data, []byte{0x1f, 0x8b})
		checkErr := func(err error) {
			if !gz || !strings.Contains(err.Error(), "f.jsonl") || !strings.Contains(err.Error(), "gzip") {
				t.Fatalf("error %v from %q", err, data)
			}
		}
		s, err := Open(p, 256)
		if err != nil {
			checkErr(err)
			return
		}
		defer s.Close()
		var last int64
		for i := 0; i < 10000; i++ {
			r, err := s.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				checkErr(err)
				return
			}
			if r.Seq != last+1 || (r.Err == nil && r.Fields == nil) || r.Unit == "" {
				t.Fatalf("record %+v after seq %d", r, last)
			}
			last = r.Seq
		}
		t.Fatal("no EOF")
	})
}

func TestProgressIsTheParsedPositionNotTheBytesBufferedAhead(t *testing.T) {
	lines := []string{`{"id": "a", "text": "one"}`, `{"id": "b", "text": "two"}`, `{"id": "c", "text": "three"}`}
	p := filepath.Join(t.TempDir(), "small.jsonl")
	data := strings.Join(lines, "\n") + "\n"
	os.WriteFile(p, []byte(data), 0o644)
	s, err := Open(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := int64(0)
	for i := range lines {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		want += int64(len(lines[i]) + 1)
		if got, total, _ := s.Progress(); got != want || total != int64(len(data)) {
			t.Errorf("after record %d: progress %d of %d, want %d (the whole file is buffered after the first read)", i+1, got, total, want)
		}
	}
}

func TestARecordWithBadBytesStillNamesItsDocument(t *testing.T) {
	p := filepath.Join(t.TempDir(), "docs.jsonl")
	os.WriteFile(p, []byte("{\"id\": \"a\", \"text\": \"bad \xff\"}\n"), 0o644)
	s, err := Open(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Next()
	if err != nil || r.Err == nil || r.Fields["id"] != "a" {
		t.Errorf("record %+v, %v: want an error and the id", r, err)
	}
	if r.Unit != s.Scope() || !filepath.IsAbs(r.Unit) || s.Version() == "" {
		t.Errorf("unit %q, scope %q, version %q", r.Unit, s.Scope(), s.Version())
	}
}
