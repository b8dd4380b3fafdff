// Package pyarrowtest writes Parquet files for tests with pyarrow, an
// independent writer (Apache Arrow's C++ Parquet implementation), from
// .deps/venv where scripts/pytools.sh installs it (requirements.txt
// beside this file). Without it, Write skips the test saying so.
package pyarrowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// dir is this package's directory, holding pqwrite.py.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Python returns the Python that has pyarrow, or "" and why there is none.
func Python() (string, string) {
	py := filepath.Join(dir(), "..", "..", ".deps", "venv", "bin", "python")
	if p := os.Getenv("SPLADEQ_PYARROW_PYTHON"); p != "" {
		py = p
	}
	if out, err := exec.Command(py, "-c", "import pyarrow").CombinedOutput(); err != nil {
		return "", fmt.Sprintf("no pyarrow in %s (%v: %s): run `make pytools` (scripts/pytools.sh installs it), or set SPLADEQ_PYARROW_PYTHON to a python that has it",
			py, err, bytes.TrimSpace(out))
	}
	return py, ""
}

// Files are the cases of pqwrite.py written once per test binary.
type Files struct {
	// Dir holds CASE.parquet for each case.
	Dir string
	// Want is what pqwrite.py printed for each case: its rows as pyarrow
	// reads them back.
	Want map[string]json.RawMessage
}

// Path is the file of a case.
func (f *Files) Path(name string) string { return filepath.Join(f.Dir, name+".parquet") }

var (
	once    sync.Once
	files   *Files
	skipWhy string
	failErr error
)

// All returns the files of every case of pqwrite.py (types, large, other,
// badutf8), written on first use into a directory that lives as long as the
// test binary (pyarrow takes seconds to import; one run writes them all).
// The test is skipped when there is no pyarrow, and fails when CI is set
// (CI runs make test, which installs it).
func All(t testing.TB) *Files {
	t.Helper()
	once.Do(func() {
		py, why := Python()
		if py == "" {
			skipWhy = why
			return
		}
		d, err := os.MkdirTemp("", "pyarrowtest-")
		if err != nil {
			failErr = err
			return
		}
		cmd := exec.Command(py, filepath.Join(dir(), "pqwrite.py"), d, "types", "large", "other", "badutf8")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			failErr = fmt.Errorf("pqwrite.py: %v\n%s", err, stderr.String())
			return
		}
		f := &Files{Dir: d}
		if err := json.Unmarshal(out, &f.Want); err != nil {
			failErr = fmt.Errorf("pqwrite.py printed %q: %v", out, err)
			return
		}
		files = f
	})
	switch {
	case skipWhy != "" && os.Getenv("CI") != "":
		t.Fatalf("CI is set and Parquet files for this test are written by pyarrow: %s", skipWhy)
	case skipWhy != "":
		t.Skipf("skipping: Parquet files for this test are written by pyarrow: %s", skipWhy)
	case failErr != nil:
		t.Fatal(failErr)
	}
	return files
}

// Cleanup removes the files; call it from TestMain after the tests ran.
func Cleanup() {
	if files != nil {
		os.RemoveAll(files.Dir)
	}
}
