package hfgraph

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// TestQuantizeRowsByHand checks the weight quantizer on values worked out
// by hand: one scale per row (max|row|/max), rounding half to even, an
// all-zero row with scale 1, and the transposed [cols, rows] layout.
func TestQuantizeRowsByHand(t *testing.T) {
	w := []float32{
		0.5, -1, 0.25, 0.0078125, // scale 1/64: 32, -64, 16, 0.5 → 0 (half to even)
		0, 0, 0, 0, // scale 1
		3, 1.5, -0.75, 0.0703125, // scale 3/64: 64, 32, -16, 1.5 → 2
	}
	q, scales := QuantizeRows(w, 3, 4, 64)
	wantScales := []float32{1.0 / 64, 1, 3.0 / 64}
	for r, s := range wantScales {
		if scales[r] != s {
			t.Errorf("row %d: scale %v, want %v", r, scales[r], s)
		}
	}
	want := [][]int8{ // [cols][rows]
		{32, 0, 64},
		{-64, 0, 32},
		{16, 0, -16},
		{0, 0, 2},
	}
	for k, row := range want {
		for r, v := range row {
			if got := int8(q[k*3+r]); got != v {
				t.Errorf("q[col %d][row %d] = %d, want %d", k, r, got, v)
			}
		}
	}
	// 8 bits: the row's largest magnitude maps to ±127.
	q, scales = QuantizeRows([]float32{-2, 1}, 1, 2, 127)
	if int8(q[0]) != -127 || int8(q[1]) != 64 || scales[0] != float32(2.0/127) {
		t.Errorf("8-bit row (-2, 1): q %v, scale %v; want [-127 64], 2/127", []int8{int8(q[0]), int8(q[1])}, scales[0])
	}
}

func TestParseQuantization(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Quantization
		err  bool
	}{{"", Float32, false}, {"fp32", Float32, false}, {"Float32", Float32, false}, {"int8", Int8, false}, {"INT8", Int8, false},
		{"int4", 0, true}, {"fp16", 0, true}} {
		got, err := ParseQuantization(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseQuantization(%q) = %v, %v", c.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "fp32, int8") {
			t.Errorf("ParseQuantization(%q): error %q does not list the choices", c.in, err)
		}
	}
	if Int8.String() != "int8" || Float32.String() != "fp32" {
		t.Errorf("names: %s, %s", Int8, Float32)
	}
}

func TestInt8OptionsAreChecked(t *testing.T) {
	dir := tinyDir(t, "F32")
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Quantize: Int8, WeightBits: 6}, "weight bits 6"},
		{Options{Quantize: Int8, FloatLayers: []int{2}}, "float layer 2"},
		{Options{Quantize: Int8, FloatLayers: []int{-1}}, "float layer -1"},
		{Options{Quantize: Int8, Opset: 17}, "opset 17"},
		{Options{Quantize: Quantization(3)}, "quantization Quantization(3)"},
	} {
		_, err := Build(dir, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error saying %q", c.opts, err, c.want)
		}
	}
}

// graphInits reads a built model's op types and its initializers' element
// types and sizes.
func graphInits(t *testing.T, model []byte) (ops map[string]int, types map[string]int, sizes map[string]int) {
	t.Helper()
	graph, _, _, err := og.SplitModel(model)
	if err != nil {
		t.Fatal(err)
	}
	ops, types, sizes = map[string]int{}, map[string]int{}, map[string]int{}
	og.EachField(graph, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
		switch num {
		case og.GraphNode:
			og.EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
				if n == og.NodeOpType {
					ops[string(f)]++
				}
				return nil
			})
		case og.GraphInitializer:
			var name string
			var typ, size int
			og.EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
				switch n {
				case og.TensorName:
					name = string(f)
				case og.TensorDataType:
					x, _ := protowire.ConsumeVarint(f)
					typ = int(x)
				case og.TensorRawData:
					size = len(f)
				}
				return nil
			})
			types[name], sizes[name] = typ, size
		}
		return nil
	})
	return ops, types, sizes
}

