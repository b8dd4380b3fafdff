package qdrant

import (
	"context"
	"fmt"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/internal/pbvalue"
)

// IndexKeywords creates keyword payload indexes on keys (existing ones are
// kept), so filters on them stay fast as a collection grows. The embedded
// store scans instead and accepts the call.
func (c *Client) IndexKeywords(ctx context.Context, collection string, keys ...string) error {
	for _, key := range keys {
		err := c.do(ctx, "create payload index", collection, func(ctx context.Context) error {
			wait := true
			_, err := c.qc.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
				CollectionName: collection, FieldName: key, FieldType: qc.FieldType_FieldTypeKeyword.Enum(), Wait: &wait,
			})
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func pointIDs(ids []string) []*qc.PointId {
	out := make([]*qc.PointId, len(ids))
	for i, id := range ids {
		out[i] = qc.NewID(id)
	}
	return out
}

// payloadSelector selects keys of the payload, all of it when keys is nil.
func payloadSelector(keys []string) *qc.WithPayloadSelector {
	if keys == nil {
		return qc.NewWithPayload(true)
	}
	return qc.NewWithPayloadInclude(keys...)
}

// Get returns those of the points ids that exist, in one request, with
// the payload keys asked for (all when keys is nil) and no vectors.
func (c *Client) Get(ctx context.Context, collection string, ids []string, keys []string) ([]StoredPoint, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var got []*qc.RetrievedPoint
	err := c.do(ctx, "get", collection, func(ctx context.Context) error {
		var err error
		got, err = c.qc.Get(ctx, &qc.GetPoints{CollectionName: collection, Ids: pointIDs(ids), WithPayload: payloadSelector(keys),
			WithVectors: qc.NewWithVectors(false), ReadConsistency: c.cfg.readConsistency()})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]StoredPoint, len(got))
	for i, p := range got {
		out[i] = StoredPoint{ID: idString(p.GetId()), Payload: pbvalue.Map(p.GetPayload())}
	}
	return out, nil
}

// ScrollPayload pages through the points matching f, in id order, with
// the payload keys asked for (all when keys is nil) and no vectors,
// handing each page to fn; an error from fn stops it.
func (c *Client) ScrollPayload(ctx context.Context, collection string, f *Filter, keys []string, fn func([]StoredPoint) error) error {
	pf, err := filterProto(f)
	if err != nil {
		return &Error{Op: "scroll", Collection: collection, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	return c.scrollPages(ctx, collection, pf, 1024, payloadSelector(keys), false, func(page []*qc.RetrievedPoint) error {
		out := make([]StoredPoint, len(page))
		for i, p := range page {
			out[i] = StoredPoint{ID: idString(p.GetId()), Payload: pbvalue.Map(p.GetPayload())}
		}
		return fn(out)
	})
}

// PayloadUpdate sets payload keys on points, keeping their other keys.
type PayloadUpdate struct {
	// IDs are the points. Qdrant refuses an id that does not exist
	// (ErrNotFound).
	IDs []string
	// Filter selects the points instead of IDs.
	Filter *Filter
	// Payload holds the keys to set.
	Payload map[string]any
}

// SetPayloads applies updates in order, in one request (Qdrant's batch
// update). Setting a payload is idempotent: after a failure the whole call
// can run again.
func (c *Client) SetPayloads(ctx context.Context, collection string, updates []PayloadUpdate) error {
	ops := make([]*qc.PointsUpdateOperation, 0, len(updates))
	for i, u := range updates {
		if len(u.IDs) == 0 && u.Filter == nil {
			continue
		}
		values, err := toValueMap(u.Payload)
		if err != nil {
			return &Error{Op: "set payload", Collection: collection, Err: fmt.Errorf("%w: updates[%d]: %v", ErrInvalid, i, err)}
		}
		sel := qc.NewPointsSelectorIDs(pointIDs(u.IDs))
		if u.Filter != nil {
			pf, err := filterProto(u.Filter)
			if err != nil {
				return &Error{Op: "set payload", Collection: collection, Err: fmt.Errorf("%w: updates[%d]: %v", ErrInvalid, i, err)}
			}
			sel = qc.NewPointsSelectorFilter(pf)
		}
		ops = append(ops, &qc.PointsUpdateOperation{Operation: &qc.PointsUpdateOperation_SetPayload_{
			SetPayload: &qc.PointsUpdateOperation_SetPayload{Payload: values, PointsSelector: sel}}})
	}
	if len(ops) == 0 {
		return nil
	}
	wait := !c.cfg.NoWait
	return c.do(ctx, "set payload", collection, func(ctx context.Context) error {
		_, err := c.qc.UpdateBatch(ctx, &qc.UpdateBatchPoints{CollectionName: collection, Wait: &wait, Operations: ops, Ordering: c.cfg.writeOrdering()})
		return err
	})
}

// DeletePoints removes points by id, in one request; ids that do not exist
// are ignored.
func (c *Client) DeletePoints(ctx context.Context, collection string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	wait := !c.cfg.NoWait
	return c.do(ctx, "delete", collection, func(ctx context.Context) error {
		_, err := c.qc.Delete(ctx, &qc.DeletePoints{CollectionName: collection, Wait: &wait, Points: qc.NewPointsSelectorIDs(pointIDs(ids)), Ordering: c.cfg.writeOrdering()})
		return err
	})
}
