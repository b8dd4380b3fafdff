package qdrant

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/internal/pbvalue"
)

// Payload keys spladeq writes on every point; user payload may not use them.
const (
	PayloadDocID = api.PayloadDocID
	PayloadChunk = api.PayloadChunk
	PayloadText  = api.PayloadText
)

// idNamespace is the UUIDv5 namespace of spladeq point ids (the RFC 4122 URL
// namespace applied to "spladeq"), fixed forever: changing it would orphan
// every stored point.
var idNamespace = uuidV5([16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}, "spladeq")

// PointID is the point id of a document's chunk: the UUIDv5 of
// "docID#chunk", so re-ingesting a document replaces its points.
func PointID(docID string, chunk int) string {
	u := uuidV5(idNamespace, docID+"#"+strconv.Itoa(chunk))
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// Document is one chunk of a document to store.
type Document struct {
	// ID is the document id; required.
	ID string
	// Chunk numbers the chunks of a document from 0.
	Chunk int
	// Text is stored in the payload under "text".
	Text string
	// Payload holds user fields; keys doc_id, chunk and text are reserved.
	Payload map[string]any
	// Sparse is the SPLADE vector; may be empty.
	Sparse api.SparseVector
	// Dense is the dense vector; nil when the collection has none.
	Dense []float32
}

// DefaultBM25Name is the BM25 vector's name.
const DefaultBM25Name = "bm25"

// StoreModel is a model the store runs itself: a point's text (or a
// query's) goes to it as Document{text, model, options}, and the store
// makes the vector. Qdrant runs "qdrant/bm25" locally since 1.15.2.
type StoreModel struct {
	// Model is the Document's model, e.g. BM25Model.
	Model string
	// Options are the Document's options (Qdrant's Bm25Config for BM25).
	Options map[string]any
}

// BM25Model is Qdrant's name of its built-in BM25.
const BM25Model = "qdrant/bm25"

func (m *StoreModel) document(text string) (*qc.Document, error) {
	opts, err := toValueMap(m.Options)
	if err != nil {
		return nil, fmt.Errorf("options of %s: %v", m.Model, err)
	}
	if len(opts) == 0 {
		opts = nil
	}
	return &qc.Document{Text: text, Model: m.Model, Options: opts}, nil
}

// WriteOptions names the collection's vectors for writes and searches.
type WriteOptions struct {
	// DenseName is the dense vector's name. Default "dense".
	DenseName string
	// SparseName is the sparse vector's name. Default "splade".
	SparseName string
	// BM25Name is the BM25 vector's name. Default DefaultBM25Name.
	BM25Name string
	// BM25, when set, makes every upserted point carry its text as a
	// Document for the BM25 vector (an empty text gets none), and is the
	// model of a search's BM25 signal.
	BM25 *StoreModel
	// DenseSize, when set, is checked against every document's dense vector.
	DenseSize int
	// SparseIDF says the sparse vector has the IDF modifier, so a search's
	// IDFCorpus applies to it too. Default false.
	SparseIDF bool
	// Atomic sends all documents of an Upsert in one request, so Qdrant
	// stores all or none of them, instead of batches of Config.BatchSize.
	Atomic bool
}

func (o WriteOptions) withDefaults() WriteOptions {
	if o.DenseName == "" {
		o.DenseName = "dense"
	}
	if o.SparseName == "" {
		o.SparseName = "splade"
	}
	if o.BM25Name == "" {
		o.BM25Name = DefaultBM25Name
	}
	return o
}

// ValidateDocument checks a document before it is sent, naming the field.
func ValidateDocument(d Document, denseSize int) error {
	if d.ID == "" {
		return errors.New("id: must not be empty")
	}
	if d.Chunk < 0 {
		return fmt.Errorf("chunk: must be >= 0, got %d", d.Chunk)
	}
	for _, k := range []string{PayloadDocID, PayloadChunk, PayloadText} {
		if _, ok := d.Payload[k]; ok {
			return fmt.Errorf("payload.%s: reserved key", k)
		}
	}
	if err := d.Sparse.Validate(); err != nil {
		return fmt.Errorf("sparse: %v", err)
	}
	if d.Dense != nil {
		if denseSize > 0 && len(d.Dense) != denseSize {
			return fmt.Errorf("dense: dimension %d, collection wants %d", len(d.Dense), denseSize)
		}
		for i, x := range d.Dense {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("dense: element %d is %v", i, x)
			}
		}
	}
	return nil
}

