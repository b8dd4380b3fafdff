package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/internal/docref"
	"github.com/spladeq/spladeq/internal/qdranttest"
)

// The user documentation's code blocks run here as they stand, page by
// page, from a copy of the checkout's top level (links to it, with the
// test's own bin/spladeq and an empty ./data), in the order a reader meets
// them:
//
//   - sh: run with bash. `make run` runs what it runs (bin/spladeq demo);
//     `bin/spladeq serve` and `bin/spladeq mcp --listen` start in the
//     background (as in a second terminal) and stop at the end of the page.
//     The well-known ports (8080, 8081, 8090, 6333, 6334) become free ones.
//   - text after a run block: that block's output, where "..." stands for
//     anything.
//   - python: run with the test venv's Python; a following text block is
//     its output.
//   - yaml: loaded as a spladeq configuration.
//   - json: parsed.
//   - a block marked <!-- file: NAME --> is written to NAME first (a job
//     file, a CSV the next command reads).
//   - a block marked <!-- snippet: ID --> is run by the test snippetTests
//     names.
//   - a block marked <!-- not run: REASON --> is not run (Docker,
//     Kubernetes, the internet); its make targets, files and pinned
//     qdrant-client version are still checked.

// docPages are the pages the harness runs: the README and the guides (not
// the generated references, nor the superseded benchmark history).
func docPages(t *testing.T) []string {
	pages := []string{"README.md"}
	for _, pattern := range []string{"docs/*.md", "docs/design/*.md"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(repoRoot, p)
			if rel != "docs/benchmarks-history.md" {
				pages = append(pages, rel)
			}
		}
	}
	sort.Strings(pages)
	return pages
}

// snippetTests names, for each snippet id, the test that runs it (the
// langchaingo one is in that module).
var snippetTests = map[string]string{
	"qdrant-python":        "integration/TestQdrantClientSnippetsRun",
	"qdrant-python-output": "integration/TestQdrantClientSnippetsRun",
	"qdrant-go":            "integration/TestQdrantClientSnippetsRun",
	"langchaingo-program":  "integrations/langchaingo/TestGoGuideLangchaingoProgramRuns",
	"default-query-rest":   "integration/TestDefaultRankingFromQdrantClients",
	"default-query-python": "integration/TestDefaultRankingFromQdrantClients",
	"default-query-go":     "integration/TestDefaultRankingFromQdrantClients",
}

// docBlock returns the body of the first block of lang under the heading
// (its text, "## " and all) in page.
func docBlock(t *testing.T, page, heading, lang string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(strings.TrimLeft(heading, "#"))
	for _, b := range docref.Blocks(string(data)) {
		if b.Heading == want && b.Lang == lang {
			return b.Body
		}
	}
	t.Fatalf("%s has no %s block under %q", page, lang, heading)
	return ""
}

// docSnippet returns the body of the block of page marked
// <!-- snippet: id -->.
func docSnippet(t *testing.T, page, id string) string {
	t.Helper()
	if snippetTests[id] == "" {
		t.Fatalf("snippet %q is not in snippetTests", id)
	}
	b, err := docref.Snippet(filepath.Join(repoRoot, page), id)
	if err != nil {
		t.Fatal(err)
	}
	return b.Body
}

// TestSnippetTestsExist: every test snippetTests names exists, so a
// marked snippet cannot be claimed by a test that is gone.
func TestSnippetTestsExist(t *testing.T) {
	for id, test := range snippetTests {
		dir, name := filepath.Split(test)
		files, _ := filepath.Glob(filepath.Join(repoRoot, dir, "*_test.go"))
		found := false
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if bytes.Contains(data, []byte("func "+name+"(")) && bytes.Contains(data, []byte(`"`+id+`"`)) {
				found = true
			}
		}
		if !found {
			t.Errorf("snippet %s: no %s in %s that asks for %q", id, name, dir, id)
		}
	}
}

