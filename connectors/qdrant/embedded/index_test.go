package embedded

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"
)

// keysOf lists the keys of points, sorted.
func keysOf(ps []*point) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.key
	}
	sort.Strings(out)
	return out
}

// TestKeywordIndexAnswersAsAScanDoes drives random upserts, deletes,
// payload updates and compactions, and after each step compares what an
// indexed filter finds with a full scan of the same filter; then again
// after the store is reopened.
func TestKeywordIndexAnswersAsAScanDoes(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	testCollection(t, s)
	if err := s.createKeywordIndex("c", "doc"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	withDoc := func(id uint64) *pb.PointStruct {
		p := pt(id, 1, "x")
		p.Payload["doc"] = pb.NewValueString(fmt.Sprint("d", rng.Intn(40)))
		if rng.Intn(5) == 0 { // a list value: every element is indexed
			p.Payload["doc"] = pb.NewValueFromList(pb.NewValueString("d1"), pb.NewValueString(fmt.Sprint("d", rng.Intn(40))))
		}
		return p
	}
	check := func(step string) {
		t.Helper()
		c, _ := s.get("c")
		for _, values := range [][]string{{"d1"}, {"d2", "d3", "d39"}, {"none"}} {
			pf := &pb.Filter{Must: []*pb.Condition{pb.NewMatchKeywords("doc", values...)}}
			if len(values) == 1 {
				pf = &pb.Filter{Must: []*pb.Condition{pb.NewMatchKeyword("doc", values[0])}}
			}
			f, err := compileFilter(pf)
			if err != nil {
				t.Fatal(err)
			}
			c.mu.RLock()
			indexed := keysOf(c.matching(f))
			var scanned []*point
			for _, p := range c.slots {
				if p != nil && f.match(p) {
					scanned = append(scanned, p)
				}
			}
			c.mu.RUnlock()
			if fmt.Sprint(indexed) != fmt.Sprint(keysOf(scanned)) {
				t.Fatalf("%s, doc in %v: the index finds %d points, a scan %d", step, values, len(indexed), len(scanned))
			}
		}
	}
	for round := 0; round < 30; round++ {
		var batch []*pb.PointStruct
		for i := 0; i < 100; i++ {
			batch = append(batch, withDoc(uint64(rng.Intn(400))))
		}
		if err := s.upsert("c", batch); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprint("round ", round, " upsert"))
		var ids []*pb.PointId
		for i := 0; i < 60; i++ {
			ids = append(ids, pb.NewIDNum(uint64(rng.Intn(400))))
		}
		if err := s.remove("c", pb.NewPointsSelectorIDs(ids)); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprint("round ", round, " delete"))
		moved := fmt.Sprint("d", rng.Intn(40))
		sel := pb.NewPointsSelectorFilter(&pb.Filter{Must: []*pb.Condition{pb.NewMatchKeyword("doc", fmt.Sprint("d", rng.Intn(40)))}})
		if err := s.setPayload("c", sel, map[string]*pb.Value{"doc": pb.NewValueString(moved)}, nil); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprint("round ", round, " set payload"))
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, _ := s.get("c"); c.keywords["doc"] == nil {
		t.Fatal("the index was not rebuilt when the store opened")
	}
	check("reopened")
}
