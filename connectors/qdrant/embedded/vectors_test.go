package embedded_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
	"github.com/spladeq/spladeq/internal/qdranttest"
)

func TestMain(m *testing.M) { qdranttest.Main(m) }

// vectorStep is one call of the named-vector script and how to render its
// outcome, so the embedded store's and Qdrant's can be compared as text.
type vectorStep struct {
	name string
	do   func(ctx context.Context, c *pb.Client) string
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	st, _ := status.FromError(err)
	return st.Code().String() + ": " + st.Message()
}

// embeddedWording undoes what the embedded store adds to Qdrant's
// messages on purpose: which point of a batch was refused, and a name for
// the unnamed vector.
var embeddedWording = strings.NewReplacer("points[0] (id 4): ", "", "points[0] (id 5): ", "", "(unnamed default vector)", "")

func result(r *pb.UpdateResult, err error) string {
	if err != nil {
		return outcome(err)
	}
	return "ok " + r.GetStatus().String()
}

func sparseCfg(m *pb.Modifier, dt *pb.Datatype) *pb.CreateVectorNameRequest_SparseConfig {
	return &pb.CreateVectorNameRequest_SparseConfig{SparseConfig: &pb.SparseVectorCreationConfig{Modifier: m, Datatype: dt}}
}

func denseCfg(size uint64, d pb.Distance, dt *pb.Datatype) *pb.CreateVectorNameRequest_DenseConfig {
	return &pb.CreateVectorNameRequest_DenseConfig{DenseConfig: &pb.DenseVectorCreationConfig{Size: size, Distance: d, Datatype: dt}}
}

func createVector(coll, name string, wait bool, cfg any) vectorStep {
	return vectorStep{fmt.Sprintf("create %q in %s: %v", name, coll, cfg), func(ctx context.Context, c *pb.Client) string {
		req := &pb.CreateVectorNameRequest{CollectionName: coll, VectorName: name}
		if wait {
			req.Wait = pb.PtrOf(true)
		}
		switch x := cfg.(type) {
		case *pb.CreateVectorNameRequest_SparseConfig:
			req.VectorConfig = x
		case *pb.CreateVectorNameRequest_DenseConfig:
			req.VectorConfig = x
		}
		return result(c.CreateVectorName(ctx, req))
	}}
}

func deleteVector(coll, name string) vectorStep {
	return vectorStep{fmt.Sprintf("delete %q in %s", name, coll), func(ctx context.Context, c *pb.Client) string {
		return result(c.DeleteVectorName(ctx, &pb.DeleteVectorNameRequest{CollectionName: coll, VectorName: name, Wait: pb.PtrOf(true)}))
	}}
}

// describe renders a collection's vectors as Qdrant reports them.
func describe(coll string) vectorStep {
	return vectorStep{"describe " + coll, func(ctx context.Context, c *pb.Client) string {
		info, err := c.GetCollectionInfo(ctx, coll)
		if err != nil {
			return outcome(err)
		}
		p := info.GetConfig().GetParams()
		var out []string
		switch vc := p.GetVectorsConfig().GetConfig().(type) {
		case *pb.VectorsConfig_Params:
			out = append(out, "unnamed "+vc.Params.String())
		case *pb.VectorsConfig_ParamsMap:
			for name, v := range vc.ParamsMap.GetMap() {
				out = append(out, fmt.Sprintf("dense %q size %d %v datatype %v multi %v", name, v.GetSize(), v.GetDistance(), v.Datatype, v.GetMultivectorConfig()))
			}
		}
		for name, v := range p.GetSparseVectorsConfig().GetMap() {
			var dt *pb.Datatype
			if v.GetIndex() != nil {
				dt = v.GetIndex().Datatype
			}
			out = append(out, fmt.Sprintf("sparse %q modifier %v datatype %v", name, v.Modifier, dt))
		}
		sort.Strings(out)
		return strings.Join(out, "; ")
	}}
}

