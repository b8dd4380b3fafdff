package embedded

import (
	"encoding/binary"
	"math"
	"sync"
	"testing"

	pb "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/internal/synth"
)

var fuzzIndex struct {
	once sync.Once
	c    *collection
}

// fuzzCollection is built once per process: 20,000 points over a
// 200-term vocabulary (three windows, so pruning spans windows), every
// 9th deleted.
func fuzzCollection(t *testing.T) *collection {
	fuzzIndex.once.Do(func() {
		c, err := newCollection(&pb.CreateCollection{CollectionName: "f",
			SparseVectorsConfig: pb.NewSparseVectorsConfig(map[string]*pb.SparseVectorParams{"s": {}})})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range synth.SparseVectorsFreqWeighted(20_000, 20, 200, 8) {
			p, err := c.pointFromStruct(&pb.PointStruct{Id: pb.NewIDNum(uint64(i)),
				Vectors: pb.NewVectorsMap(map[string]*pb.Vector{"s": pb.NewVectorSparse(v.Indices, v.Values)})})
			if err != nil {
				t.Fatal(err)
			}
			c.put(p)
			if i%9 == 0 {
				c.del(p.key)
			}
		}
		fuzzIndex.c = c
	})
	return fuzzIndex.c
}

// FuzzSparseSearchExact: for any query (terms, weights including zero and
// tiny ones, and limit) derived from the input, search with MaxScore equals
// exhaustive search and a brute-force scan: same points, same scores, same
// order.
func FuzzSparseSearchExact(f *testing.F) {
	f.Add([]byte{10, 1, 0x40, 2, 0x20, 3, 0x10})
	f.Add([]byte{1, 0, 0xff, 199, 0x01, 100, 0x80, 5, 0})
	f.Add([]byte{49, 7, 7, 7, 7, 8, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		c := fuzzCollection(t)
		limit := 1 + int(data[0])%50
		w := map[uint32]float32{}
		for i := 1; i+1 < len(data) && len(w) < 40; i += 2 {
			w[uint32(data[i])%200] = float32(binary.BigEndian.Uint16([]byte{data[i+1], 0})) / 4096
		}
		q := synth.Sparse{}
		for id := uint32(0); id < 200; id++ {
			if x, ok := w[id]; ok {
				q.Indices = append(q.Indices, id)
				q.Values = append(q.Values, x)
			}
		}
		n := node{using: "s", limit: limit}
		sv := sparseVec{idx: q.Indices, val: q.Values}
		c.exhaustive = true
		want := c.nearestSparse(n, c.sparse["s"], sv, nil).points
		c.exhaustive = false
		got := c.nearestSparse(n, c.sparse["s"], sv, nil).points
		brute := bruteForce(c, q, limit)
		if len(got) != len(want) || len(got) != len(brute) {
			t.Fatalf("pruned %d, exhaustive %d, brute force %d results", len(got), len(want), len(brute))
		}
		for i := range want {
			if got[i].p.key != want[i].p.key || got[i].score != want[i].score {
				t.Fatalf("rank %d: pruned %s %v, exhaustive %s %v", i, got[i].p.key, got[i].score, want[i].p.key, want[i].score)
			}
			if math.Abs(float64(got[i].score-brute[i].score)) > 1e-6*math.Max(1, math.Abs(float64(brute[i].score))) {
				t.Fatalf("rank %d: index score %v, brute force %v", i, got[i].score, brute[i].score)
			}
		}
	})
}
