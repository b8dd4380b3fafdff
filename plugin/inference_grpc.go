package plugin

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
)

// embeddedInference adapts Infer to the embedded store's inference hook:
// Documents reaching its gRPC API are vectorized here, through the same
// batchers as every other encode. It only translates.
func (s *Service) embeddedInference(ctx context.Context, in []embedded.InferenceInput, query bool) ([]embedded.InferenceVector, error) {
	inputs := make([]InferenceInput, len(in))
	for i, d := range in {
		inputs[i] = InferenceInput{Text: d.Text, Model: d.Model, Options: d.Options}
	}
	outs, err := s.Infer(ctx, inputs, query)
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return nil, status.Error(codes.InvalidArgument, "Wrong input: "+ie.Error())
	case errors.Is(err, ErrOverloaded):
		return nil, status.Error(codes.ResourceExhausted, "spladeq: "+err.Error())
	case err != nil:
		return nil, err
	}
	vecs := make([]embedded.InferenceVector, len(outs))
	for i, o := range outs {
		if o.Sparse != nil {
			vecs[i] = embedded.InferenceVector{Indices: o.Sparse.Indices, Values: o.Sparse.Values}
		} else {
			vecs[i] = embedded.InferenceVector{Dense: o.Dense}
		}
	}
	return vecs, nil
}
