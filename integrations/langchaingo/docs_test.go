package spladeq

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGoGuideLangchaingoProgramRuns runs docs/go.md's langchaingo program as it
// stands, from a directory inside this module of the checkout, as a user
// would after `make run`.
func TestGoGuideLangchaingoProgramRuns(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, ".deps", "models", "splade-mini", "model.onnx")); err != nil {
		t.Skip("real models not installed: run `make models` (make test does)")
	}
	readme, err := os.ReadFile(filepath.Join(root, "docs", "go.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	const id = "langchaingo-program"
	i := strings.Index(s, "<!-- snippet: "+id+" -->")
	if i < 0 {
		t.Fatalf("docs/go.md has no block marked <!-- snippet: %s -->", id)
	}
	m := regexp.MustCompile("(?s)```go\n(package main\n.*?)```").FindStringSubmatch(s[i:])
	if m == nil {
		t.Fatal("docs/go.md has no langchaingo program")
	}
	dir := filepath.Join(".snippet", "readme")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(".snippet")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(m[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docs/go.md langchaingo program: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != "tokyo Tokyo is the capital of Japan." {
		t.Errorf("it printed %q, docs/go.md says tokyo Tokyo is the capital of Japan.", last)
	}
}
