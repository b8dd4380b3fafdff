package qdranttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupNamesWhatIsMissing(t *testing.T) {
	t.Setenv("QDRANT_BIN_9_9", "")
	bin, missing, err := Lookup("9.9.0")
	if bin != "" || err != nil {
		t.Fatalf("Lookup of a release nobody built: got %q, %v; want none", bin, err)
	}
	def, _ := DefaultPath("9.9.0")
	for _, want := range []string{"9.9.0", "QDRANT_BIN_9_9", def} {
		if !strings.Contains(missing, want) {
			t.Errorf("missing = %q, want it to name %q", missing, want)
		}
	}
	if got := BinaryEnv(V1_17); got != "QDRANT_BIN" {
		t.Errorf("BinaryEnv(%s) = %s, want QDRANT_BIN", V1_17, got)
	}
	if got := BinaryEnv(V1_19); got != "QDRANT_BIN_1_19" {
		t.Errorf("BinaryEnv(%s) = %s, want QDRANT_BIN_1_19", V1_19, got)
	}
}

// recordTB records what Need does with a test instead of doing it.
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper()                   {}
func (r *recordTB) Fatal(a ...any)            { r.fatal = fmt.Sprint(a...) }
func (r *recordTB) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }
func (r *recordTB) Skipf(f string, a ...any)  { r.skip = fmt.Sprintf(f, a...) }

// TestNeedFailsUnderCI: a missing binary skips the test, saying how to
// provide one, except under CI, where it fails it with the same words.
func TestNeedFailsUnderCI(t *testing.T) {
	t.Setenv("QDRANT_BIN_9_9", "")
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recordTB{TB: t}
		if bin := Need(r, "9.9.0"); bin != "" {
			t.Fatalf("CI=%q: Need = %q for a release nobody built", ci, bin)
		}
		got, other := r.skip, r.fatal
		if ci != "" {
			got, other = r.fatal, r.skip
		}
		if !strings.Contains(got, "no Qdrant 9.9.0 binary: set QDRANT_BIN_9_9") || other != "" {
			t.Errorf("CI=%q: Need skipped with %q and failed with %q; want only a %s naming QDRANT_BIN_9_9",
				ci, r.skip, r.fatal, map[string]string{"": "skip", "true": "failure"}[ci])
		}
	}
}

// fakeQdrant writes a script that prints out for --version.
func fakeQdrant(t *testing.T, out string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qdrant")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLookupRefusesAnotherRelease(t *testing.T) {
	for _, tc := range []struct {
		name, out, want string
	}{
		{"a binary of another release", "qdrant 1.19.0", "is Qdrant 1.19.0, not 1.17.1"},
		{"a binary that is not Qdrant", "hello", `printed "hello"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("QDRANT_BIN", fakeQdrant(t, tc.out))
			bin, _, err := Lookup(V1_17)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "QDRANT_BIN=") {
				t.Fatalf("Lookup = %q, %v; want an error naming QDRANT_BIN and containing %q", bin, err, tc.want)
			}
		})
	}
	t.Run("the 1.17 alias variable", func(t *testing.T) {
		t.Setenv("QDRANT_BIN", "")
		t.Setenv("QDRANT_BIN_1_17", fakeQdrant(t, "qdrant 1.17.1"))
		if bin, missing, err := Lookup(V1_17); bin != os.Getenv("QDRANT_BIN_1_17") || err != nil {
			t.Fatalf("Lookup = %q, %q, %v; want the file QDRANT_BIN_1_17 names", bin, missing, err)
		}
	})
	t.Run("a variable naming no file", func(t *testing.T) {
		t.Setenv("QDRANT_BIN_1_19", filepath.Join(t.TempDir(), "absent"))
		def, _ := DefaultPath(V1_19)
		if _, _, err := Lookup(V1_19); err == nil || !strings.Contains(err.Error(), "QDRANT_BIN_1_19=") || !strings.Contains(err.Error(), def) {
			t.Fatalf("Lookup = %v, want an error naming QDRANT_BIN_1_19 and the default path %s", err, def)
		}
	})
}

// TestEveryVersionStarts starts a node of each release, shared, and checks
// it says it is that release where clients read it (GET /).
func TestEveryVersionStarts(t *testing.T) {
	seen := map[string]bool{}
	ForEachVersion(t, func(t *testing.T, version string) {
		n := Shared(t, version)
		if n.Version != version {
			t.Errorf("node.Version = %s, want %s", n.Version, version)
		}
		if err := n.checkServes(version); err != nil {
			t.Error(err)
		}
		if again := Shared(t, version); again != n {
			t.Errorf("Shared started a second %s node", version)
		}
		seen[version] = true
	})
	for _, v := range Versions {
		if !seen[v] && !t.Failed() {
			t.Logf("Qdrant %s not run (no binary)", v)
		}
	}
}

func TestMain(m *testing.M) { Main(m) }
