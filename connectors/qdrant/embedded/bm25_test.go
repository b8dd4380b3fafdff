package embedded_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/internal/realtext"
)

// hookCalls records what reached the inference hook.
type hookCalls struct {
	mu     sync.Mutex
	models []string
}

// hook vectorizes model "test/dense" as a fixed 4-d vector and refuses any
// other model, so a BM25 Document reaching it fails the request.
func (h *hookCalls) hook(_ context.Context, in []embedded.InferenceInput, _ bool) ([]embedded.InferenceVector, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]embedded.InferenceVector, len(in))
	for i, x := range in {
		h.models = append(h.models, x.Model)
		if x.Model != "test/dense" {
			return nil, status.Errorf(codes.InvalidArgument, "hook: unexpected model %q", x.Model)
		}
		out[i] = embedded.InferenceVector{Dense: []float32{1, float32(len(x.Text)), 0, 0}}
	}
	return out, nil
}

func startEmbedded(t *testing.T, opts ...embedded.ServerOption) *pb.Client {
	t.Helper()
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := embedded.NewServer(store, opts...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return client(t, lis.Addr().(*net.TCPAddr).Port)
}

func client(t *testing.T, port int) *pb.Client {
	t.Helper()
	c, err := pb.NewClient(&pb.Config{Host: "127.0.0.1", Port: port, SkipCompatibilityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func bm25Doc(text string, options map[string]any) *pb.Document {
	return &pb.Document{Text: text, Model: "qdrant/bm25", Options: pb.NewValueMap(options)}
}

func createBM25Collection(t *testing.T, c *pb.Client, name string) {
	t.Helper()
	err := c.CreateCollection(context.Background(), &pb.CreateCollection{
		CollectionName: name,
		VectorsConfig: pb.NewVectorsConfigMap(map[string]*pb.VectorParams{
			"dense": {Size: 4, Distance: pb.Distance_Dot},
		}),
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{
			"bm25":  {Modifier: pb.Modifier_Idf.Enum()},
			"plain": {},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func upsertDocs(t *testing.T, c *pb.Client, name string, texts []string, options map[string]any) {
	t.Helper()
	for start := 0; start < len(texts); start += 250 {
		var points []*pb.PointStruct
		for i := start; i < min(start+250, len(texts)); i++ {
			points = append(points, &pb.PointStruct{
				Id: pb.NewIDNum(uint64(i)),
				Vectors: pb.NewVectorsMap(map[string]*pb.Vector{
					"bm25":  pb.NewVectorDocument(bm25Doc(texts[i], options)),
					"plain": pb.NewVectorDocument(bm25Doc(texts[i], options)),
				}),
			})
		}
		if _, err := c.Upsert(context.Background(), &pb.UpsertPoints{CollectionName: name, Wait: pb.PtrOf(true), Points: points}); err != nil {
			t.Fatal(err)
		}
	}
}

// storedSparse reads every point's vector `using` back.
func storedSparse(t *testing.T, c *pb.Client, name, using string, n int) map[uint64]bm25.SparseVector {
	t.Helper()
	pts, err := c.Scroll(context.Background(), &pb.ScrollPoints{CollectionName: name, Limit: pb.PtrOf(uint32(n + 1)),
		WithVectors: pb.NewWithVectorsInclude(using)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]bm25.SparseVector{}
	for _, p := range pts {
		v := p.GetVectors().GetVectors().GetVectors()[using]
		var idx []uint32
		var val []float32
		if s := v.GetSparse(); s != nil {
			idx, val = s.GetIndices(), s.GetValues()
		} else {
			idx, val = v.GetIndices().GetData(), v.GetData()
		}
		order := make([]int, len(idx))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return int(int64(idx[a]) - int64(idx[b])) })
		var sv bm25.SparseVector
		for _, i := range order {
			sv.Indices = append(sv.Indices, idx[i])
			sv.Values = append(sv.Values, val[i])
		}
		out[p.GetId().GetNum()] = sv
	}
	return out
}

// noTokens are texts with no tokens: their vectors are empty, and Qdrant
// leaves such points out of IDF's document count.
var noTokens = []string{"the and of", "", "!?"}

// queryCase is one query sent to both servers.
type queryCase struct {
	name  string
	query *pb.QueryPoints
}

// queries are ~50 queries of 1 to 8 words taken from the texts, scored
// with IDF and without, directly and through prefetches.
func queries(texts []string) []queryCase {
	var out []queryCase
	for i := 0; len(out) < 44; i++ {
		words := strings.Fields(texts[(i*37)%len(texts)])
		n := 1 + i%8
		off := (i * 5) % max(1, len(words)-n)
		q := strings.Join(words[off:min(len(words), off+n)], " ")
		if n == 1 { // one word: the text's longest, not a likely stop word
			q = slices.MaxFunc(words, func(a, b string) int { return len(a) - len(b) })
		}
		using := "bm25"
		if i%4 == 3 {
			using = "plain"
		}
		out = append(out, queryCase{fmt.Sprintf("%s %q", using, q), &pb.QueryPoints{
			Query: pb.NewQueryDocument(bm25Doc(q, nil)), Using: pb.PtrOf(using), Limit: pb.PtrOf(uint64(10)),
		}})
	}
	out = append(out,
		queryCase{"model name in capitals", &pb.QueryPoints{
			Query: pb.NewQueryNearest(pb.NewVectorInputDocument(&pb.Document{Text: "buffer the reader", Model: "Qdrant/BM25"})),
			Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(10)),
		}},
		queryCase{"bare model name", &pb.QueryPoints{
			Query: pb.NewQueryNearest(pb.NewVectorInputDocument(&pb.Document{Text: "connection timeout", Model: "bm25"})),
			Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(10)),
		}},
		queryCase{"query options: no stemmer", &pb.QueryPoints{
			Query: pb.NewQueryDocument(bm25Doc("returns the error", map[string]any{"language": "none", "stopwords": "english"})),
			Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(10)),
		}},
		// Qdrant orders equal scores arbitrarily (not by id), so RRF,
		// which scores by rank, is compared on short prefetch lists
		// with no ties in them.
		queryCase{"RRF over two BM25 prefetches", &pb.QueryPoints{
			Prefetch: []*pb.PrefetchQuery{
				{Query: pb.NewQueryDocument(bm25Doc("read from the file", nil)), Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(5))},
				{Query: pb.NewQueryDocument(bm25Doc("write buffered bytes", nil)), Using: pb.PtrOf("plain"), Limit: pb.PtrOf(uint64(5))},
			},
			Query: pb.NewQueryFusion(pb.Fusion_RRF), Limit: pb.PtrOf(uint64(10)),
		}},
		queryCase{"nearest over a nested BM25 prefetch", &pb.QueryPoints{
			Prefetch: []*pb.PrefetchQuery{{
				Prefetch: []*pb.PrefetchQuery{{Query: pb.NewQueryDocument(bm25Doc("time zone location", nil)), Using: pb.PtrOf("plain"), Limit: pb.PtrOf(uint64(50))}},
				Query:    pb.NewQueryDocument(bm25Doc("time zone location", nil)), Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(20)),
			}},
			Query: pb.NewQueryDocument(bm25Doc("location", nil)), Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(10)),
		}},
		queryCase{"a query of stop words only", &pb.QueryPoints{
			Query: pb.NewQueryDocument(bm25Doc("the and of", nil)), Using: pb.PtrOf("bm25"), Limit: pb.PtrOf(uint64(10)),
		}},
	)
	return out
}

// TestBM25EqualsQdrant upserts 1,000 Go doc comments as BM25 Documents
// into a real Qdrant and the embedded store, checks the stored vectors are
// the same, and that ~50 queries (IDF-weighted and not, in prefetches,
// with options) return the same points with scores within 1e-4.
func TestBM25EqualsQdrant(t *testing.T) {
	node := qdranttest.Start(t, qdranttest.Options{})
	texts := realtext.GoDocComments(1000)
	if len(texts) < 1000 {
		t.Skipf("only %d Go doc comments on this machine", len(texts))
	}
	texts = append(texts, noTokens...)
	calls := &hookCalls{}
	emb := startEmbedded(t, embedded.WithInference(calls.hook))
	real := client(t, node.GRPCPort)
	for _, c := range []*pb.Client{real, emb} {
		createBM25Collection(t, c, "docs")
		upsertDocs(t, c, "docs", texts, nil)
	}
	for _, using := range []string{"bm25", "plain"} {
		want := storedSparse(t, real, "docs", using, len(texts))
		got := storedSparse(t, emb, "docs", using, len(texts))
		if len(got) != len(want) {
			t.Fatalf("%s: embedded holds %d vectors, Qdrant %d", using, len(got), len(want))
		}
		for id, w := range want {
			g := got[id]
			if !slices.Equal(g.Indices, w.Indices) || !closeAll(g.Values, w.Values, 1e-6) {
				t.Errorf("%s: point %d: embedded %v %v, Qdrant %v %v", using, id, g.Indices, g.Values, w.Indices, w.Values)
			}
		}
	}
	ctx := context.Background()
	for _, q := range queries(texts) {
		t.Run(q.name, func(t *testing.T) {
			q.query.CollectionName = "docs"
			want, err := real.Query(ctx, q.query)
			if err != nil {
				t.Fatalf("Qdrant: %v", err)
			}
			got, err := emb.Query(ctx, q.query)
			if err != nil {
				t.Fatalf("embedded: %v", err)
			}
			compareScored(t, got, want)
		})
	}
	if len(calls.models) != 0 {
		t.Errorf("the inference hook was called for %v; BM25 must be computed in-process", calls.models)
	}
	if *update {
		texts := goldenTexts(t)
		createBM25Collection(t, real, "golden")
		upsertDocs(t, real, "golden", texts, nil)
		var g queryGolden
		for _, q := range queries(texts) {
			q.query.CollectionName = "golden"
			res, err := real.Query(ctx, q.query)
			if err != nil {
				t.Fatalf("%s: %v", q.name, err)
			}
			raw, err := protojson.Marshal(q.query)
			if err != nil {
				t.Fatal(err)
			}
			gq := goldenQuery{Name: q.name, Query: raw}
			for _, p := range res {
				gq.IDs = append(gq.IDs, p.GetId().GetNum())
				gq.Scores = append(gq.Scores, p.GetScore())
			}
			g.Queries = append(g.Queries, gq)
		}
		b, err := json.MarshalIndent(g, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(queryGoldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", queryGoldenPath)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/bm25_queries.json from the real Qdrant binary")

// queryGoldenPath holds the results a real Qdrant 1.17.1 gave for
// queries(goldenTexts): the queries as protobuf JSON, the ids and scores.
const queryGoldenPath = "testdata/bm25_queries.json"

type queryGolden struct {
	Queries []goldenQuery `json:"queries"`
}

type goldenQuery struct {
	Name   string          `json:"name"`
	Query  json.RawMessage `json:"query"`
	IDs    []uint64        `json:"ids"`
	Scores []float32       `json:"scores"`
}

// goldenTexts are the texts of the default case of the bm25 package's
// golden file (Go doc comments), and noTokens.
func goldenTexts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../bm25/testdata/documents.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name string `json:"name"`
		Docs []struct {
			Text string `json:"text"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, d := range cases[0].Docs {
		texts = append(texts, d.Text)
	}
	if cases[0].Name != "default" || len(texts) < 100 {
		t.Fatalf("../bm25/testdata/documents.json: first case %q has %d texts, want the default case", cases[0].Name, len(texts))
	}
	return append(texts, noTokens...)
}

// TestBM25QueriesEqualGolden runs on the embedded store the queries whose
// results a real Qdrant gave over the same BM25 Documents (written by
// TestBM25EqualsQdrant -update), so IDF scoring is checked where the
// binary is absent.
func TestBM25QueriesEqualGolden(t *testing.T) {
	b, err := os.ReadFile(queryGoldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var g queryGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", queryGoldenPath, err)
	}
	if len(g.Queries) < 40 {
		t.Fatalf("%s holds %d queries, want at least 40", queryGoldenPath, len(g.Queries))
	}
	calls := &hookCalls{}
	emb := startEmbedded(t, embedded.WithInference(calls.hook))
	createBM25Collection(t, emb, "golden")
	upsertDocs(t, emb, "golden", goldenTexts(t), nil)
	for _, gq := range g.Queries {
		t.Run(gq.Name, func(t *testing.T) {
			var q pb.QueryPoints
			if err := protojson.Unmarshal(gq.Query, &q); err != nil {
				t.Fatal(err)
			}
			got, err := emb.Query(context.Background(), &q)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]*pb.ScoredPoint, len(gq.IDs))
			for i := range want {
				want[i] = &pb.ScoredPoint{Id: pb.NewIDNum(gq.IDs[i]), Score: gq.Scores[i]}
			}
			compareScored(t, got, want)
		})
	}
	if len(calls.models) != 0 {
		t.Errorf("the inference hook was called for %v", calls.models)
	}
}

// compareScored wants the same scores in order, within 1e-4 relative, and
// the same ids except among equal scores, whose order is arbitrary.
func compareScored(t *testing.T, got, want []*pb.ScoredPoint) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d points, want %d", len(got), len(want))
	}
	if len(want) == 0 {
		return
	}
	for i := range want {
		g, w := float64(got[i].GetScore()), float64(want[i].GetScore())
		if math.Abs(g-w) > 1e-4*math.Max(1, math.Abs(w)) {
			t.Errorf("rank %d: got score %v (id %d), want %v (id %d)", i, g, got[i].GetId().GetNum(), w, want[i].GetId().GetNum())
		}
	}
	tie := func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-4*math.Max(1, math.Abs(float64(b))) }
	last := want[len(want)-1].GetScore()
	var gotIDs, wantIDs []uint64
	for i := range want {
		if tie(want[i].GetScore(), last) {
			continue // the group cut by the limit may hold different points
		}
		gotIDs = append(gotIDs, got[i].GetId().GetNum())
		wantIDs = append(wantIDs, want[i].GetId().GetNum())
	}
	slices.Sort(gotIDs)
	slices.Sort(wantIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("got ids %v, want %v", gotIDs, wantIDs)
	}
}

func closeAll(a, b []float32, rel float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > rel*math.Abs(float64(b[i])) {
			return false
		}
	}
	return true
}

// TestBM25InMixedBatches upserts points carrying a BM25 Document and a
// Document of another model side by side: the BM25 vectors are computed
// in-process (equal to the bm25 package's), the others go to the hook,
// which never sees a BM25 Document.
func TestBM25InMixedBatches(t *testing.T) {
	calls := &hookCalls{}
	c := startEmbedded(t, embedded.WithInference(calls.hook))
	createBM25Collection(t, c, "mixed")
	ctx := context.Background()
	texts := []string{"Readers and writers of buffered files", "The zero value is ready to use", "Copying a Builder is not allowed"}
	opts := map[string]any{"language": "none", "k": 2}
	var points []*pb.PointStruct
	for i, text := range texts {
		points = append(points, &pb.PointStruct{Id: pb.NewIDNum(uint64(i)), Vectors: pb.NewVectorsMap(map[string]*pb.Vector{
			"bm25":  pb.NewVectorDocument(&pb.Document{Text: text, Model: []string{"qdrant/bm25", "BM25", "Qdrant/Bm25"}[i]}),
			"plain": pb.NewVectorDocument(bm25Doc(text, opts)),
			"dense": pb.NewVectorDocument(&pb.Document{Text: text, Model: "test/dense"}),
		})})
	}
	if _, err := c.Upsert(ctx, &pb.UpsertPoints{CollectionName: "mixed", Wait: pb.PtrOf(true), Points: points}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"test/dense", "test/dense", "test/dense"}; !slices.Equal(calls.models, want) {
		t.Errorf("the hook saw models %v, want %v", calls.models, want)
	}
	def, _ := bm25.New(bm25.DefaultOptions())
	parsed, err := bm25.ParseOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	withOpts, _ := bm25.New(parsed)
	for using, enc := range map[string]*bm25.Encoder{"bm25": def, "plain": withOpts} {
		got := storedSparse(t, c, "mixed", using, len(texts))
		for i, text := range texts {
			want := enc.Document(text)
			if g := got[uint64(i)]; !slices.Equal(g.Indices, want.Indices) || !slices.Equal(g.Values, want.Values) {
				t.Errorf("%s: point %d: stored %v %v, want %v %v", using, i, g.Indices, g.Values, want.Indices, want.Values)
			}
		}
	}

	t.Run("a mixed query batch sends only the other model to the hook", func(t *testing.T) {
		calls.models = nil
		_, err := c.QueryBatch(ctx, &pb.QueryBatchPoints{CollectionName: "mixed", QueryPoints: []*pb.QueryPoints{
			{CollectionName: "mixed", Query: pb.NewQueryDocument(bm25Doc("buffered readers", nil)), Using: pb.PtrOf("bm25")},
			{CollectionName: "mixed", Query: pb.NewQueryDocument(&pb.Document{Text: "buffered readers", Model: "test/dense"}), Using: pb.PtrOf("dense")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(calls.models, []string{"test/dense"}) {
			t.Errorf("the hook saw %v, want [test/dense]", calls.models)
		}
	})
	t.Run("a server with no hook still answers BM25", func(t *testing.T) {
		bare := startEmbedded(t)
		createBM25Collection(t, bare, "bare")
		upsertDocs(t, bare, "bare", texts, nil)
		res, err := bare.Query(ctx, &pb.QueryPoints{CollectionName: "bare", Query: pb.NewQueryDocument(bm25Doc("builder copying", nil)), Using: pb.PtrOf("bm25")})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].GetId().GetNum() != 2 {
			t.Errorf("got %v, want point 2 alone", res)
		}
		_, err = bare.Query(ctx, &pb.QueryPoints{CollectionName: "bare", Query: pb.NewQueryDocument(&pb.Document{Text: "x", Model: "test/dense"}), Using: pb.PtrOf("dense")})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("another model with no hook: got %v, want InvalidArgument", err)
		}
	})
	t.Run("bad options are refused naming the option", func(t *testing.T) {
		for _, c2 := range []struct {
			opts map[string]any
			want string
		}{
			{map[string]any{"k": "high"}, `option "k": must be a number`},
			{map[string]any{"tokenzier": "word"}, `option "tokenzier": unknown BM25 option`},
			{map[string]any{"tokenizer": "multilingual"}, `option "tokenizer"`},
		} {
			_, err := c.Query(ctx, &pb.QueryPoints{CollectionName: "mixed", Query: pb.NewQueryDocument(bm25Doc("x", c2.opts)), Using: pb.PtrOf("bm25")})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c2.want) {
				t.Errorf("options %v: got %v, want InvalidArgument containing %q", c2.opts, err, c2.want)
			}
		}
	})
}
