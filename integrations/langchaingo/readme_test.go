package spladeq

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMESnippetRuns runs the README's langchaingo program as it
// stands, from a directory inside this module of the checkout, as a user
// would after `make run`.
func TestREADMESnippetRuns(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, ".deps", "models", "splade-mini", "model.onnx")); err != nil {
		t.Skip("real models not installed: run `make models` (make test does)")
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "### With langchaingo")
	m := regexp.MustCompile("(?s)```go\n(package main\n.*?)```").FindStringSubmatch(s[i:])
	if i < 0 || m == nil {
		t.Fatal("README has no langchaingo program")
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
		t.Fatalf("README langchaingo program: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != "tokyo Tokyo is the capital of Japan." {
		t.Errorf("it printed %q, the README says tokyo Tokyo is the capital of Japan.", last)
	}
}
