package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runSample runs the real `go test -json` over testdata/sample (a module
// with passing, failing, skipped, panicking and unbuildable tests) under
// run, and returns what it printed and the records it logged.
func runSample(t *testing.T) (string, []Record, int) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is not on PATH: the tool's test runs the real `go test -json`")
	}
	log := filepath.Join(t.TempDir(), "report.jsonl")
	var out, errOut strings.Builder
	wd, _ := os.Getwd()
	t.Chdir(filepath.Join(wd, "testdata", "sample"))
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "")
	code := run([]string{"-log", log, "-step", "sample", "--", gobin, "test", "-json", "-count=1", "./..."}, &out, &errOut)
	recs, err := readRecords(log)
	if err != nil {
		t.Fatal(err)
	}
	return out.String() + errOut.String(), recs, code
}

func find(recs []Record, pkg, test string) (Record, bool) {
	for _, r := range recs {
		if r.Package == pkg && r.Test == test {
			return r, true
		}
	}
	return Record{}, false
}

func TestRunRecordsEveryResultWithSkipReasons(t *testing.T) {
	out, recs, code := runSample(t)
	if code == 0 {
		t.Errorf("exit code 0 for a run with failures; output:\n%s", out)
	}
	for _, tc := range []struct{ pkg, test, result, reason string }{
		{"sample/good", "TestPasses", "pass", ""},
		{"sample/good", "TestSubtests/needs_a_server", "skip", "good_test.go:10: skipping the Qdrant 1.19.0 test: no Qdrant 1.19.0 binary: set QDRANT_BIN_1_19, or put one at /x/shared/qdrant/v1.19.0/bin/qdrant"},
		{"sample/good", "TestSubtests/runs", "pass", ""},
		{"sample/good", "TestSubtests", "pass", ""},
		{"sample/good", "TestMeasurement", "skip", "good_test.go:15: set SAMPLE_MEASURE to measure"},
		{"sample/good", "TestFails", "fail", ""},
		{"sample/good", "TestNeedsAServerUnderCI", "fail", "good_test.go:23: CI is set, so the Qdrant 1.17.1 test must run: no Qdrant 1.17.1 binary: set QDRANT_BIN, or put one at /x/shared/qdrant/bin/qdrant"},
		{"sample/crash", "TestPanics", "fail", ""},
		{"sample/broken", "", "fail", "build failed: broken/broken_test.go:5:39: declared and not used: unused"},
	} {
		r, ok := find(recs, tc.pkg, tc.test)
		if !ok {
			t.Errorf("no record of %s %s; records: %+v", tc.pkg, tc.test, recs)
			continue
		}
		if r.Result != tc.result || r.Reason != tc.reason || r.Step != "sample" {
			t.Errorf("%s %s: got %s %q (step %q), want %s %q", tc.pkg, tc.test, r.Result, r.Reason, r.Step, tc.result, tc.reason)
		}
	}
	if len(recs) != 9 {
		t.Errorf("got %d records, want 9: %+v", len(recs), recs)
	}
	// What a person reads: a line a package, failures in full, nothing of
	// passing tests' logs.
	for _, want := range []string{
		"good_test.go:18: context before the failure", "got 1, want 2", "second line of the message", "--- FAIL: TestFails",
		"panic: assignment to entry in nil map", "declared and not used: unused",
		"FAIL  sample/good ", "2 failed, 3 passed, 2 skipped", "FAIL  sample/crash ", "FAIL  sample/broken ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "a log line that is not printed") || strings.Contains(out, "=== RUN") {
		t.Errorf("output shows passing tests' logs or run markers:\n%s", out)
	}
}

func TestSummaryCountsAndTheCIPolicy(t *testing.T) {
	_, recs, _ := runSample(t)
	allow := []Allowed{{Package: "sample/good", Test: "TestMeasurement", Reason: "a measurement run on request"}}
	for _, tc := range []struct {
		name                    string
		ci                      bool
		passed, failed, skipped int
		want                    []string
	}{
		{"without CI, skips are listed and counted", false, 3, 4, 2, []string{
			"skipped (2):",
			"sample/good TestSubtests/needs_a_server: good_test.go:10: skipping the Qdrant 1.19.0 test",
			"sample/good TestMeasurement: good_test.go:15: set SAMPLE_MEASURE to measure",
			"allowed (allow.txt): a measurement run on request",
			// The binary a test failed for (as under CI) is named too.
			"not run: 2 tests need a real Qdrant binary; Qdrant 1.19.0: set QDRANT_BIN_1_19=/path/to/qdrant or put it at /x/shared/qdrant/v1.19.0/bin/qdrant; " +
				"Qdrant 1.17.1: set QDRANT_BIN=/path/to/qdrant or put it at /x/shared/qdrant/bin/qdrant\n",
		}},
		{"under CI, a skip the allowlist does not name is a failure", true, 3, 5, 1, []string{
			"FAIL under CI: not on allow.txt",
			"CI is set: 1 skipped tests count as failures",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			s := summarize(&b, recs, allow, tc.ci, "allow.txt")
			out := b.String()
			if s.Passed != tc.passed || s.Failed != tc.failed || s.Skipped != tc.skipped {
				t.Errorf("got %d passed, %d failed, %d skipped, want %d, %d, %d", s.Passed, s.Failed, s.Skipped, tc.passed, tc.failed, tc.skipped)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("summary lacks %q:\n%s", w, out)
				}
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if last, want := lines[len(lines)-1], fmt.Sprintf("%d passed, %d failed, %d skipped", tc.passed, tc.failed, tc.skipped); last != want {
				t.Errorf("last line %q, want %q", last, want)
			}
		})
	}
}

func TestCommandFailingWithoutATestFailureIsAFailure(t *testing.T) {
	log := filepath.Join(t.TempDir(), "report.jsonl")
	var out strings.Builder
	code := run([]string{"-log", log, "--", "sh", "-c", "echo not json; exit 3"}, &out, &out)
	recs, err := readRecords(log)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 || len(recs) != 1 || recs[0].Result != "fail" || !strings.Contains(recs[0].Reason, "exited with status 3") {
		t.Errorf("got code %d, records %+v; want 3 and one failure naming the status", code, recs)
	}
	if !strings.Contains(out.String(), "not json") {
		t.Errorf("lines that are not JSON are not passed through: %q", out.String())
	}
}

func TestAllowlistEntriesNeedAReason(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, err string }{
		{"# comment\n\nintegration TestX a measurement run on request\n", ""},
		{"integration TestX\n", "every entry says why"},
	} {
		p := filepath.Join(dir, "allow.txt")
		os.WriteFile(p, []byte(tc.text), 0o644)
		a, err := readAllowlist(p)
		switch {
		case tc.err == "" && (err != nil || len(a) != 1 || a[0].Reason != "a measurement run on request"):
			t.Errorf("%q: got %+v, %v", tc.text, a, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got error %v, want one containing %q", tc.text, err, tc.err)
		}
	}
}

// TestTheRepositoryAllowlistParses keeps .ci/skip-allowlist.txt readable:
// a malformed entry would fail every CI run at its very end.
func TestTheRepositoryAllowlistParses(t *testing.T) {
	a, err := readAllowlist(filepath.Join("..", "..", ".ci", "skip-allowlist.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) > 5 {
		t.Errorf("%d entries: the allowlist is for a few measurements run on request, not for tests that lack what they need", len(a))
	}
}
