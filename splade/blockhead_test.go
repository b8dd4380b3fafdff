package splade

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// TestBlockedHeadEqualsUnmodified checks the default load-time rewrite that
// projects onto the vocabulary one slice at a time and max-pools each slice
// in the graph: on the BERT and DistilBERT exports, with slices that divide
// the vocabulary and ones that do not (the last slice narrower), a slice as
// wide as the vocabulary and wider, every vector in document and query mode
// over one call whose batches mix short and long texts (padding rows must
// lose every max) equals the unmodified graph's within 1e-5 and the numpy
// reference.
func TestBlockedHeadEqualsUnmodified(t *testing.T) {
	ref := loadReference(t)
	for _, name := range []string{"bert-tiny", "distilbert-tiny"} {
		modes := ref.Models[name]
		qLen := WithQueryMaxLength(modes["query"].MaxLength)
		plain := newTestEncoder(t, name, qLen, WithTokenGather(false), WithHeadBlock(0))
		if info := plain.Info(); info.BlockedHead || info.Gathered {
			t.Fatalf("%s: rewritten although both rewrites are off: %+v", name, info)
		}
		want := map[Mode][]SparseVector{}
		for _, mode := range []Mode{Document, Query} {
			v, err := plain.EncodeMode(context.Background(), mode, ref.Texts)
			if err != nil {
				t.Fatal(err)
			}
			want[mode] = v
		}
		for _, block := range []int{DefaultHeadBlock, 1000, 30522, 40000} {
			blocked := newTestEncoder(t, name, qLen, WithHeadBlock(block), WithMaxPadding(1))
			if info := blocked.Info(); !info.BlockedHead || info.HeadBlock != block || info.HeadSkipped != "" || info.Gathered {
				t.Fatalf("%s block %d: not blocked: %+v", name, block, info)
			}
			for _, mode := range []Mode{Document, Query} {
				got, err := blocked.EncodeMode(context.Background(), mode, ref.Texts)
				if err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				for i := range ref.Texts {
					worst = math.Max(worst, maxAbsDiff(got[i], want[mode][i]))
					if d := compareVectors(got[i], modes[mode.String()].Vectors[i]); d != "" {
						t.Errorf("%s block %d %s text %d: blocked head vs numpy reference: %s", name, block, mode, i, d)
					}
				}
				if worst > 1e-5 {
					t.Errorf("%s block %d %s: blocked head vs unmodified graph differ by up to %g, want <= 1e-5", name, block, mode, worst)
				}
				t.Logf("%s block %d %s: max |blocked - unmodified| = %g", name, block, mode, worst)
			}
		}
	}
}

// TestBlockedHeadEdgeCases: empty texts (a tokenizer adds at least [CLS]
// [SEP], so a pass is never empty, but a sequence may be all special
// tokens), a batch where one text is far longer than the others (most of
// the pass is padding, which must never win a max), and the same text
// alone and in a batch give the same vector.
func TestBlockedHeadEdgeCases(t *testing.T) {
	blocked := newTestEncoder(t, "bert-tiny", WithMaxPadding(1))
	plain := newTestEncoder(t, "bert-tiny", WithTokenGather(false), WithHeadBlock(0))
	long := strings.Repeat("sparse retrieval with learned term weights ", 40)
	texts := []string{"", "a", long, "", "padding everywhere"}
	sameVectors(t, blocked, plain, texts, 1e-5)
	ctx := context.Background()
	all, err := blocked.Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, err := blocked.Encode(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(one[0], all[i]); d > 1e-5 {
			t.Errorf("text %d alone vs in a padded batch: differs by %g", i, d)
		}
	}
}

