package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin"
)

// hitLine is one hit as the snippets print it: id, score, text.
type hitLine struct {
	id    string
	score float64
	text  string
}

// TestDefaultRankingFromQdrantClients runs docs/inference.md's three
// requests for spladeq's default ranking (REST JSON, Python qdrant-client,
// Go client) against Qdrant 1.19.0 and 1.17.1 pointed at spladeq and (the
// clients speaking gRPC) against spladeq alone, on the collection the
// guide's Python example makes; each must return the ids and scores that
// /v1/search returns with the default configuration for the same texts.
func TestDefaultRankingFromQdrantClients(t *testing.T) {
	setup := docBlock(t, "docs/inference.md", "## Python", "python")
	const restLine = `client = QdrantClient(url="http://localhost:6333", cloud_inference=True)`
	const grpcLine = `QdrantClient(host="localhost", port=8080, grpc_port=6334, prefer_grpc=True, cloud_inference=True)`
	if !strings.Contains(setup, restLine) || !strings.Contains(setup, grpcLine) {
		t.Fatalf("docs/inference.md's Python example changed; update this test:\n%s", setup)
	}
	rest := docSnippet(t, "docs/inference.md", "default-query-rest")
	py := docSnippet(t, "docs/inference.md", "default-query-python")
	goSnippet := docSnippet(t, "docs/inference.md", "default-query-go")
	body := regexp.MustCompile(`(?s)<<'EOF'\n(.*)\nEOF`).FindStringSubmatch(rest)
	texts := regexp.MustCompile(`texts = \[(.*)\]`).FindStringSubmatch(setup)
	query := regexp.MustCompile(`query = "(.*)"`).FindStringSubmatch(py)
	if body == nil || texts == nil || query == nil || !strings.Contains(body[1], query[1]) || !strings.Contains(goSnippet, `query := "`+query[1]+`"`) {
		t.Fatalf("the guide's requests changed shape (a heredoc body, the example's texts, one query in all three); update this test:\n%s\n%s\n%s", rest, py, goSnippet)
	}

	// What /v1/search returns for the query, with the default
	// configuration, on a collection of the same texts.
	svc, srv := inferenceService(t, nil)
	ctx := context.Background()
	var docs []plugin.DocumentInput
	for i, tx := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(texts[1], -1) {
		docs = append(docs, plugin.DocumentInput{ID: strconv.Itoa(i), Text: tx[1]})
	}
	if _, err := svc.EnsureCollection(ctx, "own", plugin.CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpsertDocuments(ctx, "own", docs); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/v1/collections/own/search", "application/json", strings.NewReader(fmt.Sprintf(`{"query": %q}`, query[1])))
	if err != nil {
		t.Fatal(err)
	}
	var res plugin.SearchResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if res.Fusion != "weighted_dbsf" || strings.Join(res.Signals, ",") != "bm25,sparse,dense" || len(res.Hits) != len(docs) {
		t.Fatalf("/v1/search's default: fusion %q over %v, %d hits; the guide's requests reproduce weighted_dbsf over bm25, sparse, dense (%d hits)",
			res.Fusion, res.Signals, len(res.Hits), len(docs))
	}
	var want []hitLine
	for _, h := range res.Hits {
		want = append(want, hitLine{h.DocID, float64(h.Score), h.Text})
	}
	t.Logf("/v1/search: %v", want)

	python := filepath.Join(repoRoot, ".deps", "venv", "bin", "python")
	runPython := func(t *testing.T, clientLine string) {
		t.Helper()
		head := "from qdrant_client import QdrantClient, models\n" + clientLine + "\n"
		// The guide's example makes and fills "articles"; its own hits are
		// not looked at here.
		if out, err := exec.Command(python, "-c", strings.Replace(setup, restLine, clientLine, 1)).CombinedOutput(); err != nil {
			if strings.Contains(string(out), "No module named 'qdrant_client'") && os.Getenv("CI") == "" {
				t.Skip("the Python qdrant-client is not installed (make test installs it)")
			}
			t.Fatalf("the guide's Python example: %v\n%s", err, out)
		}
		cmd := exec.Command(python, "-c", head+py)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the guide's Python request: %v\n%s%s", err, out, stderr.String())
		}
		if w := stderr.String(); strings.Contains(w, "Warning") || strings.Contains(w, "warn") {
			t.Errorf("the guide's Python request warns:\n%s", w)
		}
		var got []hitLine
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.SplitN(l, " ", 3)
			if len(f) != 3 {
				t.Fatalf("the Python request printed %q", out)
			}
			x, _ := strconv.ParseFloat(f[1], 64)
			got = append(got, hitLine{f[0], x, f[2]})
		}
		sameLines(t, "Python", got, want, 5e-5) // it prints scores rounded to 4 places
	}
	runREST := func(t *testing.T, node *qdranttest.Node) {
		t.Helper()
		resp, err := http.Post(node.HTTPURL()+"/collections/articles/points/query", "application/json", bytes.NewReader([]byte(body[1])))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Result struct {
				Points []struct {
					ID      json.Number    `json:"id"`
					Score   float64        `json:"score"`
					Payload map[string]any `json:"payload"`
				} `json:"points"`
			} `json:"result"`
			Status any `json:"status"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("REST request: status %d, %v, %+v", resp.StatusCode, err, out)
		}
		var got []hitLine
		for _, p := range out.Result.Points {
			text, _ := p.Payload["text"].(string)
			got = append(got, hitLine{p.ID.String(), p.Score, text})
		}
		sameLines(t, "REST", got, want, 1e-4)
	}
	goBin := buildDefaultQueryGo(t, goSnippet)
	runGo := func(t *testing.T, port int) {
		t.Helper()
		cmd := exec.Command(goBin)
		cmd.Env = append(os.Environ(), "QDRANT_GRPC_PORT="+strconv.Itoa(port))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the guide's Go request: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "WARN") {
			t.Errorf("the go-client warns:\n%s", out)
		}
		var got []hitLine
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var h hitLine
			if _, err := fmt.Sscan(l, &h.id, &h.score); err != nil {
				t.Fatalf("the Go request printed %q", out)
			}
			h.text = strings.SplitN(l, " ", 3)[2]
			got = append(got, h)
		}
		sameLines(t, "Go", got, want, 1e-4)
	}

	t.Run("against spladeq alone", func(t *testing.T) {
		l, stop := serveQdrantAPI(t, svc)
		defer stop()
		_, p, _ := strings.Cut(l, ":")
		port, _ := strconv.Atoi(p)
		_, httpPort, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
		runPython(t, "client = "+strings.NewReplacer("6334", p, "8080", httpPort).Replace(grpcLine))
		runGo(t, port)
	})
	for _, v := range []string{qdranttest.V1_19, qdranttest.V1_17} {
		t.Run("against Qdrant "+v+" pointed at spladeq", func(t *testing.T) {
			node := qdranttest.StartVersion(t, v, qdranttest.Options{InferenceAddress: srv.URL + "/v1/qdrant/inference", InferenceToken: inferenceToken})
			runPython(t, strings.Replace(restLine, "http://localhost:6333", node.HTTPURL(), 1))
			runREST(t, node)
			if v == qdranttest.Newest() { // go-client 1.19 warns against a server two minor versions older
				runGo(t, node.GRPCPort)
			}
		})
	}
}

// sameLines compares hits rank by rank: the same ids in the same order
// (tied scores in either order), scores within tol, the same texts.
func sameLines(t *testing.T, what string, got, want []hitLine, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits %v, /v1/search %d %v", what, len(got), got, len(want), want)
	}
	byID := map[string]hitLine{}
	for _, w := range want {
		byID[w.id] = w
	}
	for i, g := range got {
		w, ok := byID[g.id]
		if !ok || math.Abs(g.score-want[i].score) > tol || math.Abs(g.score-w.score) > tol || g.text != w.text {
			t.Errorf("%s: hit %d is %v, /v1/search has %v (all: %v vs %v)", what, i, g, want[i], got, want)
		}
	}
}

// buildDefaultQueryGo compiles the guide's Go request into a program that
// connects to 127.0.0.1:$QDRANT_GRPC_PORT and prints "id score text" per hit.
func buildDefaultQueryGo(t *testing.T, snippet string) string {
	t.Helper()
	src := "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"os\"\n\t\"strconv\"\n\n\t\"github.com/qdrant/go-client/qdrant\"\n)\n\nfunc main() {\n" +
		"\tctx := context.Background()\n\tport, _ := strconv.Atoi(os.Getenv(\"QDRANT_GRPC_PORT\"))\n" +
		"\tclient, err := qdrant.NewClient(&qdrant.Config{Host: \"127.0.0.1\", Port: port})\n\tif err != nil {\n\t\tpanic(err)\n\t}\n" +
		snippet + "\tif err != nil {\n\t\tpanic(err)\n\t}\n" +
		"\tfor _, h := range hits {\n\t\tfmt.Println(h.GetId().GetNum(), h.GetScore(), h.GetPayload()[\"text\"].GetStringValue())\n\t}\n}\n"
	dir := filepath.Join(repoRoot, ".deps", "default-query-go")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "default-query")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the guide's Go request does not build: %v\n%s\n%s", err, out, src)
	}
	return bin
}
