// Package realtext gives tests real text written by people outside this
// project, read from the machine: Go standard library doc comments
// (English) and manual pages (many languages). The texts come in a fixed
// order, so a test sees the same ones on every run of one machine.
package realtext

import (
	"bytes"
	"compress/gzip"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// GoDocComments returns up to n doc comments of the Go standard library
// (real English prose written by the Go authors), in a fixed order:
// packages in the order listed, comments in file order.
func GoDocComments(n int) []string {
	root := filepath.Join(runtime.GOROOT(), "src")
	pkgs := []string{"strings", "bytes", "fmt", "io", "os", "bufio", "sort", "strconv", "time", "context",
		"sync", "net/http", "net", "encoding/json", "regexp", "math", "path/filepath", "reflect",
		"text/template", "database/sql", "crypto/tls", "flag", "log/slog", "archive/tar", "compress/gzip",
		"go/ast", "unicode/utf8", "image", "os/exec", "runtime", "testing", "errors", "html/template"}
	seen := map[string]bool{}
	var out []string
	for _, p := range pkgs {
		files, err := filepath.Glob(filepath.Join(root, p, "*.go"))
		if err != nil || len(files) == 0 {
			continue
		}
		sort.Strings(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ParseComments)
			if err != nil {
				continue
			}
			for _, cg := range af.Comments {
				text := strings.TrimSpace(cg.Text())
				if len(text) < 60 || seen[text] || strings.HasPrefix(text, "Copyright") || strings.HasPrefix(text, "go:") {
					continue
				}
				seen[text] = true
				out = append(out, text)
				if len(out) == n {
					return out
				}
			}
		}
	}
	return out
}

// ManParagraphs returns up to n paragraphs of the manual pages under
// /usr/share/man/<dir> (real text, in that directory's language where the
// page is translated, written by the authors and translators), rendered
// to plain UTF-8 by groff, in a fixed order. None when groff is absent.
func ManParagraphs(dir string, n int) []string {
	groff, err := exec.LookPath("groff")
	if err != nil {
		return nil
	}
	var files []string
	for _, sec := range []string{"man1", "man5", "man8", "man7", "man3"} {
		fs, _ := filepath.Glob(filepath.Join("/usr/share/man", dir, sec, "*.gz"))
		sort.Strings(fs)
		files = append(files, fs...)
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			continue
		}
		src, err := io.ReadAll(zr)
		if err != nil {
			continue
		}
		cmd := exec.Command(groff, "-k", "-man", "-Tutf8", "-P-cbou", "-rLL=2000n")
		cmd.Stdin = bytes.NewReader(src)
		page, err := cmd.Output()
		if err != nil {
			continue
		}
		lines := strings.Split(string(page), "\n")
		var para []string
		flush := func() {
			text := strings.Join(para, " ")
			para = para[:0]
			if len(text) >= 80 && !seen[text] && len(out) < n {
				seen[text] = true
				out = append(out, text)
			}
		}
		for i, line := range lines {
			line = strings.TrimSpace(line)
			if i == 0 || line == "" || i >= len(lines)-3 {
				flush()
				continue
			}
			para = append(para, line)
		}
		flush()
		if len(out) >= n {
			break
		}
	}
	return out
}

// GettextMessages returns up to n translated messages of at least 40
// bytes from the gettext catalogues under /usr/share/locale/<lang>/
// LC_MESSAGES (real text, written by each program's translators), in a
// fixed order. AppStream's catalogue is left out.
func GettextMessages(lang string, n int) []string {
	files, _ := filepath.Glob(filepath.Join("/usr/share/locale", lang, "LC_MESSAGES", "*.mo"))
	sort.Strings(files)
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "appstream") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, msg := range moStrings(b) {
			msg = strings.TrimSpace(msg)
			if len(msg) < 40 || seen[msg] {
				continue
			}
			seen[msg] = true
			out = append(out, msg)
			if len(out) == n {
				return out
			}
		}
	}
	return out
}

// moStrings reads the translations of a GNU .mo file (the first form of
// a plural), skipping the header entry; nil when b is not one.
func moStrings(b []byte) []string {
	if len(b) < 28 {
		return nil
	}
	var u32 func([]byte) uint32
	switch {
	case b[0] == 0xde && b[1] == 0x12 && b[2] == 0x04 && b[3] == 0x95:
		u32 = func(p []byte) uint32 { return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24 }
	case b[0] == 0x95 && b[1] == 0x04 && b[2] == 0x12 && b[3] == 0xde:
		u32 = func(p []byte) uint32 { return uint32(p[3]) | uint32(p[2])<<8 | uint32(p[1])<<16 | uint32(p[0])<<24 }
	default:
		return nil
	}
	count, trans := int(u32(b[8:])), int(u32(b[16:]))
	var out []string
	for i := 0; i < count; i++ {
		e := trans + 8*i
		if e+8 > len(b) {
			break
		}
		l, off := int(u32(b[e:])), int(u32(b[e+4:]))
		if off+l > len(b) || l == 0 {
			continue
		}
		s := string(b[off : off+l])
		if strings.Contains(s, "Content-Type:") {
			continue
		}
		s, _, _ = strings.Cut(s, "\x00")
		out = append(out, s)
	}
	return out
}
