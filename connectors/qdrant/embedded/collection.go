package embedded

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	pb "github.com/qdrant/go-client/qdrant"
	"google.golang.org/protobuf/proto"

	"github.com/spladeq/spladeq/internal/vecmath"
)

// collection is one collection's configuration and in-memory index.
//
// Points live in append-only slots: an update or delete empties the old slot
// and an update takes a new one, so posting lists never need editing; they
// skip empty slots, and compaction rebuilds them when too many are empty.
type collection struct {
	cfg    *pb.CreateCollection
	dense  map[string]*denseSpace
	sparse map[string]*sparseSpace

	mu    sync.RWMutex
	byKey map[string]int32 // live points: len(byKey) is the count
	slots []*point
	// keywords are the keyword indexes of payload keys (CreateFieldIndex).
	keywords map[string]keywordIndex

	// exhaustive turns MaxScore pruning off (tests and benchmarks compare
	// against it).
	exhaustive bool
	// prunedRanges counts worker slot ranges of sparse searches where
	// MaxScore skipped non-essential lists in some window.
	prunedRanges atomic.Int64
	// skippedWindows counts windows block-max skipped without reading a
	// posting.
	skippedWindows atomic.Int64
}

type denseSpace struct {
	size int
	dist pb.Distance
	// chunks hold the space's vectors by slot, perChunk(size) slots a chunk,
	// so a full scan reads contiguous memory instead of chasing each
	// point's map and slice; points' dense entries alias them. has marks
	// the slots holding a live vector.
	chunks [][]float32
	has    []uint64
}

// denseChunkFloats sizes one allocation of a dense space: 256 KiB of
// vectors (170 of 384 dimensions, 21 of 3072), long enough for the scan to
// stream, small enough that a collection of a few points does not hold
// megabytes.
const denseChunkFloats = 64 << 10

// perChunk is how many vectors of dim floats one chunk holds.
func perChunk(dim int) int { return max(1, denseChunkFloats/max(dim, 1)) }

// store copies v into slot's place and returns that place.
func (ds *denseSpace) store(slot int32, v []float32) []float32 {
	per := perChunk(ds.size)
	k, off := int(slot)/per, int(slot)%per
	for len(ds.chunks) <= k {
		ds.chunks = append(ds.chunks, make([]float32, per*ds.size))
	}
	dst := ds.chunks[k][off*ds.size : (off+1)*ds.size : (off+1)*ds.size]
	copy(dst, v)
	for len(ds.has) <= int(slot)/64 {
		ds.has = append(ds.has, 0)
	}
	ds.has[slot/64] |= 1 << (slot % 64)
	return dst
}

// vector is slot's vector, or nil.
func (ds *denseSpace) vector(slot int32) []float32 {
	if int(slot)/64 >= len(ds.has) || ds.has[slot/64]&(1<<(slot%64)) == 0 {
		return nil
	}
	per := perChunk(ds.size)
	k, off := int(slot)/per, int(slot)%per
	return ds.chunks[k][off*ds.size : (off+1)*ds.size : (off+1)*ds.size]
}

type sparseSpace struct {
	idf      bool
	postings map[uint32][]posting
	// maxW is the largest weight each list ever held (deletions leave it
	// as an upper bound): MaxScore's per-term bound.
	maxW map[uint32]float32
	// blockMax[idx][b] is the largest weight list idx ever held in the
	// window-aligned block b of slots (slots b×window to (b+1)×window):
	// block-max MaxScore's per-window bound; 0 where it has none.
	blockMax map[uint32][]float32
	negative bool           // some stored weight was < 0: no pruning
	df       map[uint32]int // live points containing each index
	n        int            // live points with a non-empty vector (IDF's N)
}

func newSparseSpace(idf bool) *sparseSpace {
	return &sparseSpace{idf: idf, postings: map[uint32][]posting{}, maxW: map[uint32]float32{},
		blockMax: map[uint32][]float32{}, df: map[uint32]int{}}
}

type posting struct {
	slot int32
	w    float32
}

