package splade

import (
	"context"
	"fmt"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Overhead compares, on the same texts and in the same run, the full
// document encoder against the bare runtime forward pass of the unmodified
// export over the encoder's own batches (input tensors built once, output
// preallocated). When the encoder runs a rewritten graph (Info.BlockedHead
// or Info.Gathered),
// the raw side still runs the export as it is on disk, so a ratio above 1
// is what the rewrite gains.
type Overhead struct {
	Texts, Tokens, Iterations int
	// Padded counts batch × padded length over the batches of one pass:
	// 1 - Tokens/Padded is the share of padding the raw forward computes.
	Padded       int
	Raw, Encoder time.Duration // totals over all iterations
}

// Ratio is raw time / encoder time: 1.0 means the pipeline costs nothing
// beyond the model.
func (o Overhead) Ratio() float64 { return o.Raw.Seconds() / o.Encoder.Seconds() }

// RawDocsPerSec and EncoderDocsPerSec are the two throughputs.
func (o Overhead) RawDocsPerSec() float64 {
	return float64(o.Texts*o.Iterations) / o.Raw.Seconds()
}

func (o Overhead) EncoderDocsPerSec() float64 {
	return float64(o.Texts*o.Iterations) / o.Encoder.Seconds()
}

// EncoderTokensPerSec counts non-padding tokens through the full encoder.
func (o Overhead) EncoderTokensPerSec() float64 {
	return float64(o.Tokens*o.Iterations) / o.Encoder.Seconds()
}

// MeasureOverhead times iterations of raw forward and full encoding of
// texts, alternating them so both see the same machine state, after one
// warm-up of each.
func MeasureOverhead(ctx context.Context, e *Encoder, texts []string, iterations int) (Overhead, error) {
	// The raw side runs the export as it is on disk: the encoder's own
	// session unless the encoder rewrote the graph at load time.
	plain := &e.runner
	if e.graph.output != e.info.Output {
		g, err := inspectGraph(e.model.ONNX)
		if err != nil {
			return Overhead{}, err
		}
		plain = &runner{opts: e.opts, model: e.model, graph: g}
		if err := plain.openSession(); err != nil {
			return Overhead{}, err
		}
		defer plain.session.Destroy()
	}
	g := plain.graph
	encs := tokenizeAll(e.docTok, texts)
	type prepared struct {
		inputs []ort.Value
		output ort.Value
	}
	var runs []prepared
	defer func() {
		for _, p := range runs {
			for _, v := range p.inputs {
				v.Destroy()
			}
			if p.output != nil {
				p.output.Destroy()
			}
		}
	}()
	o := Overhead{Texts: len(texts), Iterations: iterations}
	for _, batch := range planBatches(encs, e.opts.batching()) {
		seq := 0
		for _, i := range batch {
			seq = max(seq, len(encs[i].ids))
			o.Tokens += len(encs[i].ids)
		}
		n := len(batch) * seq
		o.Padded += n
		ids, mask, types := make([]int64, n), make([]int64, n), make([]int64, n)
		for k, i := range batch {
			copy(ids[k*seq:], encs[i].ids)
			for t := range encs[i].ids {
				mask[k*seq+t] = 1
			}
		}
		shape := ort.NewShape(int64(len(batch)), int64(seq))
		var p prepared
		feeds := [][]int64{ids, mask}
		if g.typeIDs {
			feeds = append(feeds, types)
		}
		for _, d := range feeds {
			t, err := ort.NewTensor(shape, d)
			if err != nil {
				return o, fmt.Errorf("%w: %v", ErrRuntime, err)
			}
			p.inputs = append(p.inputs, t)
		}
		outShape := ort.NewShape(int64(len(batch)), int64(seq), int64(g.vocab))
		if g.pooled || g.maxPooled {
			outShape = ort.NewShape(int64(len(batch)), int64(g.vocab))
		}
		out, err := ort.NewEmptyTensor[float32](outShape)
		if err != nil {
			return o, fmt.Errorf("%w: %v", ErrRuntime, err)
		}
		p.output = out
		runs = append(runs, p)
	}
	raw := func() error {
		for _, p := range runs {
			if err := plain.session.Run(p.inputs, []ort.Value{p.output}); err != nil {
				return fmt.Errorf("%w: %v", ErrRuntime, err)
			}
		}
		return nil
	}
	if err := raw(); err != nil {
		return o, err
	}
	if _, err := e.Encode(ctx, texts); err != nil {
		return o, err
	}
	for i := 0; i < iterations; i++ {
		if err := ctx.Err(); err != nil {
			return o, err
		}
		start := time.Now()
		if err := raw(); err != nil {
			return o, err
		}
		o.Raw += time.Since(start)
		start = time.Now()
		if _, err := e.Encode(ctx, texts); err != nil {
			return o, err
		}
		o.Encoder += time.Since(start)
	}
	return o, nil
}