func (d Document) point(o WriteOptions) (*qc.PointStruct, error) {
	payload := map[string]any{PayloadDocID: d.ID, PayloadChunk: int64(d.Chunk), PayloadText: d.Text}
	for k, v := range d.Payload {
		payload[k] = v
	}
	values, err := toValueMap(payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %v", err)
	}
	vecs := map[string]*qc.Vector{}
	if len(d.Sparse.Indices) > 0 {
		vecs[o.SparseName] = qc.NewVectorSparse(d.Sparse.Indices, d.Sparse.Values)
	}
	if d.Dense != nil {
		vecs[o.DenseName] = qc.NewVectorDense(d.Dense)
	}
	if o.BM25 != nil && strings.TrimSpace(d.Text) != "" {
		doc, err := o.BM25.document(d.Text)
		if err != nil {
			return nil, err
		}
		vecs[o.BM25Name] = qc.NewVectorDocument(doc)
	}
	return &qc.PointStruct{Id: qc.NewID(PointID(d.ID, d.Chunk)), Payload: values, Vectors: qc.NewVectorsMap(vecs)}, nil
}

// toValueMap converts a payload, with an error naming the bad key instead
// of the go-client's panic.
func toValueMap(m map[string]any) (map[string]*qc.Value, error) {
	out := make(map[string]*qc.Value, len(m))
	for k, v := range m {
		val, err := toValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		out[k] = val
	}
	return out, nil
}

func toValue(v any) (*qc.Value, error) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
	case float32:
		return toValue(float64(x))
	case []any:
		vals := make([]*qc.Value, len(x))
		for i, e := range x {
			var err error
			if vals[i], err = toValue(e); err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
		}
		return qc.NewValueFromList(vals...), nil
	case []string:
		vals := make([]*qc.Value, len(x))
		for i, e := range x {
			vals[i] = qc.NewValueString(e)
		}
		return qc.NewValueFromList(vals...), nil
	case map[string]any:
		fields, err := toValueMap(x)
		if err != nil {
			return nil, err
		}
		return qc.NewValueFromFields(fields), nil
	}
	val, err := qc.NewValue(v)
	if err != nil {
		return nil, fmt.Errorf("type %T is not supported in a payload", v)
	}
	return val, nil
}