// scrollAll renders every point's vectors, names sorted.
func scrollAll(coll string) vectorStep {
	return vectorStep{"scroll " + coll, func(ctx context.Context, c *pb.Client) string {
		pts, err := c.Scroll(ctx, &pb.ScrollPoints{CollectionName: coll, WithVectors: pb.NewWithVectors(true), Limit: pb.PtrOf(uint32(100))})
		if err != nil {
			return outcome(err)
		}
		var out []string
		for _, p := range pts {
			s := fmt.Sprintf("%d:", p.GetId().GetNum())
			if v := p.GetVectors().GetVector(); v != nil {
				s += fmt.Sprintf(" single %v", v.GetDense().GetData())
			}
			vs := p.GetVectors().GetVectors().GetVectors()
			names := make([]string, 0, len(vs))
			for n := range vs {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				v := vs[n]
				if sp := v.GetSparse(); sp != nil {
					s += fmt.Sprintf(" %q sparse %d terms", n, len(sp.GetIndices()))
				} else {
					s += fmt.Sprintf(" %q dense %v", n, v.GetDense().GetData())
				}
			}
			if p.GetVectors() != nil && p.GetVectors().GetVectorsOptions() == nil {
				s += " no vectors"
			}
			out = append(out, s)
		}
		return strings.Join(out, "; ")
	}}
}

func query(coll, using string, q *pb.Query) vectorStep {
	return vectorStep{fmt.Sprintf("query %s using %q", coll, using), func(ctx context.Context, c *pb.Client) string {
		res, err := c.Query(ctx, &pb.QueryPoints{CollectionName: coll, Query: q, Using: pb.PtrOf(using)})
		if err != nil {
			return outcome(err)
		}
		var out []string
		for _, p := range res {
			out = append(out, fmt.Sprintf("%d %.4f", p.GetId().GetNum(), p.GetScore()))
		}
		return "[" + strings.Join(out, ", ") + "]"
	}}
}

func updateVectors(coll string, points ...*pb.PointVectors) vectorStep {
	return vectorStep{fmt.Sprintf("update vectors in %s: %v", coll, points), func(ctx context.Context, c *pb.Client) string {
		return result(c.UpdateVectors(ctx, &pb.UpdatePointVectors{CollectionName: coll, Wait: pb.PtrOf(true), Points: points}))
	}}
}

func upsert(coll string, points ...*pb.PointStruct) vectorStep {
	return vectorStep{fmt.Sprintf("upsert into %s: %v", coll, points), func(ctx context.Context, c *pb.Client) string {
		return result(c.Upsert(ctx, &pb.UpsertPoints{CollectionName: coll, Wait: pb.PtrOf(true), Points: points}))
	}}
}

func vecs(m map[string]*pb.Vector) *pb.Vectors { return pb.NewVectorsMap(m) }

func bm25Vec(text string) *pb.Vector {
	return pb.NewVectorDocument(&pb.Document{Text: text, Model: "qdrant/bm25"})
}

