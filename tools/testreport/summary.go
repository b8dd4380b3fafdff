package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Allowed is one entry of the skip allowlist: a test (and its subtests)
// that may be skipped under CI, and why.
type Allowed struct {
	Package, Test, Reason string
	Line                  int
}

// readAllowlist reads lines of "package test reason...": the package as
// the summary prints it (relative to the module), the test's name (a
// parent covers its subtests), then the reason, which is required. '#'
// starts a comment line.
func readAllowlist(path string) ([]Allowed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Allowed
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want \"package test reason\", got %q (every entry says why)", path, n, text)
		}
		out = append(out, Allowed{Package: fields[0], Test: fields[1], Reason: strings.Join(fields[2:], " "), Line: n})
	}
	return out, sc.Err()
}

func (a Allowed) covers(r Record) bool {
	return shortPackage(r.Package) == a.Package && (r.Test == a.Test || strings.HasPrefix(r.Test, a.Test+"/"))
}

func readRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// qdrantMarker is in every skip message of a test that needs a real
// Qdrant binary it could not find (internal/qdranttest names the variable
// to set: QDRANT_BIN, QDRANT_BIN_1_19).
const qdrantMarker = "QDRANT_BIN"

// missingQdrant reads internal/qdranttest's "no Qdrant <version> binary:
// set <VAR>, or put one at <path>".
var missingQdrant = regexp.MustCompile(`no Qdrant (\S+) binary: set (\S+), or put one at (\S+)`)

// qdrantHint is the one line a user without a Qdrant binary reads at the
// end of the run: how many tests did not run, and for each missing
// release the variable to set or the place to put it.
func qdrantHint(reasons []string) string {
	var how []string
	seen := map[string]bool{}
	for _, r := range reasons {
		m := missingQdrant.FindStringSubmatch(r)
		if m == nil || seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		how = append(how, fmt.Sprintf("Qdrant %s: set %s=/path/to/qdrant or put it at %s", m[1], m[2], m[3]))
	}
	if len(how) == 0 {
		how = []string{"set QDRANT_BIN=/path/to/qdrant (see scripts/qdrant-status.sh)"}
	}
	return fmt.Sprintf("not run: %d tests need a real Qdrant binary; %s", len(reasons), strings.Join(how, "; "))
}

// Summary is what a run added up to.
type Summary struct {
	Passed, Failed, Skipped int
	// CISkips are skips that count as failures because CI is set and the
	// allowlist does not name them.
	CISkips []Record
}

// summarize prints the skipped and failed tests, the Qdrant hint when
// real-Qdrant tests did not run, and last the counts.
func summarize(w io.Writer, recs []Record, allow []Allowed, ci bool, allowPath string) Summary {
	var s Summary
	var skips, fails []Record
	var allowedBy []string
	var qdrant []string
	for _, r := range recs {
		switch r.Result {
		case "pass":
			s.Passed++
		case "fail":
			s.Failed++
			fails = append(fails, r)
			if missingQdrant.MatchString(r.Reason) {
				qdrant = append(qdrant, r.Reason)
			}
		case "skip":
			skips = append(skips, r)
			if strings.Contains(r.Reason, qdrantMarker) {
				qdrant = append(qdrant, r.Reason)
			}
			why := ""
			for _, a := range allow {
				if a.covers(r) {
					why = a.Reason
					break
				}
			}
			allowedBy = append(allowedBy, why)
			if ci && why == "" {
				s.CISkips = append(s.CISkips, r)
				s.Failed++
			} else {
				s.Skipped++
			}
		}
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "\nskipped (%d):\n", len(skips))
		for i, r := range skips {
			fmt.Fprintf(w, "  %s: %s\n", r.Name(), r.Reason)
			if allowedBy[i] != "" {
				fmt.Fprintf(w, "      allowed (%s): %s\n", allowPath, allowedBy[i])
			} else if ci {
				fmt.Fprintf(w, "      FAIL under CI: not on %s\n", allowPath)
			}
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "\nfailed (%d; output above):\n", len(fails))
		for _, r := range fails {
			if r.Reason != "" {
				fmt.Fprintf(w, "  %s: %s\n", r.Name(), r.Reason)
			} else {
				fmt.Fprintf(w, "  %s\n", r.Name())
			}
		}
	}
	if len(s.CISkips) > 0 {
		fmt.Fprintf(w, "\nCI is set: %d skipped tests count as failures (each needs what its reason names; %s lists the skips CI allows)\n", len(s.CISkips), allowPath)
	}
	fmt.Fprintln(w)
	if len(qdrant) > 0 {
		fmt.Fprintln(w, qdrantHint(qdrant))
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
	return s
}
