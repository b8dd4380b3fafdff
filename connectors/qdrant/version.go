package qdrant

import (
	"context"
	"errors"
	"strings"
	"sync"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/connectors/qdrant/bm25"
)

// serverVersion is what ServerVersion remembers.
type serverVersion struct {
	mu      sync.Mutex
	version string
}

// ServerVersion is the version the Qdrant (or the embedded store) reports,
// asked once per Client and remembered.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	c.version.mu.Lock()
	defer c.version.mu.Unlock()
	if c.version.version != "" {
		return c.version.version, nil
	}
	var v string
	err := c.do(ctx, "version", "", func(ctx context.Context) error {
		r, err := c.qc.HealthCheck(ctx)
		v = r.GetVersion()
		return err
	})
	if err != nil {
		return "", err
	}
	c.version.version = v
	return v, nil
}

// release is the server's version as a bm25.Version; a version that does
// not parse (a development build) counts as the newest known.
func (c *Client) release(ctx context.Context) (bm25.Version, error) {
	s, err := c.ServerVersion(ctx)
	if err != nil {
		return bm25.Version{}, err
	}
	v, err := bm25.ParseVersion(s)
	if err != nil {
		return bm25.Latest, nil
	}
	return v, nil
}

// forServer returns m with the options the server's release reads the
// same way (bm25.OptionsFor) when m is Qdrant's BM25; the server is asked
// its version only when the options depend on it.
func (c *Client) forServer(ctx context.Context, m *StoreModel) (*StoreModel, error) {
	if m == nil || !isBM25Model(m.Model) || !bm25.StemmerOff(m.Options) {
		return m, nil
	}
	v, err := c.release(ctx)
	if err != nil {
		return nil, err
	}
	return &StoreModel{Model: m.Model, Options: bm25.OptionsFor(v, m.Options)}, nil
}

// isBM25Model reports whether Qdrant computes model itself as BM25.
func isBM25Model(model string) bool {
	m := strings.ToLower(model)
	return m == BM25Model || m == "bm25"
}

// idfParams is a search's params.idf, or nil without an IDF corpus. Qdrant
// before 1.19 ignores the field without a word, scoring over the whole
// collection; it is refused there instead.
func (c *Client) idfParams(ctx context.Context, corpus *Filter) (*qc.SearchParams, error) {
	if corpus == nil {
		return nil, nil
	}
	v, err := c.release(ctx)
	if err != nil {
		return nil, err
	}
	if !v.AtLeast(bm25.V1_19_0) {
		return nil, &unsupportedError{what: "idf_corpus (IDF statistics over a filter)", need: "1.19", have: v.String()}
	}
	f, err := filterProto(corpus)
	if err != nil {
		return nil, err
	}
	if f == nil {
		f = &qc.Filter{}
	}
	return &qc.SearchParams{Idf: &qc.IdfParams{Corpus: f}}, nil
}

// unsupportedError is a feature the server's release does not have.
type unsupportedError struct{ what, need, have string }

func (e *unsupportedError) Error() string {
	return e.what + " needs Qdrant " + e.need + " or newer; this Qdrant is " + e.have
}

func (e *unsupportedError) Unwrap() error { return errors.ErrUnsupported }
