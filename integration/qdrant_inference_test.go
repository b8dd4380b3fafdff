package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/daulet/tokenizers"
	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/httpapi"
	"github.com/spladeq/spladeq/splade"
)

const inferenceToken = "spladeq-test-inference-token"

// inferenceDocs are short texts on distinct topics, so every query has
// clear winners and the fused lists have few ties.
var inferenceDocs = []plugin.DocumentInput{
	{ID: "paris", Text: "Paris is the capital and largest city of France, on the Seine."},
	{ID: "tokyo", Text: "Tokyo is the capital of Japan and its most populous city."},
	{ID: "python", Text: "Python is a programming language that emphasises readable code."},
	{ID: "go", Text: "Go is a statically typed, compiled programming language designed at Google."},
	{ID: "coffee", Text: "Coffee is a brewed drink prepared from roasted coffee beans."},
	{ID: "tea", Text: "Tea is an aromatic beverage prepared by pouring hot water over cured leaves."},
	{ID: "everest", Text: "Mount Everest is the highest mountain above sea level, in the Himalayas."},
	{ID: "nile", Text: "The Nile is a major north-flowing river in northeastern Africa."},
	{ID: "piano", Text: "The piano is a keyboard instrument whose strings are struck by hammers."},
	{ID: "violin", Text: "The violin is a wooden string instrument played with a bow."},
	{ID: "mars", Text: "Mars is the fourth planet from the Sun, often called the Red Planet."},
	{ID: "moon", Text: "The Moon is Earth's only natural satellite and orbits it every 27 days."},
}

var inferenceQueries = []string{"capital city of Japan", "which drink is made from beans", "programming language from Google", "red planet"}

// inferenceService is a Service with the real models on a fresh embedded
// store, its HTTP API on a loopback httptest server.
func inferenceService(t testing.TB, mutate func(*config.Config)) (*plugin.Service, *httptest.Server) {
	t.Helper()
	sparseDir, denseDir := realModelAbs(t, "splade-mini"), realModelAbs(t, "minilm-l6")
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Qdrant.URL = "embedded://" + t.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: sparseDir},
		"dense":  {Module: config.ModuleONNXDense, Model: denseDir},
	}
	cfg.Server.InferenceTokens = []string{inferenceToken}
	cfg.Server.InferenceModels = []string{"Org/Alias-SPLADE=sparse"}
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := plugin.New(context.Background(), cfg, plugin.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.Handler(svc, log))
	t.Cleanup(func() {
		srv.Close()
		svc.Close()
	})
	return svc, srv
}

type inferReply struct {
	status     int
	retryAfter string
	body       map[string]json.RawMessage
	raw        string
}