type sparseVec struct {
	idx []uint32
	val []float32
}

// point is a stored point with its vectors decoded.
type point struct {
	key     string
	id      *pb.PointId
	payload map[string]*pb.Value
	dense   map[string][]float32
	sparse  map[string]sparseVec
}

func newCollection(cfg *pb.CreateCollection) (*collection, error) {
	cfg = proto.Clone(cfg).(*pb.CreateCollection)
	c := &collection{
		cfg:    cfg,
		dense:  map[string]*denseSpace{},
		sparse: map[string]*sparseSpace{},
		byKey:  map[string]int32{},

		keywords: map[string]keywordIndex{},
	}
	addDense := func(name string, p *pb.VectorParams) error {
		if p.GetSize() == 0 {
			return invalidf("Wrong input: vector %q: size must be > 0", name)
		}
		switch p.GetDistance() {
		case pb.Distance_Cosine, pb.Distance_Dot, pb.Distance_Euclid, pb.Distance_Manhattan:
		default:
			return invalidf("Wrong input: vector %q: distance %v is not supported", name, p.GetDistance())
		}
		if p.GetMultivectorConfig() != nil {
			return invalidf("Wrong input: vector %q: multivectors are not supported by the embedded server", name)
		}
		c.dense[name] = &denseSpace{size: int(p.GetSize()), dist: p.GetDistance()}
		return nil
	}
	switch vc := cfg.GetVectorsConfig().GetConfig().(type) {
	case nil:
	case *pb.VectorsConfig_Params:
		if err := addDense("", vc.Params); err != nil {
			return nil, err
		}
	case *pb.VectorsConfig_ParamsMap:
		for name, p := range vc.ParamsMap.GetMap() {
			if err := addDense(name, p); err != nil {
				return nil, err
			}
		}
	}
	for name, p := range cfg.GetSparseVectorsConfig().GetMap() {
		if _, ok := c.dense[name]; ok {
			return nil, invalidf("Wrong input: vector name %q is both dense and sparse", name)
		}
		c.sparse[name] = newSparseSpace(p.GetModifier() == pb.Modifier_Idf)
	}
	return c, nil
}

// pointKey is the storage and map key of an id: "n" + 20-digit number or
// "u" + canonical UUID, so byte order is Qdrant's order (numbers first).
func pointKey(id *pb.PointId) (string, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *pb.PointId_Num:
		return fmt.Sprintf("n%020d", v.Num), nil
	case *pb.PointId_Uuid:
		u, err := canonicalUUID(v.Uuid)
		if err != nil {
			return "", err
		}
		return "u" + u, nil
	default:
		return "", fmt.Errorf("point id is empty")
	}
}

// keyString renders an id for error messages.
func keyString(id *pb.PointId) string {
	switch v := id.GetPointIdOptions().(type) {
	case *pb.PointId_Num:
		return strconv.FormatUint(v.Num, 10)
	case *pb.PointId_Uuid:
		return v.Uuid
	}
	return "<none>"
}

// canonicalUUID accepts the forms Qdrant accepts (hyphenated or simple hex,
// any case, optional urn:uuid: prefix or braces) and returns the lowercase
// hyphenated form.
func canonicalUUID(s string) (string, error) {
	t := strings.TrimPrefix(strings.ToLower(s), "urn:uuid:")
	t = strings.TrimSuffix(strings.TrimPrefix(t, "{"), "}")
	hex := strings.ReplaceAll(t, "-", "")
	if len(hex) != 32 || (len(t) != 32 && len(t) != 36) {
		return "", fmt.Errorf("Unable to parse UUID: %s", s)
	}
	for _, r := range hex {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return "", fmt.Errorf("Unable to parse UUID: %s", s)
		}
	}
	return hex[0:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:32], nil
}

func idFromKey(key string) *pb.PointId {
	if key[0] == 'n' {
		n, _ := strconv.ParseUint(key[1:], 10, 64)
		return pb.NewIDNum(n)
	}
	return pb.NewIDUUID(key[1:])
}

