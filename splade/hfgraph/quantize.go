package hfgraph

import (
	"fmt"
	"math"
	"strings"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// Quantization is the arithmetic of a built graph's linear layers.
type Quantization int

const (
	// Float32 keeps every weight and activation in float32 (the zero
	// value).
	Float32 Quantization = iota
	// Int8 stores the linear layers' weights as symmetric int8 with one
	// scale per output column (per vocabulary row in the vocabulary
	// projection), quantized here from the checkpoint, and quantizes each
	// token's activations to uint8 at run time with a scale of its own, so
	// a text's vector does not depend on its batch-mates. Embeddings,
	// LayerNorm, attention softmax and GELU stay float32. The layers run as
	// ONNX Runtime's fused int8 kernels (MatMulIntegerToFloat, with
	// MultiHeadAttention for the attention core).
	Int8
)

// Quantizations lists the values ParseQuantization accepts, by name.
var Quantizations = []string{"fp32", "int8"}

func (q Quantization) String() string {
	switch q {
	case Float32:
		return "fp32"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("Quantization(%d)", int(q))
}

// ParseQuantization reads a quantization by name: "fp32" (also "float32"
// and "") or "int8".
func ParseQuantization(s string) (Quantization, error) {
	switch strings.ToLower(s) {
	case "", "fp32", "float32":
		return Float32, nil
	case "int8":
		return Int8, nil
	}
	return 0, fmt.Errorf("quantization %q: want one of %s", s, strings.Join(Quantizations, ", "))
}

// DefaultWeightBits is the int8 weights' range when Options.WeightBits is
// 0: 7 bits, [-64, 64]. On x86 CPUs without VNNI ONNX Runtime multiplies
// uint8 activations by int8 weights with VPMADDUBSW, which saturates the
// 16-bit sum of two products: 255·127·2 overflows, 255·64·2 does not. The
// saturation is measured (BENCHMARKS.md, "int8"); the bit it costs is
// below the activations' rounding noise.
const DefaultWeightBits = 7

// activationMax is the largest quantized magnitude of an activation: each
// token's values are scaled by max|x|/127 and offset by activationZero, so
// they fill 1..255 of uint8.
const (
	activationMax  = 127
	activationZero = 128
)

// minTokenRange keeps a token whose activations are all zero from a zero
// scale (its quantized values are then all zero, as they should be).
const minTokenRange = 1e-30

// Int8Opset is the opset of an Int8 graph: per-token scales are a
// blocked QuantizeLinear (opset 21: one scale per block of k values along
// the last axis, the block being a whole token), which keeps the tensor's
// shape, so ONNX Runtime's shape inference, and with it the
// SkipLayerNormalization fusion, follows it (a per-axis QuantizeLinear
// over a [tokens, k] reshape would hide the shape). Attention is ONNX
// Runtime's MultiHeadAttention, so the Softmax-before-13 constraint of the
// float graph's AttentionFusion does not apply.
const Int8Opset = 21

// quantizer is the int8 state of a builder: the per-token quantization of
// each activation already quantized (shared by the Q, K and V
// projections) and the checkpoint tensors already read as floats.
type quantizer struct {
	weightMax float64 // largest quantized weight magnitude
	zero      string  // the uint8 activation zero point
	zeros     string  // zero expanded to the per-token scales' shape
	mask      string  // the int32 key padding mask, made once
	tokens    map[string][2]string
	floats    map[string][]float32
	// float names the linear layers left in float32.
	float map[string]bool
}

func newQuantizer(opts Options) (*quantizer, error) {
	bits := opts.WeightBits
	if bits == 0 {
		bits = DefaultWeightBits
	}
	if bits != 7 && bits != 8 {
		return nil, fmt.Errorf("int8 weight bits %d: want 7 or 8", opts.WeightBits)
	}
	max := 127.0
	if bits == 7 {
		max = 64 // ONNX Runtime's reduce_range: [-64, 64], safe from saturation
	}
	return &quantizer{weightMax: max, tokens: map[string][2]string{}, floats: map[string][]float32{}, float: map[string]bool{}}, nil
}

// perToken adds the quantization of the activations x [batch, seq, k] with
// one scale per token: scale = max|x_t|/127, q = round(x/scale) + 128 as
// uint8. It returns q [batch, seq, k] and the scales [batch, seq, 1], the
// shapes MatMulIntegerToFloat takes for A and its scale. A token's
// quantization depends on its own values only, never on the batch.
func (b *builder) perToken(x string, k int) (q, scale string) {
	if r, ok := b.q8.tokens[x]; ok {
		return r[0], r[1]
	}
	hi := b.reduce("ReduceMax", x, -1, true)
	lo := b.reduce("ReduceMin", x, -1, true)
	amax := b.Node("Max", []string{hi, b.Node("Neg", []string{lo}), b.Float(minTokenRange)})
	scale = b.Node("Mul", []string{amax, b.Float(1.0 / activationMax)})
	if b.q8.zeros == "" {
		// The zero point has the scales' shape, [batch, seq, 1], the same
		// for every activation of the graph: made once.
		b.q8.zeros = b.Node("Expand", []string{b.q8.zero, b.Node("Shape", []string{scale})})
	}
	q = b.Node("QuantizeLinear", []string{x, scale, b.q8.zeros}, og.IntAttr("axis", -1), og.IntAttr("block_size", int64(k)))
	b.q8.tokens[x] = [2]string{q, scale}
	return q, scale
}

// reduce adds a ReduceMax or ReduceMin over one axis, written for the
// builder's opset (axes became an input at opset 18).
func (b *builder) reduce(op, x string, axis int64, keep bool) string {
	k := int64(0)
	if keep {
		k = 1
	}
	if b.Opset >= 18 {
		return b.Node(op, []string{x, b.Ints(axis)}, og.IntAttr("keepdims", k))
	}
	return b.Node(op, []string{x}, og.IntsAttr("axes", axis), og.IntAttr("keepdims", k))
}

// linearInt8 adds x·Wᵀ + bias: MatMulIntegerToFloat of x quantized per
// token and W int8 per output column, then the bias. The bias is not the
// kernel's bias input: ONNX Runtime 1.30 multiplies a non-scalar A scale
// in after adding that bias, so it would come out scaled by each token's
// scale (TestInt8BiasIsNotScaledPerToken).
func (b *builder) linearInt8(x, name string, in, out int) string {
	q, scale := b.perToken(x, in)
	w, ws := b.int8Weight(name+".weight", out, in, 0, out)
	y := b.DomainNode(og.MicrosoftDomain, "MatMulIntegerToFloat", []string{q, w, scale, ws, b.q8.zero})
	return b.Node("Add", []string{y, b.weight(name+".bias", false, out)})
}

// int8Weight adds rows lo..hi of the checkpoint's [rows, cols] weight (a
// Linear's [out, in], or the [vocab, hidden] decoder) as the int8
// initializer [cols, hi-lo] — transposed, so each row becomes an output
// column — with one symmetric scale per row, max|row|/weightMax, as a
// float32 [hi-lo] initializer. It returns both names.
func (b *builder) int8Weight(name string, rows, cols, lo, hi int) (w, scales string) {
	suffix := ""
	if lo != 0 || hi != rows {
		suffix = fmt.Sprintf("_%d_%d", lo, hi)
	}
	w, scales = name+"_int8"+suffix, name+"_scale"+suffix
	data, ok := b.q8.floats[name]
	if !ok {
		var err error
		if data, err = b.ck.floats(name, []int{rows, cols}); err != nil {
			if b.err == nil {
				b.err = err
			}
			return w, scales
		}
		if hi-lo < rows { // sliced again for the next block: keep it
			b.q8.floats[name] = data
		}
	}
	q, s := QuantizeRows(data[lo*cols:hi*cols], hi-lo, cols, b.q8.weightMax)
	b.AddTensor(og.Tensor{Name: w, Type: og.Int8, Dims: []int64{int64(cols), int64(hi - lo)}, Raw: q})
	b.AddTensor(og.Tensor{Name: scales, Type: og.Float, Dims: []int64{int64(hi - lo)}, Raw: og.Float32Bytes(s...)})
	return w, scales
}

// QuantizeRows quantizes a row-major [rows, cols] matrix symmetrically,
// one scale per row: s_r = max_k |w_rk| / max (1 for an all-zero row), q_rk
// = round-half-even(w_rk / s_r) clamped to ±max. It returns q transposed,
// [cols, rows] row-major as int8 bytes, and the scales.
func QuantizeRows(w []float32, rows, cols int, max float64) ([]byte, []float32) {
	q := make([]byte, rows*cols)
	scales := make([]float32, rows)
	for r := 0; r < rows; r++ {
		row := w[r*cols : (r+1)*cols]
		amax := 0.0
		for _, v := range row {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		s := float32(amax / max)
		if amax == 0 || s == 0 {
			s = 1
		}
		scales[r] = s
		for k, v := range row {
			x := math.RoundToEven(float64(v) / float64(s))
			x = math.Max(-max, math.Min(max, x))
			q[k*rows+r] = byte(int8(x))
		}
	}
	return q, scales
}

// attentionInt8 adds one layer's attention in an Int8 graph: the Q, K and
// V projections as MatMulIntegerToFloat sharing one per-token
// quantization of x, and the core as ONNX Runtime's MultiHeadAttention
// (softmax in float32, scaled by 1/√(head size), the int32 key padding
// mask), which adds the three biases itself. ONNX Runtime's
// AttentionFusion matches float projections only.
func (b *builder) attentionInt8(x string, names [3]string) string {
	h := b.cfg.hidden
	if b.q8.mask == "" {
		b.q8.mask = b.Node("Cast", []string{"attention_mask"}, og.IntAttr("to", og.Int32))
	}
	q, scale := b.perToken(x, h)
	var proj [3]string
	var bias []float32
	for i, name := range names {
		w, ws := b.int8Weight(name+".weight", h, h, 0, h)
		proj[i] = b.DomainNode(og.MicrosoftDomain, "MatMulIntegerToFloat", []string{q, w, scale, ws, b.q8.zero})
		v, err := b.ck.floats(name+".bias", []int{h})
		if err != nil && b.err == nil {
			b.err = err
		}
		bias = append(bias, v...)
	}
	if b.err != nil {
		return ""
	}
	qkvBias := b.AddTensor(og.Tensor{Name: names[0] + ".bias_qkv", Type: og.Float, Dims: []int64{int64(3 * h)}, Raw: og.Float32Bytes(bias...)})
	return b.DomainNode(og.MicrosoftDomain, "MultiHeadAttention", []string{proj[0], proj[1], proj[2], qkvBias, b.q8.mask},
		og.IntAttr("num_heads", int64(b.cfg.heads)))
}

// blockedMaxHeadInt8 is the blocked head on int8
// (onnxgraph.BlockedMaxHeadInt8): the transformed hidden state t quantized
// per token, the decoder quantized per vocabulary row, one int8
// initializer per slice of block entries.
func (b *builder) blockedMaxHeadInt8(t, decoder, bias string, block int) string {
	h, vocab := b.cfg.hidden, b.cfg.vocab
	q, scale := b.perToken(t, h)
	slice := func(start, end int) (string, string) { return b.int8Weight(decoder, vocab, h, start, end) }
	return og.BlockedMaxHeadInt8(b.Builder, q, scale, b.q8.zero, "attention_mask", slice, bias, vocab, block)
}
