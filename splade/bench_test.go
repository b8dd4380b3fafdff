package splade

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkFoldedVsRawForward compares, in one run on the same texts, the
// raw forward pass of the unmodified export (logits out, nothing pooled)
// with the full encoder on the same model with pooling folded into the
// graph (`spladeq model optimize`). folded/raw above 1 means the whole
// folded pipeline beats the bare unmodified model.
func BenchmarkFoldedVsRawForward(b *testing.B) {
	src := benchModel()
	dir := b.TempDir()
	for _, f := range []string{"model.onnx", "tokenizer.json", "config.json", "tokenizer_config.json"} {
		if data, err := os.ReadFile(filepath.Join(src, f)); err == nil {
			os.WriteFile(filepath.Join(dir, f), data, 0o644)
		}
	}
	if err := FoldPooling(filepath.Join(dir, "model.onnx"), filepath.Join(dir, "model.pooled.onnx")); err != nil {
		b.Fatal(err)
	}
	plain, err := New(src, benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	folded, err := New(dir, append(benchOptions(), WithONNXFile("model.pooled.onnx"))...)
	if err != nil {
		b.Fatal(err)
	}
	defer folded.Close()
	texts := synth.Texts(64, 20, 120, 1)
	ctx := context.Background()
	if _, err := folded.Encode(ctx, texts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var foldedTime time.Duration
	var raw Overhead
	for i := 0; i < b.N; i++ {
		o, err := MeasureOverhead(ctx, plain, texts, 1)
		if err != nil {
			b.Fatal(err)
		}
		raw.Raw += o.Raw
		raw.Encoder += o.Encoder
		t0 := time.Now()
		if _, err := folded.Encode(ctx, texts); err != nil {
			b.Fatal(err)
		}
		foldedTime += time.Since(t0)
	}
	docs := float64(len(texts) * b.N)
	b.ReportMetric(docs/raw.Raw.Seconds(), "raw-unmodified-docs/s")
	b.ReportMetric(docs/raw.Encoder.Seconds(), "encoder-unmodified-docs/s")
	b.ReportMetric(docs/foldedTime.Seconds(), "encoder-folded-docs/s")
	b.ReportMetric(raw.Raw.Seconds()/foldedTime.Seconds(), "folded/raw")
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