// TestDocsCommandsRun runs every page's blocks (see the top of this file).
func TestDocsCommandsRun(t *testing.T) {
	realModelAbs(t, "splade-mini")
	realModelAbs(t, "minilm-l6")
	bin := spladeqBinary(t)
	targets := makeTargets(t)
	for _, page := range docPages(t) {
		t.Run(page, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(repoRoot, page))
			if err != nil {
				t.Fatal(err)
			}
			blocks := docref.Blocks(string(data))
			if !needsSandbox(blocks) {
				checkBlocks(t, page, blocks, targets, nil)
				return
			}
			t.Parallel()
			checkBlocks(t, page, blocks, targets, newSandbox(t, bin))
		})
	}
}

// needsSandbox reports whether a page has a block the harness runs or
// loads.
func needsSandbox(blocks []docref.Block) bool {
	for _, b := range blocks {
		if _, skip := b.Marks["not run"]; !skip && b.Marks["snippet"] == "" && b.Lang != "json" {
			return true
		}
	}
	return false
}

// sandbox is a page's working directory: links to the checkout's top
// level, its own bin/spladeq, data and free ports.
type sandbox struct {
	dir     string
	ports   map[string]string // well-known port → free port
	servers []*server
}

// server is a process a page started in the background.
type server struct {
	cmd    *exec.Cmd
	exited chan error
	logs   *bytes.Buffer
}

// baseData is ./data as `make run` leaves it (the collection sample),
// made once: every page's sandbox starts from a copy, as a reader starts
// from the README's set-up.
var (
	baseOnce sync.Once
	baseDir  string
	baseErr  error
)

func baseData(t *testing.T, bin string) string {
	baseOnce.Do(func() {
		baseDir, baseErr = os.MkdirTemp("", "spladeq-docs-base")
		if baseErr != nil {
			return
		}
		sb := &sandbox{dir: baseDir}
		if baseErr = sb.link(bin); baseErr != nil {
			return
		}
		cmd := exec.Command("bin/spladeq", "demo")
		cmd.Dir, cmd.Env = baseDir, sb.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			baseErr = fmt.Errorf("bin/spladeq demo (what make run runs): %v\n%s", err, out)
		}
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	return filepath.Join(baseDir, "data")
}

// link fills dir with links to the checkout's top level and bin/spladeq.
func (s *sandbox) link(bin string) error {
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case ".git", "bin", "data", ".snippet":
			continue
		}
		if err := os.Symlink(filepath.Join(repoRoot, e.Name()), filepath.Join(s.dir, e.Name())); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "bin"), 0o755); err != nil {
		return err
	}
	return os.Symlink(bin, filepath.Join(s.dir, "bin", "spladeq"))
}

func newSandbox(t *testing.T, bin string) *sandbox {
	dir := t.TempDir()
	s := &sandbox{dir: dir, ports: map[string]string{}}
	if err := s.link(bin); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", baseData(t, bin), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("copy the base data: %v\n%s", err, out)
	}
	for _, p := range []string{"8080", "8081", "8090", "6333", "6334"} {
		_, port, _ := net.SplitHostPort(freePort(t))
		s.ports[p] = port
	}
	t.Cleanup(s.stop)
	return s
}

var portRE = regexp.MustCompile(`\b(localhost|127\.0\.0\.1|0\.0\.0\.0|)(:)(8080|8081|8090|6333|6334)\b`)

// rewrite puts the sandbox's free ports in place of the well-known ones.
func (s *sandbox) rewrite(text string) string {
	return portRE.ReplaceAllStringFunc(text, func(m string) string {
		g := portRE.FindStringSubmatch(m)
		return g[1] + g[2] + s.ports[g[3]]
	})
}

func (s *sandbox) env() []string {
	if s.ports == nil {
		s.ports = map[string]string{"8080": "8080"}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix+"_") {
			env = append(env, kv)
		}
	}
	return append(env, config.EnvVar("server.listen")+"=127.0.0.1:"+s.ports["8080"])
}

func (s *sandbox) stop() {
	for _, sv := range s.servers {
		syscall.Kill(-sv.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-sv.exited:
		case <-time.After(30 * time.Second):
			syscall.Kill(-sv.cmd.Process.Pid, syscall.SIGKILL)
			<-sv.exited
		}
	}
	s.servers = nil
}