// pointFromStruct validates a point against the collection's vectors and
// decodes it. Dense cosine vectors are normalised, as Qdrant stores them.
func (c *collection) pointFromStruct(ps *pb.PointStruct) (*point, error) {
	key, err := pointKey(ps.GetId())
	if err != nil {
		return nil, err
	}
	p := &point{key: key, id: idFromKey(key), payload: ps.GetPayload(), dense: map[string][]float32{}, sparse: map[string]sparseVec{}}
	vectors := map[string]*pb.Vector{}
	switch v := ps.GetVectors().GetVectorsOptions().(type) {
	case nil:
	case *pb.Vectors_Vector:
		vectors[""] = v.Vector
	case *pb.Vectors_Vectors:
		vectors = v.Vectors.GetVectors()
	}
	for name, vec := range vectors {
		dense, sparse, err := decodeVector(vec)
		if err != nil {
			return nil, fmt.Errorf("vector %q: %v", name, err)
		}
		if _, ok := c.sparse[name]; ok {
			if sparse == nil {
				return nil, fmt.Errorf("vector %q is sparse in this collection but a dense vector was given", name)
			}
			sv, err := normaliseSparse(sparse.GetIndices(), sparse.GetValues())
			if err != nil {
				return nil, fmt.Errorf("vector %q: %v", name, err)
			}
			p.sparse[name] = sv
			continue
		}
		ds, ok := c.dense[name]
		if !ok {
			return nil, fmt.Errorf("Not existing vector name error: %s", displayName(name))
		}
		if dense == nil {
			return nil, fmt.Errorf("vector %q is dense in this collection but a sparse vector was given", name)
		}
		if len(dense) != ds.size {
			return nil, fmt.Errorf("Vector dimension error: expected dim: %d, got %d", ds.size, len(dense))
		}
		for j, x := range dense {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("vector %q: element %d is %v", name, j, x)
			}
		}
		d := append([]float32(nil), dense...)
		if ds.dist == pb.Distance_Cosine {
			vecmath.Normalize(d)
		}
		p.dense[name] = d
	}
	return p, nil
}

func displayName(name string) string {
	if name == "" {
		return "(unnamed default vector)"
	}
	return name
}

// decodeVector returns a vector's dense data or its sparse part, accepting
// both the current oneof and the deprecated data/indices fields.
func decodeVector(v *pb.Vector) ([]float32, *pb.SparseVector, error) {
	switch x := v.GetVector().(type) {
	case *pb.Vector_Dense:
		return x.Dense.GetData(), nil, nil
	case *pb.Vector_Sparse:
		return nil, x.Sparse, nil
	case nil:
		//nolint:staticcheck // deprecated fields are still what older clients send
		if v.GetIndices() != nil {
			return nil, &pb.SparseVector{Indices: v.GetIndices().GetData(), Values: v.GetData()}, nil
		}
		return v.GetData(), nil, nil
	default:
		return nil, nil, fmt.Errorf("vector kind %T is not supported by the embedded server", x)
	}
}

// normaliseSparse checks a sparse vector and returns it sorted by index.
// Duplicate indices are refused, as Qdrant refuses them.
func normaliseSparse(idx []uint32, val []float32) (sparseVec, error) {
	if len(idx) != len(val) {
		return sparseVec{}, fmt.Errorf("sparse vector has %d indices and %d values", len(idx), len(val))
	}
	sv := sparseVec{idx: append([]uint32(nil), idx...), val: append([]float32(nil), val...)}
	for j, x := range sv.val {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return sparseVec{}, fmt.Errorf("sparse value %d (index %d) is %v", j, sv.idx[j], x)
		}
	}
	if !sort.SliceIsSorted(sv.idx, func(a, b int) bool { return sv.idx[a] < sv.idx[b] }) {
		sort.Sort(byIndex(sv))
	}
	for j := 1; j < len(sv.idx); j++ {
		if sv.idx[j] == sv.idx[j-1] {
			return sparseVec{}, fmt.Errorf("Validation error: indices must be unique, %d appears twice", sv.idx[j])
		}
	}
	return sv, nil
}