// vectorScript adds, fills, deletes and re-creates named vectors, with
// every refusal Qdrant 1.19.0 has for them.
func vectorScript() []vectorStep {
	bm25Query := pb.NewQueryDocument(&pb.Document{Text: "buffered reader", Model: "qdrant/bm25"})
	steps := []vectorStep{
		{"create collection v (one unnamed dense vector) and upsert 2 points", func(ctx context.Context, c *pb.Client) string {
			err := c.CreateCollection(ctx, &pb.CreateCollection{CollectionName: "v", VectorsConfig: pb.NewVectorsConfig(&pb.VectorParams{Size: 2, Distance: pb.Distance_Dot})})
			if err != nil {
				return outcome(err)
			}
			_, err = c.Upsert(ctx, &pb.UpsertPoints{CollectionName: "v", Wait: pb.PtrOf(true), Points: []*pb.PointStruct{
				{Id: pb.NewIDNum(1), Vectors: pb.NewVectors(1, 2)}, {Id: pb.NewIDNum(2), Vectors: pb.NewVectors(2, 1)}}})
			return outcome(err)
		}},
		createVector("v", "bm25", true, sparseCfg(pb.Modifier_Idf.Enum(), nil)),
		createVector("v", "bm25", true, sparseCfg(pb.Modifier_Idf.Enum(), nil)),
		createVector("v", "bm25", true, sparseCfg(nil, nil)),
		createVector("v", "bm25", true, sparseCfg(pb.Modifier_None.Enum(), nil)),
		createVector("v", "bm25", true, sparseCfg(pb.Modifier_Idf.Enum(), pb.Datatype_Float16.Enum())),
		createVector("v", "", true, sparseCfg(nil, nil)),
		createVector("v", "d2", false, denseCfg(3, pb.Distance_Cosine, nil)),
		createVector("v", "d2", true, denseCfg(4, pb.Distance_Cosine, nil)),
		createVector("v", "d2", true, denseCfg(3, pb.Distance_Cosine, pb.Datatype_Float32.Enum())),
		createVector("v", "d2", true, denseCfg(3, pb.Distance_Cosine, nil)),
		createVector("v", "bm25", true, denseCfg(3, pb.Distance_Cosine, nil)),
		createVector("v", "x", true, nil),
		createVector("v", "x", true, denseCfg(0, pb.Distance_Cosine, nil)),
		createVector("v", "x", true, denseCfg(70000, pb.Distance_Cosine, nil)),
		createVector("v", "x", true, denseCfg(3, pb.Distance_UnknownDistance, nil)),
		createVector("v", "a/b", true, sparseCfg(nil, nil)),
		createVector("v", strings.Repeat("n", 201), true, sparseCfg(nil, nil)),
		createVector("v", strings.Repeat("n", 200), true, sparseCfg(nil, nil)),
		createVector("absent", "x", true, sparseCfg(nil, nil)),
		deleteVector("absent", "x"),
		describe("v"),
		scrollAll("v"),
		query("v", "bm25", bm25Query),
		query("v", "d2", pb.NewQuery(1, 0, 0)),
		updateVectors("v", &pb.PointVectors{Id: pb.NewIDNum(1), Vectors: vecs(map[string]*pb.Vector{"bm25": bm25Vec("A buffered reader reads ahead")})},
			&pb.PointVectors{Id: pb.NewIDNum(2), Vectors: vecs(map[string]*pb.Vector{"d2": pb.NewVectorDense([]float32{3, 0, 4})})}),
		scrollAll("v"),
		query("v", "bm25", bm25Query),
		query("v", "d2", pb.NewQuery(1, 0, 0)),
		updateVectors("v", &pb.PointVectors{Id: pb.NewIDNum(9), Vectors: vecs(map[string]*pb.Vector{"bm25": bm25Vec("x")})}),
		updateVectors("v", &pb.PointVectors{Id: pb.NewIDNum(1), Vectors: vecs(map[string]*pb.Vector{"nope": bm25Vec("x")})}),
		updateVectors("v", &pb.PointVectors{Id: pb.NewIDNum(1), Vectors: vecs(map[string]*pb.Vector{"d2": pb.NewVectorDense([]float32{1, 2})})}),
		updateVectors("v", &pb.PointVectors{Id: pb.NewIDNum(1)}),
		upsert("v", &pb.PointStruct{Id: pb.NewIDNum(3), Vectors: vecs(map[string]*pb.Vector{
			"": pb.NewVectorDense([]float32{0, 1}), "bm25": bm25Vec("a reader of buffers"), "d2": pb.NewVectorDense([]float32{0, 1, 0})})}),
		scrollAll("v"),
		deleteVector("v", "bm25"),
		describe("v"),
		scrollAll("v"),
		query("v", "bm25", bm25Query),
		upsert("v", &pb.PointStruct{Id: pb.NewIDNum(4), Vectors: vecs(map[string]*pb.Vector{"bm25": bm25Vec("x")})}),
		createVector("v", "bm25", true, sparseCfg(pb.Modifier_Idf.Enum(), nil)),
		scrollAll("v"),
		query("v", "bm25", bm25Query),
		deleteVector("v", "never-there"),
		deleteVector("v", ""),
		describe("v"),
		scrollAll("v"),
		upsert("v", &pb.PointStruct{Id: pb.NewIDNum(5), Vectors: pb.NewVectors(1, 1)}),
		createVector("v", "", true, sparseCfg(nil, nil)),
		describe("v"),
		deleteVector("v", "d2"),
		deleteVector("v", strings.Repeat("n", 200)),
		describe("v"),
		scrollAll("v"),
		{"create collection w with on-disk vectors", func(ctx context.Context, c *pb.Client) string {
			return outcome(c.CreateCollection(ctx, &pb.CreateCollection{CollectionName: "w",
				VectorsConfig:       pb.NewVectorsConfigMap(map[string]*pb.VectorParams{"d": {Size: 2, Distance: pb.Distance_Dot, OnDisk: pb.PtrOf(true)}}),
				SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {Index: &pb.SparseIndexConfig{OnDisk: pb.PtrOf(true)}}})}))
		}},
		createVector("w", "d", true, denseCfg(2, pb.Distance_Dot, nil)),
		createVector("w", "s", true, sparseCfg(nil, nil)),
		createVector("w", "s16", true, sparseCfg(nil, pb.Datatype_Float16.Enum())),
		describe("w"),
	}
	return steps
}

