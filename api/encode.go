package api

// EncodeRequest is the body of POST /v1/encode: vectors of texts.
type EncodeRequest struct {
	Texts []string `json:"texts"`
	// Sparse and Dense name vectorizers; "" uses collection.sparse and
	// collection.dense; "none" skips that side.
	Sparse string `json:"sparse,omitempty"`
	Dense  string `json:"dense,omitempty"`
	// Query encodes as queries.
	Query bool `json:"query,omitempty"`
	// Terms adds the N heaviest decoded terms of each sparse vector.
	Terms int `json:"terms,omitempty"`
}

// EncodedSparse is a sparse vector with optional decoded terms.
type EncodedSparse struct {
	SparseVector
	Terms []Term `json:"terms,omitempty"`
}

// Encoded is one text's vectors.
type Encoded struct {
	Sparse *EncodedSparse `json:"sparse,omitempty"`
	Dense  []float32      `json:"dense,omitempty"`
}

// EncodeResult is the answer of POST /v1/encode: one Encoded per text, in
// order.
type EncodeResult struct {
	Results []Encoded `json:"results"`
}