// Upsert stores documents, replacing points with the same document id and
// chunk. Every document is validated first: one bad document fails the call
// and nothing is sent. Batches of Config.BatchSize run Config.Concurrency at
// a time; on failure the error names the first failed batch's documents, and
// batches already acknowledged stay stored (re-running the call is safe: the
// ids are deterministic).
func (c *Client) Upsert(ctx context.Context, collection string, docs []Document, o WriteOptions) error {
	o = o.withDefaults()
	var err error
	if o.BM25, err = c.forServer(ctx, o.BM25); err != nil {
		return &Error{Op: "upsert", Collection: collection, Err: err}
	}
	points := make([]*qc.PointStruct, len(docs))
	for i, d := range docs {
		if err := ValidateDocument(d, o.DenseSize); err != nil {
			return &Error{Op: "upsert", Collection: collection, Point: fmt.Sprintf("document %q chunk %d", d.ID, d.Chunk), Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
		}
		p, err := d.point(o)
		if err != nil {
			return &Error{Op: "upsert", Collection: collection, Point: fmt.Sprintf("document %q chunk %d", d.ID, d.Chunk), Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
		}
		points[i] = p
	}
	wait := !c.cfg.NoWait
	sem := make(chan struct{}, c.cfg.Concurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batchSize := c.cfg.BatchSize
	if o.Atomic {
		batchSize = max(len(points), 1)
	}
	for start := 0; start < len(points); start += batchSize {
		end := min(start+batchSize, len(points))
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(batch []*qc.PointStruct, first, last Document) {
			defer wg.Done()
			defer func() { <-sem }()
			err := c.do(ctx, "upsert", collection, func(ctx context.Context) error {
				_, err := c.qc.Upsert(ctx, &qc.UpsertPoints{CollectionName: collection, Wait: &wait, Points: batch, Ordering: c.cfg.writeOrdering()})
				return err
			})
			if err != nil {
				var e *Error
				if errors.As(err, &e) && len(batch) > 0 {
					e.Point = fmt.Sprintf("batch of documents %q#%d … %q#%d", first.ID, first.Chunk, last.ID, last.Chunk)
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}(points[start:end], docs[start], docs[end-1])
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// DeleteDocument removes every chunk of a document.
func (c *Client) DeleteDocument(ctx context.Context, collection, docID string) error {
	return c.deleteByFilter(ctx, collection, &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(PayloadDocID, docID)}})
}

// DeleteChunksFrom removes a document's chunks numbered from and above; after
// re-ingesting a document as n chunks, DeleteChunksFrom(…, n) removes what
// is left of a longer earlier version.
func (c *Client) DeleteChunksFrom(ctx context.Context, collection, docID string, from int) error {
	gte := float64(from)
	return c.deleteByFilter(ctx, collection, &qc.Filter{Must: []*qc.Condition{
		qc.NewMatchKeyword(PayloadDocID, docID),
		qc.NewRange(PayloadChunk, &qc.Range{Gte: &gte}),
	}})
}

// DeleteStaleChunks removes, for every document in counts, its chunks
// numbered counts[doc] and above, in one request.
func (c *Client) DeleteStaleChunks(ctx context.Context, collection string, counts map[string]int) error {
	if len(counts) == 0 {
		return nil
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	f := &qc.Filter{}
	for _, id := range ids {
		gte := float64(counts[id])
		f.Should = append(f.Should, qc.NewFilterAsCondition(&qc.Filter{Must: []*qc.Condition{
			qc.NewMatchKeyword(PayloadDocID, id),
			qc.NewRange(PayloadChunk, &qc.Range{Gte: &gte}),
		}}))
	}
	return c.deleteByFilter(ctx, collection, f)
}

func (c *Client) deleteByFilter(ctx context.Context, collection string, f *qc.Filter) error {
	wait := !c.cfg.NoWait
	return c.do(ctx, "delete", collection, func(ctx context.Context) error {
		_, err := c.qc.Delete(ctx, &qc.DeletePoints{CollectionName: collection, Wait: &wait, Points: qc.NewPointsSelectorFilter(f), Ordering: c.cfg.writeOrdering()})
		return err
	})
}

// Count returns the exact number of points matching f (all when nil).
func (c *Client) Count(ctx context.Context, collection string, f *Filter) (uint64, error) {
	pf, err := filterProto(f)
	if err != nil {
		return 0, &Error{Op: "count", Collection: collection, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	var n uint64
	exact := true
	err = c.do(ctx, "count", collection, func(ctx context.Context) error {
		var err error
		n, err = c.qc.Count(ctx, &qc.CountPoints{CollectionName: collection, Filter: pf, Exact: &exact, ReadConsistency: c.cfg.readConsistency()})
		return err
	})
	return n, err
}

// StoredPoint is a point as read back.
type StoredPoint struct {
	ID      string
	Payload map[string]any
	Sparse  api.SparseVector
	Dense   []float32
}

// Scroll returns every point matching f, in id order, with payload and
// vectors. It pages through the collection pageSize points at a time.
func (c *Client) Scroll(ctx context.Context, collection string, f *Filter, o WriteOptions) ([]StoredPoint, error) {
	o = o.withDefaults()
	pf, err := filterProto(f)
	if err != nil {
		return nil, &Error{Op: "scroll", Collection: collection, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	var out []StoredPoint
	err = c.scrollPages(ctx, collection, pf, 256, qc.NewWithPayload(true), true, func(page []*qc.RetrievedPoint) error {
		for _, p := range page {
			sp := StoredPoint{ID: idString(p.GetId()), Payload: pbvalue.Map(p.GetPayload())}
			sp.Sparse, sp.Dense = vectorsOf(p.GetVectors(), o)
			out = append(out, sp)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scrollPages pages through the points matching pf, in id order, pageSize
// at a time, with the payload selected and the vectors or none, handing
// each page to fn; an error from Qdrant or from fn stops it.
func (c *Client) scrollPages(ctx context.Context, collection string, pf *qc.Filter, pageSize uint32, payload *qc.WithPayloadSelector, vectors bool, fn func([]*qc.RetrievedPoint) error) error {
	var offset *qc.PointId
	for {
		var page []*qc.RetrievedPoint
		var next *qc.PointId
		limit := pageSize
		err := c.do(ctx, "scroll", collection, func(ctx context.Context) error {
			var err error
			page, next, err = c.qc.ScrollAndOffset(ctx, &qc.ScrollPoints{CollectionName: collection, Filter: pf, Offset: offset,
				ReadConsistency: c.cfg.readConsistency(), Limit: &limit, WithPayload: payload, WithVectors: qc.NewWithVectors(vectors)})
			return err
		})
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		offset = next
	}
}

func idString(id *qc.PointId) string {
	if u := id.GetUuid(); u != "" {
		return u
	}
	return strconv.FormatUint(id.GetNum(), 10)
}

func vectorsOf(v *qc.VectorsOutput, o WriteOptions) (api.SparseVector, []float32) {
	var sparse api.SparseVector
	var dense []float32
	named := v.GetVectors().GetVectors()
	if sv := named[o.SparseName].GetSparse(); sv != nil {
		sparse = api.SparseVector{Indices: sv.GetIndices(), Values: sv.GetValues()}
	}
	if dv := named[o.DenseName].GetDense(); dv != nil {
		dense = dv.GetData()
	}
	return sparse, dense
}
