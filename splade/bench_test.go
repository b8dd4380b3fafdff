package splade

import (
	"context"
	"os"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/spladeq/spladeq/internal/synth"
)

// benchModel is the model benchmarked: $SPLADEQ_BENCH_MODEL (for example a
// BERT-base-sized model from `tools/genmodel/genmodel.py model --size base`)
// or the committed tiny fixture.
func benchOptions() []Option {
	return []Option{WithSpinning(os.Getenv("SPLADEQ_BENCH_SPIN") == "1")}
}

func benchModel() string {
	if m := os.Getenv("SPLADEQ_BENCH_MODEL"); m != "" {
		return m
	}
	return modelDir("bert-tiny")
}

// BenchmarkEncoderVsRawForward measures, in the same run and on the same
// texts, the full document encoder (tokenize, batch, forward, pool, sparsify)
// and the bare ONNX Runtime forward pass over the encoder's own batches with
// prebuilt input tensors and a preallocated output. It reports docs/s for
// each and their ratio (encoder/raw): 1.0 means the pipeline costs nothing
// beyond the model.
func BenchmarkEncoderVsRawForward(b *testing.B) {
	e, err := New(benchModel(), benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	texts := synth.Texts(64, 20, 120, 1)
	ctx := context.Background()

	// The raw baseline's inputs: the encoder's own batches, built once.
	encs := tokenizeAll(e.docTok, texts)
	type prepared struct {
		inputs []ort.Value
		output ort.Value
	}
	var runs []prepared
	tokens := 0
	for _, batch := range planBatches(encs, e.opts.batchSize, e.opts.tokenBudget) {
		seq := 0
		for _, i := range batch {
			seq = max(seq, len(encs[i].ids))
			tokens += len(encs[i].ids)
		}
		n := len(batch) * seq
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
		if e.graph.typeIDs {
			feeds = append(feeds, types)
		}
		for _, d := range feeds {
			t, err := ort.NewTensor(shape, d)
			if err != nil {
				b.Fatal(err)
			}
			p.inputs = append(p.inputs, t)
		}
		outShape := ort.NewShape(int64(len(batch)), int64(seq), int64(e.graph.vocab))
		if e.graph.pooled {
			outShape = ort.NewShape(int64(len(batch)), int64(e.graph.vocab))
		}
		out, err := ort.NewEmptyTensor[float32](outShape)
		if err != nil {
			b.Fatal(err)
		}
		p.output = out
		runs = append(runs, p)
	}
	defer func() {
		for _, p := range runs {
			for _, v := range p.inputs {
				v.Destroy()
			}
			p.output.Destroy()
		}
	}()

	// Warm up both paths once.
	if _, err := e.Encode(ctx, texts); err != nil {
		b.Fatal(err)
	}
	var raw, full time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, p := range runs {
			if err := e.session.Run(p.inputs, []ort.Value{p.output}); err != nil {
				b.Fatal(err)
			}
		}
		raw += time.Since(start)
		start = time.Now()
		if _, err := e.Encode(ctx, texts); err != nil {
			b.Fatal(err)
		}
		full += time.Since(start)
	}
	docs := float64(len(texts) * b.N)
	b.ReportMetric(docs/raw.Seconds(), "raw-docs/s")
	b.ReportMetric(docs/full.Seconds(), "encoder-docs/s")
	b.ReportMetric(float64(tokens*b.N)/full.Seconds(), "encoder-tokens/s")
	b.ReportMetric(raw.Seconds()/full.Seconds(), "encoder/raw")
}

// BenchmarkQueryEncode measures single-query latency.
func BenchmarkQueryEncode(b *testing.B) {
	e, err := New(benchModel(), benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	q := []string{"what is learned sparse retrieval with splade"}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.EncodeQueries(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
