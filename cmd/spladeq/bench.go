package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/synth"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench [--model DIR]", Short: "measure encoder overhead vs the raw runtime, query latency and search latency", Long: "Measures, in one run: raw ONNX Runtime forward vs the full encoder on the same texts (their ratio\nis the pipeline's overhead), single-query encode latency, and sparse/dense/hybrid search latency\non the embedded store."}
	fs := cmd.Flags()
	model := fs.String("model", config.DefaultSparseModel, "SPLADE model directory; relative paths also resolve under ./models and the repository's .deps/models")
	corpus := fs.String("corpus", "", "texts to encode: a JSONL file (field \"text\") or one text per line; default 64 synthetic texts")
	limit := fs.Int("texts", 64, "texts taken from the corpus")
	iters := fs.Int("iterations", 5, "timed iterations of raw forward and full encoding")
	docs := fs.Int("docs", 20000, "synthetic documents for the store search benchmark (0 skips it)")
	threads := fs.Int("threads", 0, "runtime intra-op threads (0: one per core the process may use)")
	quantize := quantizeFlag(fs)
	budget := fs.Int("token-budget", 0, "tokens per forward pass (batch × padded length; 0: the encoder's default, splade.DefaultTokenBudget)")
	gather := fs.Bool("gather", true, "rewrite the graph so the vocabulary projection sees real tokens only (when the blocked head does not apply)")
	headBlock := fs.Int("head-block", 0, fmt.Sprintf("vocabulary entries per slice of the blocked head, as vectorizers.NAME.head_block: 0 the default (%d), -1 off (the gathered head, pooled in Go); the run also measures the gathered head beside it", splade.DefaultHeadBlock))
	out := fs.String("out", "", "append the results as a Markdown section to this file (e.g. BENCHMARKS.md)")
	denseModel := fs.String("dense-model", config.DefaultDenseModel, "dense model for the hybrid query section (\"\" skips it)")
	denseThreads := fs.Int("dense-threads", -1, "intra-op threads of the dense model in the hybrid query section (-1: as --threads)")
	clients := fs.IntSlice("clients", []int{1, 16}, "concurrent clients in the hybrid query section")
	compare := fs.String("compare-onnx", "", "another graph in the model directory (e.g. model.int8.onnx): its speed and agreement with the default graph")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		dir, err := resolveModelFlag(*model, stderr)
		if err != nil {
			return err
		}
		*model = dir
		texts, err := benchTexts(*corpus, *limit)
		if err != nil {
			return err
		}
		quant, err := quantizeOption(*quantize)
		if err != nil {
			return err
		}
		opts := []splade.Option{splade.WithIntraOpThreads(*threads), splade.WithSpinning(false), splade.WithTokenGather(*gather), quant}
		if *budget > 0 {
			opts = append(opts, splade.WithTokenBudget(*budget))
		}
		// The other head path, measured beside the one benchmarked.
		otherHead := append(append([]splade.Option(nil), opts...), splade.WithHeadBlock(0))
		if *headBlock < -1 {
			return usageError{fmt.Errorf("--head-block: must be > 0, 0 for the default or -1 for off, got %d", *headBlock)}
		}
		opts = append(opts, splade.WithHeadBlock(plugin.HeadBlock(*headBlock)))
		enc, err := splade.New(*model, opts...)
		if err != nil {
			return err
		}
		defer enc.Close()
		graph := "unmodified export"
		switch info := enc.Info(); {
		case info.BlockedHead:
			graph = fmt.Sprintf("vocabulary head in %d-wide slices, each max-pooled in the graph (load-time rewrite)", info.HeadBlock)
		case info.Gathered:
			graph = "vocabulary projection on real tokens only (load-time rewrite)"
		case info.Pooled:
			graph = "pooled [batch, vocab] output"
		case info.GatherSkipped != "":
			graph += " (not rewritten: " + info.GatherSkipped + ")"
		}
		if info := enc.Info(); info.HeadSkipped != "" && *headBlock >= 0 {
			graph += "; blocked head not applied: " + info.HeadSkipped
		}
		var md strings.Builder
		w := io.MultiWriter(stdout, &md)
		fmt.Fprintf(w, "\n## spladeq bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
		fmt.Fprintf(w, "Machine: %s, %d cores (%d usable: GOMAXPROCS), %s; ONNX Runtime %s, %d intra-op threads; model %s (%s, vocabulary %d, %s).\n\n",
			cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), splade.RuntimeVersion(), enc.Threads(), *model, enc.Info().ModelType, enc.Info().VocabSize, enc.Info().Quantization)
		fmt.Fprintf(w, "Command: `spladeq %s`\n\n", strings.Join(os.Args[1:], " "))

		// The encoder's own peak memory, before the raw forward of the
		// unmodified export (which writes [batch, seq, vocab] logits) runs.
		encPeak, err := peakRSSDuring(encodeTimes(ctx, enc, texts, *iters))
		if err != nil {
			return err
		}
		// The gathered head's peak too, before any raw forward runs.
		var gathered *splade.Encoder
		var gatheredPeak int64
		if enc.Info().BlockedHead {
			if gathered, err = splade.New(*model, otherHead...); err != nil {
				return err
			}
			defer gathered.Close()
			if gatheredPeak, err = peakRSSDuring(encodeTimes(ctx, gathered, texts, *iters)); err != nil {
				return err
			}
		}
		o, err := splade.MeasureOverhead(ctx, enc, texts, *iters)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| measure | value |\n|---|---|\n")
		fmt.Fprintf(w, "| texts × iterations | %d × %d (%d tokens each pass) |\n", o.Texts, o.Iterations, o.Tokens)
		fmt.Fprintf(w, "| raw forward of the export as on disk | %.1f docs/s, %.0f tokens/s |\n", o.RawDocsPerSec(), float64(o.Tokens*o.Iterations)/o.Raw.Seconds())
		fmt.Fprintf(w, "| full encoder (%s) | %.1f docs/s, %.0f tokens/s |\n", graph, o.EncoderDocsPerSec(), o.EncoderTokensPerSec())
		fmt.Fprintf(w, "| encoder / raw | **%.3f** |\n", o.Ratio())
		if encPeak > 0 {
			fmt.Fprintf(w, "| peak RSS of the process while the encoder alone runs (model loaded) | %.0f MB |\n", float64(encPeak)/(1<<20))
		}

		qlat, err := queryLatencies(ctx, enc, texts)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| query encode, one query | p50 %s, p99 %s |\n", pct(qlat, 0.5), pct(qlat, 0.99))

		if gathered != nil {
			if err := benchOtherHead(ctx, w, enc, gathered, texts, *iters, o, encPeak, gatheredPeak); err != nil {
				return err
			}
		}

		if *compare != "" {
			other, err := splade.New(*model, splade.WithONNXFile(*compare), splade.WithIntraOpThreads(*threads), splade.WithSpinning(false))
			if err != nil {
				return err
			}
			defer other.Close()
			oo, err := splade.MeasureOverhead(ctx, other, texts, *iters)
			if err != nil {
				return err
			}
			a, err := enc.Encode(ctx, texts)
			if err != nil {
				return err
			}
			b, err := other.Encode(ctx, texts)
			if err != nil {
				return err
			}
			overlap, corr := agreement(a, b, 10)
			fmt.Fprintf(w, "| %s: full encoder | %.1f docs/s (%.2f× the default graph's encoder) |\n", *compare, oo.EncoderDocsPerSec(), oo.EncoderDocsPerSec()/o.EncoderDocsPerSec())
			fmt.Fprintf(w, "| %s: top-10 term overlap | %.3f (mean over %d texts) |\n", *compare, overlap, len(texts))
			fmt.Fprintf(w, "| %s: weight correlation | %.4f (Pearson, union of terms) |\n", *compare, corr)
		}
		if *docs > 0 {
			lat, err := benchStore(ctx, *docs)
			if err != nil {
				return err
			}
			for _, m := range []qdrant.Mode{qdrant.ModeSparse, qdrant.ModeDense, qdrant.ModeHybrid} {
				fmt.Fprintf(w, "| %s search, %d docs | p50 %s, p99 %s |\n", m, *docs, pct(lat[m], 0.5), pct(lat[m], 0.99))
			}
			fmt.Fprintf(w, "| hybrid / dense p50 | %.2f |\n", float64(pct(lat[qdrant.ModeHybrid], 0.5))/float64(pct(lat[qdrant.ModeDense], 0.5)))
		}
		if *denseModel != "" {
			if err := benchHybridQueries(ctx, w, *model, *denseModel, *quantize, *threads, *denseThreads, texts, *clients); err != nil {
				return err
			}
		}
		if *out != "" {
			f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.WriteString(md.String()); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

// benchOtherHead reports the gathered head pooled in Go (the path before
// the blocked head) beside the blocked one: throughput against the same raw
// forward, peak RSS (measured by the caller before any raw forward ran),
// single-query latency, and how far its vectors are from
// the blocked head's (the rewrite is exact, so 0 up to float rounding).
func benchOtherHead(ctx context.Context, w io.Writer, blocked, enc *splade.Encoder, texts []string, iters int, bo splade.Overhead, blockedPeak, peak int64) error {
	o, err := splade.MeasureOverhead(ctx, enc, texts, iters)
	if err != nil {
		return err
	}
	qlat, err := queryLatencies(ctx, enc, texts)
	if err != nil {
		return err
	}
	a, err := blocked.Encode(ctx, texts)
	if err != nil {
		return err
	}
	b, err := enc.Encode(ctx, texts)
	if err != nil {
		return err
	}
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, maxWeightDiff(a[i], b[i]))
	}
	overlap, _ := agreement(a, b, 10)
	tb, tg, err := alternateEncodes(ctx, blocked, enc, texts, iters)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "| gathered head pooled in Go (blocked head off): full encoder | %.1f docs/s, encoder / raw %.3f; blocked / gathered **%.2f×** |\n", o.EncoderDocsPerSec(), o.Ratio(), bo.EncoderDocsPerSec()/o.EncoderDocsPerSec())
	fmt.Fprintf(w, "| blocked / gathered, passes alternating | **%.2f×** (%.1f vs %.1f docs/s) |\n", tg.Seconds()/tb.Seconds(), float64(len(texts)*iters)/tb.Seconds(), float64(len(texts)*iters)/tg.Seconds())
	if peak > 0 && blockedPeak > 0 {
		fmt.Fprintf(w, "| gathered head: peak RSS while it runs | %.0f MB (blocked: %.0f MB) |\n", float64(peak)/(1<<20), float64(blockedPeak)/(1<<20))
	}
	fmt.Fprintf(w, "| gathered head: query encode, one query | p50 %s, p99 %s |\n", pct(qlat, 0.5), pct(qlat, 0.99))
	fmt.Fprintf(w, "| blocked vs gathered vectors | max weight difference %.2g, top-10 overlap %.3f (exact rewrite) |\n", worst, overlap)
	return nil
}

