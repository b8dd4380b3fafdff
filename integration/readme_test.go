package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/internal/docref"
	"github.com/spladeq/spladeq/internal/qdranttest"
)

// TestREADMECommandsAreRealTargets keeps the README's two set-up commands
// honest: its set-up block holds exactly `make run` and `make test`, make
// would run the main job and the tests (a missing target would otherwise
// pass silently as "nothing to be done"), and CI runs the same command.
func TestREADMECommandsAreRealTargets(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var setup []string
	for _, b := range docref.Blocks(string(readme)) {
		if b.Heading == "Set-up" && b.Lang == "sh" {
			for _, l := range logicalLines(b.Body) {
				cmd, _, _ := strings.Cut(l, "#")
				setup = append(setup, strings.TrimSpace(cmd))
			}
		}
	}
	if strings.Join(setup, "; ") != "make run; make test" {
		t.Errorf("the README's set-up commands are %q, want exactly make run and make test", setup)
	}
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	if err != nil || !regexp.MustCompile(`(?m)^make test$`).Match(ci) {
		t.Errorf(".ci/run does not call make test (%v)", err)
	}
	for target, want := range map[string]string{"run": "bin/spladeq demo", "test": "go test"} {
		out, err := exec.Command("make", "-C", repoRoot, "-n", target).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("make -n %s does not run %q (%v):\n%s", target, want, err, out)
		}
	}
}

// TestREADMEIsShortAndCurrent: the README stays within 250 lines, and its
// status names every Qdrant release the tests run against.
func TestREADMEIsShortAndCurrent(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 250 {
		t.Errorf("README.md has %d lines; keep it within 250 and move the rest to docs/", n)
	}
	i := strings.Index(string(readme), "## Status")
	if i < 0 {
		t.Fatal("README.md has no Status section")
	}
	status := string(readme)[i:]
	if j := strings.Index(status[3:], "\n## "); j > 0 {
		status = status[:j+3]
	}
	for _, v := range qdranttest.Versions {
		if !strings.Contains(status, v) {
			t.Errorf("the README's status does not name Qdrant %s, which the tests run against:\n%s", v, status)
		}
	}
}