// TestBlockHeadRefusesWhatItCannotRewrite: bad block sizes, graphs that are
// not ONNX, unknown outputs, and a quantized head (left to gatherTokens)
// each get an error naming the reason.
func TestBlockHeadRefusesWhatItCannotRewrite(t *testing.T) {
	data, err := os.ReadFile(modelDir("bert-tiny") + "/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	int8, err := os.ReadFile(modelDir("bert-tiny") + "/model.int8.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		out   string
		block int
		want  string
	}{
		{"zero block", data, "logits", 0, "block of 0"},
		{"not onnx", []byte("not onnx"), "logits", 1024, "parse"},
		{"unknown output", data, "no_such_output", 1024, "no_such_output"},
		{"quantized head", int8, "logits", 1024, "quantized"},
	} {
		if _, err := blockHead(c.data, c.out, c.block); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := New(modelDir("bert-tiny"), WithHeadBlock(-1)); err == nil || !strings.Contains(err.Error(), "head block -1") {
		t.Errorf("negative head block: got %v", err)
	}
}

// TestBlockedHeadFallsBackWhenItsGraphFailsAProbe: a rewritten graph that
// loads but returns the wrong shape (here the gathered graph's [tokens,
// vocab] under the blocked head's output name) fails the probe batch New
// runs, and the encoder falls back to the gathered head, saying why — the
// mistake surfaces at load, never on a request.
func TestBlockedHeadFallsBackWhenItsGraphFailsAProbe(t *testing.T) {
	saved := blockHeadRewrite
	t.Cleanup(func() { blockHeadRewrite = saved })
	blockHeadRewrite = func(data []byte, output string, _ int) ([]byte, error) {
		gathered, err := gatherTokens(data, output)
		if err != nil {
			return nil, err
		}
		graph, rest, _, err := og.SplitModel(gathered)
		if err != nil {
			return nil, err
		}
		var g []byte
		var dims []og.Dim
		og.EachField(graph, func(num protowire.Number, _ protowire.Type, raw, value []byte) error {
			if num == og.GraphOutput {
				if name, d := og.ValueInfo(value); name == GatheredOutput {
					dims = d
					return nil
				}
			}
			g = append(g, raw...)
			return nil
		})
		g = og.AppendMessage(g, og.GraphNode, og.NodeProto("wrong", "Identity", []string{GatheredOutput}, []string{MaxLogitsOutput}))
		g = og.AppendMessage(g, og.GraphOutput, og.ValueInfoProto(MaxLogitsOutput, og.Float, dims...))
		return og.AppendMessage(rest, og.ModelGraph, g), nil
	}
	e := newTestEncoder(t, "bert-tiny")
	info := e.Info()
	if info.BlockedHead || !info.Gathered || !strings.Contains(info.HeadSkipped, "probe") {
		t.Fatalf("want the blocked head dropped after its probe and the gathered head used: %+v", info)
	}
	if s := e.Stats(); s.Texts != 0 || s.Batches != 0 {
		t.Errorf("the probe counted as work: %+v", s)
	}
	plain := newTestEncoder(t, "bert-tiny", WithTokenGather(false), WithHeadBlock(0))
	sameVectors(t, e, plain, []string{"a", "a much longer text about sparse retrieval and padding"}, 1e-5)
}

// TestBlockedHeadAtOpset18: from opset 18 ReduceMax takes its axes as an
// input, not an attribute. The BERT fixture uses no operator that changed
// in 18, so declaring it opset 18 is a valid model; the blocked head must
// apply there too (the probe would otherwise drop it) and equal the
// unmodified graph.
func TestBlockedHeadAtOpset18(t *testing.T) {
	dir := copyDir(t, modelDir("bert-tiny"))
	path := dir + "/model.onnx"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	og.EachField(data, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		if num == og.ModelOpsetImport && typ == protowire.BytesType {
			if d, v := og.OpsetEntry(value); (d == "" || d == "ai.onnx") && v < 18 {
				var e []byte
				e = protowire.AppendTag(e, og.OpsetVersion, protowire.VarintType)
				e = protowire.AppendVarint(e, 18)
				out = og.AppendMessage(out, og.ModelOpsetImport, e)
				return nil
			}
		}
		out = append(out, raw...)
		return nil
	})
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, opset, _ := og.SplitModel(out); opset != 18 {
		t.Fatalf("opset %d after the rewrite, want 18", opset)
	}
	blocked := newTestEncoder(t, dir)
	if info := blocked.Info(); !info.BlockedHead || info.HeadSkipped != "" {
		t.Fatalf("opset 18: blocked head not applied: %+v", info)
	}
	plain := newTestEncoder(t, dir, WithTokenGather(false), WithHeadBlock(0))
	sameVectors(t, blocked, plain, []string{"a", "", "a much longer text about sparse retrieval and padding"}, 1e-5)
}
