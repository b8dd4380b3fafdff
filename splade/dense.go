package splade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/spladeq/spladeq/internal/vecmath"
	"github.com/spladeq/spladeq/splade/hfgraph"
)

// Pooling turns a dense encoder's token embeddings into one vector.
type Pooling int

const (
	// PoolMean averages the embeddings of the non-padding tokens.
	PoolMean Pooling = iota
	// PoolCLS takes the first token's embedding.
	PoolCLS
)

// WithPooling sets the dense encoder's pooling. Default PoolMean.
func WithPooling(p Pooling) Option {
	return func(o *options) error {
		if p != PoolMean && p != PoolCLS {
			return fmt.Errorf("pooling must be mean or cls, got %d", p)
		}
		o.pooling = p
		return nil
	}
}

// WithNormalize sets whether dense vectors are L2-normalised. Default true.
func WithNormalize(on bool) Option {
	return func(o *options) error { o.normalize = on; return nil }
}

// DenseEncoder encodes texts into dense vectors with a sentence-embedding
// ONNX model (BERT-style encoder, output last_hidden_state [batch, seq, dim]
// or an already pooled [batch, dim]) on the same runtime as Encoder. It is
// safe for concurrent use.
type DenseEncoder struct {
	runner
	tok     *tokenizer
	dim     int
	windows windower // untruncated tokenizer for Chunks

	mu     sync.RWMutex
	closed bool
}

// NewDense loads a dense model directory (HuggingFace layout). A directory
// with no ONNX file but config.json and model.safetensors gets the graph of
// its encoder built in memory (package hfgraph; any head is left out).
// Options that
// apply: WithONNXFile, WithRuntimeLibrary, WithMaxLength, WithBatchSize,
// WithTokenBudget, WithIntraOpThreads, WithSpinning, WithPooling,
// WithNormalize, WithQuantization.
func NewDense(dir string, opts ...Option) (*DenseEncoder, error) {
	o, m, err := prepare(dir, opts)
	if err != nil {
		return nil, err
	}
	g, built, err := openGraph(m, denseHead(o), "", "sentence_embedding", "last_hidden_state", "token_embeddings")
	if err != nil {
		return nil, err
	}
	if g.vocab < 1 {
		return nil, fmt.Errorf("%w: %s: output %q has no static embedding dimension", ErrModel, m.graphFile(), g.output)
	}
	maxLen := maxLength(o.maxLength, m.Config)
	data, err := os.ReadFile(m.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	d := &DenseEncoder{runner: runner{opts: o, model: m, graph: g, onnxData: built}, dim: g.vocab}
	if d.tok, err = newTokenizer(data, m.Tokenizer, maxLen); err != nil {
		return nil, err
	}
	if err := d.openSession(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// denseHead is the graph built from a dense checkpoint: the encoder's last
// hidden state, any head left out.
func denseHead(o options) hfgraph.Options {
	opts := o.quant
	opts.Head, opts.Block = hfgraph.Hidden, 0
	return opts
}

// Dimension is the length of the vectors.
func (d *DenseEncoder) Dimension() int { return d.dim }

// Encode returns one vector per text, in input order.
func (d *DenseEncoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	for i, t := range texts {
		if err := checkText(i, t); err != nil {
			return nil, err
		}
	}
	encs := tokenizeAll(d.tok, texts)
	out := make([][]float32, len(texts))
	err := d.eachBatch(ctx, planBatches(encs, d.opts.batching()), func(batch []int) error {
		return d.run(encs, batch, func(data []float32, shape ort.Shape, lengths []int) error {
			dim := int(shape[len(shape)-1])
			for k, i := range batch {
				v := make([]float32, dim)
				switch {
				case d.graph.pooled:
					copy(v, data[k*dim:(k+1)*dim])
				case d.opts.pooling == PoolCLS:
					seq := int(shape[1])
					copy(v, data[k*seq*dim:k*seq*dim+dim])
				default:
					seq := int(shape[1])
					meanPool(v, data[k*seq*dim:(k+1)*seq*dim], lengths[k], dim)
				}
				if d.opts.normalize {
					vecmath.Normalize(v)
				}
				out[i] = v
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// meanPool averages the first n token embeddings of one row, in float64.
func meanPool(dst, row []float32, n, dim int) {
	if n == 0 {
		return
	}
	acc := make([]float64, dim)
	for t := 0; t < n; t++ {
		for j, x := range row[t*dim : (t+1)*dim] {
			acc[j] += float64(x)
		}
	}
	for j := range dst {
		dst[j] = float32(acc[j] / float64(n))
	}
}

// Close releases the session and the tokenizer; safe to call twice.
func (d *DenseEncoder) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.session != nil {
		errs = append(errs, d.session.Destroy())
		d.session = nil
		d.free = nil
	}
	errs = append(errs, d.tok.close(), d.windows.close())
	return errors.Join(errs...)
}

// TokenIDs tokenizes text as Encode would (truncated, with special tokens)
// without running the model.
func (d *DenseEncoder) TokenIDs(text string) ([]int64, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	if err := checkText(0, text); err != nil {
		return nil, err
	}
	return d.tok.encode(text).ids, nil
}

// Normalized reports whether the encoder L2-normalises its vectors
// (WithNormalize).
func (d *DenseEncoder) Normalized() bool { return d.opts.normalize }
