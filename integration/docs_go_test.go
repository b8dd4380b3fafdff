package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
)

// TestGoGuideClientProgramRuns runs docs/go.md's Go client program as it
// stands (only the server's port changed), built with CGO_ENABLED=0,
// against the real HTTP API with the real models and an API key.
func TestGoGuideClientProgramRuns(t *testing.T) {
	src := docBlock(t, "docs/go.md", "## The client", "go")
	const baseLine = `BaseURL: "http://localhost:8080"`
	if !strings.Contains(src, baseLine) {
		t.Fatalf("docs/go.md's Go client program has no %s; update this test:\n%s", baseLine, src)
	}
	const key = "readme-client-key-0123"
	_, srv := inferenceService(t, func(cfg *config.Config) { cfg.Server.APIKeys = []string{key} })
	src = strings.Replace(src, baseLine, `BaseURL: "`+srv.URL+`"`, 1)

	dir := filepath.Join(repoRoot, "integration", ".snippet", "goclient")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(dir))
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "SPLADEQ_API_KEY="+key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docs/go.md Go client program: %v\n%s", err, out)
	}
	want := "tokyo Tokyo is the capital of Japan.\n400 mode: must be hybrid, sparse, dense or bm25, got \"psychic\""
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("docs/go.md Go client program printed\n%s\ndocs/go.md says\n%s", got, want)
	}
}
