package splade

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spladeq/spladeq/internal/synth"
	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
)

// benchModel is the model benchmarked: $SPLADEQ_BENCH_MODEL (for example a
// BERT-base-sized model from `tools/genmodel/genmodel.py model --size base`)
// or the committed tiny fixture.
// benchOptions: SPLADEQ_BENCH_SPIN=1 turns spinning on,
// SPLADEQ_BENCH_THREADS=N sets the intra-op threads.
func benchOptions() []Option {
	threads, _ := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_THREADS"))
	return []Option{WithSpinning(os.Getenv("SPLADEQ_BENCH_SPIN") == "1"), WithIntraOpThreads(threads)}
}

func benchModel() string {
	if m := os.Getenv("SPLADEQ_BENCH_MODEL"); m != "" {
		return m
	}
	return modelDir("bert-tiny")
}

// BenchmarkEncoderVsRawForward measures, in the same run and on the same
// texts, the full document encoder (tokenize, batch, forward, pool, sparsify)
// and the bare ONNX Runtime forward pass of the unmodified export over the
// encoder's own batches with prebuilt input tensors and a preallocated
// output (MeasureOverhead). It reports docs/s for each and their ratio
// (encoder/raw): 1.0 means the pipeline costs nothing beyond the model.
// Sub-benchmarks: "blocked" is the default encoder (vocabulary head in
// slices, max-pooled in the graph), "gathered" projects the real tokens only
// and pools in Go, "unmodified" runs the export as it is.
func BenchmarkEncoderVsRawForward(b *testing.B) {
	for _, variant := range []struct {
		name          string
		block         int
		gather        bool
		blocked, gath bool
	}{{"blocked", DefaultHeadBlock, true, true, false}, {"gathered", 0, true, false, true}, {"unmodified", 0, false, false, false}} {
		b.Run(variant.name, func(b *testing.B) {
			e, err := New(benchModel(), append(benchOptions(), WithHeadBlock(variant.block), WithTokenGather(variant.gather))...)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if info := e.Info(); info.BlockedHead != variant.blocked || info.Gathered != variant.gath {
				b.Fatalf("blocked = %v (%s), gathered = %v (%s)", info.BlockedHead, info.HeadSkipped, info.Gathered, info.GatherSkipped)
			}
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
		})
	}
}

