package qdrant

import (
	"context"
	"fmt"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/internal/pbvalue"
)

// VectorName is the name of a signal's vector in a collection written with
// o (sparse: o.SparseName, dense: o.DenseName, bm25: o.BM25Name, each with
// its default).
func (o WriteOptions) VectorName(s Signal) string {
	o = o.withDefaults()
	switch s {
	case SignalSparse:
		return o.SparseName
	case SignalDense:
		return o.DenseName
	}
	return o.BM25Name
}

// Unfilled is a point that lacks a vector: its id and what the payload
// keeps of its chunk.
type Unfilled struct {
	ID    string
	DocID string
	Chunk int
	Text  string
}

// Unfilled returns up to limit points, in id order from offset (""
// for the first), whose vector is missing (Qdrant's has_vector
// condition), and the offset of the next page ("" after the last).
// Points given an empty sparse vector count as having it.
func (c *Client) Unfilled(ctx context.Context, collection, vector, offset string, limit int) ([]Unfilled, string, error) {
	var from *qc.PointId
	if offset != "" {
		from = pointID(offset)
	}
	n := uint32(limit)
	var page []*qc.RetrievedPoint
	var next *qc.PointId
	err := c.do(ctx, "scroll", collection, func(ctx context.Context) error {
		var err error
		page, next, err = c.qc.ScrollAndOffset(ctx, &qc.ScrollPoints{CollectionName: collection, Offset: from, Limit: &n,
			Filter:      &qc.Filter{MustNot: []*qc.Condition{qc.NewHasVector(vector)}},
			WithPayload: qc.NewWithPayloadInclude(PayloadDocID, PayloadChunk, PayloadText), WithVectors: qc.NewWithVectors(false),
			ReadConsistency: c.cfg.readConsistency()})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]Unfilled, len(page))
	for i, p := range page {
		pl := pbvalue.Map(p.GetPayload())
		out[i].ID = idString(p.GetId())
		out[i].DocID, _ = pl[PayloadDocID].(string)
		out[i].Text, _ = pl[PayloadText].(string)
		if n, ok := pl[PayloadChunk].(int64); ok {
			out[i].Chunk = int(n)
		}
	}
	if next == nil {
		return out, "", nil
	}
	return out, idString(next), nil
}

// CountHaving returns the exact number of points that have the vector
// (an empty sparse vector counts).
func (c *Client) CountHaving(ctx context.Context, collection, vector string) (uint64, error) {
	var n uint64
	err := c.do(ctx, "count", collection, func(ctx context.Context) error {
		exact := true
		var err error
		n, err = c.qc.Count(ctx, &qc.CountPoints{CollectionName: collection, Exact: &exact,
			Filter: &qc.Filter{Must: []*qc.Condition{qc.NewHasVector(vector)}}, ReadConsistency: c.cfg.readConsistency()})
		return err
	})
	return n, err
}

// VectorUpdate is one point's new vector for a signal: Sparse (sparse),
// Dense (dense), or Text, sent as a Document for the store's BM25 model
// (bm25).
type VectorUpdate struct {
	ID     string
	Sparse api.SparseVector
	Dense  []float32
	Text   string
}