// TestVectorNamesEqualQdrant runs the same CreateVectorName,
// DeleteVectorName and UpdateVectors calls against Qdrant 1.19.0 and the
// embedded store and wants the same outcome of each: results, refusals
// with their codes and messages, configurations, stored vectors and
// search results. Qdrant 1.17.1 has neither call.
func TestVectorNamesEqualQdrant(t *testing.T) {
	ctx := context.Background()
	emb := startEmbedded(t, embedded.WithInference((&hookCalls{}).hook))
	qdranttest.ForEachVersion(t, func(t *testing.T, version string) {
		real := client(t, qdranttest.Shared(t, version).GRPCPort)
		if version == qdranttest.V1_17 {
			for _, err := range []error{
				func() error {
					_, err := real.CreateVectorName(ctx, &pb.CreateVectorNameRequest{CollectionName: "x", VectorName: "y"})
					return err
				}(),
				func() error {
					_, err := real.DeleteVectorName(ctx, &pb.DeleteVectorNameRequest{CollectionName: "x", VectorName: "y"})
					return err
				}(),
			} {
				if got := status.Code(err); got != codes.Unimplemented {
					t.Errorf("Qdrant %s: got %v, want Unimplemented", version, err)
				}
			}
			return
		}
		for i, s := range vectorScript() {
			want := s.do(ctx, real)
			got := embeddedWording.Replace(s.do(ctx, emb))
			if got != want {
				t.Errorf("step %d, %s:\nembedded: %s\nqdrant:   %s", i, s.name, got, want)
			}
		}
	})
}

// TestVectorNamesSurviveRestart runs the script, reopens the store, and
// finds the configurations and points as they were.
func TestVectorNamesSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() (*pb.Client, func()) {
		store, err := embedded.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		srv := embedded.NewServer(store)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(lis)
		c, err := pb.NewClient(&pb.Config{Host: "127.0.0.1", Port: lis.Addr().(*net.TCPAddr).Port, SkipCompatibilityCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		return c, func() { c.Close(); srv.Stop(); store.Close() }
	}
	c, stop := open()
	final := map[string]string{}
	var checks []vectorStep
	for _, s := range vectorScript() {
		out := s.do(ctx, c)
		if strings.HasPrefix(s.name, "describe ") || strings.HasPrefix(s.name, "scroll ") {
			if _, seen := final[s.name]; !seen {
				checks = append(checks, s)
			}
			final[s.name] = out
		}
	}
	stop()
	c, stop = open()
	defer stop()
	for _, s := range checks {
		if got := s.do(ctx, c); got != final[s.name] {
			t.Errorf("after reopening, %s:\ngot  %s\nwant %s", s.name, got, final[s.name])
		}
	}
}

// TestVersionIsTheNewestTested pins the version the store reports to the
// release its behaviour is compared with: the newest the tests run, whose
// BM25 it computes.
func TestVersionIsTheNewestTested(t *testing.T) {
	if embedded.Version != qdranttest.Newest() {
		t.Errorf("embedded.Version = %s, the newest Qdrant the tests run is %s", embedded.Version, qdranttest.Newest())
	}
	if got := bm25.Latest.String(); got != embedded.Version {
		t.Errorf("bm25.Latest = %s, embedded.Version = %s", got, embedded.Version)
	}
	for _, client := range []string{"1.18.0", "1.19.0", "1.20.0"} {
		if !pb.IsCompatible(client, embedded.Version) {
			t.Errorf("go-client %s calls the store's version %s incompatible", client, embedded.Version)
		}
	}
}
