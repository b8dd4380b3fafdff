package files

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/connectors/source"
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

func TestUnchangedFilesAreSkippedWithoutBeingRead(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < source.MaxCheckBatch+3; i++ {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("f%03d.txt", i)), []byte(fmt.Sprintf("file %d", i)), 0o644)
	}
	read := func(s *Source) (seqs []int64, stubs, texts int) {
		for {
			r, err := s.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, r.Seq)
			if !strings.HasPrefix(r.Unit, s.Scope()) || !strings.HasSuffix(r.Unit, "/"+r.Where) || r.Token == "" {
				t.Errorf("record %s: unit %q token %q, scope %q", r.Where, r.Unit, r.Token, s.Scope())
			}
			switch {
			case r.Unchanged && (r.Fields != nil || r.Err != nil):
				t.Errorf("%s: an unchanged record carries fields %v, error %v", r.Where, r.Fields, r.Err)
			case r.Unchanged:
				stubs++
			default:
				texts++
			}
		}
	}
	plain, err := Open(root, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs, _, _ := read(plain)

	s, _ := Open(root, nil, nil, 0)
	// Every file whose name ends in an even digit is "unchanged"; a file
	// removed after the listing shows it is never opened.
	os.Remove(filepath.Join(root, "f000.txt"))
	var calls []int
	s.SkipUnchanged(func(units []source.Unit) ([]bool, error) {
		calls = append(calls, len(units))
		out := make([]bool, len(units))
		for i, u := range units {
			d := u.Key[len(u.Key)-5]
			out[i] = (d-'0')%2 == 0
		}
		return out, nil
	})
	seqs, stubs, texts := read(s)
	if fmt.Sprint(seqs) != fmt.Sprint(wantSeqs) {
		t.Errorf("seqs with skipping %v, without %v: must not depend on the check", seqs, wantSeqs)
	}
	if len(calls) != 2 || calls[0] != source.MaxCheckBatch || calls[1] != 3 {
		t.Errorf("check called with %v units, want [%d 3]", calls, source.MaxCheckBatch)
	}
	if want := (source.MaxCheckBatch + 3 + 1) / 2; stubs != want || texts != source.MaxCheckBatch+3-want {
		t.Errorf("%d skipped, %d read; want %d skipped", stubs, texts, want)
	}
}

func TestVersionFollowsTheListing(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("one"), 0o644)
	version := func() string {
		s, err := Open(root, nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return s.Version()
	}
	v1 := version()
	if v := version(); v != v1 {
		t.Errorf("version %q then %q of the same tree", v1, v)
	}
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("one, longer"), 0o644)
	v2 := version()
	os.WriteFile(filepath.Join(root, "b.txt"), []byte("two"), 0o644)
	v3 := version()
	if v1 == v2 || v2 == v3 {
		t.Errorf("versions %q, %q, %q: an edit and a new file must change it", v1, v2, v3)
	}
}

func TestANonUTF8FileStillNamesItsDocument(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "bad.txt"), []byte("bad \xff"), 0o644)
	s, _ := Open(root, nil, nil, 0)
	r, err := s.Next()
	if err != nil || r.Err == nil || r.Fields["id"] != "bad.txt" {
		t.Errorf("record %+v, %v: want an error and the id", r, err)
	}
}

// TestARootThatIsALinkIsFollowed: a source path that is a symbolic link
// to a directory lists the directory's files, not the link alone (which
// read nothing and reported success).
func TestARootThatIsALinkIsFollowed(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "real", "a.md"), []byte("# A\ntext"), 0o644)
	os.WriteFile(filepath.Join(dir, "real", "sub", "b.txt"), []byte("more text"), 0o644)
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{filepath.Join(dir, "link"), filepath.Join(dir, "link") + "/"} {
		s, err := Open(root, nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for {
			rec, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, fmt.Sprint(rec.Fields["id"]))
		}
		if got := strings.Join(ids, " "); got != "a.md sub/b.txt" {
			t.Errorf("Open(%q) read %q, want a.md sub/b.txt", root, got)
		}
	}
}