func postInference(t *testing.T, url string, body any) inferReply {
	t.Helper()
	var data []byte
	if s, ok := body.(string); ok {
		data = []byte(s)
	} else {
		data, _ = json.Marshal(body)
	}
	resp, err := http.Post(url+"/v1/qdrant/inference", "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := inferReply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func input(text, model string, options map[string]any) map[string]any {
	return map[string]any{"data": text, "data_type": "text", "model": model, "options": options}
}

func inferenceRequest(kind string, inputs ...map[string]any) map[string]any {
	return map[string]any{"inputs": inputs, "inference": kind, "token": inferenceToken}
}

func TestQdrantInferenceProtocol(t *testing.T) {
	svc, srv := inferenceService(t, func(c *config.Config) { c.Server.MaxTextBytes = 2000 })
	ctx := context.Background()

	t.Run("64 inputs of two models come back in order, each as the service encodes it", func(t *testing.T) {
		var inputs []map[string]any
		var texts []string
		for i := 0; i < 64; i++ {
			text := fmt.Sprintf("%s (variant %d)", inferenceDocs[i%len(inferenceDocs)].Text, i)
			texts = append(texts, text)
			model := "spladeq/sparse"
			if i%2 == 1 {
				model = "spladeq/dense"
			}
			inputs = append(inputs, input(text, model, nil))
		}
		for _, kind := range []string{"update", "search"} {
			r := postInference(t, srv.URL, inferenceRequest(kind, inputs...))
			if r.status != 200 {
				t.Fatalf("%s: status %d: %s", kind, r.status, r.raw)
			}
			var embs []json.RawMessage
			json.Unmarshal(r.body["embeddings"], &embs)
			if len(embs) != 64 {
				t.Fatalf("%d embeddings, want 64", len(embs))
			}
			want, err := svc.Encode(ctx, plugin.EncodeInput{Texts: texts, Query: kind == "search"})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range embs {
				if i%2 == 0 {
					var got splade.SparseVector
					if err := json.Unmarshal(e, &got); err != nil || len(got.Indices) == 0 {
						t.Fatalf("%s input %d: not a sparse vector: %s", kind, i, e)
					}
					sameSparse(t, fmt.Sprintf("%s input %d", kind, i), got, want[i].Sparse.SparseVector)
				} else {
					var got []float32
					if err := json.Unmarshal(e, &got); err != nil || len(got) != 384 {
						t.Fatalf("%s input %d: not a 384-d dense vector: %.80s", kind, i, e)
					}
					for j := range got {
						if math.Abs(float64(got[j]-want[i].Dense[j])) > 1e-5 {
							t.Fatalf("%s input %d dense[%d] = %v, want %v", kind, i, j, got[j], want[i].Dense[j])
						}
					}
				}
			}
		}
	})

	t.Run("usage counts each model's tokens as its tokenizer does", func(t *testing.T) {
		texts := []string{"short one", "a somewhat longer text about rivers and mountains", "naïve café — 東京"}
		var inputs []map[string]any
		for _, tx := range texts {
			inputs = append(inputs, input(tx, "spladeq/sparse", nil), input(tx, "Org/Alias-SPLADE", nil), input(tx, "spladeq/dense", nil))
		}
		r := postInference(t, srv.URL, inferenceRequest("update", inputs...))
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		var usage struct {
			Models map[string]struct{ Tokens int } `json:"models"`
		}
		json.Unmarshal(r.body["usage"], &usage)
		for model, dir := range map[string]string{"spladeq/sparse": "splade-mini", "Org/Alias-SPLADE": "splade-mini", "spladeq/dense": "minilm-l6"} {
			tk, err := tokenizers.FromFile(filepath.Join(realModelAbs(t, dir), "tokenizer.json"))
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, tx := range texts {
				// Count attended tokens: a tokenizer.json may preset padding.
				enc := tk.EncodeWithOptions(tx, true, tokenizers.WithReturnAttentionMask())
				for _, m := range enc.AttentionMask {
					want += int(m)
				}
			}
			tk.Close()
			if got := usage.Models[model].Tokens; got != want {
				t.Errorf("usage of %s = %d tokens, want %d (tokenizer.json)", model, got, want)
			}
		}
	})

	t.Run("options prune and truncate per input", func(t *testing.T) {
		text := inferenceDocs[0].Text
		full := postInference(t, srv.URL, inferenceRequest("update", input(text, "spladeq/sparse", nil)))
		pruned := postInference(t, srv.URL, inferenceRequest("update",
			input(text, "spladeq/sparse", map[string]any{"top_k": 5}),
			input(text, "spladeq/sparse", map[string]any{"min_weight": 1.0}),
			input(text, "spladeq/sparse", map[string]any{"max_length": 6})))
		if full.status != 200 || pruned.status != 200 {
			t.Fatalf("status %d / %d: %s %s", full.status, pruned.status, full.raw, pruned.raw)
		}
		var f []splade.SparseVector
		var p []splade.SparseVector
		json.Unmarshal(full.body["embeddings"], &f)
		json.Unmarshal(pruned.body["embeddings"], &p)
		want := splade.Pruning{TopK: 5}.Apply(cloneSparse(f[0]))
		sameSparse(t, "top_k 5", p[0], want)
		for _, w := range p[1].Values {
			if w < 1 {
				t.Errorf("min_weight 1 kept a weight %v", w)
			}
		}
		if len(p[1].Indices) == 0 || len(p[1].Indices) >= len(f[0].Indices) {
			t.Errorf("min_weight 1 kept %d of %d terms", len(p[1].Indices), len(f[0].Indices))
		}
		var usage struct {
			Models map[string]struct{ Tokens int } `json:"models"`
		}
		json.Unmarshal(pruned.body["usage"], &usage)
		enc, _ := svc.Vectorizer("sparse")
		n1, _ := enc.(plugin.TokenCounter).CountTokens(false, text)
		if got := usage.Models["spladeq/sparse"].Tokens; got != 2*n1+6 {
			t.Errorf("usage with max_length 6 = %d tokens, want %d", got, 2*n1+6)
		}
		short, _ := svc.Encode(ctx, plugin.EncodeInput{Texts: []string{"Paris is the capital"}, Dense: plugin.None})
		sameSparse(t, "max_length 6 (4 word pieces + [CLS] [SEP])", p[2], short[0].Sparse.SparseVector)
	})

	long := strings.Repeat("x", 2001)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"an unknown model", inferenceRequest("update", input("ok", "spladeq/sparse", nil), input("ok", "nope/model", nil)), 400, `inputs[1].model: unknown model "nope/model"`},
		{"an empty text", inferenceRequest("update", input("  ", "spladeq/sparse", nil)), 400, "inputs[0].data: must not be empty"},
		{"an over-long text", inferenceRequest("update", input("ok", "spladeq/dense", nil), input(long, "spladeq/dense", nil)), 400, "inputs[1].data: is 2001 bytes, over the 2000-byte limit"},
		{"an image", inferenceRequest("update", map[string]any{"data": "https://x/y.png", "data_type": "image", "model": "spladeq/dense"}), 400, `inputs[0].data_type: "image" is not supported`},
		{"a number as text", inferenceRequest("update", map[string]any{"data": 5, "data_type": "text", "model": "spladeq/dense"}), 400, "inputs[0].data: must be a string"},
		{"an unknown option", inferenceRequest("update", input("ok", "spladeq/sparse", map[string]any{"temperature": 1})), 400, "inputs[0].options.temperature: unknown option"},
		{"a bad option value", inferenceRequest("update", input("ok", "spladeq/sparse", map[string]any{"top_k": 0.5})), 400, "inputs[0].options.top_k: must be a whole number >= 1"},
		{"a sparse option on a dense model", inferenceRequest("update", input("ok", "spladeq/dense", map[string]any{"top_k": 3})), 400, "inputs[0].options.top_k: applies to sparse models"},
		{"an unknown inference kind", map[string]any{"inputs": []any{input("ok", "spladeq/sparse", nil)}, "inference": "train", "token": inferenceToken}, 400, `inference: must be "update" or "search"`},
		{"no inputs", map[string]any{"inputs": []any{}, "token": inferenceToken}, 400, "inputs: must be a non-empty array"},
		{"malformed JSON", `{"inputs": [`, 400, "body: "},
		{"a missing token", map[string]any{"inputs": []any{input("ok", "spladeq/sparse", nil)}}, 401, "missing token"},
		{"a wrong token", map[string]any{"inputs": []any{input("ok", "spladeq/sparse", nil)}, "token": "wrong-token-wrong-token"}, 401, "invalid token"},
	} {
		t.Run(tc.name+" gets a "+fmt.Sprint(tc.status)+" naming it", func(t *testing.T) {
			r := postInference(t, srv.URL, tc.body)
			var msg string
			json.Unmarshal(r.body["error"], &msg)
			if r.status != tc.status || !strings.Contains(msg, tc.want) {
				t.Errorf("got %d %s, want %d with error containing %q", r.status, r.raw, tc.status, tc.want)
			}
		})
	}
}

