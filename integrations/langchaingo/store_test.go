package spladeq

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/integrations/langchaingo/inprocess"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/httpapi"
	"github.com/spladeq/spladeq/splade"
)

// service is spladeq with the real models `make models` installs, on a
// fresh embedded store.
func service(t *testing.T) *plugin.Service {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	models := filepath.Join(root, ".deps", "models")
	if _, err := os.Stat(filepath.Join(models, "splade-mini", "model.onnx")); err != nil {
		t.Skip("real models not installed: run `make models` (make test does)")
	}
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + t.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: filepath.Join(models, "splade-mini")},
		"dense":  {Module: config.ModuleONNXDense, Model: filepath.Join(models, "minilm-l6"), MaxLength: 256},
	}
	svc, err := plugin.New(context.Background(), cfg, plugin.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

var docs = []schema.Document{
	{PageContent: "Tokyo is the capital of Japan and its largest city.", Metadata: map[string]any{"id": "tokyo", "continent": "asia"}},
	{PageContent: "Paris is the capital of France, on the Seine.", Metadata: map[string]any{"id": "paris", "continent": "europe"}},
	{PageContent: "Kyoto was the capital of Japan for over a thousand years.", Metadata: map[string]any{"id": "kyoto", "continent": "asia"}},
	{PageContent: "Coffee is brewed from roasted coffee beans.", Metadata: map[string]any{"id": "coffee", "continent": "none"}},
}

func backends(t *testing.T) map[string]Backend {
	svc := service(t)
	srv := httptest.NewServer(httpapi.Handler(svc, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return map[string]Backend{"library": inprocess.New(svc), "HTTP API": NewHTTP(srv.URL, "", nil)}
}

func TestStoreAddsAndSearchesThroughBothBackends(t *testing.T) {
	ctx := context.Background()
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store, err := New(b, WithCollection("lc_"+strings.ReplaceAll(name, " ", "_")))
			if err != nil {
				t.Fatal(err)
			}
			ids, err := store.AddDocuments(ctx, docs)
			if err != nil || strings.Join(ids, ",") != "tokyo,paris,kyoto,coffee" {
				t.Fatalf("AddDocuments = %v, %v", ids, err)
			}
			got, err := store.SimilaritySearch(ctx, "What is the capital of Japan?", 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Metadata["doc_id"] != "tokyo" || got[0].PageContent != docs[0].PageContent ||
				got[0].Metadata["continent"] != "asia" || got[0].Score <= 0 {
				t.Fatalf("hybrid search = %+v, want tokyo first with its text, metadata and score", got)
			}
			europe, err := store.SimilaritySearch(ctx, "What is the capital of Japan?", 3,
				vectorstores.WithFilters(map[string]any{"must": []map[string]any{{"key": "continent", "match": "europe"}}}))
			if err != nil || len(europe) != 1 || europe[0].Metadata["doc_id"] != "paris" {
				t.Errorf("filtered search = %+v, %v; want only paris", europe, err)
			}
			dense, _ := New(b, WithCollection("lc_"+strings.ReplaceAll(name, " ", "_")), WithMode("dense"))
			top, err := dense.SimilaritySearch(ctx, "capital of Japan", 4, vectorstores.WithScoreThreshold(0.45))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range top {
				if d.Score < 0.45 {
					t.Errorf("score threshold 0.45 let %v (%.3f) through", d.Metadata["doc_id"], d.Score)
				}
			}
			if len(top) == 0 || len(top) == 4 {
				t.Errorf("dense search above 0.45 kept %d of 4 documents; the threshold should keep some, not all", len(top))
			}
			if _, err := store.AddDocuments(ctx, []schema.Document{{PageContent: "x", Metadata: map[string]any{"text": "clash"}}}); err == nil ||
				!strings.Contains(err.Error(), "documents[0]: metadata.text: reserved") {
				t.Errorf("a reserved metadata key: %v", err)
			}
		})
	}
}

// recordingLLM answers with the first line of the context it was given,
// and keeps the prompts: the chain must have put the retrieved passages in.
type recordingLLM struct {
	mu      sync.Mutex
	prompts []string
}

func (r *recordingLLM) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	var b strings.Builder
	for _, m := range msgs {
		for _, p := range m.Parts {
			if tc, ok := p.(llms.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
	}
	r.mu.Lock()
	r.prompts = append(r.prompts, b.String())
	r.mu.Unlock()
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "answer from the context"}}}, nil
}

func (r *recordingLLM) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, r, prompt, options...)
}

func TestRetrievalQAChainOverTheStore(t *testing.T) {
	ctx := context.Background()
	store, err := New(inprocess.New(service(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddDocuments(ctx, docs); err != nil {
		t.Fatal(err)
	}
	llm := &recordingLLM{}
	qa := chains.NewRetrievalQAFromLLM(llm, vectorstores.ToRetriever(store, 2))
	out, err := chains.Run(ctx, qa, "Which city is the capital of Japan?")
	if err != nil {
		t.Fatal(err)
	}
	if out != "answer from the context" || len(llm.prompts) != 1 {
		t.Fatalf("chain answered %q after %d LLM calls", out, len(llm.prompts))
	}
	prompt := llm.prompts[0]
	if !strings.Contains(prompt, "Tokyo is the capital of Japan") || strings.Contains(prompt, "Coffee") ||
		!strings.Contains(prompt, "Which city is the capital of Japan?") {
		t.Errorf("the prompt does not carry the right passages and question:\n%s", prompt)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	_, err := New(NewHTTP("http://x", "", nil), WithMode("psychic"), WithFusion("max"), WithAlpha(2), WithCollection(""))
	for _, want := range []string{"mode: must be hybrid", "fusion: must be rrf", "alpha: must be 0..1", "collection: must not be empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v, want it to say %q", err, want)
		}
	}
}
