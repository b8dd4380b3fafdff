package embedded

import (
	"context"
	"fmt"
	"strings"
	"time"

	pb "github.com/qdrant/go-client/qdrant"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Named vectors added to and removed from an existing collection, as
// Qdrant 1.18 added them (Points/CreateVectorName, Points/DeleteVectorName;
// REST PUT and DELETE /collections/{name}/vectors/{vector}), and
// Points/UpdateVectors, which gives existing points the new vector. The
// checks and messages are the ones Qdrant 1.19.0 answers with
// (integration's TestVectorNamesEqualQdrant runs the same calls against
// both).

// maxVectorNameBytes is the longest vector name Qdrant accepts.
const maxVectorNameBytes = 200

// CreateVectorName implements qdrant.PointsServer: it adds a dense or
// sparse vector to the collection's configuration. Existing points have no
// vector of that name until they are updated. Creating a vector that
// exists with the same configuration succeeds and changes nothing.
func (s *pointsService) CreateVectorName(_ context.Context, req *pb.CreateVectorNameRequest) (*pb.PointsOperationResponse, error) {
	t := time.Now()
	if err := s.store.createVector(req); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PointsOperationResponse{Result: updated(req.Wait), Time: since(t)}, nil
}

// DeleteVectorName implements qdrant.PointsServer: it removes a vector
// from the configuration and from every point. A name the collection does
// not have is not an error, as in Qdrant.
func (s *pointsService) DeleteVectorName(_ context.Context, req *pb.DeleteVectorNameRequest) (*pb.PointsOperationResponse, error) {
	t := time.Now()
	if err := s.store.deleteVector(req.GetCollectionName(), req.GetVectorName()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PointsOperationResponse{Result: updated(req.Wait), Time: since(t)}, nil
}

// UpdateVectors implements qdrant.PointsServer: it sets the given vectors
// of existing points and keeps their other vectors and payload. Documents
// are vectorized as in Upsert. Unlike Qdrant, which applies the points
// before a missing one, nothing is written when any point is missing or
// invalid.
func (s *pointsService) UpdateVectors(ctx context.Context, req *pb.UpdatePointVectors) (*pb.PointsOperationResponse, error) {
	t := time.Now()
	if req.UpdateFilter != nil {
		return nil, toStatus(invalidf("update_filter is not supported by the embedded server"))
	}
	wrapped := make([]*pb.PointStruct, len(req.GetPoints()))
	for i, p := range req.GetPoints() {
		if p.GetVectors() == nil {
			return nil, toStatus(invalidf("vectors is expected"))
		}
		// The structs share the request's vectors: infer puts each
		// Document's vector in its place.
		wrapped[i] = &pb.PointStruct{Id: p.GetId(), Vectors: p.GetVectors()}
	}
	if err := checkNoMedia(wrapped); err != nil {
		return nil, err
	}
	if err := s.opts.infer(ctx, pointDocs(wrapped), false); err != nil {
		return nil, err
	}
	if err := s.store.updateVectors(req.GetCollectionName(), wrapped); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PointsOperationResponse{Result: completed(), Time: since(t)}, nil
}

// updated is the result of a write that is durable when it returns:
// Completed when the client waited, Acknowledged when it did not, as
// Qdrant answers.
func updated(wait *bool) *pb.UpdateResult {
	if wait != nil && *wait {
		return completed()
	}
	return &pb.UpdateResult{Status: pb.UpdateStatus_Acknowledged}
}

// checkVectorName refuses a name Qdrant refuses.
func checkVectorName(name string) error {
	switch {
	case len(name) > maxVectorNameBytes:
		return invalidf("Wrong input: Invalid vector name `%s`: vector name must be at most %d bytes long", name, maxVectorNameBytes)
	case strings.Contains(name, "/"):
		return invalidf("Wrong input: Invalid vector name `%s`: vector name cannot contain \"/\" char", name)
	}
	return nil
}

// vectorParams is the configuration a CreateVectorName asks for, in the
// types of a collection's configuration: one of dense and sparse is set.
func vectorParams(req *pb.CreateVectorNameRequest) (*pb.VectorParams, *pb.SparseVectorParams, error) {
	switch vc := req.GetVectorConfig().(type) {
	case *pb.CreateVectorNameRequest_DenseConfig:
		d := vc.DenseConfig
		if d.GetSize() < 1 || d.GetSize() > 65536 {
			return nil, nil, invalidf("Validation error in body: [vector_config.size: value %d invalid, must be from 1 to 65536]", d.GetSize())
		}
		if d.GetDistance() == pb.Distance_UnknownDistance {
			return nil, nil, invalidf("Malformed distance parameter: UnknownDistance")
		}
		return &pb.VectorParams{Size: d.GetSize(), Distance: d.GetDistance(), MultivectorConfig: d.MultivectorConfig, Datatype: d.Datatype}, nil, nil
	case *pb.CreateVectorNameRequest_SparseConfig:
		sp := &pb.SparseVectorParams{Modifier: vc.SparseConfig.Modifier}
		if vc.SparseConfig.Datatype != nil {
			sp.Index = &pb.SparseIndexConfig{Datatype: vc.SparseConfig.Datatype}
		}
		return nil, sp, nil
	}
	return nil, nil, invalidf("vector_config is required (dense_config or sparse_config)")
}

// sameDense and sameSparse compare what a CreateVectorName can set, as
// Qdrant does: storage settings (on_disk, HNSW, quantization) are not
// compared, an unset modifier or datatype differs from an explicit one.
func sameDense(a, b *pb.VectorParams) bool {
	return a.GetSize() == b.GetSize() && a.GetDistance() == b.GetDistance() &&
		proto.Equal(a.GetMultivectorConfig(), b.GetMultivectorConfig()) && sameOpt(a.Datatype, b.Datatype)
}

func sameSparse(a, b *pb.SparseVectorParams) bool {
	var da, db *pb.Datatype
	if a.GetIndex() != nil {
		da = a.GetIndex().Datatype
	}
	if b.GetIndex() != nil {
		db = b.GetIndex().Datatype
	}
	return sameOpt(a.Modifier, b.Modifier) && sameOpt(da, db)
}

func sameOpt[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// denseParams returns the configuration of dense vector name, or nil.
func denseParams(cfg *pb.CreateCollection, name string) *pb.VectorParams {
	switch vc := cfg.GetVectorsConfig().GetConfig().(type) {
	case *pb.VectorsConfig_Params:
		if name == "" {
			return vc.Params
		}
	case *pb.VectorsConfig_ParamsMap:
		return vc.ParamsMap.GetMap()[name]
	}
	return nil
}

// namedDense returns cfg's dense vectors as a map, the single unnamed
// vector under "", so one can be added or removed.
func namedDense(cfg *pb.CreateCollection) map[string]*pb.VectorParams {
	m := map[string]*pb.VectorParams{}
	switch vc := cfg.GetVectorsConfig().GetConfig().(type) {
	case *pb.VectorsConfig_Params:
		m[""] = vc.Params
	case *pb.VectorsConfig_ParamsMap:
		for k, v := range vc.ParamsMap.GetMap() {
			m[k] = v
		}
	}
	return m
}

// createVector adds the vector req names to its collection's stored
// configuration and index.
func (s *Store) createVector(req *pb.CreateVectorNameRequest) error {
	name := req.GetVectorName()
	if err := checkVectorName(name); err != nil {
		return err
	}
	dense, sparse, err := vectorParams(req)
	if err != nil {
		return err
	}
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := denseParams(c.cfg, name); old != nil {
		switch {
		case sparse != nil:
			return invalidf("Wrong input: Vector `%s` already exists as a dense vector", name)
		case !sameDense(old, dense):
			return invalidf("Wrong input: Vector `%s` already exists with a different configuration", name)
		}
		return nil
	}
	if old := c.cfg.GetSparseVectorsConfig().GetMap()[name]; old != nil {
		switch {
		case dense != nil:
			return invalidf("Wrong input: Vector `%s` already exists as a sparse vector", name)
		case !sameSparse(old, sparse):
			return invalidf("Wrong input: Sparse vector `%s` already exists with a different configuration", name)
		}
		return nil
	}
	cfg := proto.Clone(c.cfg).(*pb.CreateCollection)
	if dense != nil {
		if dense.GetMultivectorConfig() != nil {
			return invalidf("Wrong input: vector %q: multivectors are not supported by the embedded server", name)
		}
		m := namedDense(cfg)
		m[name] = dense
		cfg.VectorsConfig = pb.NewVectorsConfigMap(m)
	} else {
		if cfg.SparseVectorsConfig == nil {
			cfg.SparseVectorsConfig = &pb.SparseVectorConfig{Map: map[string]*pb.SparseVectorParams{}}
		}
		cfg.SparseVectorsConfig.Map[name] = sparse
	}
	if err := s.saveConfig(cfg, nil); err != nil {
		return err
	}
	c.cfg = cfg
	if dense != nil {
		c.dense[name] = &denseSpace{size: int(dense.GetSize()), dist: dense.GetDistance()}
	} else {
		c.sparse[name] = newSparseSpace(sparse.GetModifier() == pb.Modifier_Idf)
	}
	return nil
}

// deleteVector removes vector name from a collection's configuration and
// from every point holding it, in one transaction.
func (s *Store) deleteVector(collection, name string) error {
	c, err := s.get(collection)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, isDense := c.dense[name]
	_, isSparse := c.sparse[name]
	if !isDense && !isSparse {
		return nil
	}
	cfg := proto.Clone(c.cfg).(*pb.CreateCollection)
	if isDense {
		m := namedDense(cfg)
		delete(m, name)
		cfg.VectorsConfig = pb.NewVectorsConfigMap(m)
	} else {
		delete(cfg.SparseVectorsConfig.Map, name)
	}
	var changed []*point
	for _, p := range c.slots {
		if p == nil {
			continue
		}
		if _, ok := p.dense[name]; ok {
			changed = append(changed, p)
		} else if _, ok := p.sparse[name]; ok {
			changed = append(changed, p)
		}
	}
	rewritten := make([]*point, len(changed))
	for i, p := range changed {
		q := *p
		q.dense, q.sparse = without(p.dense, name), without(p.sparse, name)
		rewritten[i] = &q
	}
	if err := s.saveConfig(cfg, rewritten); err != nil {
		return err
	}
	c.cfg = cfg
	for i, p := range changed {
		// The new point takes the old one's slot: no posting list of
		// another vector changes.
		slot := c.byKey[p.key]
		c.slots[slot] = rewritten[i]
	}
	if isDense {
		delete(c.dense, name)
	} else {
		delete(c.sparse, name)
	}
	return nil
}

func without[V any](m map[string]V, name string) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		if k != name {
			out[k] = v
		}
	}
	return out
}

// saveConfig writes a collection's configuration and the points given, in
// one transaction.
func (s *Store) saveConfig(cfg *pb.CreateCollection, points []*point) error {
	data, err := proto.Marshal(cfg)
	if err != nil {
		return err
	}
	encoded := make([][]byte, len(points))
	for i, p := range points {
		if encoded[i], err = proto.Marshal(p.toStruct()); err != nil {
			return err
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketCollections).Put([]byte(cfg.GetCollectionName()), data); err != nil {
			return err
		}
		b := tx.Bucket([]byte(pointsPrefix + cfg.GetCollectionName()))
		if b == nil {
			return errNotFound{cfg.GetCollectionName()}
		}
		for i, p := range points {
			if err := b.Put([]byte(p.key), encoded[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// updateVectors sets the vectors of existing points, keeping their other
// vectors and payload; every point is checked before anything is written.
func (s *Store) updateVectors(name string, points []*pb.PointStruct) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	merged := make([]*point, len(points))
	for i, ps := range points {
		p, err := c.pointFromStruct(ps)
		if err != nil {
			return invalidf("Wrong input: %v", err)
		}
		slot, ok := c.byKey[p.key]
		if !ok {
			return errNotFoundPoint{p.key}
		}
		old := c.slots[slot]
		q := &point{key: old.key, id: old.id, payload: old.payload, dense: map[string][]float32{}, sparse: map[string]sparseVec{}}
		for k, v := range old.dense {
			q.dense[k] = append([]float32(nil), v...) // put stores it anew
		}
		for k, v := range old.sparse {
			q.sparse[k] = v
		}
		for k, v := range p.dense {
			q.dense[k] = v
		}
		for k, v := range p.sparse {
			q.sparse[k] = v
		}
		merged[i] = q
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(pointsPrefix + name))
		if b == nil {
			return errNotFound{name}
		}
		for _, p := range merged {
			data, err := proto.Marshal(p.toStruct())
			if err != nil {
				return err
			}
			if err := b.Put([]byte(p.key), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update vectors: %w", err)
	}
	for _, p := range merged {
		c.put(p)
	}
	c.maybeCompact()
	return nil
}