func TestQdrantInferenceBackPressure(t *testing.T) {
	_, srv := inferenceService(t, func(c *config.Config) { c.Server.QueueSize = 1 })
	var inputs []map[string]any
	for i := 0; i < 16; i++ {
		inputs = append(inputs, input(strings.Repeat(inferenceDocs[i%12].Text+" ", 8), "spladeq/sparse", nil))
	}
	for attempt := 0; attempt < 5; attempt++ {
		var wg sync.WaitGroup
		replies := make([]inferReply, 6)
		for i := range replies {
			wg.Add(1)
			go func() { defer wg.Done(); replies[i] = postInference(t, srv.URL, inferenceRequest("update", inputs...)) }()
		}
		wg.Wait()
		shed := 0
		for _, r := range replies {
			switch {
			case r.status == 429 && r.retryAfter != "":
				shed++
			case r.status != 200:
				t.Fatalf("status %d (Retry-After %q): %s", r.status, r.retryAfter, r.raw)
			}
		}
		if shed > 0 && shed < len(replies) {
			return
		}
	}
	t.Fatal("six concurrent calls on a queue of one never got both a 429 with Retry-After and a 200")
}

// repoRoot is the repository, found before any test changes directory.
var repoRoot, _ = filepath.Abs("..")

func realModelAbs(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(repoRoot, ".deps", "models", name)
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		t.Skipf("%s not found: run `make models` (make test does)", dir)
	}
	return dir
}

func cloneSparse(v splade.SparseVector) splade.SparseVector {
	return splade.SparseVector{Indices: append([]uint32(nil), v.Indices...), Values: append([]float32(nil), v.Values...)}
}

