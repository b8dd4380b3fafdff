package csv

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCSV reads any bytes as a CSV file: records are numbered in order,
// each with fields or an error, and reading ends.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("id,text\n1,\"a, b\"\n2,\"multi\nline\"\n3,bad\"quote\n"))
	f.Add([]byte("\ufeffid\n\xff\n"))
	f.Add([]byte("a,a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.csv")
		os.WriteFile(p, data, 0o644)
		s, err := Open(p, ',')
		if err != nil {
			return
		}
		defer s.Close()
		var last int64
		for i := 0; i < 100000; i++ {
			r, err := s.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				return // an I/O error ends the source
			}
			if r.Seq != last+1 || (r.Err == nil && r.Fields == nil) || r.Unit == "" {
				t.Fatalf("record %+v after %d", r, last)
			}
			last = r.Seq
		}
		t.Fatal("no end")
	})
}
