// Command testreport makes a test run's skips visible and counted. `make
// test` runs each `go test -json` (the core module, the submodules, every
// fuzz target, and the Python unittests through scripts/unittest_json.py)
// under `testreport run`, which prints one line a package and the full
// output of whatever failed, and appends every result to a log; `testreport
// summary` then lists each skipped test with its reason and ends with one
// line: N passed, N failed, N skipped.
//
// With CI set (CI=true), a skip is a failure unless .ci/skip-allowlist.txt
// names the test and why it may be skipped.
//
//	testreport run -log .deps/test-report.jsonl -step core -- go test -json ./...
//	testreport summary -log .deps/test-report.jsonl -allow .ci/skip-allowlist.txt
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:], os.Stdout, os.Stderr))
	case "summary":
		os.Exit(summary(os.Args[2:], os.Stdout, os.Getenv("CI") != ""))
	}
	usage()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testreport run -log FILE [-step NAME] -- go test -json ...\n       testreport summary -log FILE [-allow FILE]")
	os.Exit(2)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	logPath := fs.String("log", "", "append results to this file (JSON lines)")
	step := fs.String("step", "", "name of this step in the summary")
	fs.Parse(args)
	if *logPath == "" || fs.NArg() == 0 {
		usage()
	}
	log, err := os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(stderr, "testreport:", err)
		return 1
	}
	defer log.Close()
	enc := json.NewEncoder(log)
	s := newStream(*step, stdout, func(r Record) error { return enc.Encode(r) })

	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stderr, cmd.Stdin = stderr, os.Stdin
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		s.add(Record{Result: "fail", Reason: fmt.Sprintf("%s: %v", strings.Join(fs.Args(), " "), err)})
		fmt.Fprintln(stderr, "testreport:", err)
		return 1
	}
	readErr := s.read(out)
	err = cmd.Wait()
	if readErr != nil {
		fmt.Fprintln(stderr, "testreport:", readErr)
	}
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
		if code < 0 {
			code = 1
		}
	case err != nil:
		code = 1
	}
	if code != 0 && s.failed == 0 {
		s.add(Record{Result: "fail", Reason: fmt.Sprintf("`%s` exited with status %d and reported no failing test (see its output above)", strings.Join(fs.Args(), " "), code)})
	}
	if code == 0 && s.failed > 0 {
		code = 1
	}
	if readErr != nil && code == 0 {
		code = 1
	}
	return code
}

func summary(args []string, stdout io.Writer, ci bool) int {
	fs := flag.NewFlagSet("summary", flag.ExitOnError)
	logPath := fs.String("log", "", "the results `testreport run` appended")
	allowPath := fs.String("allow", ".ci/skip-allowlist.txt", "tests CI may skip, with the reason for each")
	fs.Parse(args)
	if *logPath == "" || fs.NArg() > 0 {
		usage()
	}
	recs, err := readRecords(*logPath)
	if err != nil {
		fmt.Fprintln(stdout, "testreport:", err)
		return 1
	}
	allow, err := readAllowlist(*allowPath)
	if err != nil {
		fmt.Fprintln(stdout, "testreport:", err)
		return 1
	}
	s := summarize(stdout, recs, allow, ci, *allowPath)
	if s.Failed > 0 {
		return 1
	}
	return 0
}