func sameSparse(t *testing.T, what string, got, want splade.SparseVector) {
	t.Helper()
	if len(got.Indices) != len(want.Indices) {
		t.Fatalf("%s: %d terms, want %d", what, len(got.Indices), len(want.Indices))
	}
	for i := range got.Indices {
		if got.Indices[i] != want.Indices[i] || math.Abs(float64(got.Values[i]-want.Values[i])) > 1e-4 {
			t.Fatalf("%s: term %d = (%d, %v), want (%d, %v)", what, i, got.Indices[i], got.Values[i], want.Indices[i], want.Values[i])
		}
	}
}

// ownResults is what spladeq's own search returns for the queries, by
// query and kind (bm25, sparse, dense, and the three fused by rrf and
// dbsf), as (point id, score).
func ownResults(t *testing.T, svc *plugin.Service, limit int) map[string]map[string][]scoredID {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.EnsureCollection(ctx, "own", plugin.CollectionConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpsertDocuments(ctx, "own", inferenceDocs); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]scoredID{}
	for _, q := range inferenceQueries {
		out[q] = map[string][]scoredID{}
		three := []string{"bm25", "sparse", "dense"}
		for kind, in := range map[string]plugin.SearchInput{
			"bm25": {Mode: "bm25"}, "sparse": {Mode: "sparse"}, "dense": {Mode: "dense"},
			// Qdrant's RRF default k is 2, whatever search.rrf_k says.
			"rrf": {Signals: three, Fusion: "rrf", RRFK: 2}, "dbsf": {Signals: three, Fusion: "dbsf"},
		} {
			in.Query, in.Limit = q, limit
			res, err := svc.Search(ctx, "own", in)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range res.Hits {
				out[q][kind] = append(out[q][kind], scoredID{h.ID, float64(h.Score)})
			}
		}
	}
	return out
}

type scoredID struct {
	id    string
	score float64
}

// sameRanking compares two result lists: same scores rank by rank within
// tol, and the same points, tied points in either order.
func sameRanking(t *testing.T, what string, got, want []scoredID, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d hits %v, want %d %v", what, len(got), got, len(want), want)
		return
	}
	score := map[string]float64{}
	for _, w := range want {
		score[w.id] = w.score
	}
	for i := range got {
		s, ok := score[got[i].id]
		if !ok || math.Abs(got[i].score-want[i].score) > tol || math.Abs(s-got[i].score) > tol {
			t.Errorf("%s: hit %d is %s %.6f, want %s %.6f (all: %v vs %v)", what, i, got[i].id, got[i].score, want[i].id, want[i].score, got, want)
			return
		}
	}
}

// goClientInference runs the go-client half of the test on a Qdrant at
// addr: Documents upserted, then queried as each side and fused.
func goClientInference(t *testing.T, addr, apiKey, collection string, limit, prefetch int) map[string]map[string][]scoredID {
	t.Helper()
	ctx := context.Background()
	c, err := rawClient(addr, apiKey)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: collection,
		VectorsConfig:       qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"dense": {Size: 384, Distance: qc.Distance_Cosine}}),
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"splade": {}, "bm25": {Modifier: qc.Modifier_Idf.Enum()}})})
	if err != nil {
		t.Fatal(err)
	}
	points := documentPoints(inferenceDocs)
	wait := true
	if _, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: collection, Wait: &wait, Points: points}); err != nil {
		t.Fatal(err)
	}
	l, pl := uint64(limit), uint64(prefetch)
	splade, dense, bm25 := "splade", "dense", "bm25"
	out := map[string]map[string][]scoredID{}
	for _, q := range inferenceQueries {
		sq := qc.NewQueryNearest(qc.NewVectorInputDocument(&qc.Document{Text: q, Model: "spladeq/sparse"}))
		dq := qc.NewQueryNearest(qc.NewVectorInputDocument(&qc.Document{Text: q, Model: "spladeq/dense"}))
		bq := qc.NewQueryNearest(qc.NewVectorInputDocument(&qc.Document{Text: q, Model: "qdrant/bm25"}))
		pre := []*qc.PrefetchQuery{{Query: bq, Using: &bm25, Limit: &pl}, {Query: sq, Using: &splade, Limit: &pl}, {Query: dq, Using: &dense, Limit: &pl}}
		out[q] = map[string][]scoredID{}
		for kind, req := range map[string]*qc.QueryPoints{
			"bm25":   {Query: bq, Using: &bm25},
			"sparse": {Query: sq, Using: &splade},
			"dense":  {Query: dq, Using: &dense},
			"rrf":    {Prefetch: pre, Query: qc.NewQueryFusion(qc.Fusion_RRF)},
			"dbsf":   {Prefetch: pre, Query: qc.NewQueryFusion(qc.Fusion_DBSF)},
		} {
			req.CollectionName, req.Limit = collection, &l
			pts, err := c.Query(ctx, req)
			if err != nil {
				t.Fatalf("%s query %q: %v", kind, q, err)
			}
			for _, p := range pts {
				out[q][kind] = append(out[q][kind], scoredID{p.GetId().GetUuid(), float64(p.GetScore())})
			}
		}
	}
	return out
}

