// Package files reads a directory tree of text, Markdown and HTML files as
// records: id is the slash-separated path relative to the root, text the
// file's text (HTML reduced to its visible text), title the HTML <title> or
// the first Markdown heading. Files ending in .gz are decompressed. Files
// are visited in lexical path order, so a resumed job sees the same order.
package files

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"

	"golang.org/x/net/html"

	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/internal/text"
)

// DefaultInclude are the globs read when none are given.
var DefaultInclude = []string{"**/*.txt", "**/*.md", "**/*.html", "**/*.htm"}

// Source reads a directory tree. Each file is a unit: its key is the
// file's absolute path, its token the size and modification time listed
// when the source was opened.
type Source struct {
	root    string
	abs     string   // the root's unit key, with a trailing slash
	paths   []string // relative, slash-separated, sorted
	tokens  []string // paths' change tokens
	next    int
	maxSize int64
	done    atomic.Int64

	check     source.UnitCheck
	unchanged []bool // check's answers for paths[checked-len(unchanged):checked]
	checked   int    // paths up to here have been checked
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Skipper   = (*Source)(nil)
	_ source.Scoper    = (*Source)(nil)
	_ source.Versioned = (*Source)(nil)
)

// Open lists the files under root matching include (default
// DefaultInclude) and none of exclude; maxSize bounds a file (bigger ones
// are bad records).
func Open(root string, include, exclude []string, maxSize int64) (*Source, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	match, err := Matcher(include, exclude)
	if err != nil {
		return nil, err
	}
	s := &Source{root: root, abs: strings.TrimSuffix(source.AbsKey(root), "/") + "/", maxSize: maxSize}
	// The trailing separator makes WalkDir follow a root that is a
	// symbolic link to a directory (it would list the link alone).
	err = filepath.WalkDir(strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if match(rel) {
			st, err := d.Info()
			if err != nil {
				return err
			}
			s.paths = append(s.paths, rel)
			s.tokens = append(s.tokens, source.Token(st))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	return s, nil
}

// Matcher returns a test of a slash-separated relative path: it matches
// one of include (default DefaultInclude) and none of exclude. Globs: **
// spans directories ("**/" also matches no directory), * and ? stay within
// one path segment.
func Matcher(include, exclude []string) (func(rel string) bool, error) {
	if len(include) == 0 {
		include = DefaultInclude
	}
	inc, err := compileGlobs(include)
	if err != nil {
		return nil, err
	}
	exc, err := compileGlobs(exclude)
	if err != nil {
		return nil, err
	}
	return func(rel string) bool { return matchAny(inc, rel) && !matchAny(exc, rel) }, nil
}

// compileGlobs turns globs into regexps: ** spans directories ("**/" also
// matches no directory), * and ? stay within one path segment.
func compileGlobs(globs []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(globs))
	for _, g := range globs {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; i < len(g); i++ {
			switch c := g[i]; {
			case strings.HasPrefix(g[i:], "**/"):
				b.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(g[i:], "**"):
				b.WriteString(".*")
				i++
			case c == '*':
				b.WriteString("[^/]*")
			case c == '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchAny(res []*regexp.Regexp, p string) bool {
	for _, re := range res {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

// SkipUnchanged makes Next ask check about files before reading them and
// skip those it reports unchanged.
func (s *Source) SkipUnchanged(check source.UnitCheck) { s.check = check }

// Scope is the root's absolute path with a trailing slash.
func (s *Source) Scope() string { return s.abs }

// Version is a digest of the listing: every file's path, size and
// modification time.
func (s *Source) Version() string {
	h := sha256.New()
	for i, p := range s.paths {
		fmt.Fprintf(h, "%s\x00%s\x00", p, s.tokens[i])
	}
	return fmt.Sprintf("%d files, sha256:%x", len(s.paths), h.Sum(nil)[:12])
}

// Next returns the next file, or a record marking it unchanged.
func (s *Source) Next() (source.Record, error) {
	if s.next >= len(s.paths) {
		return source.Record{}, io.EOF
	}
	if s.check != nil && s.next >= s.checked {
		end := min(s.next+source.MaxCheckBatch, len(s.paths))
		units := make([]source.Unit, 0, end-s.next)
		for i := s.next; i < end; i++ {
			units = append(units, source.Unit{Key: s.abs + s.paths[i], Token: s.tokens[i]})
		}
		unchanged, err := s.check(units)
		if err != nil {
			return source.Record{}, err
		}
		if len(unchanged) != len(units) {
			return source.Record{}, fmt.Errorf("unit check answered %d of %d files", len(unchanged), len(units))
		}
		s.unchanged, s.checked = unchanged, end
	}
	i := s.next
	rel := s.paths[i]
	s.next++
	defer s.done.Add(1)
	rec := source.Record{Seq: int64(s.next), Where: rel, Raw: rel, Unit: s.abs + rel, Token: s.tokens[i]}
	if s.check != nil && s.unchanged[i-(s.checked-len(s.unchanged))] {
		rec.Raw, rec.Unchanged = "", true
		return rec, nil
	}
	full := filepath.Join(s.root, filepath.FromSlash(rel))
	f, err := source.OpenFile(full)
	if err != nil {
		rec.Err = err
		return rec, nil
	}
	defer f.Close()
	limit := s.maxSize
	if limit <= 0 {
		limit = 64 << 20
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		rec.Err = fmt.Errorf("read: %w", err)
		return rec, nil
	}
	if int64(len(data)) > limit {
		rec.Err = fmt.Errorf("file is over %d bytes", limit)
		return rec, nil
	}
	rec.Fields, rec.Err = Document(rel, data)
	return rec, nil
}

// Document turns a file's contents (decompressed) into a record's fields:
// id and path are name, text the text (HTML reduced to its visible text),
// title the HTML <title> or the first Markdown heading. The type comes from
// name's extension (.gz ignored): .html and .htm are HTML, .md Markdown,
// anything else plain text. Text that is not UTF-8 is an error; the
// fields then still hold id and path, which name the document: sync keeps
// its stored version.
func Document(name string, data []byte) (map[string]any, error) {
	if bad := text.FirstInvalidUTF8(data); bad >= 0 {
		return map[string]any{"id": name, "path": name}, fmt.Errorf("not valid UTF-8 text (at byte %d)", bad)
	}
	ext := strings.TrimSuffix(strings.ToLower(name), ".gz")
	body, title := string(data), ""
	switch {
	case strings.HasSuffix(ext, ".html") || strings.HasSuffix(ext, ".htm"):
		body, title = htmlText(body)
	case strings.HasSuffix(ext, ".md"):
		title = markdownTitle(body)
	}
	return map[string]any{"id": name, "text": body, "title": title, "path": name}, nil
}

// htmlText returns the visible text of an HTML document, blocks separated
// by newlines, and its title.
func htmlText(doc string) (string, string) {
	z := html.NewTokenizer(strings.NewReader(doc))
	var b strings.Builder
	var title string
	skip := 0 // inside script, style, noscript or template
	inTitle := false
	block := map[string]bool{"p": true, "div": true, "br": true, "li": true, "h1": true, "h2": true, "h3": true, "h4": true,
		"h5": true, "h6": true, "tr": true, "section": true, "article": true, "header": true, "footer": true, "pre": true, "blockquote": true}
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.TrimSpace(collapse(b.String())), strings.TrimSpace(title)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch n := string(name); {
			case n == "script" || n == "style" || n == "noscript" || n == "template":
				skip++
			case n == "title":
				inTitle = true
			case block[n]:
				b.WriteString("\n")
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch n := string(name); {
			case n == "script" || n == "style" || n == "noscript" || n == "template":
				skip = max(skip-1, 0)
			case n == "title":
				inTitle = false
			case block[n]:
				b.WriteString("\n")
			}
		case html.TextToken:
			t := string(z.Text())
			switch {
			case inTitle:
				title += t
			case skip == 0:
				b.WriteString(t)
			}
		}
	}
}

var spaces = regexp.MustCompile(`[ \t\r\f\v]+`)
var blankLines = regexp.MustCompile(`\n\s*\n+`)

func collapse(s string) string {
	return blankLines.ReplaceAllString(spaces.ReplaceAllString(s, " "), "\n\n")
}

func markdownTitle(doc string) string {
	for _, line := range strings.SplitN(doc, "\n", 50) {
		if t, ok := strings.CutPrefix(strings.TrimSpace(line), "# "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// Progress reports files read and the number of files.
func (s *Source) Progress() (int64, int64, string) {
	return s.done.Load(), int64(len(s.paths)), "files"
}

// Close does nothing: files are closed as they are read.
func (s *Source) Close() error { return nil }
