package splade

import (
	"context"
	"os"
	"testing"

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
// prebuilt input tensors and a preallocated output (MeasureOverhead). It
// reports docs/s for each and their ratio (encoder/raw): 1.0 means the
// pipeline costs nothing beyond the model.
func BenchmarkEncoderVsRawForward(b *testing.B) {
	e, err := New(benchModel(), benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	texts := synth.Texts(64, 20, 120, 1)
	b.ResetTimer()
	o, err := MeasureOverhead(context.Background(), e, texts, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(o.RawDocsPerSec(), "raw-docs/s")
	b.ReportMetric(o.EncoderDocsPerSec(), "encoder-docs/s")
	b.ReportMetric(o.EncoderTokensPerSec(), "encoder-tokens/s")
	b.ReportMetric(o.Ratio(), "encoder/raw")
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
