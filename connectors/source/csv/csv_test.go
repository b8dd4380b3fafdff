package csv

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRowsQuotingAndBadRows(t *testing.T) {
	p := filepath.Join(t.TempDir(), "docs.csv")
	body := "\ufeffid,text,year\n" +
		"1,\"hello, world\",2020\n" +
		"2,\"multi\nline\",2021\n" +
		"3,too,many,fields\n" +
		"4,\"bad \"quote\",2022\n" +
		"5,fine,2023\n"
	os.WriteFile(p, []byte(body), 0o644)
	s, err := Open(p, ',')
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for {
		r, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil {
			got = append(got, r.Where+" ERR "+r.Err.Error())
		} else {
			got = append(got, r.Where+" "+r.Fields["id"].(string)+"|"+r.Fields["text"].(string))
		}
	}
	want := []string{
		"docs.csv:row 1 (line 2) 1|hello, world",
		"docs.csv:row 2 (line 3) 2|multi\nline",
		"docs.csv:row 3 (line 5) ERR has 4 fields, the header has 3",
		"docs.csv:row 4 (line 6) ERR malformed CSV at line 6",
		"docs.csv:row 5 (line 7) 5|fine",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("row %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestHeaderProblemsAreFatal(t *testing.T) {
	for body, want := range map[string]string{"": "empty file", "id,,text\n": "column 2 is empty", "id,id\n": "repeated"} {
		p := filepath.Join(t.TempDir(), "h.csv")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := Open(p, ','); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("header %q: got %v, want %q", body, err, want)
		}
	}
}