// alternateEncodes times iters passes of each encoder over texts, one of
// each in turn (the order swapped every iteration), so the two see the same
// machine state: the blocked / gathered figure above compares two separate
// windows, which a loaded machine can make differ by more than the heads do.
func alternateEncodes(ctx context.Context, a, b *splade.Encoder, texts []string, iters int) (ta, tb time.Duration, err error) {
	timed := func(e *splade.Encoder, total *time.Duration) error {
		start := time.Now()
		_, err := e.Encode(ctx, texts)
		*total += time.Since(start)
		return err
	}
	for i := 0; i < iters; i++ {
		first, second, tf, ts := a, b, &ta, &tb
		if i%2 == 1 {
			first, second, tf, ts = b, a, &tb, &ta
		}
		if err := timed(first, tf); err != nil {
			return 0, 0, err
		}
		if err := timed(second, ts); err != nil {
			return 0, 0, err
		}
	}
	return ta, tb, nil
}

// encodeTimes returns a function encoding texts iters times.
func encodeTimes(ctx context.Context, enc *splade.Encoder, texts []string, iters int) func() error {
	return func() error {
		for i := 0; i < iters; i++ {
			if _, err := enc.Encode(ctx, texts); err != nil {
				return err
			}
		}
		return nil
	}
}

// queryLatencies times 50 single-query encodes, cycling through texts.
func queryLatencies(ctx context.Context, enc *splade.Encoder, texts []string) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; i < 50; i++ {
		t0 := time.Now()
		if _, err := enc.EncodeQueries(ctx, []string{texts[i%len(texts)]}); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// maxWeightDiff is the largest weight difference over the union of two
// vectors' terms (a term missing from one counts as 0 there).
func maxWeightDiff(a, b splade.SparseVector) float64 {
	w := map[uint32]float64{}
	for i, id := range a.Indices {
		w[id] = float64(a.Values[i])
	}
	d := 0.0
	for i, id := range b.Indices {
		d = math.Max(d, math.Abs(w[id]-float64(b.Values[i])))
		delete(w, id)
	}
	for _, x := range w {
		d = math.Max(d, math.Abs(x))
	}
	return d
}

// agreement compares two encodings of the same texts: the mean fraction of
// each text's k heaviest terms that both share, and the Pearson correlation
// of the weights over the union of terms (a term absent on one side is 0).
func agreement(a, b []splade.SparseVector, k int) (overlap, corr float64) {
	var xs, ys []float64
	for i := range a {
		top := func(v splade.SparseVector) map[uint32]bool {
			idx := make([]int, v.Len())
			for j := range idx {
				idx[j] = j
			}
			sort.Slice(idx, func(p, q int) bool { return v.Values[idx[p]] > v.Values[idx[q]] })
			m := map[uint32]bool{}
			for _, j := range idx[:min(k, len(idx))] {
				m[v.Indices[j]] = true
			}
			return m
		}
		ta, tb := top(a[i]), top(b[i])
		shared := 0
		for t := range ta {
			if tb[t] {
				shared++
			}
		}
		overlap += float64(shared) / float64(max(len(ta), 1))
		wa, wb := map[uint32]float64{}, map[uint32]float64{}
		for j, id := range a[i].Indices {
			wa[id] = float64(a[i].Values[j])
		}
		for j, id := range b[i].Indices {
			wb[id] = float64(b[i].Values[j])
		}
		for id := range wa {
			xs, ys = append(xs, wa[id]), append(ys, wb[id])
		}
		for id := range wb {
			if _, ok := wa[id]; !ok {
				xs, ys = append(xs, 0), append(ys, wb[id])
			}
		}
	}
	overlap /= float64(max(len(a), 1))
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(xs))
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy, sxx, syy = sxy+dx*dy, sxx+dx*dx, syy+dy*dy
	}
	return overlap, sxy / math.Sqrt(sxx*syy)
}