// serverLine matches the commands that keep running: a server a reader
// starts in a terminal of its own. qdrantLine is Qdrant's binary, which
// the harness runs as the newest release the tests have.
var (
	serverLine = regexp.MustCompile(`^([A-Z_]+=\S+\s+)*bin/spladeq (serve\b|mcp\b.*--listen)`)
	qdrantLine = regexp.MustCompile(`^(([A-Z_0-9]+=\S+\s+)*)\./qdrant\s*&?$`)
)

// run runs an sh block and returns its standard output and error; when
// mayFail is false, a command that fails fails the test.
func (s *sandbox) run(t *testing.T, where, body string, mayFail bool) (string, string) {
	t.Helper()
	var out, errOut strings.Builder
	var script []string
	flush := func() {
		if len(script) == 0 {
			return
		}
		// Each block starts in the checkout, as the pages say, with the
		// variables earlier blocks exported, as in one terminal.
		env := filepath.Join(s.dir, ".docs-env")
		src := "set -eo pipefail\n[ -f " + env + " ] && . " + env + "\n" + strings.Join(script, "\n") + "\nexport -p > " + env + "\n"
		script = nil
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", s.rewrite(src))
		cmd.Dir, cmd.Env = s.dir, s.env()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil && !mayFail {
			t.Fatalf("%s: %v\n%s\nstdout:\n%s\nstderr:\n%s", where, err, src, stdout.String(), stderr.String())
		}
		out.WriteString(stdout.String())
		errOut.WriteString(stderr.String())
	}
	for _, line := range logicalLines(body) {
		trimmed := strings.TrimSpace(line)
		switch {
		case serverLine.MatchString(trimmed):
			flush()
			s.startServer(t, where, trimmed)
		case qdrantLine.MatchString(trimmed):
			flush()
			s.startQdrant(t, where, trimmed)
		case trimmed == "make run" || strings.HasPrefix(trimmed, "make run "):
			script = append(script, "bin/spladeq demo")
		case strings.HasPrefix(trimmed, "make "):
			t.Fatalf("%s: %q: the harness runs no make target but `make run`; mark the block <!-- not run: why -->", where, trimmed)
		default:
			script = append(script, line)
		}
	}
	flush()
	return out.String(), errOut.String()
}

// startQdrant runs a `./qdrant` line with the newest Qdrant binary the
// tests have, on the page's ports and with storage in the sandbox; the
// line's own QDRANT__* settings come on top.
func (s *sandbox) startQdrant(t *testing.T, where, line string) {
	t.Helper()
	bin := qdranttest.Need(t, qdranttest.Newest())
	dir := filepath.Join(s.dir, ".qdrant")
	os.MkdirAll(dir, 0o755)
	env := append(s.env(), "QDRANT__SERVICE__HOST=127.0.0.1",
		"QDRANT__SERVICE__HTTP_PORT="+s.ports["6333"], "QDRANT__SERVICE__GRPC_PORT="+s.ports["6334"],
		"QDRANT__STORAGE__STORAGE_PATH="+filepath.Join(dir, "storage"), "QDRANT__STORAGE__SNAPSHOTS_PATH="+filepath.Join(dir, "snapshots"),
		"QDRANT__TELEMETRY_DISABLED=true", "QDRANT__LOG_LEVEL=WARN")
	assignments := strings.TrimSpace(qdrantLine.FindStringSubmatch(line)[1])
	s.launch(t, where, s.rewrite(assignments)+" "+bin, dir, env, "http://127.0.0.1:"+s.ports["6333"]+"/readyz")
}

// startServer starts a spladeq server line and waits until it answers.
func (s *sandbox) startServer(t *testing.T, where, line string) {
	t.Helper()
	line = s.rewrite(strings.TrimSuffix(strings.TrimSpace(line), "&"))
	if strings.Contains(line, " mcp") {
		_, port, _ := strings.Cut(regexp.MustCompile(`--listen\s+(\S+)`).FindStringSubmatch(line)[1], ":")
		s.launch(t, where, line, s.dir, s.env(), "tcp:127.0.0.1:"+port)
		return
	}
	port := s.ports["8080"]
	if m := regexp.MustCompile(`--listen\s+\S*:(\d+)`).FindStringSubmatch(line); m != nil {
		port = m[1]
	}
	scheme := "http"
	if strings.Contains(line, "--tls-cert-file") {
		scheme = "https"
	}
	s.launch(t, where, line, s.dir, s.env(), scheme+"://127.0.0.1:"+port+"/readyz")
}

