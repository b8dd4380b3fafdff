package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spladeq/spladeq/splade"
)

// TestFirstRunUsesTheRealModels runs the binary as a new user would, with
// no configuration, from an empty directory and from the repository root:
// every command loads the real models `make models` installed, never a
// test fixture. A binary outside any checkout, run outside one, says which
// model directory is missing and the one command that installs it.
func TestFirstRunUsesTheRealModels(t *testing.T) {
	realModelAbs(t, "splade-mini")
	realModelAbs(t, "minilm-l6")
	// Where users build it: inside the repository (make build: bin/spladeq).
	bin := filepath.Join(repoRoot, ".deps", "test-bin", "spladeq")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(repoRoot, "cmd", "spladeq")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sparse := filepath.Join(repoRoot, ".deps", "models", "splade-mini")
	dense := filepath.Join(repoRoot, ".deps", "models", "minilm-l6")

	beir := t.TempDir()
	os.WriteFile(filepath.Join(beir, "corpus.jsonl"), []byte(`{"_id": "d1", "text": "Paris is the capital of France."}
{"_id": "d2", "text": "Bananas are yellow fruit."}
`), 0o644)
	os.WriteFile(filepath.Join(beir, "queries.jsonl"), []byte(`{"_id": "q1", "text": "capital of France"}`+"\n"), 0o644)
	os.MkdirAll(filepath.Join(beir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(beir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\n"), 0o644)
	src := filepath.Join(t.TempDir(), "src.jsonl")
	os.WriteFile(src, []byte(`{"id": "a", "text": "Tokyo is the capital of Japan."}`+"\n"), 0o644)

	for _, where := range []string{"an empty directory", "the repository root"} {
		t.Run("from "+where, func(t *testing.T) {
			dir := t.TempDir()
			if where == "the repository root" {
				dir = repoRoot
			}
			store := "embedded://" + filepath.Join(t.TempDir(), "store")
			job := filepath.Join(t.TempDir(), "job.yaml")
			os.WriteFile(job, []byte(fmt.Sprintf("qdrant: {url: %q}\ningest:\n  source: {type: jsonl, path: %q}\n  checkpoint: %q\n", store, src, job+".ckpt")), 0o644)
			for _, tc := range []struct {
				cmd  []string
				want []string // models it must say it loaded
			}{
				{[]string{"encode", "--terms", "3", "capital of France"}, []string{"model: " + sparse}},
				{[]string{"bench", "--texts", "2", "--iterations", "1", "--docs", "0"}, []string{"model: " + sparse}},
				{[]string{"search", "--qdrant-url", store, "capital"}, []string{"model=" + sparse, "model=" + dense}},
				{[]string{"ingest", "--config", job}, []string{"model=" + sparse, "model=" + dense}},
				{[]string{"eval", "--qdrant-url", store, "--dataset", beir}, []string{"model=" + sparse, "model=" + dense}},
				{[]string{"serve", "--qdrant-url", store, "--listen", "127.0.0.1:0"}, []string{"model=" + sparse, "model=" + dense}},
			} {
				t.Run(tc.cmd[0], func(t *testing.T) {
					out := runFirst(t, bin, dir, tc.cmd)
					for _, w := range tc.want {
						if !strings.Contains(out, w) {
							t.Errorf("spladeq %s did not load %s:\n%s", strings.Join(tc.cmd, " "), w, out)
						}
					}
					if strings.Contains(out, "testdata") {
						t.Errorf("spladeq %s mentions a test fixture:\n%s", tc.cmd[0], out)
					}
				})
			}
		})
	}

	t.Run("a binary outside any checkout names the missing model and make models", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "spladeq")
		data, _ := os.ReadFile(bin)
		os.WriteFile(outside, data, 0o755)
		for _, args := range [][]string{{"encode", "hello"}, {"search", "--qdrant-url", "embedded://" + t.TempDir(), "hello"}} {
			cmd := exec.Command(outside, args...)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath())
			out, err := cmd.CombinedOutput()
			missing := regexp.MustCompile(`model "(splade-mini|minilm-l6)" not found \(looked in (splade-mini|minilm-l6), models/`)
			if err == nil || !missing.MatchString(string(out)) || !strings.Contains(string(out), "make models") {
				t.Errorf("spladeq %s outside a checkout: err %v, output:\n%s", args[0], err, out)
			}
		}
	})
}

// runFirst runs one command with no configuration in dir and returns its
// output; serve is stopped with SIGTERM once it serves.
func runFirst(t *testing.T, bin, dir string, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath())
	if args[0] != "serve" {
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), `msg=serving`) {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go io.Copy(io.Discard, pr)
	cmd.Wait()
	pw.Close()
	return b.String()
}
