package jsonl

import (
	"bytes"
	"compress/gzip"
	"errors"
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

func FuzzNext(f *testing.F) {
	f.Add([]byte(body))
	f.Add([]byte("{\"a\":1}\n\n\n{"))
	f.Add([]byte{0xff, '\n', '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.jsonl")
		os.WriteFile(p, data, 0o644)
		s, err := Open(p, 256)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var last int64
		for i := 0; i < 10000; i++ {
			r, err := s.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("a read error from a byte string: %v", err)
			}
			if r.Seq != last+1 || (r.Err == nil) == (r.Fields == nil) {
				t.Fatalf("record %+v after seq %d", r, last)
			}
			last = r.Seq
		}
		t.Fatal("no EOF")
	})
}
