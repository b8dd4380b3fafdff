package embedded

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
)

// isBM25 reports whether Qdrant computes a Document of this model itself
// rather than sending it to its inference service: "qdrant/bm25" or
// "bm25", in any case (LocalModelName in Qdrant's
// src/common/inference/local_model.rs, 1.17.1 to 1.19.0).
func isBM25(model string) bool {
	m := strings.ToLower(model)
	return m == "qdrant/bm25" || m == "bm25"
}

// bm25Release is the release whose BM25 the store computes: the one it
// reports (Version).
var bm25Release = func() bm25.Version {
	v, err := bm25.ParseVersion(Version)
	if err != nil {
		panic(err)
	}
	return v
}()

// bm25Encoders keeps the encoders of the option sets seen, so the stop
// words and stemmer of a set are built once. It is bounded: past
// maxBM25Encoders distinct sets, encoders are built per Document.
type bm25Encoders struct {
	mu  sync.Mutex
	enc map[string]*bm25.Encoder
}

const maxBM25Encoders = 64

// encode is Qdrant's BM25 of text: the document vector to store, or the
// query vector (each distinct token weight 1) when query is set.
func (c *bm25Encoders) encode(text string, options map[string]any, query bool) (InferenceVector, error) {
	enc, err := c.encoder(options)
	if err != nil {
		return InferenceVector{}, err
	}
	var v bm25.SparseVector
	if query {
		v = enc.Query(text)
	} else {
		v = enc.Document(text)
	}
	return InferenceVector{Indices: v.Indices, Values: v.Values}, nil
}

func (c *bm25Encoders) encoder(options map[string]any) (*bm25.Encoder, error) {
	key, err := json.Marshal(options) // map keys sorted: one key per option set
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	enc, ok := c.enc[string(key)]
	c.mu.Unlock()
	if ok {
		return enc, nil
	}
	opts, err := bm25.ParseOptionsFor(bm25Release, options)
	if err != nil {
		return nil, err
	}
	if enc, err = bm25.New(opts); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.enc == nil {
		c.enc = map[string]*bm25.Encoder{}
	}
	if len(c.enc) < maxBM25Encoders {
		c.enc[string(key)] = enc
	}
	c.mu.Unlock()
	return enc, nil
}
