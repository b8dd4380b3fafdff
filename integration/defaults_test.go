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

	qc "github.com/qdrant/go-client/qdrant"
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
	// .deps may be a link to a shared copy (in a git worktree); found through
	// the binary's path, the model directory is reported resolved.
	deps, err := filepath.EvalSymlinks(filepath.Join(repoRoot, ".deps"))
	if err != nil {
		t.Fatal(err)
	}
	resolved := strings.NewReplacer(filepath.Join(repoRoot, ".deps"), deps)

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
						if !strings.Contains(out, w) && !strings.Contains(out, resolved.Replace(w)) {
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

// TestServeExposesTheEmbeddedStoreToQdrantClients starts `spladeq serve
// --qdrant-grpc-listen` as a user would and talks to it with the go-client:
// with the API key a Document upsert is vectorized in-process and found by
// a Document query; without it the call is refused.
func TestServeExposesTheEmbeddedStoreToQdrantClients(t *testing.T) {
	realModelAbs(t, "splade-mini")
	realModelAbs(t, "minilm-l6")
	bin := filepath.Join(repoRoot, ".deps", "test-bin", "spladeq")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(repoRoot, "cmd", "spladeq")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	key := "grpc-test-key-0123456789"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--qdrant-url", "embedded://"+filepath.Join(t.TempDir(), "store"),
		"--listen", "127.0.0.1:0", "--qdrant-grpc-listen", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath(), "SPLADEQ_SERVER_API_KEYS="+key)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); go io.Copy(io.Discard, pr); cmd.Wait(); pw.Close() }()
	var addr string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := regexp.MustCompile(`Qdrant gRPC API" addr=(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
		if strings.Contains(sc.Text(), "msg=serving") {
			break
		}
	}
	if addr == "" {
		t.Fatal("serve did not say where the Qdrant gRPC API listens")
	}
	client, err := rawClient(addr, key)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	err = client.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "served",
		VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"dense": {Size: 384, Distance: qc.Distance_Cosine}}),
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"splade": {},
			"bm25": {Modifier: qc.Modifier_Idf.Enum()}})})
	if err != nil {
		t.Fatal(err)
	}
	wait := true
	if _, err := client.Upsert(ctx, &qc.UpsertPoints{CollectionName: "served", Wait: &wait, Points: documentPoints(inferenceDocs)}); err != nil {
		t.Fatal(err)
	}
	using, limit := "splade", uint64(1)
	pts, err := client.Query(ctx, &qc.QueryPoints{CollectionName: "served", Using: &using, Limit: &limit, WithPayload: qc.NewWithPayload(true),
		Query: qc.NewQueryNearest(qc.NewVectorInputDocument(&qc.Document{Text: "capital city of Japan", Model: "spladeq/sparse"}))})
	if err != nil || len(pts) != 1 || pts[0].GetPayload()["doc_id"].GetStringValue() != "tokyo" {
		t.Fatalf("Document query: %v, %v; want tokyo", pts, err)
	}
	anon, _ := rawClient(addr, "")
	defer anon.Close()
	if _, err := anon.ListCollections(ctx); err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
		t.Errorf("a call without the API key: %v, want PermissionDenied", err)
	}
}