// UpdateVectors sets the signal's vector of existing points, leaving their
// other vectors and payload as they are (Points/UpdateVectors), in one
// request. A point that no longer exists fails the call with ErrNotFound;
// Qdrant has then updated the points before it, the embedded store none.
func (c *Client) UpdateVectors(ctx context.Context, collection string, signal Signal, ups []VectorUpdate, o WriteOptions) error {
	o = o.withDefaults()
	name := o.VectorName(signal)
	points := make([]*qc.PointVectors, len(ups))
	for i, u := range ups {
		var v *qc.Vector
		switch signal {
		case SignalSparse:
			if err := u.Sparse.Validate(); err != nil {
				return &Error{Op: "update vectors", Collection: collection, Point: u.ID, Err: fmt.Errorf("%w: sparse: %v", ErrInvalid, err)}
			}
			v = qc.NewVectorSparse(u.Sparse.Indices, u.Sparse.Values)
		case SignalDense:
			v = qc.NewVectorDense(u.Dense)
		case SignalBM25:
			bm25 := o.BM25
			if bm25 == nil {
				bm25 = &StoreModel{Model: BM25Model}
			}
			doc, err := bm25.document(u.Text)
			if err != nil {
				return &Error{Op: "update vectors", Collection: collection, Point: u.ID, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
			}
			v = qc.NewVectorDocument(doc)
		default:
			return &Error{Op: "update vectors", Collection: collection, Err: fmt.Errorf("%w: signal must be bm25, sparse or dense, got %q", ErrInvalid, signal)}
		}
		points[i] = &qc.PointVectors{Id: pointID(u.ID), Vectors: qc.NewVectorsMap(map[string]*qc.Vector{name: v})}
	}
	wait := !c.cfg.NoWait
	return c.do(ctx, "update vectors", collection, func(ctx context.Context) error {
		_, err := c.qc.UpdateVectors(ctx, &qc.UpdatePointVectors{CollectionName: collection, Wait: &wait, Points: points, Ordering: c.cfg.writeOrdering()})
		return err
	})
}

// SetMetadata merges set into the collection's metadata and removes the
// keys in remove (Qdrant merges metadata; a null value removes a key).
func (c *Client) SetMetadata(ctx context.Context, collection string, set map[string]string, remove ...string) error {
	md := map[string]*qc.Value{}
	for k, v := range set {
		md[k] = qc.NewValueString(v)
	}
	for _, k := range remove {
		md[k] = qc.NewValueNull()
	}
	return c.do(ctx, "update collection", collection, func(ctx context.Context) error {
		return c.qc.UpdateCollection(ctx, &qc.UpdateCollection{CollectionName: collection, Metadata: md})
	})
}

// pointID is the id of a point as idString printed it: a number, or a
// UUID.
func pointID(s string) *qc.PointId {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		var n uint64
		fmt.Sscan(s, &n)
		return qc.NewIDNum(n)
	}
	return qc.NewID(s)
}

// CanAddVector returns nil when the server can add a vector to an
// existing collection (Qdrant 1.18 and later; the embedded store), else an
// error matching ErrUnsupported that names the version.
func (c *Client) CanAddVector(ctx context.Context) error {
	v, err := c.ServerVersion(ctx)
	if err != nil {
		return err
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return nil // an unknown version string: let the server answer
	}
	if major == 1 && minor < 18 {
		return &Error{Op: "create vector", Err: fmt.Errorf("%w: Qdrant %s cannot add a vector to an existing collection (Qdrant 1.18 added it)", ErrUnsupported, v)}
	}
	return nil
}

// AddVector adds the one vector spec names (its Dense, Sparse or BM25) to
// an existing collection (Points/CreateVectorName, Qdrant 1.18 and later):
// existing points have no such vector until UpdateVectors gives them one.
// Adding a vector that exists with the same configuration does nothing.
// Qdrant 1.17 answers ErrUnsupported.
func (c *Client) AddVector(ctx context.Context, collection string, spec CollectionSpec) error {
	spec = spec.normalised()
	req := &qc.CreateVectorNameRequest{CollectionName: collection, Wait: qc.PtrOf(true)}
	switch {
	case spec.Dense != nil:
		d, ok := distances[spec.Dense.Distance]
		if !ok || spec.Dense.Size < 1 {
			return &Error{Op: "create vector", Collection: collection, Err: fmt.Errorf("%w: dense vector %q: size %d, distance %q", ErrInvalid, spec.Dense.Name, spec.Dense.Size, spec.Dense.Distance)}
		}
		req.VectorName = spec.Dense.Name
		req.VectorConfig = &qc.CreateVectorNameRequest_DenseConfig{DenseConfig: &qc.DenseVectorCreationConfig{Size: uint64(spec.Dense.Size), Distance: d}}
	case spec.Sparse != nil:
		sc := &qc.SparseVectorCreationConfig{}
		if spec.Sparse.IDF {
			sc.Modifier = qc.Modifier_Idf.Enum()
		}
		req.VectorName, req.VectorConfig = spec.Sparse.Name, &qc.CreateVectorNameRequest_SparseConfig{SparseConfig: sc}
	case spec.BM25 != nil:
		req.VectorName = spec.BM25.Name
		req.VectorConfig = &qc.CreateVectorNameRequest_SparseConfig{SparseConfig: &qc.SparseVectorCreationConfig{Modifier: qc.Modifier_Idf.Enum()}}
	default:
		return &Error{Op: "create vector", Collection: collection, Err: fmt.Errorf("%w: the spec names no vector", ErrInvalid)}
	}
	return c.do(ctx, "create vector", collection, func(ctx context.Context) error {
		_, err := c.qc.CreateVectorName(ctx, req)
		return err
	})
}
