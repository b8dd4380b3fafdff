package plugin

import (
	"context"
	"fmt"

	"github.com/spladeq/spladeq/api"
)

// EncodeInput asks for vectors of texts.
type EncodeInput = api.EncodeRequest

// EncodedSparse is a sparse vector with optional decoded terms.
type EncodedSparse = api.EncodedSparse

// Encoded is one text's vectors.
type Encoded = api.Encoded

// Encode returns sparse and/or dense vectors for texts.
func (s *Service) Encode(ctx context.Context, in EncodeInput) ([]Encoded, error) {
	var ps []Problem
	if len(in.Texts) == 0 {
		ps = append(ps, Problem{Field: "texts", Message: "must not be empty"})
	}
	if len(in.Texts) > s.cfg.Server.MaxTexts {
		ps = append(ps, Problem{Field: "texts", Message: fmt.Sprintf("has %d texts, over the limit of %d", len(in.Texts), s.cfg.Server.MaxTexts)})
	}
	for i, t := range in.Texts {
		ps = s.checkText(ps, fmt.Sprintf("texts[%d]", i), "", t, s.cfg.Server.MaxTextBytes)
	}
	if in.Sparse == "" {
		in.Sparse = orNone(s.cfg.Collection.Sparse)
	}
	if in.Dense == "" {
		in.Dense = orNone(s.cfg.Collection.Dense)
	}
	if in.Sparse != None {
		if _, ok := s.vecs[in.Sparse].(Sparse); !ok {
			ps = append(ps, Problem{Field: "sparse", Message: fmt.Sprintf("no sparse vectorizer named %q (have %s)", in.Sparse, s.names(isSparse))})
		}
	}
	if in.Dense != None {
		if _, ok := s.vecs[in.Dense].(Dense); !ok {
			ps = append(ps, Problem{Field: "dense", Message: fmt.Sprintf("no dense vectorizer named %q (have %s)", in.Dense, s.names(isDense))})
		} else if _, pre := s.vecs[in.Dense].(*precomputed); pre {
			ps = append(ps, Problem{Field: "dense", Message: fmt.Sprintf("vectorizer %q is precomputed: it cannot encode text", in.Dense)})
		}
	}
	if in.Terms < 0 || in.Terms > 1000 {
		ps = append(ps, Problem{Field: "terms", Message: fmt.Sprintf("must be 0..1000, got %d", in.Terms)})
	}
	if err := problems(ps...); err != nil {
		return nil, err
	}
	out := make([]Encoded, len(in.Texts))
	if in.Sparse != None {
		b := s.sparseDocs[in.Sparse]
		if in.Query {
			b = s.sparseQueries[in.Sparse]
		}
		vecs, err := b.Do(ctx, in.Texts)
		if err != nil {
			return nil, err
		}
		dec, _ := s.vecs[in.Sparse].(TermDecoder)
		for i, v := range vecs {
			e := &EncodedSparse{SparseVector: v}
			if e.Indices == nil {
				e.Indices, e.Values = []uint32{}, []float32{}
			}
			if in.Terms > 0 && dec != nil {
				terms, err := dec.Terms(v, in.Terms)
				if err != nil {
					return nil, err
				}
				e.Terms = terms
			}
			out[i].Sparse = e
		}
	}
	if in.Dense != None {
		b := s.denseDocs[in.Dense]
		if in.Query {
			b = s.denseQueries[in.Dense]
		}
		vecs, err := b.Do(ctx, in.Texts)
		if err != nil {
			return nil, err
		}
		for i, v := range vecs {
			out[i].Dense = v
		}
	}
	return out, nil
}