// TestInt8GraphQuantizesTheLinearLayers: every Linear of the body and the
// head becomes an int8 [in, out] initializer with one float scale per
// output, dequantizing to the checkpoint's weight within half a step; the
// embeddings and LayerNorms stay float32; FloatHead and FloatLayers leave
// exactly those matmuls in float32.
func TestInt8GraphQuantizesTheLinearLayers(t *testing.T) {
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		t.Run("weights stored as "+dtype, func(t *testing.T) { checkInt8Graph(t, tinyDir(t, dtype)) })
	}
}

func checkInt8Graph(t *testing.T, dir string) {
	g, err := Build(dir, Options{Head: Logits, Quantize: Int8})
	if err != nil {
		t.Fatal(err)
	}
	if g.Quantization != Int8 {
		t.Errorf("graph reports %v", g.Quantization)
	}
	ops, types, sizes := graphInits(t, g.Model)
	linears := 6*tiny.Layers + 2 // and the head's transform and projection
	if ops["MatMulIntegerToFloat"] != linears || ops["MatMul"] != 0 || ops["MultiHeadAttention"] != tiny.Layers || ops["DynamicQuantizeLinear"] != 0 {
		t.Errorf("ops %v: want %d MatMulIntegerToFloat, %d MultiHeadAttention, no MatMul", ops, linears, tiny.Layers)
	}
	if types["bert.embeddings.word_embeddings.weight"] != og.Float || types["bert.encoder.layer.0.output.LayerNorm.weight"] != og.Float {
		t.Errorf("embeddings or LayerNorm not float32: %d, %d", types["bert.embeddings.word_embeddings.weight"], types["bert.encoder.layer.0.output.LayerNorm.weight"])
	}
	ck, err := OpenCheckpoint(FindCheckpoint(dir))
	if err != nil {
		t.Fatal(err)
	}
	graph, _, _, _ := og.SplitModel(g.Model)
	raw := map[string][]byte{}
	og.EachField(graph, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
		if num == og.GraphInitializer {
			var name string
			var data []byte
			og.EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
				if n == og.TensorName {
					name = string(f)
				} else if n == og.TensorRawData {
					data = f
				}
				return nil
			})
			raw[name] = data
		}
		return nil
	})
	for _, c := range []struct {
		name     string
		out, in  int
		checkOut int // output columns checked
	}{
		{"bert.encoder.layer.1.intermediate.dense.weight", tiny.Intermediate, tiny.Hidden, tiny.Intermediate},
		{"bert.encoder.layer.0.attention.self.key.weight", tiny.Hidden, tiny.Hidden, tiny.Hidden},
		{"bert.embeddings.word_embeddings.weight", tiny.Vocab, tiny.Hidden, tiny.Vocab}, // the tied decoder
	} {
		w, err := ck.floats(c.name, []int{c.out, c.in})
		if err != nil {
			t.Fatal(err)
		}
		q, s := raw[c.name+"_int8"], raw[c.name+"_scale"]
		if types[c.name+"_int8"] != og.Int8 || sizes[c.name+"_int8"] != c.out*c.in || len(s) != 4*c.out {
			t.Fatalf("%s: int8 initializer type %d, %d bytes; %d scale bytes", c.name, types[c.name+"_int8"], sizes[c.name+"_int8"], len(s))
		}
		for o := 0; o < c.checkOut; o++ {
			scale := math.Float32frombits(binary.LittleEndian.Uint32(s[4*o:]))
			for k := 0; k < c.in; k++ {
				got := float64(int8(q[k*c.out+o])) * float64(scale)
				if d := math.Abs(got - float64(w[o*c.in+k])); d > float64(scale)/2*1.0001 {
					t.Fatalf("%s[%d][%d]: dequantized %v, checkpoint %v (scale %v)", c.name, o, k, got, w[o*c.in+k], scale)
				}
			}
		}
	}

	g, err = Build(dir, Options{Head: MaxLogits, Block: 16, Quantize: Int8, FloatHead: true, FloatLayers: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	ops, _, _ = graphInits(t, g.Model)
	slices := (tiny.Vocab + 15) / 16
	if ops["MatMulIntegerToFloat"] != linears-1-1 || ops["MatMul"] != slices+1 {
		t.Errorf("float head, float layer 0: ops %v; want %d MatMulIntegerToFloat, %d MatMul", ops, linears-2, slices+1)
	}
}
