package integration

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
	"github.com/spladeq/spladeq/internal/docref"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin"
)

// TestQdrantClientSnippetsRun runs the README's Python snippet
// (quickstart 2, repeated in docs/inference.md) as it stands (only host and
// port changed) against spladeq alone and against a real Qdrant pointed at
// spladeq: both print the hits spladeq's own hybrid search returns for the
// same texts. Then docs/inference.md's Go snippet, compiled and run against
// the same Qdrant.
func TestQdrantClientSnippetsRun(t *testing.T) {
	py := docSnippet(t, "README.md", "qdrant-python")
	// docs/inference.md shows the same program, run there as written
	// (TestDocsCommandsRun) against a real Qdrant and spladeq.
	data, err := os.ReadFile(filepath.Join(repoRoot, "docs", "inference.md"))
	if err != nil {
		t.Fatal(err)
	}
	var guide string
	for _, b := range docref.Blocks(string(data)) {
		if b.Lang == "python" && b.Heading == "Python" {
			guide = b.Body
		}
	}
	if guide != py {
		t.Errorf("docs/inference.md's Python program differs from the README's quickstart 2:\n%s", guide)
	}
	const restLine = `client = QdrantClient(url="http://localhost:6333", cloud_inference=True)`
	const grpcLine = `QdrantClient(host="localhost", port=8080, grpc_port=6334, prefer_grpc=True, cloud_inference=True)`
	if !strings.Contains(py, restLine) || !strings.Contains(py, "# spladeq alone (gRPC; its HTTP API on 8080 answers the version check): "+grpcLine) {
		t.Fatalf("the README's Python snippet changed; update this test:\n%s", py)
	}
	texts := regexp.MustCompile(`texts = \[(.*)\]`).FindStringSubmatch(py)
	query := regexp.MustCompile(`query = "(.*)"`).FindStringSubmatch(py)
	if texts == nil || query == nil {
		t.Fatal("no texts or query in the Python snippet")
	}
	var docs []plugin.DocumentInput
	for i, tx := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(texts[1], -1) {
		docs = append(docs, plugin.DocumentInput{ID: fmt.Sprint(i), Text: tx[1]})
	}
	svc, srv := inferenceService(t, nil)
	ctx := context.Background()
	if _, err := svc.EnsureCollection(ctx, "readme_own", plugin.CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpsertDocuments(ctx, "readme_own", docs); err != nil {
		t.Fatal(err)
	}
	// The snippet fuses BM25, SPLADE and dense with Qdrant's fusion (RRF at
	// Qdrant's k = 2, or DBSF).
	fusion := regexp.MustCompile(`models\.Fusion\.(RRF|DBSF)`).FindStringSubmatch(py)
	if fusion == nil || !strings.Contains(py, `model="qdrant/bm25"), using="bm25"`) {
		t.Fatalf("the README's Python snippet no longer fuses bm25 with RRF or DBSF; update this test:\n%s", py)
	}
	res, err := svc.Search(ctx, "readme_own", plugin.SearchInput{Query: query[1], Signals: []string{"bm25", "sparse", "dense"},
		Fusion: strings.ToLower(fusion[1]), RRFK: 2, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, h := range res.Hits {
		want = append(want, fmt.Sprintf("%s %.4f %s", h.DocID, math.Round(float64(h.Score)*1e4)/1e4, h.Text))
	}
	python := filepath.Join(repoRoot, ".deps", "venv", "bin", "python")
	run := func(t *testing.T, script string) {
		t.Helper()
		cmd := exec.Command(python, "-c", script)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			if strings.Contains(stderr.String(), "No module named 'qdrant_client'") && os.Getenv("CI") == "" {
				t.Skip("the Python qdrant-client is not installed (make test installs it)")
			}
			t.Fatalf("README Python snippet: %v\n%s%s", err, out, stderr.String())
		}
		if w := stderr.String(); strings.Contains(w, "Warning") || strings.Contains(w, "warn") {
			t.Errorf("README Python snippet warns:\n%s", w)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		for i := range got {
			// Python prints 0.5 where %.4f prints 0.5000.
			f := strings.SplitN(got[i], " ", 3)
			if len(f) == 3 {
				var x float64
				fmt.Sscan(f[1], &x)
				got[i] = fmt.Sprintf("%s %.4f %s", f[0], x, f[2])
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("README Python snippet printed\n%s\nspladeq's own search:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if shown := docSnippet(t, "README.md", "qdrant-python-output"); !matchOutput(shown, string(out)) {
			t.Errorf("the README shows the program printing\n%s\nit printed\n%s", shown, out)
		}
	}

	// runGo compiles docs/inference.md's Go snippet (go run: the binary
	// carries the go-client's version, which its compatibility check
	// reads) and runs it against the gRPC port; it must not warn.
	runGo := func(t *testing.T, port int, server string) {
		t.Helper()
		goSnippet := docSnippet(t, "docs/inference.md", "qdrant-go")
		goSnippet = strings.Replace(goSnippet, `Host: "localhost", Port: 6334`, fmt.Sprintf(`Host: "127.0.0.1", Port: %d`, port), 1)
		src := "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\n\t\"github.com/qdrant/go-client/qdrant\"\n)\n\nfunc main() {\n\tctx := context.Background()\n" +
			goSnippet + "\tfor _, h := range hits {\n\t\tfmt.Println(h.GetId().GetNum())\n\t}\n}\n"
		dir := filepath.Join(repoRoot, ".deps", "readme-go-snippet")
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "run", ".")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README Go snippet: %v\n%s\n%s", err, out, src)
		}
		if strings.Contains(string(out), "WARN") {
			t.Errorf("the go-client warns against %s:\n%s", server, out)
		}
		if first := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]; first != "7" {
			t.Errorf("README Go snippet's top hit is %q, want the point it upserted (7):\n%s", first, out)
		}
	}

	t.Run("against spladeq alone", func(t *testing.T) {
		l, stop := serveQdrantAPI(t, svc)
		defer stop()
		_, port, _ := strings.Cut(l, ":")
		_, httpPort, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
		line := strings.NewReplacer("6334", port, "8080", httpPort).Replace(grpcLine)
		run(t, strings.Replace(py, restLine, "client = "+line, 1))
		t.Run("then the Go snippet", func(t *testing.T) { runGo(t, atoi(port), "the embedded store "+embedded.Version) })
	})
	t.Run("against a real Qdrant pointed at spladeq", func(t *testing.T) {
		// The newest release: the Go snippet's go-client (1.19) warns
		// against a server two minor versions older.
		node := qdranttest.StartVersion(t, qdranttest.Newest(), qdranttest.Options{InferenceAddress: srv.URL + "/v1/qdrant/inference", InferenceToken: inferenceToken})
		run(t, strings.Replace(py, "http://localhost:6333", node.HTTPURL(), 1))
		t.Run("then the Go snippet", func(t *testing.T) { runGo(t, node.GRPCPort, "Qdrant "+node.Version) })
	})
}
