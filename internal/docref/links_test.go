package docref

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
)

// markdownFiles lists the repository's Markdown files, leaving out what
// is not the repository's own (.deps, build output, data, snippet scratch).
func markdownFiles(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "data" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRelativeLinksResolve: every relative link in every Markdown file of
// the repository points at a file or directory that exists, and a #anchor
// at a heading of the page it names.
func TestRelativeLinksResolve(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	files := markdownFiles(t, root)
	if len(files) < 10 {
		t.Fatalf("found %d Markdown files under %s; the walk is broken", len(files), root)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(p string) (map[string]bool, error) {
		if a, ok := anchors[p]; ok {
			return a, nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		anchors[p] = Anchors(string(data))
		return anchors[p], nil
	}
	links := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		for i, line := range Prose(string(data)) {
			line = codeSpan.ReplaceAllString(line, "")
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(line); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target) {
					continue // http:, https:, mailto:
				}
				links++
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					if strings.HasPrefix(path, "/") {
						dest = filepath.Join(root, path)
					} else {
						dest = filepath.Join(filepath.Dir(file), path)
					}
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s:%d: link %q: no such file or directory", rel, i+1, target)
					continue
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s:%d: link %q: an anchor into a file that is not Markdown", rel, i+1, target)
					continue
				}
				a, err := anchorsOf(dest)
				if err != nil {
					t.Fatal(err)
				}
				if !a[anchor] {
					t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", rel, i+1, target, filepath.Base(dest), anchor)
				}
			}
		}
	}
	if links < 20 {
		t.Errorf("checked only %d relative links; the link pattern is broken", links)
	}
}

