package embedded

import (
	"context"
	"errors"
	"fmt"

	pb "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
	"github.com/spladeq/spladeq/internal/pbvalue"
)

// InferenceInput is one Document{text, model, options} a request carries
// where a vector would go.
type InferenceInput struct {
	Text  string
	Model string
	// Options are the Document's options as Go values (numbers float64 or
	// int64, strings, bools, nested maps and lists).
	Options map[string]any
}

// InferenceVector is the vector an input became: Dense, or a sparse pair
// Indices/Values.
type InferenceVector struct {
	Dense   []float32
	Indices []uint32
	Values  []float32
}

// Inference turns documents into vectors: as queries when query is set,
// else as documents to store; one vector per input, in order. It is how a
// Server answers Qdrant's server-side inference, declared here and
// implemented by the layer that owns the vectorizers. An error that is a
// gRPC status (InvalidArgument for bad input, ResourceExhausted for
// back-pressure) reaches the client as it is; any other is Internal.
type Inference func(ctx context.Context, inputs []InferenceInput, query bool) ([]InferenceVector, error)

// WithInference lets the server accept Documents in upserts (point vectors)
// and queries (nearest, in the query and any prefetch), vectorized by fn
// before the request reaches the store. Default: none, and a Document is
// refused with InvalidArgument, as a Qdrant without inference does.
func WithInference(fn Inference) ServerOption { return func(o *serverOptions) { o.inference = fn } }

// docSlot is where a Document stands in a request, and how to put its
// vector there.
type docSlot struct {
	doc *pb.Document
	set func(InferenceVector)
}

// pointDocs collects the Documents among the points' vectors.
func pointDocs(points []*pb.PointStruct) []docSlot {
	var slots []docSlot
	for _, p := range points {
		vs := p.GetVectors()
		switch o := vs.GetVectorsOptions().(type) {
		case *pb.Vectors_Vector:
			if d := o.Vector.GetDocument(); d != nil {
				slots = append(slots, docSlot{d, func(v InferenceVector) { o.Vector = vectorOf(v) }})
			}
		case *pb.Vectors_Vectors:
			m := o.Vectors.GetVectors()
			for name, vec := range m {
				if d := vec.GetDocument(); d != nil {
					slots = append(slots, docSlot{d, func(v InferenceVector) { m[name] = vectorOf(v) }})
				}
			}
		}
	}
	return slots
}

// queryDocs collects the Documents in nearest queries, the main one and
// every prefetch at any depth.
func queryDocs(q *pb.Query, prefetch []*pb.PrefetchQuery) []docSlot {
	var slots []docSlot
	add := func(q *pb.Query) {
		n, ok := q.GetVariant().(*pb.Query_Nearest)
		if !ok {
			return
		}
		if d := n.Nearest.GetDocument(); d != nil {
			slots = append(slots, docSlot{d, func(v InferenceVector) { n.Nearest = vectorInputOf(v) }})
		}
	}
	add(q)
	var walk func([]*pb.PrefetchQuery)
	walk = func(ps []*pb.PrefetchQuery) {
		for _, p := range ps {
			add(p.GetQuery())
			walk(p.GetPrefetch())
		}
	}
	walk(prefetch)
	return slots
}

// infer vectorizes every Document of one request and puts the vectors in
// their places: BM25 Documents (model "qdrant/bm25" or "bm25", any case)
// in-process, as Qdrant computes them itself, and all others in one call
// to the inference hook. Images and inference objects are refused.
func (o *serverOptions) infer(ctx context.Context, slots []docSlot, query bool) error {
	if len(slots) == 0 {
		return nil
	}
	var rest []docSlot
	for _, s := range slots {
		if !isBM25(s.doc.GetModel()) {
			rest = append(rest, s)
			continue
		}
		v, err := o.bm25.encode(s.doc.GetText(), pbvalue.Map(s.doc.GetOptions()), query)
		var param *bm25.ParamError
		switch {
		case errors.As(err, &param): // Qdrant 1.18.2+ says these without the prefix
			return status.Error(codes.InvalidArgument, "Wrong input: "+err.Error())
		case err != nil:
			return status.Error(codes.InvalidArgument, "Wrong input: Invalid BM25 config: "+err.Error())
		}
		s.set(v)
	}
	if len(rest) == 0 {
		return nil
	}
	if o.inference == nil {
		return status.Error(codes.InvalidArgument, "Wrong input: the request carries a Document, but no inference is configured for this server")
	}
	inputs := make([]InferenceInput, len(rest))
	for i, s := range rest {
		opts := map[string]any{}
		for k, v := range s.doc.GetOptions() {
			opts[k] = pbvalue.Go(v)
		}
		inputs[i] = InferenceInput{Text: s.doc.GetText(), Model: s.doc.GetModel(), Options: opts}
	}
	vecs, err := o.inference(ctx, inputs, query)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return toStatus(err)
		}
		return status.Error(codes.Internal, "inference: "+err.Error())
	}
	if len(vecs) != len(rest) {
		return status.Error(codes.Internal, fmt.Sprintf("inference returned %d vectors for %d documents", len(vecs), len(rest)))
	}
	for i, s := range rest {
		s.set(vecs[i])
	}
	return nil
}

// checkNoMedia refuses Image and InferenceObject inputs, which the embedded
// server does not vectorize.
func checkNoMedia(points []*pb.PointStruct) error {
	for _, p := range points {
		var vs []*pb.Vector
		switch o := p.GetVectors().GetVectorsOptions().(type) {
		case *pb.Vectors_Vector:
			vs = append(vs, o.Vector)
		case *pb.Vectors_Vectors:
			for _, v := range o.Vectors.GetVectors() {
				vs = append(vs, v)
			}
		}
		for _, v := range vs {
			if v.GetImage() != nil || v.GetObject() != nil {
				return status.Error(codes.InvalidArgument, "Wrong input: images and inference objects are not supported by the embedded server; send a Document (text)")
			}
		}
	}
	return nil
}

func vectorOf(v InferenceVector) *pb.Vector {
	if v.Dense != nil {
		return pb.NewVectorDense(v.Dense)
	}
	return pb.NewVectorSparse(nonNil(v.Indices), nonNilF(v.Values))
}

func vectorInputOf(v InferenceVector) *pb.VectorInput {
	if v.Dense != nil {
		return pb.NewVectorInputDense(v.Dense)
	}
	return pb.NewVectorInputSparse(nonNil(v.Indices), nonNilF(v.Values))
}

func nonNil(x []uint32) []uint32 {
	if x == nil {
		return []uint32{}
	}
	return x
}

func nonNilF(x []float32) []float32 {
	if x == nil {
		return []float32{}
	}
	return x
}
