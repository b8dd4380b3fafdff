package plugin

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

// BenchmarkQueryEncodeInterference times, in one run with the real models
// (trained small SPLADE + MiniLM, one intra-op thread each): the sparse
// query encode alone, the dense one alone, both in sequence (one Encode
// call), and both at once (what a hybrid Search does). On 2 cores the two
// models evict each other's weights from cache, so "sequence" costs more
// than the sum of the parts and "at once" more than the slower part.
//
//	go test -run '^$' -bench QueryEncodeInterference -benchtime 1x ./plugin/
func BenchmarkQueryEncodeInterference(b *testing.B) {
	if _, err := os.Stat("../.deps/models/splade-mini/model.onnx"); err != nil {
		b.Skip("real models not installed: run `make models`")
	}
	cfg, err := config.Load(config.LoadOptions{File: os.DevNull})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + b.TempDir()
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: "../.deps/models/splade-mini", Threads: 1},
		"dense":  {Module: config.ModuleONNXDense, Model: "../.deps/models/minilm-l6", MaxLength: 256, Threads: 1},
	}
	svc, err := New(context.Background(), cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	q := []string{"what is the capital of japan and france"}
	timeit := func(f func()) time.Duration {
		for i := 0; i < 20; i++ {
			f()
		}
		t0 := time.Now()
		for i := 0; i < 200; i++ {
			f()
		}
		return time.Since(t0) / 200
	}
	for n := 0; n < b.N; n++ {
		sparse := timeit(func() { svc.Encode(ctx, EncodeInput{Texts: q, Query: true, Dense: None}) })
		dense := timeit(func() { svc.Encode(ctx, EncodeInput{Texts: q, Query: true, Sparse: None}) })
		seq := timeit(func() { svc.Encode(ctx, EncodeInput{Texts: q, Query: true}) })
		both := timeit(func() {
			done := make(chan struct{})
			go func() { svc.Encode(ctx, EncodeInput{Texts: q, Query: true, Dense: None}); close(done) }()
			svc.Encode(ctx, EncodeInput{Texts: q, Query: true, Sparse: None})
			<-done
		})
		b.ReportMetric(ms(sparse), "sparse-ms")
		b.ReportMetric(ms(dense), "dense-ms")
		b.ReportMetric(ms(seq), "sequence-ms")
		b.ReportMetric(ms(both), "at-once-ms")
		b.ReportMetric(float64(seq)/float64(sparse+dense), "sequence/sum")
		b.ReportMetric(float64(both)/float64(max(sparse, dense)), "at-once/max")
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }
