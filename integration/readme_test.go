package integration

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestREADMECommandsAreRealTargets keeps the README's two set-up commands
// honest: both appear in it, and make would run the main job and the tests
// (a missing target would otherwise pass silently as "nothing to be done").
func TestREADMECommandsAreRealTargets(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"make run", "make test"} {
		if !regexp.MustCompile(`(?m)^` + cmd + `\b`).Match(readme) {
			t.Errorf("README does not show %q as a command", cmd)
		}
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil || !strings.Contains(string(ci), "make test") {
		t.Errorf(".ci/run does not call make test (%v)", err)
	}
	for target, want := range map[string]string{"run": "bin/spladeq demo", "test": "go test"} {
		out, err := exec.Command("make", "-C", "..", "-n", target).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("make -n %s does not run %q (%v):\n%s", target, want, err, out)
		}
	}
}