// documentPoints are docs as points whose vectors are Documents for
// spladeq's two models and Qdrant's BM25, with the ids and payload spladeq
// itself would give.
func documentPoints(docs []plugin.DocumentInput) []*qc.PointStruct {
	var points []*qc.PointStruct
	for _, d := range docs {
		points = append(points, &qc.PointStruct{Id: qc.NewID(qdrant.PointID(d.ID, 0)),
			Payload: qc.NewValueMap(map[string]any{"doc_id": d.ID, "text": d.Text}),
			Vectors: qc.NewVectorsMap(map[string]*qc.Vector{
				"splade": qc.NewVectorDocument(&qc.Document{Text: d.Text, Model: "spladeq/sparse"}),
				"dense":  qc.NewVectorDocument(&qc.Document{Text: d.Text, Model: "spladeq/dense"}),
				"bm25":   qc.NewVectorDocument(&qc.Document{Text: d.Text, Model: "qdrant/bm25"}),
			})})
	}
	return points
}

// pythonClientInference runs integration/testdata/qdrant_client_inference.py
// with the official Python qdrant-client from .deps/venv.
func pythonClientInference(t *testing.T, spec map[string]any) map[string]map[string][]scoredID {
	t.Helper()
	py := filepath.Join(repoRoot, ".deps", "venv", "bin", "python")
	if err := exec.Command(py, "-c", "import qdrant_client").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: the Python qdrant-client is not in %s: make test installs it (scripts/pytools.sh)", py)
		}
		t.Skipf("the Python qdrant-client is not in %s (make test installs it: scripts/pytools.sh)", py)
	}
	var docs []map[string]any
	for _, d := range inferenceDocs {
		docs = append(docs, map[string]any{"id": d.ID, "point_id": qdrant.PointID(d.ID, 0), "text": d.Text})
	}
	spec["docs"], spec["queries"], spec["sparse_model"], spec["dense_model"], spec["dense_size"] = docs, inferenceQueries, "spladeq/sparse", "spladeq/dense", 384
	in, _ := json.Marshal(spec)
	cmd := exec.Command(py, filepath.Join(repoRoot, "integration", "testdata", "qdrant_client_inference.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outData, err := cmd.Output()
	if err != nil {
		t.Fatalf("python qdrant-client: %v\n%s", err, stderr.String())
	}
	// The client's version check (on: GET / of http_port) warns when the
	// server is more than a minor version away, or says no version.
	if w := stderr.String(); strings.Contains(w, "compatib") {
		t.Errorf("the Python qdrant-client's compatibility check warns:\n%s", w)
	}
	var raw map[string]map[string][][2]any
	if err := json.Unmarshal(outData, &raw); err != nil {
		t.Fatalf("python output: %v: %s", err, outData)
	}
	out := map[string]map[string][]scoredID{}
	for q, kinds := range raw {
		out[q] = map[string][]scoredID{}
		for k, hits := range kinds {
			for _, h := range hits {
				out[q][k] = append(out[q][k], scoredID{h[0].(string), h[1].(float64)})
			}
		}
	}
	return out
}

func compareAll(t *testing.T, who string, got, want map[string]map[string][]scoredID) {
	t.Helper()
	for _, q := range inferenceQueries {
		kinds := make([]string, 0, len(want[q]))
		for k := range want[q] {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			sameRanking(t, fmt.Sprintf("%s, %s query %q", who, k, q), got[q][k], want[q][k], 1e-4)
		}
	}
}

// TestQdrantClientsGetSPLADEThroughInference drives server-side inference
// with clients nobody here wrote — the go-client and the official Python
// qdrant-client (REST and gRPC) — against the embedded store exposed on
// loopback and against a real Qdrant of each release whose
// inference.address is spladeq; every answer must equal spladeq's own
// search for the same texts. Each query mixes qdrant/bm25 (Qdrant computes
// it itself; the embedded store in-process), spladeq/sparse and
// spladeq/dense Documents, alone and fused. The Python client's
// compatibility check is on and must not warn: against the embedded store
// it reads the version from spladeq's HTTP API (GET /).
func TestQdrantClientsGetSPLADEThroughInference(t *testing.T) {
	svc, srv := inferenceService(t, nil)
	const limit = 8
	prefetch := svc.Config().Search.PrefetchLimit
	want := ownResults(t, svc, limit)

	t.Run("the embedded store's gRPC API, exposed on loopback", func(t *testing.T) {
		key := "embedded-grpc-key-0123456789"
		addr, stop := serveQdrantAPI(t, svc, key)
		defer stop()
		compareAll(t, "go-client", goClientInference(t, addr, key, "via_go", limit, prefetch), want)
		_, port, _ := net.SplitHostPort(addr)
		_, httpPort, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
		compareAll(t, "python qdrant-client (gRPC)", pythonClientInference(t, map[string]any{
			"prefer_grpc": true, "grpc_port": atoi(port), "http_port": atoi(httpPort), "api_key": key, "collection": "via_python", "limit": limit, "prefetch_limit": prefetch}), want)
	})

	qdranttest.ForEachVersion(t, func(t *testing.T, version string) {
		realQdrantInference(t, srv, version, want, limit, prefetch)
	})
}

// realQdrantInference runs the clients against a real Qdrant of version
// pointed at spladeq (srv); for the newest release, it then stops srv.
func realQdrantInference(t *testing.T, srv *httptest.Server, version string, want map[string]map[string][]scoredID, limit, prefetch int) {
	t.Run("a real Qdrant with inference.address pointing at spladeq", func(t *testing.T) {
		node := qdranttest.StartVersion(t, version, qdranttest.Options{InferenceAddress: srv.URL + "/v1/qdrant/inference", InferenceToken: inferenceToken})
		compareAll(t, "go-client", goClientInference(t, node.GRPCAddr(), "", "via_go", limit, prefetch), want)
		compareAll(t, "python qdrant-client (REST)", pythonClientInference(t, map[string]any{
			"prefer_grpc": false, "http_port": node.HTTPPort, "collection": "via_python_rest", "limit": limit, "prefetch_limit": prefetch}), want)
		compareAll(t, "python qdrant-client (gRPC)", pythonClientInference(t, map[string]any{
			"prefer_grpc": true, "grpc_port": node.GRPCPort, "http_port": node.HTTPPort, "collection": "via_python_grpc", "limit": limit, "prefetch_limit": prefetch}), want)

		if version != qdranttest.Newest() {
			return // the subtest below stops spladeq: the newest release's run does it
		}
		t.Run("with spladeq stopped, Qdrant answers the client with an error and stores nothing", func(t *testing.T) {
			ctx := context.Background()
			c, err := rawClient(node.GRPCAddr(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			before, err := c.Count(ctx, &qc.CountPoints{CollectionName: "via_go"})
			if err != nil {
				t.Fatal(err)
			}
			srv.Close()
			var pts []*qc.PointStruct
			for i := 0; i < 10; i++ {
				pts = append(pts, &qc.PointStruct{Id: qc.NewIDNum(uint64(1000 + i)), Vectors: qc.NewVectorsMap(map[string]*qc.Vector{
					"splade": qc.NewVectorDocument(&qc.Document{Text: fmt.Sprint("new text ", i), Model: "spladeq/sparse"}),
					"dense":  qc.NewVectorDocument(&qc.Document{Text: fmt.Sprint("new text ", i), Model: "spladeq/dense"})})})
			}
			wait := true
			_, upErr := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "via_go", Wait: &wait, Points: pts})
			if upErr == nil {
				t.Fatal("upsert with Documents succeeded with spladeq stopped")
			}
			after, err := c.Count(ctx, &qc.CountPoints{CollectionName: "via_go"})
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("%d points after the failed upsert, %d before", after, before)
			}
			t.Logf("Qdrant's answer with spladeq down: %v", upErr)
		})
	})
}

// serveQdrantAPI serves the service's embedded store over Qdrant's gRPC
// API on a loopback port, as `spladeq serve --qdrant-grpc-listen` does.
func serveQdrantAPI(t *testing.T, svc *plugin.Service, keys ...string) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop, err = svc.Store().ServeEmbedded(l, keys, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l.Addr().String(), stop
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
