package embedded

import (
	"fmt"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"
)

func testCollection(t *testing.T, s *Store) {
	t.Helper()
	err := s.create(&pb.CreateCollection{CollectionName: "c",
		VectorsConfig:       pb.NewVectorsConfigMap(map[string]*pb.VectorParams{"d": {Size: 2, Distance: pb.Distance_Dot}}),
		SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {}}),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pt(id uint64, w float32, text string) *pb.PointStruct {
	return &pb.PointStruct{Id: pb.NewIDNum(id), Payload: map[string]*pb.Value{"text": pb.NewValueString(text)},
		Vectors: pb.NewVectorsMap(map[string]*pb.Vector{
			"s": pb.NewVectorSparse([]uint32{uint32(id % 7), 100}, []float32{w, 1}),
			"d": pb.NewVectorDense([]float32{w, 1}),
		})}
}

// search returns id → score of a sparse query {100: 1} over every point.
func sparseScores(t *testing.T, c *collection) map[string]float32 {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	res, err := c.run(node{query: pb.NewQuerySparse([]uint32{100}, []float32{1}), using: "s", limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float32{}
	for _, s := range res.points {
		out[s.p.key] = s.score
	}
	return out
}

func TestUpdatesAndCompactionKeepTheIndexConsistent(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testCollection(t, s)
	const n = 1500
	for round := 0; round < 3; round++ {
		var batch []*pb.PointStruct
		for i := uint64(0); i < n; i++ {
			batch = append(batch, pt(i, float32(round), fmt.Sprint("round ", round)))
		}
		if err := s.upsert("c", batch); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := s.get("c")
	if len(c.byKey) != n {
		t.Fatalf("live = %d, want %d", len(c.byKey), n)
	}
	if len(c.slots) >= 3*n {
		t.Errorf("%d slots for %d live points: compaction never ran", len(c.slots), n)
	}
	if got := len(sparseScores(t, c)); got != n {
		t.Errorf("sparse query found %d points, want %d (stale postings leaked or live ones lost)", got, n)
	}
	if df := c.sparse["s"].df[100]; df != n {
		t.Errorf("df[100] = %d, want %d", df, n)
	}
	// Delete half by filter; the index must agree with what is stored.
	var ids []*pb.PointId
	for i := uint64(0); i < n; i += 2 {
		ids = append(ids, pb.NewIDNum(i))
	}
	if err := s.remove("c", pb.NewPointsSelector(ids...)); err != nil {
		t.Fatal(err)
	}
	if got := len(sparseScores(t, c)); got != n/2 {
		t.Errorf("after deleting half, sparse query found %d, want %d", got, n/2)
	}
	if df := c.sparse["s"].df[100]; df != n/2 {
		t.Errorf("df[100] after delete = %d, want %d", df, n/2)
	}
}

func TestReopenRebuildsTheSameIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	testCollection(t, s)
	var batch []*pb.PointStruct
	for i := uint64(0); i < 200; i++ {
		batch = append(batch, pt(i, float32(i%5), "x"))
	}
	if err := s.upsert("c", batch); err != nil {
		t.Fatal(err)
	}
	if err := s.remove("c", pb.NewPointsSelector(pb.NewIDNum(3))); err != nil {
		t.Fatal(err)
	}
	c, _ := s.get("c")
	before := sparseScores(t, c)
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ = s.get("c")
	after := sparseScores(t, c)
	if len(after) != len(before) || len(after) != 199 {
		t.Fatalf("%d points after reopen, %d before, want 199", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: score %v after reopen, %v before", k, after[k], v)
		}
	}
}

func TestUUIDForms(t *testing.T) {
	for _, in := range []string{"936DA01F-9ABD-4D9D-80C7-02AF85C822A8", "936da01f9abd4d9d80c702af85c822a8", "urn:uuid:936da01f-9abd-4d9d-80c7-02af85c822a8"} {
		got, err := canonicalUUID(in)
		if err != nil || got != "936da01f-9abd-4d9d-80c7-02af85c822a8" {
			t.Errorf("canonicalUUID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xyz", "936da01f-9abd-4d9d-80c7-02af85c822a"} {
		if _, err := canonicalUUID(in); err == nil {
			t.Errorf("canonicalUUID(%q) accepted", in)
		}
	}
}

func TestMetadataAndVectorUpdatesSurviveAReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	testCollection(t, s)
	if err := s.upsert("c", []*pb.PointStruct{pt(1, 2, "one"), pt(2, 3, "two")}); err != nil {
		t.Fatal(err)
	}
	upd := []*pb.PointStruct{{Id: pb.NewIDNum(2), Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"s": pb.NewVectorSparse([]uint32{100}, []float32{5})})}}
	if err := s.updateVectors("c", upd); err != nil {
		t.Fatal(err)
	}
	if err := s.setMetadata("c", map[string]*pb.Value{"k": pb.NewValueString("v"), "gone": pb.NewValueNull()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.get("c")
	if err != nil {
		t.Fatal(err)
	}
	// Point 1 keeps {100: 1}; point 2's sparse vector is now {100: 5}.
	got := sparseScores(t, c)
	if got["n00000000000000000001"] != 1 || got["n00000000000000000002"] != 5 || len(got) != 2 {
		t.Errorf("scores after reopen %v, want point 1 at 1 and point 2 at 5", got)
	}
	p := c.slots[c.byKey["n00000000000000000002"]]
	if d := p.dense["d"]; len(d) != 2 || d[0] != 3 || p.payload["text"].GetStringValue() != "two" {
		t.Errorf("point 2 after its sparse update: dense %v payload %v, want [3 1] and text two", d, p.payload)
	}
	if md := c.cfg.GetMetadata(); len(md) != 1 || md["k"].GetStringValue() != "v" {
		t.Errorf("metadata after reopen %v, want k: v", md)
	}
}
