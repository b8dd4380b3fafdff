package files

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWalkGlobsAndHTML(t *testing.T) {
	root := t.TempDir()
	for p, body := range map[string]string{
		"a.txt":             "plain text",
		"guide/intro.md":    "# Getting started\nSome words.",
		"guide/deep/x.html": "<html><head><title>Page</title><style>p{}</style></head><body><p>Hello <b>there</b></p><script>var x</script><p>Bye</p></body></html>",
		"skip/b.txt":        "excluded",
		"c.pdf":             "not included",
		"bad.txt":           "bad \xff bytes",
	} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(body), 0o644)
	}
	s, err := Open(root, nil, []string{"skip/**"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	var bad []string
	var order []string
	for {
		r, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, r.Where)
		if r.Err != nil {
			bad = append(bad, r.Where)
			continue
		}
		got[r.Fields["id"].(string)] = r.Fields
	}
	if want := []string{"a.txt", "bad.txt", "guide/deep/x.html", "guide/intro.md"}; len(order) != len(want) || order[2] != want[2] {
		t.Errorf("order %v, want %v", order, want)
	}
	if len(bad) != 1 || bad[0] != "bad.txt" {
		t.Errorf("bad records %v, want bad.txt", bad)
	}
	if h := got["guide/deep/x.html"]; h["text"] != "Hello there\n\nBye" || h["title"] != "Page" {
		t.Errorf("html = %q / %q", h["text"], h["title"])
	}
	if got["guide/intro.md"]["title"] != "Getting started" {
		t.Errorf("markdown title = %q", got["guide/intro.md"]["title"])
	}
	if _, ok := got["skip/b.txt"]; ok {
		t.Error("excluded file was read")
	}
	if done, total, unit := s.Progress(); done != 4 || total != 4 || unit != "files" {
		t.Errorf("progress %d/%d %s", done, total, unit)
	}
}
