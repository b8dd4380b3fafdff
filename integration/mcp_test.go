package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/spladeq/spladeq/splade"
)

// TestMCPOverStdioWithTheRealModels starts `spladeq mcp` as an MCP client
// does (a child process speaking over stdin/stdout) and drives it with the
// official Go SDK's client: add_documents, then search with the real models.
func TestMCPOverStdioWithTheRealModels(t *testing.T) {
	sparse, dense := realModelAbs(t, "splade-mini"), realModelAbs(t, "minilm-l6")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mcp.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q, max_length: 256}
server: {mcp_add_documents: true}
log: {level: warn}
`, filepath.Join(dir, "store"), sparse, dense)), 0o644)
	cmd := exec.Command(spladeqBinary(t), "mcp", "--config", cfg)
	cmd.Env = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath())
	cmd.Stderr = os.Stderr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "integration", Version: "v0"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var docs []map[string]any
	for _, d := range inferenceDocs {
		docs = append(docs, map[string]any{"id": d.ID, "text": d.Text, "payload": map[string]any{"topic": d.ID}})
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "add_documents", Arguments: map[string]any{"documents": docs}})
	if err != nil || res.IsError {
		t.Fatalf("add_documents: %v %+v", err, res)
	}
	for query, want := range map[string]string{"capital city of Japan": "tokyo", "which drink is made from beans": "coffee", "red planet": "mars"} {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "search", Arguments: map[string]any{"query": query, "limit": 3}})
		if err != nil || res.IsError {
			t.Fatalf("search %q: %v %+v", query, err, res)
		}
		data, _ := json.Marshal(res.StructuredContent)
		var out struct {
			Hits []struct {
				DocID         string         `json:"doc_id"`
				Text          string         `json:"text"`
				Score         float64        `json:"score"`
				Payload       map[string]any `json:"payload"`
				MatchingTerms []struct {
					Token string `json:"token"`
				} `json:"matching_terms"`
			} `json:"hits"`
			Mode string `json:"mode"`
		}
		json.Unmarshal(data, &out)
		if len(out.Hits) == 0 || out.Hits[0].DocID != want || out.Hits[0].Payload["topic"] != want || out.Hits[0].Text == "" || out.Mode != "hybrid" {
			t.Errorf("search %q: %s; want %s first, hybrid, with text and payload", query, data, want)
			continue
		}
		if len(out.Hits[0].MatchingTerms) == 0 {
			t.Errorf("search %q: top hit has no matching terms", query)
		}
	}
}
