package plugin

import (
	"context"
	"errors"

	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/splade"
)

// Vectorizer is what every module implements.
type Vectorizer interface {
	// Module names the module (config.ModuleSPLADE, ...).
	Module() string
	// Close releases the module's resources.
	Close() error
}

// Sparse vectorizers produce SPLADE vectors.
type Sparse interface {
	Vectorizer
	EncodeDocuments(ctx context.Context, texts []string) ([]splade.SparseVector, error)
	EncodeQueries(ctx context.Context, texts []string) ([]splade.SparseVector, error)
}

// Dense vectorizers produce dense vectors of a fixed dimension.
type Dense interface {
	Vectorizer
	Dimension() int
	EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error)
	EmbedQueries(ctx context.Context, texts []string) ([][]float32, error)
}

// TermDecoder is the optional ability to name a sparse vector's terms.
type TermDecoder interface {
	Terms(v splade.SparseVector, n int) ([]splade.Term, error)
}

// Chunker is the optional ability to split a text into token windows.
type Chunker interface {
	Chunks(text string, size, overlap int) ([]splade.Chunk, error)
}

// ErrPrecomputed is returned by the precomputed module's Embed methods:
// its vectors come with the request, never from text.
var ErrPrecomputed = errors.New("precomputed vectorizer: the request must carry the vector")

// StoreSide vectorizers run in the store: a text goes to it as
// Document{text, model, options} and the store makes the vector (the bm25
// module: Qdrant's BM25, which Qdrant computes itself since 1.15.2 and the
// embedded store in-process). They have no Encode or Embed methods.
type StoreSide interface {
	Vectorizer
	// StoreModel is the Document's model and options.
	StoreModel() qdrant.StoreModel
}