type byIndex sparseVec

func (s byIndex) Len() int           { return len(s.idx) }
func (s byIndex) Less(a, b int) bool { return s.idx[a] < s.idx[b] }
func (s byIndex) Swap(a, b int) {
	s.idx[a], s.idx[b] = s.idx[b], s.idx[a]
	s.val[a], s.val[b] = s.val[b], s.val[a]
}

// toStruct encodes a point for storage, vectors always as a named map.
func (p *point) toStruct() *pb.PointStruct {
	m := map[string]*pb.Vector{}
	for name, d := range p.dense {
		m[name] = pb.NewVectorDense(d)
	}
	for name, s := range p.sparse {
		m[name] = pb.NewVectorSparse(s.idx, s.val)
	}
	return &pb.PointStruct{Id: p.id, Payload: p.payload, Vectors: pb.NewVectorsMap(m)}
}

// put inserts or replaces a point. The caller holds c.mu (or owns c).
func (c *collection) put(p *point) {
	c.del(p.key)
	slot := int32(len(c.slots))
	c.slots = append(c.slots, p)
	c.byKey[p.key] = slot
	c.indexPoint(p, slot, true)
	for name, d := range p.dense {
		if ds := c.dense[name]; ds != nil {
			p.dense[name] = ds.store(slot, d)
		}
	}
	for name, sv := range p.sparse {
		sp := c.sparse[name]
		if len(sv.idx) > 0 { // Qdrant does not index empty sparse vectors: not in IDF's N
			sp.n++
		}
		for j, idx := range sv.idx {
			w := sv.val[j]
			sp.postings[idx] = append(sp.postings[idx], posting{slot: slot, w: w})
			sp.df[idx]++
			if m, ok := sp.maxW[idx]; !ok || w > m {
				sp.maxW[idx] = w
			}
			bm, blk := sp.blockMax[idx], int(slot/window)
			if len(bm) <= blk {
				bm = append(bm, make([]float32, blk+1-len(bm))...)
				sp.blockMax[idx] = bm
			}
			bm[blk] = max(bm[blk], w)
			if w < 0 {
				sp.negative = true
			}
		}
	}
}

// del removes a point by key if present. The caller holds c.mu.
func (c *collection) del(key string) {
	slot, ok := c.byKey[key]
	if !ok {
		return
	}
	p := c.slots[slot]
	c.indexPoint(p, slot, false)
	for name := range p.dense {
		if ds := c.dense[name]; ds != nil {
			ds.has[slot/64] &^= 1 << (slot % 64)
		}
	}
	for name, sv := range p.sparse {
		sp := c.sparse[name]
		if len(sv.idx) > 0 {
			sp.n--
		}
		for _, idx := range sv.idx {
			if sp.df[idx]--; sp.df[idx] == 0 {
				delete(sp.df, idx)
			}
		}
	}
	c.slots[slot] = nil
	delete(c.byKey, key)
}

// maybeCompact rebuilds slots and postings when most slots are empty.
func (c *collection) maybeCompact() {
	live := len(c.byKey)
	dead := len(c.slots) - live
	if dead < 1024 || dead < live {
		return
	}
	old := c.slots
	c.slots = make([]*point, 0, live)
	c.byKey = make(map[string]int32, live)
	for name, sp := range c.sparse {
		c.sparse[name] = newSparseSpace(sp.idf)
	}
	for name, ds := range c.dense {
		c.dense[name] = &denseSpace{size: ds.size, dist: ds.dist}
	}
	for key := range c.keywords {
		c.keywords[key] = keywordIndex{}
	}
	for _, p := range old {
		if p != nil {
			c.put(p)
		}
	}
}

// sortedLive returns the live points keep accepts (all when nil) in id
// order.
func (c *collection) sortedLive(keep func(*point) bool) []*point {
	var out []*point
	if keep == nil {
		out = make([]*point, 0, len(c.byKey))
	}
	for _, p := range c.slots {
		if p != nil && (keep == nil || keep(p)) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].key < out[b].key })
	return out
}