// BenchmarkGraphRewritesVsRawForward compares, in one run on the same
// texts, iteration by iteration, the raw forward pass of the unmodified
// export (logits out, nothing pooled) with three full encoders on the same
// model: the export as it is (Go pooling), the graph with pooling folded in
// (`spladeq model optimize`), and the default load-time rewrite that
// projects only the real tokens onto the vocabulary. A ratio above 1 means
// that whole pipeline beats the bare unmodified model.
func BenchmarkGraphRewritesVsRawForward(b *testing.B) {
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
	// Uncapped batches (24.7% padding on these texts), so the rewrites are
	// measured on the batches fixed-size batching gives; BenchmarkBatchPolicy
	// measures the padding cap.
	open := func(dir string, opts ...Option) *Encoder {
		e, err := New(dir, append(append(benchOptions(), WithMaxPadding(1)), opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.Close() })
		return e
	}
	plain := open(src, WithTokenGather(false), WithHeadBlock(0))
	folded := open(dir, WithONNXFile("model.pooled.onnx"))
	gathered := open(src, WithHeadBlock(0))
	if !gathered.Info().Gathered {
		b.Fatalf("not gathered: %s", gathered.Info().GatherSkipped)
	}
	blocked := open(src)
	if !blocked.Info().BlockedHead {
		b.Fatalf("head not blocked: %s", blocked.Info().HeadSkipped)
	}
	texts := synth.Texts(64, 20, 120, 1)
	ctx := context.Background()
	for _, e := range []*Encoder{folded, gathered, blocked} {
		if _, err := e.Encode(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var raw, o Overhead
	var foldedTime, gatheredTime, blockedTime time.Duration
	for i := 0; i < b.N; i++ {
		var err error
		o, err = MeasureOverhead(ctx, plain, texts, 1)
		if err != nil {
			b.Fatal(err)
		}
		raw.Raw += o.Raw
		raw.Encoder += o.Encoder
		for _, run := range []struct {
			e *Encoder
			t *time.Duration
		}{{folded, &foldedTime}, {gathered, &gatheredTime}, {blocked, &blockedTime}} {
			t0 := time.Now()
			if _, err := run.e.Encode(ctx, texts); err != nil {
				b.Fatal(err)
			}
			*run.t += time.Since(t0)
		}
	}
	docs := float64(len(texts) * b.N)
	b.ReportMetric(docs/raw.Raw.Seconds(), "raw-unmodified-docs/s")
	b.ReportMetric(docs/raw.Encoder.Seconds(), "encoder-unmodified-docs/s")
	b.ReportMetric(docs/foldedTime.Seconds(), "encoder-folded-docs/s")
	b.ReportMetric(docs/gatheredTime.Seconds(), "encoder-gathered-docs/s")
	b.ReportMetric(docs/blockedTime.Seconds(), "encoder-blocked-docs/s")
	b.ReportMetric(1-float64(o.Tokens)/float64(o.Padded), "padding-share")
	b.ReportMetric(raw.Raw.Seconds()/raw.Encoder.Seconds(), "unmodified/raw")
	b.ReportMetric(raw.Raw.Seconds()/foldedTime.Seconds(), "folded/raw")
	b.ReportMetric(raw.Raw.Seconds()/gatheredTime.Seconds(), "gathered/raw")
	b.ReportMetric(raw.Raw.Seconds()/blockedTime.Seconds(), "blocked/raw")
}

// BenchmarkQueryEncode measures single-query latency with the blocked head
// (slices of 1024, 2048 and 4096 entries) and with the gathered head pooled
// in Go.
func BenchmarkQueryEncode(b *testing.B) {
	for _, v := range []struct {
		name  string
		block int
	}{{"blocked-1024", 1024}, {"blocked-2048", 2048}, {"blocked-4096", 4096}, {"gathered", 0}} {
		b.Run(v.name, func(b *testing.B) {
			e, err := New(benchModel(), append(benchOptions(), WithHeadBlock(v.block))...)
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
		})
	}
}

// BenchmarkConcurrentEncoders runs two encoders ($SPLADEQ_BENCH_MODEL and
// $SPLADEQ_BENCH_MODEL2, default the two fixtures: say a SPLADE and a
// second model sharing a service) with four callers each, every call 8
// texts, and reports throughput and per-call latency for thread settings:
// the runtime's default intra-op threads (one per core) with spinning off
// (the service's setting) and on, and one intra-op thread per session
// (parallelism from the callers only).
func BenchmarkConcurrentEncoders(b *testing.B) {
	texts := synth.Texts(64, 10, 60, 2)
	for _, variant := range []struct {
		name    string
		threads int
		spin    bool
	}{{"default-threads", 0, false}, {"default-threads-spinning", 0, true}, {"one-thread", 1, false}} {
		b.Run(variant.name, func(b *testing.B) {
			opts := []Option{WithIntraOpThreads(variant.threads), WithSpinning(variant.spin)}
			var encs []*Encoder
			for _, dir := range []string{benchModel(), benchModel2()} {
				e, err := New(dir, opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				encs = append(encs, e)
			}
			ctx := context.Background()
			var mu sync.Mutex
			var lat []time.Duration
			next := atomic.Int64{}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for c := 0; c < 8; c++ {
				wg.Add(1)
				go func(e *Encoder) {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						off := int(i*8) % len(texts)
						t0 := time.Now()
						if _, err := e.Encode(ctx, texts[off:off+8]); err != nil {
							b.Error(err)
							return
						}
						d := time.Since(t0)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}(encs[c%2])
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(8*b.N)/elapsed.Seconds(), "texts/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// benchModel2 is the second encoder of BenchmarkConcurrentEncoders:
// $SPLADEQ_BENCH_MODEL2, or the DistilBERT fixture.
func benchModel2() string {
	if m := os.Getenv("SPLADEQ_BENCH_MODEL2"); m != "" {
		return m
	}
	return modelDir("distilbert-tiny")
}

// BenchmarkOneCallerThreads compares, for one caller encoding 64 texts,
// iteration by iteration, the runtime's default intra-op threads (one pass
// at a time on every core) with one thread per pass (one pass per core at
// once, eachBatch).
func BenchmarkOneCallerThreads(b *testing.B) {
	texts := synth.Texts(64, 20, 120, 1)
	var encs []*Encoder
	for _, threads := range []int{0, 1} {
		e, err := New(benchModel(), append(benchOptions(), WithIntraOpThreads(threads), WithBatchSize(8))...)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		encs = append(encs, e)
	}
	took := make([]time.Duration, len(encs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timeEncodes(b, encs, texts, took)
	}
	docs := float64(len(texts) * b.N)
	b.ReportMetric(docs/took[0].Seconds(), "default-threads-docs/s")
	b.ReportMetric(docs/took[1].Seconds(), "one-thread-docs/s")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "one-thread/default")
}

// BenchmarkBatchPolicy encodes the same 64 texts, iteration by iteration,
// with batches of up to 32 texts and padding caps of 100% (none), 25%, 10%
// (the default) and 5%, reporting docs/s for each: padding costs a whole
// forward pass per padded position, small batches cost GEMM efficiency.
// Each iteration also times the raw forward pass of the unmodified export
// over uncapped batches (the fixed-size batching most pipelines use), so
// default/raw is the whole default encoder against that bare model.
func BenchmarkBatchPolicy(b *testing.B) {
	texts := synth.Texts(64, 20, 120, 1)
	caps := []float64{1, 0.25, 0.1, 0.05}
	var encs []*Encoder
	for _, c := range caps {
		e, err := New(benchModel(), append(benchOptions(), WithMaxPadding(c))...)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		encs = append(encs, e)
	}
	ctx := context.Background()
	took := make([]time.Duration, len(encs))
	var raw time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o, err := MeasureOverhead(ctx, encs[0], texts, 1)
		if err != nil {
			b.Fatal(err)
		}
		raw += o.Raw
		timeEncodes(b, encs, texts, took)
	}
	docs := float64(len(texts) * b.N)
	for j, c := range caps {
		b.ReportMetric(docs/took[j].Seconds(), fmt.Sprintf("pad%.0f%%-docs/s", 100*c))
	}
	b.ReportMetric(docs/raw.Seconds(), "raw-uncapped-docs/s")
	b.ReportMetric(raw.Seconds()/took[2].Seconds(), "default/raw-uncapped")
}

// timeEncodes encodes texts with each encoder in turn, adding each one's
// time to took.
func timeEncodes(b *testing.B, encs []*Encoder, texts []string, took []time.Duration) {
	for j, e := range encs {
		t0 := time.Now()
		if _, err := e.Encode(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
		took[j] += time.Since(t0)
	}
}

// BenchmarkCheckpointVsExport compares, in one run on the same texts,
// iteration by iteration, a BERT-base-sized SPLADE (random weights written
// as a safetensors checkpoint by hftest) loaded two ways: its graph built in
// Go from the checkpoint (opset 12, fused by the runtime into Attention,
// SkipLayerNormalization, BiasGelu; blocked head built in), and the plain
// ONNX export tools/genmodel/convert.py makes from the same checkpoint
// (opset 17, LayerNormalization op; the blocked head rewritten at load),
// whose bare forward pass (logits out) is the baseline; and the built graph
// at opset 17 (LayerNormalization op: no Attention fusion), which isolates
// what the fused attention does. Needs the venv
// with numpy and onnx (make test's pytools); skipped otherwise.
// SPLADEQ_BENCH_SIZE=tiny uses a 2-layer model instead of BERT-base;
// SPLADEQ_BENCH_TEXTS=N encodes N texts an iteration (default 64): fewer
// texts and more iterations alternate the two sides more finely.
func BenchmarkCheckpointVsExport(b *testing.B) {
	py := filepath.Join("..", ".deps", "venv", "bin", "python")
	if err := exec.Command(py, "-c", "import numpy, onnx, tokenizers").Run(); err != nil {
		b.Skipf("%s lacks numpy, onnx or tokenizers: %v", py, err)
	}
	size := hftest.Base
	if os.Getenv("SPLADEQ_BENCH_SIZE") == "tiny" {
		size = hftest.Size{Layers: 2, Hidden: 128, Heads: 2, Intermediate: 512, Vocab: 30522, MaxPositions: 512}
	}
	ck := b.TempDir()
	if err := hftest.RandomBERT(ck, size, "F32", 1); err != nil {
		b.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(modelDir("bert-tiny"), "tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(ck, "tokenizer.json"), tok, 0o644)
	export := b.TempDir()
	if msg, err := exec.Command(py, filepath.Join("..", "tools", "genmodel", "convert.py"), "mlm", "--src", ck, "--out", export).CombinedOutput(); err != nil {
		b.Fatalf("convert.py: %v\n%s", err, msg)
	}
	built, err := New(ck, benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer built.Close()
	// The same graph at opset 17: LayerNormalization op, no Attention fusion.
	buildOpset = 17
	built17, err := New(ck, benchOptions()...)
	buildOpset = 0
	if err != nil {
		b.Fatal(err)
	}
	defer built17.Close()
	exported, err := New(export, benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer exported.Close()
	if !built.Info().BlockedHead || built.Info().Checkpoint == "" || !exported.Info().BlockedHead {
		b.Fatalf("built %+v, export %+v", built.Info(), exported.Info())
	}
	n := 64
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_TEXTS")); err == nil && v > 0 {
		n = v
	}
	texts := synth.Texts(n, 20, 120, 1)
	ctx := context.Background()
	if _, err := built.Encode(ctx, texts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var o Overhead
	var builtTime, built17Time time.Duration
	for i := 0; i < b.N; i++ {
		step, err := MeasureOverhead(ctx, exported, texts, 1)
		if err != nil {
			b.Fatal(err)
		}
		o.Raw += step.Raw
		o.Encoder += step.Encoder
		for _, run := range []struct {
			e *Encoder
			t *time.Duration
		}{{built, &builtTime}, {built17, &built17Time}} {
			t0 := time.Now()
			if _, err := run.e.Encode(ctx, texts); err != nil {
				b.Fatal(err)
			}
			*run.t += time.Since(t0)
		}
	}
	docs := float64(len(texts) * b.N)
	b.ReportMetric(docs/o.Raw.Seconds(), "raw-export-docs/s")
	b.ReportMetric(docs/o.Encoder.Seconds(), "encoder-export-docs/s")
	b.ReportMetric(docs/builtTime.Seconds(), "encoder-built-docs/s")
	b.ReportMetric(o.Raw.Seconds()/builtTime.Seconds(), "built/raw")
	b.ReportMetric(o.Encoder.Seconds()/builtTime.Seconds(), "built/export")
	b.ReportMetric(docs/built17Time.Seconds(), "encoder-built-opset17-docs/s")
	b.ReportMetric(built17Time.Seconds()/builtTime.Seconds(), "built/built-opset17")
}
