package embedded

import (
	"math/rand"
	"slices"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"
)

// TestDenseArenaSurvivesDeletesReputsAndCompaction: vectors live in a
// per-space arena indexed by slot. After points with one or both of two
// named vectors are put, deleted, re-put with new vectors and compacted
// (slots renumbered), every point's vectors must still read back as what
// was put last, and the full scan must return exactly a brute-force top k
// over those (ids and scores), for Dot and Euclid, with a filter and a
// threshold.
func TestDenseArenaSurvivesDeletesReputsAndCompaction(t *testing.T) {
	c, err := newCollection(&pb.CreateCollection{CollectionName: "a",
		VectorsConfig: pb.NewVectorsConfigMap(map[string]*pb.VectorParams{
			"dot": {Size: 1024, Distance: pb.Distance_Dot}, "l2": {Size: 3, Distance: pb.Distance_Euclid}})})
	if err != nil {
		t.Fatal(err)
	}
	if perChunk(1024) != 64 {
		t.Fatalf("perChunk(1024) = %d; the test wants many chunks", perChunk(1024))
	}
	rng := rand.New(rand.NewSource(5))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	want := map[uint64]map[string][]float32{} // what each live point holds
	put := func(id uint64) {
		vs := map[string]*pb.Vector{}
		w := map[string][]float32{}
		if id%3 != 0 {
			w["dot"] = vec(1024)
			vs["dot"] = pb.NewVectorDense(w["dot"])
		}
		if id%2 == 0 || len(vs) == 0 {
			w["l2"] = vec(3)
			vs["l2"] = pb.NewVectorDense(w["l2"])
		}
		p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(id), Vectors: pb.NewVectorsMap(vs),
			Payload: map[string]*pb.Value{"even": pb.NewValueBool(id%2 == 0)}})
		if err != nil {
			t.Fatal(err)
		}
		c.put(p)
		want[id] = w
	}
	del := func(id uint64) {
		k, _ := pointKey(pb.NewIDNum(id))
		c.del(k)
		delete(want, id)
	}
	const n = 3000 // dozens of 64-vector chunks of "dot"
	for id := uint64(0); id < n; id++ {
		put(id)
	}
	for id := uint64(0); id < n; id += 4 {
		del(id)
	}
	for id := uint64(1); id < n; id += 5 {
		put(id) // new vectors, new slots
	}
	check := func(stage string) {
		t.Helper()
		for id, w := range want {
			k, _ := pointKey(pb.NewIDNum(id))
			p := c.slots[c.byKey[k]]
			for name, v := range w {
				if !slices.Equal(p.dense[name], v) {
					t.Fatalf("%s: point %d vector %s reads %v, put %v", stage, id, name, p.dense[name], v)
				}
			}
			if len(p.dense) != len(w) {
				t.Fatalf("%s: point %d has %d vectors, put %d", stage, id, len(p.dense), len(w))
			}
		}
		even, _ := compileFilter(&pb.Filter{Must: []*pb.Condition{pb.NewMatchBool("even", true)}})
		thr := float32(0.5)
		for _, tc := range []struct {
			using  string
			dim    int
			filter *filter
			thr    *float32
		}{{"dot", 1024, nil, nil}, {"l2", 3, nil, nil}, {"dot", 1024, even, nil}, {"dot", 1024, nil, &thr}} {
			q := vec(tc.dim)
			got := c.nearestDense(node{using: tc.using, limit: 10, filter: tc.filter, threshold: tc.thr}, c.dense[tc.using], q, nil).points
			// Brute force over what was put.
			var all []scored
			for id, w := range want {
				v, ok := w[tc.using]
				if !ok || (tc.filter != nil && id%2 != 0) {
					continue
				}
				k, _ := pointKey(pb.NewIDNum(id))
				s := float32(denseScore(c.dense[tc.using].dist, q, v))
				asc := tc.using == "l2"
				if tc.thr != nil && ((asc && s > *tc.thr) || (!asc && s < *tc.thr)) {
					continue
				}
				all = append(all, scored{p: c.slots[c.byKey[k]], score: s})
			}
			sortScored(all, tc.using == "l2")
			all = all[:min(10, len(all))]
			if len(got) != len(all) {
				t.Fatalf("%s %s: %d results, brute force %d", stage, tc.using, len(got), len(all))
			}
			for i := range all {
				if got[i].p.key != all[i].p.key || got[i].score != all[i].score {
					t.Fatalf("%s %s rank %d: scan %s %v, brute force %s %v", stage, tc.using, i, got[i].p.key, got[i].score, all[i].p.key, all[i].score)
				}
			}
		}
	}
	check("after deletes and re-puts")
	before := len(c.slots)
	for id := uint64(0); id < n; id++ {
		if id%4 != 0 && id%7 != 0 {
			del(id)
		}
	}
	c.maybeCompact()
	if len(c.slots) >= before {
		t.Fatalf("no compaction: %d slots before, %d after", before, len(c.slots))
	}
	check("after compaction")
	for id := uint64(n); id < n+500; id++ {
		put(id)
	}
	check("after more puts")
}
