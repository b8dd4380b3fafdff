package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent, plus the
// build events go test adds for packages that do not compile).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string
	FailedBuild string
}

// Record is one result in the report log: a test (or subtest) that passed,
// failed or was skipped, or a failure that belongs to no test (a package
// that did not build, a TestMain that failed, a command that exited with
// an error and reported no failing test).
type Record struct {
	Step    string `json:"step,omitempty"`
	Package string `json:"package,omitempty"`
	Test    string `json:"test,omitempty"`
	Result  string `json:"result"` // pass, fail or skip
	Reason  string `json:"reason,omitempty"`
}

// Name is the record's package (relative to the module when it is inside
// it) and test, as the summary prints it.
func (r Record) Name() string {
	p := shortPackage(r.Package)
	switch {
	case r.Test == "":
		return p
	case p == "":
		return r.Test
	}
	return p + " " + r.Test
}

const modulePrefix = "github.com/spladeq/spladeq/"

func shortPackage(p string) string {
	if strings.HasPrefix(p, modulePrefix) {
		return strings.TrimPrefix(p, modulePrefix)
	}
	if p == strings.TrimSuffix(modulePrefix, "/") {
		return "."
	}
	return p
}

type line struct{ test, text string }

type pkgState struct {
	lines   []line
	order   []string          // tests in the order they started
	results map[string]string // test -> pass, fail, skip
}

// stream turns `go test -json` into the output a person reads, one line a
// package, failures in full, and records every test's result.
type stream struct {
	step    string
	out     io.Writer
	record  func(Record) error
	pkgs    map[string]*pkgState
	builds  map[string][]string // ImportPath -> build output
	failed  int
	skipped int
	err     error
}

func newStream(step string, out io.Writer, record func(Record) error) *stream {
	return &stream{step: step, out: out, record: record, pkgs: map[string]*pkgState{}, builds: map[string][]string{}}
}

// read consumes r to its end. Lines that are not JSON are copied through.
func (s *stream) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		b := sc.Bytes()
		var e event
		if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &e) != nil || e.Action == "" {
			fmt.Fprintf(s.out, "%s\n", b)
			continue
		}
		s.handle(e)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// A stream cut short (the command was killed): whatever started and
	// never finished failed.
	names := make([]string, 0, len(s.pkgs))
	for p := range s.pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		s.finish(p, event{Action: "fail", Package: p, Output: "the test output ended before the package finished"})
	}
	return s.err
}

func (s *stream) add(r Record) {
	r.Step = s.step
	switch r.Result {
	case "fail":
		s.failed++
	case "skip":
		s.skipped++
	}
	if err := s.record(r); err != nil && s.err == nil {
		s.err = err
	}
}

func (s *stream) handle(e event) {
	switch e.Action {
	case "build-output":
		s.builds[e.ImportPath] = append(s.builds[e.ImportPath], e.Output)
		return
	case "build-fail":
		return
	}
	ps := s.pkgs[e.Package]
	if ps == nil {
		ps = &pkgState{results: map[string]string{}}
		s.pkgs[e.Package] = ps
	}
	switch e.Action {
	case "run":
		if e.Test != "" {
			ps.order = append(ps.order, e.Test)
		}
	case "output":
		ps.lines = append(ps.lines, line{e.Test, e.Output})
	case "pass", "fail", "skip":
		if e.Test == "" {
			s.finish(e.Package, e)
			return
		}
		ps.results[e.Test] = e.Action
	}
}

var (
	markerLine  = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP):)`)
	messageLine = regexp.MustCompile(`^\s+\S+\.go:\d+: `)
	pkgResult   = regexp.MustCompile(`^(ok|FAIL|PASS|\?)(\s|$)`)
)

// finish reports a package: its result line, the full output of what
// failed, and a record per test.
func (s *stream) finish(pkg string, e event) {
	ps := s.pkgs[pkg]
	if ps == nil {
		return
	}
	delete(s.pkgs, pkg)
	passed, skipped, failed := 0, 0, 0
	var failures []string
	for _, t := range ps.order {
		res := ps.results[t]
		r := Record{Package: pkg, Test: t, Result: res}
		switch res {
		case "pass":
			passed++
		case "skip":
			skipped++
			r.Reason = skipReason(ps.lines, t)
		case "fail":
			failed++
			failures = append(failures, t)
			// A real-Qdrant test fails, rather than skips, for want of
			// its binary under CI: its reason feeds the closing hint.
			if why := skipReason(ps.lines, t); missingQdrant.MatchString(why) {
				r.Reason = why
			}
		default:
			// Started and never finished: the package timed out, panicked
			// in another goroutine or was killed.
			r.Result, r.Reason = "fail", "did not finish: "+firstLine(e.Output, "the package failed")
			failed++
			failures = append(failures, t)
		}
		s.add(r)
	}
	if e.Action == "skip" && len(ps.order) == 0 {
		return // no test files
	}
	name := shortPackage(pkg)
	counts := fmt.Sprintf("%d passed", passed)
	if skipped > 0 {
		counts += fmt.Sprintf(", %d skipped", skipped)
	}
	if e.Action != "fail" {
		fmt.Fprintf(s.out, "ok    %-44s %6.1fs  %s\n", name, e.Elapsed, counts)
		return
	}
	var b strings.Builder
	if e.FailedBuild != "" {
		for _, l := range s.builds[e.FailedBuild] {
			b.WriteString(l)
		}
	}
	isFailed := map[string]bool{}
	for _, t := range failures {
		isFailed[t] = true
	}
	for _, l := range ps.lines {
		if (l.test == "" && !pkgResult.MatchString(l.text)) || (isFailed[l.test] && !strings.HasPrefix(strings.TrimSpace(l.text), "=== ")) {
			b.WriteString(l.text)
		}
	}
	if e.Output != "" && !strings.HasSuffix(b.String(), e.Output) {
		b.WriteString(e.Output + "\n")
	}
	fmt.Fprint(s.out, b.String())
	if failed > 0 {
		counts = fmt.Sprintf("%d failed, ", failed) + counts
	}
	if e.FailedBuild != "" {
		counts = "build failed"
	}
	fmt.Fprintf(s.out, "FAIL  %-44s %6.1fs  %s\n", name, e.Elapsed, counts)
	if failed == 0 {
		// The package failed with no failing test: it did not build, its
		// TestMain failed or it exited early.
		why := "the package failed outside any test (see its output above)"
		if e.FailedBuild != "" {
			why = "build failed: " + firstBuildError(s.builds[e.FailedBuild])
		}
		s.add(Record{Package: pkg, Result: "fail", Reason: why})
	}
}

// skipReason is the last message a skipped test logged: the argument of
// its t.Skip, with the file and line that called it.
func skipReason(lines []line, test string) string {
	var msgs []string
	for _, l := range lines {
		if l.test != test || markerLine.MatchString(l.text) {
			continue
		}
		text := strings.TrimRight(l.text, "\n")
		if messageLine.MatchString(text) || len(msgs) == 0 {
			msgs = append(msgs, strings.TrimSpace(text))
		} else {
			msgs[len(msgs)-1] += " " + strings.TrimSpace(text)
		}
	}
	if len(msgs) == 0 {
		return "(no reason given)"
	}
	return msgs[len(msgs)-1]
}

func firstLine(s, otherwise string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return otherwise
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func firstBuildError(out []string) string {
	for _, l := range out {
		if !strings.HasPrefix(l, "#") && strings.TrimSpace(l) != "" {
			return strings.TrimSpace(l)
		}
	}
	return "(no compiler output)"
}
