package spladeq

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHTTPStoreBuildsWithoutCgo builds a small program that uses the store
// over the HTTP API with CGO_ENABLED=0, and checks that neither it nor this
// package links spladeq's engine or any package with cgo: only the
// inprocess subpackage may.
func TestHTTPStoreBuildsWithoutCgo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	dir := filepath.Join(".snippet", "nocgo")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(".snippet")
	prog := `package main

import (
	"fmt"

	"github.com/tmc/langchaingo/vectorstores"

	spladeq "github.com/spladeq/spladeq/integrations/langchaingo"
)

func main() {
	store, err := spladeq.New(spladeq.NewHTTP("http://localhost:8080", "", nil), spladeq.WithCollection("docs"))
	var _ vectorstores.VectorStore = store
	fmt.Println(err)
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(cgo string, args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("CGO_ENABLED=%s go %s: %v\n%s", cgo, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("0", "build", "-o", os.DevNull, ".")
	for _, pkg := range []string{".", "github.com/spladeq/spladeq/integrations/langchaingo"} {
		for _, dep := range strings.Fields(run("0", "list", "-deps", pkg)) {
			for _, bad := range []string{"github.com/spladeq/spladeq/splade", "github.com/spladeq/spladeq/plugin",
				"github.com/yalue/onnxruntime_go", "github.com/daulet/tokenizers"} {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
		if cgo := strings.TrimSpace(run("1", "list", "-deps", "-f", "{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}", pkg)); cgo != "" {
			t.Errorf("%s depends on packages with cgo: %s", pkg, cgo)
		}
	}
}
