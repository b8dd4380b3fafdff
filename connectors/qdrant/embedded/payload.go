package embedded

import (
	"context"
	"time"

	pb "github.com/qdrant/go-client/qdrant"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// selected returns the keys of the live points a selector names: ids that
// exist, or the points a filter matches. The caller holds c.mu.
func (c *collection) selected(selector *pb.PointsSelector) ([]string, error) {
	var keys []string
	switch sel := selector.GetPointsSelectorOneOf().(type) {
	case *pb.PointsSelector_Points:
		for _, id := range sel.Points.GetIds() {
			k, err := pointKey(id)
			if err != nil {
				return nil, invalidf("Wrong input: %v", err)
			}
			keys = append(keys, k)
		}
	case *pb.PointsSelector_Filter:
		f, err := compileFilter(sel.Filter)
		if err != nil {
			return nil, err
		}
		for _, p := range c.matching(f) {
			keys = append(keys, p.key)
		}
	default:
		return nil, invalidf("Wrong input: points selector is empty")
	}
	return keys, nil
}

// setPayload merges payload into the selected points' payloads (keys not
// given are kept), in one transaction. A missing id fails the operation
// before anything is written, as in Qdrant.
func (s *Store) setPayload(name string, selector *pb.PointsSelector, payload map[string]*pb.Value, key *string) error {
	if key != nil && *key != "" {
		return invalidf("Wrong input: set payload with a key (a nested path) is not supported by the embedded server")
	}
	c, err := s.get(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keys, err := c.selected(selector)
	if err != nil {
		return err
	}
	type change struct {
		p       *point
		payload map[string]*pb.Value
		data    []byte
	}
	var changes []change
	_, byID := selector.GetPointsSelectorOneOf().(*pb.PointsSelector_Points)
	for _, k := range keys {
		slot, ok := c.byKey[k]
		if !ok {
			if byID {
				// Qdrant refuses the operation, naming the point.
				return errNotFoundPoint{k}
			}
			continue
		}
		p := c.slots[slot]
		// A new map: responses being marshalled may still hold the old one.
		merged := make(map[string]*pb.Value, len(p.payload)+len(payload))
		for k, v := range p.payload {
			merged[k] = v
		}
		for k, v := range payload {
			merged[k] = v
		}
		ps := p.toStruct()
		ps.Payload = merged
		data, err := proto.Marshal(ps)
		if err != nil {
			return err
		}
		changes = append(changes, change{p, merged, data})
	}
	if len(changes) == 0 {
		return nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(pointsPrefix + name))
		if b == nil {
			return errNotFound{name}
		}
		for _, ch := range changes {
			if err := b.Put([]byte(ch.p.key), ch.data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		slot := c.byKey[ch.p.key]
		c.indexPoint(ch.p, slot, false)
		ch.p.payload = ch.payload
		c.indexPoint(ch.p, slot, true)
	}
	return nil
}

// SetPayload implements qdrant.PointsServer: the given keys are set on the
// selected points, the others kept.
func (s *pointsService) SetPayload(_ context.Context, req *pb.SetPayloadPoints) (*pb.PointsOperationResponse, error) {
	t := time.Now()
	if err := s.store.setPayload(req.GetCollectionName(), req.GetPointsSelector(), req.GetPayload(), req.Key); err != nil {
		return nil, toStatus(err)
	}
	return &pb.PointsOperationResponse{Result: completed(), Time: since(t)}, nil
}

// UpdateBatch implements qdrant.PointsServer for set-payload and
// delete-points operations, applied in order, each in its own transaction
// (as Qdrant applies them one by one). Other operations answer
// Unimplemented before anything is applied.
func (s *pointsService) UpdateBatch(_ context.Context, req *pb.UpdateBatchPoints) (*pb.UpdateBatchResponse, error) {
	t := time.Now()
	for i, op := range req.GetOperations() {
		switch op.GetOperation().(type) {
		case *pb.PointsUpdateOperation_SetPayload_, *pb.PointsUpdateOperation_DeletePoints_:
		default:
			return nil, status.Errorf(codes.Unimplemented, "operations[%d]: %T is not supported by the embedded server's update_batch (set_payload and delete_points are)", i, op.GetOperation())
		}
	}
	resp := &pb.UpdateBatchResponse{}
	for _, op := range req.GetOperations() {
		var err error
		switch o := op.GetOperation().(type) {
		case *pb.PointsUpdateOperation_SetPayload_:
			err = s.store.setPayload(req.GetCollectionName(), o.SetPayload.GetPointsSelector(), o.SetPayload.GetPayload(), o.SetPayload.Key)
		case *pb.PointsUpdateOperation_DeletePoints_:
			err = s.store.remove(req.GetCollectionName(), o.DeletePoints.GetPoints())
		}
		if err != nil {
			return nil, toStatus(err)
		}
		resp.Result = append(resp.Result, completed())
	}
	resp.Time = since(t)
	return resp, nil
}