func pct(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))].Round(10 * time.Microsecond)
}

func benchTexts(path string, n int) ([]string, error) {
	if path == "" {
		return synth.Texts(n, 20, 120, 1), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan() && len(out) < n; line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "{") {
			var rec struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal([]byte(t), &rec); err != nil || rec.Text == "" {
				return nil, fmt.Errorf("%s:%d: want a JSON object with a \"text\" field", path, line)
			}
			t = rec.Text
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return out, sc.Err()
}

// benchStore loads synthetic documents into a temporary embedded store and
// times each search mode over the same queries.
func benchStore(ctx context.Context, n int) (map[qdrant.Mode][]time.Duration, error) {
	dir, err := os.MkdirTemp("", "spladeq-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c, err := qdrant.Open(ctx, qdrant.Config{URL: qdrant.EmbeddedScheme + dir, BatchSize: 2000, Concurrency: 1, Timeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	const dim = 384
	if err := c.EnsureCollection(ctx, qdrant.CollectionSpec{Name: "bench", Dense: &qdrant.DenseSpec{Size: dim}, Sparse: &qdrant.SparseSpec{}}); err != nil {
		return nil, err
	}
	for off := 0; off < n; off += 10000 {
		m := min(10000, n-off)
		sparse := synth.SparseVectors(m, 120, 30522, int64(off+1))
		dense := synth.DenseVectors(m, dim, int64(off+2))
		batch := make([]qdrant.Document, m)
		for i := range batch {
			batch[i] = qdrant.Document{ID: fmt.Sprint("d", off+i), Sparse: splade.SparseVector(sparse[i]), Dense: dense[i]}
		}
		if err := c.Upsert(ctx, "bench", batch, qdrant.WriteOptions{}); err != nil {
			return nil, err
		}
	}
	qs, qd := synth.SparseVectors(100, 40, 30522, 999), synth.DenseVectors(100, dim, 998)
	lat := map[qdrant.Mode][]time.Duration{}
	for i := range qs {
		for _, m := range []qdrant.Mode{qdrant.ModeSparse, qdrant.ModeDense, qdrant.ModeHybrid} {
			t0 := time.Now()
			if _, err := c.Search(ctx, "bench", qdrant.SearchRequest{Mode: m, Sparse: splade.SparseVector(qs[i]), Dense: qd[i], PrefetchLimit: 100}, qdrant.WriteOptions{}); err != nil {
				return nil, err
			}
			lat[m] = append(lat[m], time.Since(t0))
		}
	}
	return lat, nil
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
