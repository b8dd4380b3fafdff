package splade

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// maxAbsDiff is the largest weight difference over the union of two
// vectors' terms (a term missing from one counts as 0 there).
func maxAbsDiff(a, b SparseVector) float64 {
	w := map[uint32][2]float64{}
	for i, id := range a.Indices {
		x := w[id]
		x[0] = float64(a.Values[i])
		w[id] = x
	}
	for i, id := range b.Indices {
		x := w[id]
		x[1] = float64(b.Values[i])
		w[id] = x
	}
	d := 0.0
	for _, x := range w {
		d = math.Max(d, math.Abs(x[0]-x[1]))
	}
	return d
}

// sameVectors encodes texts with both encoders and requires every weight
// within tol.
func sameVectors(t *testing.T, got, want *Encoder, texts []string, tol float64) {
	t.Helper()
	a, err := got.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := want.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if d := maxAbsDiff(a[i], b[i]); d > tol {
			t.Errorf("text %d: differs by %g", i, d)
		}
	}
}

// TestGatheredGraphEqualsUnmodified checks the load-time rewrite that
// projects only the real tokens onto the vocabulary: it is applied to the
// BERT and DistilBERT exports, and every vector, document and query mode,
// over one call whose batches mix short and long texts (so there is padding
// to drop), equals the unmodified graph's within 1e-5 and the numpy
// reference.
func TestGatheredGraphEqualsUnmodified(t *testing.T) {
	ref := loadReference(t)
	for _, name := range []string{"bert-tiny", "distilbert-tiny"} {
		modes := ref.Models[name]
		qLen := WithQueryMaxLength(modes["query"].MaxLength)
		gathered := newTestEncoder(t, name, qLen, WithHeadBlock(0))
		plain := newTestEncoder(t, name, qLen, WithTokenGather(false), WithHeadBlock(0))
		if !gathered.Info().Gathered || gathered.Info().GatherSkipped != "" {
			t.Fatalf("%s: not gathered: %+v", name, gathered.Info())
		}
		if plain.Info().Gathered {
			t.Fatalf("%s: gathered although WithTokenGather(false)", name)
		}
		for _, mode := range []Mode{Document, Query} {
			want, err := plain.EncodeMode(context.Background(), mode, ref.Texts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gathered.EncodeMode(context.Background(), mode, ref.Texts)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range ref.Texts {
				worst = math.Max(worst, maxAbsDiff(got[i], want[i]))
				if d := compareVectors(got[i], modes[mode.String()].Vectors[i]); d != "" {
					t.Errorf("%s %s text %d: gathered vs numpy reference: %s", name, mode, i, d)
				}
			}
			if worst > 1e-5 {
				t.Errorf("%s %s: gathered vs unmodified graph differ by up to %g, want <= 1e-5", name, mode, worst)
			}
			t.Logf("%s %s: max |gathered - unmodified| = %g", name, mode, worst)
		}
	}
}

// TestGatheredGraphFileIsRecognised: a graph already rewritten (here
// written to a file and named with onnx_file) is recognised by its output
// and not rewritten again.
func TestGatheredGraphFileIsRecognised(t *testing.T) {
	dir := copyDir(t, modelDir("bert-tiny"))
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	gathered, err := gatherTokens(data, "logits")
	if err != nil {
		t.Fatal(err)
	}
	if err := writeModel(filepath.Join(dir, "model.gathered.onnx"), gathered); err != nil {
		t.Fatal(err)
	}
	e := newTestEncoder(t, dir, WithONNXFile("model.gathered.onnx"))
	if info := e.Info(); !info.Gathered || info.Output != GatheredOutput {
		t.Fatalf("gathered file not recognised: %+v", info)
	}
	plain := newTestEncoder(t, "bert-tiny", WithTokenGather(false), WithHeadBlock(0))
	sameVectors(t, e, plain, []string{"a", "a much longer text about sparse retrieval and padding", ""}, 1e-5)
	if _, err := gatherTokens(gathered, GatheredOutput); err == nil {
		t.Error("gathered an already gathered graph")
	}
}

// TestGatherSkipsGraphsItDoesNotRecognise feeds the encoder a BERT export
// whose logits pass through a Relu before the output: the rewrite must
// refuse (it only walks back through Identity, a constant-bias Add and the
// projection MatMul), say why, and the encoder must still work — Relu
// before max pooling changes nothing, so the vectors are the usual ones.
func TestGatherSkipsGraphsItDoesNotRecognise(t *testing.T) {
	dir := copyDir(t, modelDir("bert-tiny"))
	path := filepath.Join(dir, "model.onnx")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	graph, rest, _, err := og.SplitModel(data)
	if err != nil {
		t.Fatal(err)
	}
	var g []byte
	var vocabDims []og.Dim
	og.EachField(graph, func(num protowire.Number, _ protowire.Type, raw, value []byte) error {
		if num == og.GraphOutput {
			if name, dims := og.ValueInfo(value); name == "logits" {
				vocabDims = dims
				return nil
			}
		}
		g = append(g, raw...)
		return nil
	})
	g = og.AppendMessage(g, og.GraphNode, og.NodeProto("relu", "Relu", []string{"logits"}, []string{"relu_logits"}))
	g = og.AppendMessage(g, og.GraphOutput, og.ValueInfoProto("relu_logits", og.Float, vocabDims...))
	if err := os.WriteFile(path, og.AppendMessage(rest, og.ModelGraph, g), 0o644); err != nil {
		t.Fatal(err)
	}

	e := newTestEncoder(t, dir)
	info := e.Info()
	if info.Gathered || !strings.Contains(info.GatherSkipped, "Relu") || info.BlockedHead || !strings.Contains(info.HeadSkipped, "Relu") {
		t.Fatalf("want both rewrites skipped because of the Relu, got %+v", info)
	}
	plain := newTestEncoder(t, "bert-tiny", WithTokenGather(false), WithHeadBlock(0))
	sameVectors(t, e, plain, []string{"sparse retrieval", "a much longer text about sparse retrieval and padding"}, 1e-6)

	if _, err := gatherTokens(data, "no_such_output"); err == nil || !strings.Contains(err.Error(), "no_such_output") {
		t.Errorf("unknown output: got %v", err)
	}
	if _, err := gatherTokens([]byte("not onnx"), "logits"); err == nil {
		t.Error("rewrote bytes that are not ONNX")
	}
}

// TestGatherRewritesADynamicallyQuantizedHead: the int8 fixture
// (tools/genmodel/quantize.py over bert-tiny: the vocabulary projection is
// MatMulInteger after DynamicQuantizeLinear) is gathered too. Gathering
// moves the quantization's per-tensor scale from the padded batch to its
// real tokens, so a text encoded alone (no padding) must come out exactly
// as from the unmodified int8 graph, and a padded batch close to it (0.1
// bounds the scale's shift, up to 0.066 here, while a mis-gathered row
// changes weights by whole units).
func TestGatherRewritesADynamicallyQuantizedHead(t *testing.T) {
	ref := loadReference(t)
	gathered := newTestEncoder(t, "bert-tiny", WithONNXFile("model.int8.onnx"))
	plain := newTestEncoder(t, "bert-tiny", WithONNXFile("model.int8.onnx"), WithTokenGather(false))
	if info := gathered.Info(); !info.Gathered || info.GatherSkipped != "" || info.BlockedHead || !strings.Contains(info.HeadSkipped, "quantized") {
		t.Fatalf("int8 graph: want gathered, the blocked head skipped as quantized: %+v", info)
	}
	ctx := context.Background()
	texts := ref.Texts[:12]
	for i, text := range texts {
		g, err := gathered.Encode(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		p, err := plain.Encode(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(g[0], p[0]); d != 0 {
			t.Errorf("text %d alone: gathered int8 differs from the unmodified int8 graph by %g, want 0", i, d)
		}
	}
	g, err := gathered.Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plain.Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if d := maxAbsDiff(g[i], p[i]); d > 0.1 {
			t.Errorf("text %d in a padded batch: gathered vs unmodified int8 differ by %g (the scale moves with the padding), want <= 0.1 (a wrong row would differ by whole units)", i, d)
		}
	}
}