// launch starts line in its own process group and waits until ready (an
// HTTP URL answering 200, or "tcp:ADDR" accepting) answers.
func (s *sandbox) launch(t *testing.T, where, line, dir string, env []string, ready string) {
	t.Helper()
	// With the variables earlier blocks exported, as in the reader's shell.
	envFile := filepath.Join(s.dir, ".docs-env")
	cmd := exec.Command("bash", "-c", "[ -f "+envFile+" ] && . "+envFile+"\n"+line)
	cmd.Dir, cmd.Env = dir, env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %s: %v", where, line, err)
	}
	exited := make(chan error, 1)
	s.servers = append(s.servers, &server{cmd, exited, &logs})
	go func() { exited <- cmd.Wait() }()
	up := func() bool {
		if addr, ok := strings.CutPrefix(ready, "tcp:"); ok {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		}
		// A TLS server's certificate is the page's own: readiness only.
		insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := insecure.Get(ready)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !up() {
		select {
		case err := <-exited:
			s.servers = s.servers[:len(s.servers)-1]
			exited <- err
			t.Fatalf("%s: %s exited before it was ready: %v\n%s", where, line, err, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not ready after 3 minutes:\n%s", where, line, logs.String())
		}
	}
}

// logicalLines joins continuation lines (a trailing backslash) and drops
// blank lines.
func logicalLines(body string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(body, "\n") {
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		cur += l
		if strings.TrimSpace(cur) != "" {
			out = append(out, cur)
		}
		cur = ""
	}
	return out
}

// makeTargets are the Makefile's rule names.
func makeTargets(t *testing.T) map[string]bool {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9_-]*):`).FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = true
	}
	return out
}

// checkBlocks runs or checks each block of a page in order; sb is nil
// for a page with nothing to run.
func checkBlocks(t *testing.T, page string, blocks []docref.Block, targets map[string]bool, sb *sandbox) {
	venvPython := filepath.Join(repoRoot, ".deps", "venv", "bin", "python")
	var lastOut, lastErr *string   // output of the last block run, for a text block after it
	pageFiles := map[string]bool{} // files the page's blocks wrote
	for i, b := range blocks {
		if name := b.Marks["file"]; name != "" {
			pageFiles[name] = true
		}
		where := fmt.Sprintf("%s:%d (%s)", page, b.Line, b.Heading)
		for _, l := range logicalLines(b.Body) {
			f := strings.Fields(l)
			if b.Lang == "sh" && len(f) > 1 && f[0] == "make" && !targets[f[1]] {
				t.Errorf("%s: make %s: the Makefile has no target %s", where, f[1], f[1])
			}
			if _, skip := b.Marks["not run"]; skip && b.Lang == "sh" {
				checkNamedFiles(t, where, l, pageFiles)
			}
		}
		if name := b.Marks["file"]; name != "" && sb != nil {
			path := filepath.Join(sb.dir, name)
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(sb.rewrite(b.Body)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, errOut := lastOut, lastErr
		lastOut, lastErr = nil, nil
		if reason, skip := b.Marks["not run"]; skip {
			if reason == "" {
				t.Errorf("%s: <!-- not run --> needs a reason", where)
			}
			continue
		}
		if id := b.Marks["snippet"]; id != "" {
			if snippetTests[id] == "" {
				t.Errorf("%s: snippet %q is run by no test (snippetTests)", where, id)
			}
			continue
		}
		if b.Marks["file"] != "" && b.Lang != "yaml" {
			continue
		}
		switch b.Lang {
		case "sh":
			// A command shown failing is followed by its error output.
			fails := i+1 < len(blocks) && hasMark(blocks[i+1], "stderr")
			o, e := sb.run(t, where, b.Body, fails)
			lastOut, lastErr = &o, &e
		case "python":
			cmd := exec.Command(venvPython, "-c", sb.rewrite(b.Body))
			cmd.Dir, cmd.Env = sb.dir, sb.env()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: python: %v\n%s\n%s", where, err, stdout.String(), stderr.String())
			}
			s := stdout.String()
			lastOut = &s
		case "text":
			switch {
			case b.Marks["file"] != "":
			case errOut != nil && hasMark(b, "stderr"):
				if !matchOutput(sb.rewrite(b.Body), *errOut) {
					t.Errorf("%s: the error shown is not what the block above printed.\nshown:\n%s\nprinted:\n%s", where, b.Body, *errOut)
				}
			case out != nil:
				if !matchOutput(sb.rewrite(b.Body), *out) {
					t.Errorf("%s: the output shown is not what the block above printed.\nshown:\n%s\nprinted:\n%s", where, b.Body, *out)
				}
			default:
				t.Errorf("%s: a text block that is no block's output: mark it <!-- not run: why -->", where)
			}
		case "yaml":
			name := b.Marks["file"]
			if name == "" {
				name = fmt.Sprintf("block-%d.yaml", b.Line)
				os.WriteFile(filepath.Join(sb.dir, name), []byte(b.Body), 0o644)
			}
			if err := loadIn(sb.dir, name); err != nil {
				t.Errorf("%s: the configuration does not load: %v\n%s", where, err, b.Body)
			}
		case "json":
			var v any
			if err := json.Unmarshal([]byte(b.Body), &v); err != nil {
				t.Errorf("%s: the JSON does not parse: %v", where, err)
			}
		case "csv", "jsonl":
			if b.Marks["file"] == "" {
				t.Errorf("%s: a %s block that is no file: mark it <!-- file: NAME --> or <!-- not run: why -->", where, b.Lang)
			}
		default:
			t.Errorf("%s: a %q block the harness does not know: give it a language (sh, text, python, yaml, json, csv, jsonl), a snippet or a not-run mark", where, b.Lang)
		}
	}
}

func hasMark(b docref.Block, key string) bool {
	_, ok := b.Marks[key]
	return ok
}

// loadIn loads a configuration file as a command run in dir would (in a
// child process, so the test's own working directory never changes under
// parallel pages), with none of the test's own SPLADEQ_* environment.
func loadIn(dir, file string) error {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestDocsLoadConfigChild$")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix+"_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DOCS_CONFIG_CHILD="+file)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// TestDocsLoadConfigChild loads $DOCS_CONFIG_CHILD in the working
// directory it was started in (a child of loadIn, so the test's own
// working directory never changes under parallel pages).
func TestDocsLoadConfigChild(t *testing.T) {
	file := os.Getenv("DOCS_CONFIG_CHILD")
	if file == "" {
		t.Skip("run by TestDocsCommandsRun")
	}
	if _, err := config.Load(config.LoadOptions{File: file}); err != nil {
		t.Fatal(err)
	}
}

// checkNamedFiles checks what a command that is not run names: compose
// files, Kubernetes manifests and configurations in the checkout, and the
// qdrant-client version the tests pin.
func checkNamedFiles(t *testing.T, where, line string, pageFiles map[string]bool) {
	for _, m := range regexp.MustCompile(`(?:-f|--config)\s+(\S+\.ya?ml)`).FindAllStringSubmatch(line, -1) {
		if strings.HasPrefix(m[1], "/") || strings.Contains(m[1], "$") || pageFiles[m[1]] {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, m[1])); err != nil {
			t.Errorf("%s: %s names %s, which is not in the checkout", where, strings.TrimSpace(line), m[1])
		}
	}
	if m := regexp.MustCompile(`pip install qdrant-client==(\S+)`).FindStringSubmatch(line); m != nil {
		req, _ := os.ReadFile(filepath.Join(repoRoot, "integration", "testdata", "requirements.txt"))
		if !strings.Contains(string(req), "qdrant-client=="+m[1]) {
			t.Errorf("%s: installs qdrant-client %s; the tests run %s", where, m[1], strings.TrimSpace(string(req)))
		}
	}
}