func TestSlugIsGitHubs(t *testing.T) {
	for heading, want := range map[string]string{
		"Retrieval quality: `spladeq eval`": "retrieval-quality-spladeq-eval",
		"From Go: package `client`":         "from-go-package-client",
		"Qdrant's inference backend":        "qdrants-inference-backend",
		"spladeq model pull":                "spladeq-model-pull",
		"search.weights_x (1/2)":            "searchweights_x-12",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
	got := Anchors("# A\n```\n# not a heading\n```\n## A\n## B\n")
	for _, want := range []string{"a", "a-1", "b"} {
		if !got[want] {
			t.Errorf("Anchors: no %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("Anchors took a line of a code block for a heading")
	}
}

// TestDevelopmentGuideNamesEveryTargetAndTool: docs/development.md lists
// every target of the Makefile and every program under tools/.
func TestDevelopmentGuideNamesEveryTargetAndTool(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	guide, err := os.ReadFile(filepath.Join(root, "docs", "development.md"))
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`(?m)^([a-z][a-z0-9_-]*):`).FindAllStringSubmatch(string(makefile), -1)
	if len(targets) < 5 {
		t.Fatalf("found %d targets in the Makefile", len(targets))
	}
	for _, m := range targets {
		if !strings.Contains(string(guide), "`make "+m[1]+"`") {
			t.Errorf("docs/development.md does not list `make %s`", m[1])
		}
	}
	var tools []string
	dirs, _ := filepath.Glob(filepath.Join(root, "tools", "*"))
	benches, _ := filepath.Glob(filepath.Join(root, "tools", "bench", "*"))
	for _, p := range append(dirs, benches...) {
		rel, _ := filepath.Rel(root, p)
		if rel == filepath.Join("tools", "bench") {
			continue
		}
		if filepath.Dir(rel) == filepath.Join("tools", "bench") {
			rel = filepath.Base(rel) // listed by name in the tools/bench row
		}
		tools = append(tools, rel)
	}
	for _, name := range tools {
		if !strings.Contains(string(guide), "`"+name+"`") {
			t.Errorf("docs/development.md does not name %s", name)
		}
	}
}

// TestEveryFuzzTargetRunsAndIsListed: every Fuzz function in the
// repository is in the Makefile's FUZZ_TARGETS (so make fuzz runs it), and
// RELIABILITY.md names each one.
func TestEveryFuzzTargetRunsAndIsListed(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	makefile, _ := os.ReadFile(filepath.Join(root, "Makefile"))
	reliability, _ := os.ReadFile(filepath.Join(root, "RELIABILITY.md"))
	m := regexp.MustCompile(`(?s)FUZZ_TARGETS :=(.*?)\n\S`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile has no FUZZ_TARGETS")
	}
	targets := string(m[1])
	found := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`).FindAllSubmatch(data, -1) {
			name := string(f[1])
			found++
			if !strings.Contains(targets, name+":") {
				t.Errorf("%s (%s) is not in the Makefile's FUZZ_TARGETS", name, p)
			}
			if !strings.Contains(string(reliability), "`"+name+"`") {
				t.Errorf("RELIABILITY.md does not name %s", name)
			}
		}
		return nil
	})
	if found < 5 {
		t.Fatalf("found %d fuzz targets; the walk is broken", found)
	}
}

// userPages are the pages a user reads: the README, the guides and the
// design notes (not the generated references, nor the superseded history).
func userPages(t *testing.T, root string) []string {
	pages := []string{filepath.Join(root, "README.md")}
	for _, pattern := range []string{"docs/*.md", "docs/design/*.md"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, p := range m {
			if filepath.Base(p) != "benchmarks-history.md" {
				pages = append(pages, p)
			}
		}
	}
	if len(pages) < 10 {
		t.Fatalf("found %d pages", len(pages))
	}
	return pages
}

// referenceNames returns the names a generated reference lists in the
// first column of its tables, matched by re.
func referenceNames(t *testing.T, path string, re *regexp.Regexp) map[string]bool {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		names[m[1]] = true
	}
	if len(names) < 10 {
		t.Fatalf("%s: found %d names; the pattern is broken", path, len(names))
	}
	return names
}

var (
	configKeyRef  = regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[A-Za-z0-9_.]+)`")
	configKeyDoc  = regexp.MustCompile("`((?:qdrant|models|vectorizers|collection|search|server|ingest|log)\\.[A-Za-z0-9_]+(?:\\.[A-Za-z0-9_]+)*)")
	vectorizerKey = regexp.MustCompile(`^vectorizers\.[A-Za-z_]+\.`)
	flagRef       = regexp.MustCompile("(?m)^\\| `(--[a-z0-9-]+)")
	flagDoc       = regexp.MustCompile("`(?:(?:bin/)?spladeq [^`]*?)?(--[a-z][a-z0-9-]*)")
)

// TestDocsNameRealKeysAndFlags: every configuration key a page names in
// code (`server.max_texts`, `vectorizers.sparse.model`) is a key of the
// configuration reference, and every spladeq flag named in prose is a
// flag of the CLI reference — so a key or flag renamed in the code fails
// make test until the guides follow.
func TestDocsNameRealKeysAndFlags(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	keys := referenceNames(t, filepath.Join(root, "docs", "reference", "config.md"), configKeyRef)
	flags := referenceNames(t, filepath.Join(root, "docs", "reference", "cli.md"), flagRef)
	flags["--help"] = true
	for _, page := range userPages(t, root) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		for i, line := range Prose(string(data)) {
			for _, m := range configKeyDoc.FindAllStringSubmatch(line, -1) {
				key := vectorizerKey.ReplaceAllString(m[1], "vectorizers.NAME.")
				if keys[key] || isSection(keys, key) {
					continue
				}
				t.Errorf("%s:%d: %s is no configuration key (docs/reference/config.md)", rel, i+1, m[1])
			}
			for _, m := range flagDoc.FindAllStringSubmatch(line, -1) {
				if !flags[m[1]] {
					t.Errorf("%s:%d: %s is no flag of spladeq (docs/reference/cli.md)", rel, i+1, m[1])
				}
			}
		}
	}
}

// isSection reports whether key names a group of keys (`ingest.source`,
// `search.weights`, `vectorizers.NAME`) rather than one.
func isSection(keys map[string]bool, key string) bool {
	for k := range keys {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}
