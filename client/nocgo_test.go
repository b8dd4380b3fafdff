package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden are the packages a client must never link: the engine and its
// native libraries.
var forbidden = []string{"github.com/spladeq/spladeq/splade", "github.com/spladeq/spladeq/plugin",
	"github.com/yalue/onnxruntime_go", "github.com/daulet/tokenizers"}

// CheckNoCgo builds pkgs with CGO_ENABLED=0 from dir and fails when their
// dependencies name a forbidden package or any non-standard package with
// cgo files. (The standard library's net and runtime/cgo have cgo files
// they drop without cgo, hence the Standard filter.)
func checkNoCgo(t *testing.T, dir string, pkgs ...string) {
	t.Helper()
	run := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("CGO_ENABLED=0 go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(append([]string{"build"}, pkgs...)...)
	deps := run(append([]string{"list", "-deps"}, pkgs...)...)
	for _, dep := range strings.Fields(deps) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("%s depends on %s", strings.Join(pkgs, " "), dep)
			}
		}
	}
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}"}, pkgs...)...)
	cmd.Dir = dir // with cgo on: a package with cgo files shows whether or not this build drops them
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("%s depends on packages with cgo: %s", strings.Join(pkgs, " "), s)
	}
}

// TestClientLinksNoCgo is the promise of package client: a program that
// uses it builds without cgo and links nothing of the engine.
func TestClientLinksNoCgo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	root, _ := filepath.Abs("..")
	checkNoCgo(t, root, "./client/...", "./api/...")
}
