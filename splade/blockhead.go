package splade

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxLogitsOutput is the output of a graph rewritten by blockHead: per
// sequence and vocabulary entry, the largest logit over the sequence's real
// tokens, [batch, vocab], before log1p∘ReLU.
const MaxLogitsOutput = "spladeq_max_logits"

// DefaultHeadBlock is how many vocabulary entries one slice of the blocked
// head projects at a time (BENCHMARKS.md, "A blocked vocabulary head").
const DefaultHeadBlock = 4096

// blockHeadRewrite is blockHead; tests replace it to see a rewrite that
// loads but fails at run time fall back.
var blockHeadRewrite = blockHead

// padLogit is what the mask column adds to a padding position's logits: far
// below any real logit, so the max over a sequence never picks padding.
const padLogit = -1e9

// blockHead rewrites a SPLADE export so the vocabulary projection is
// computed in slices of block vocabulary entries, each reduced to its
// maximum over the sequence right away: the [batch, seq, vocab] logits are
// never written out, only [batch, seq, block] at a time, which stays in
// cache, and the runtime returns [batch, vocab] (MaxLogitsOutput).
//
// Per slice k: MatMul([hidden | mask column], [W[:, k] ; ones]) →
// ReduceMax over the sequence. The mask column is 0 for real tokens and
// padLogit for padding, so padding rows lose every max; the row of ones
// adds it, and adds exactly 0 to a real token's logit. The bias is added
// once after the max: max_t(x_t + b) == max_t(x_t) + b in floating point
// too (rounding is monotone). The slices of the weight are constants the
// runtime folds when it loads the graph.
//
// Only a plain float projection is rewritten (not a quantized one: the mask
// column would enter the per-tensor quantization scale). It returns the
// rewritten model, or an error saying why the graph does not have the shape
// it can rewrite.
func blockHead(data []byte, output string, block int) ([]byte, error) {
	if block <= 0 {
		return nil, fmt.Errorf("block of %d vocabulary entries", block)
	}
	h, err := parseHead(data, output)
	if err != nil {
		return nil, err
	}
	if h.quantized {
		return nil, fmt.Errorf("the vocabulary projection is quantized (MatMulInteger); the blocked head handles a float MatMul")
	}
	if len(h.biases) > 1 {
		return nil, fmt.Errorf("%d constants are added after the vocabulary projection, want at most one bias", len(h.biases))
	}
	vocab, ok := dimValue(h.outDims[2])
	if !ok || vocab <= 0 {
		return nil, fmt.Errorf("output %q has no fixed vocabulary dimension", output)
	}

	p := uniquePrefix(h.names)
	id := func(s string) string { return p + s }
	hidden, weight := h.hidden(), h.weight()

	var inits, nodes [][]byte
	init := func(name string, dataType int, dims []int64, raw []byte) {
		inits = append(inits, tensorProto(id(name), dataType, dims, raw))
	}
	add := func(name, op string, inputs []string, attrs ...[]byte) {
		nodes = append(nodes, node(id(name), op, inputs, []string{id(name)}, attrs...))
	}
	init("one", onnxFloat, nil, float32Bytes(1))
	init("pad", onnxFloat, nil, float32Bytes(-padLogit))
	init("col_shape", onnxInt64, []int64{3}, append(append(int64Bytes(0), int64Bytes(0)...), int64Bytes(1)...))
	init("axis1", onnxInt64, []int64{1}, int64Bytes(1))
	add("mask_float", "Cast", []string{"attention_mask"}, intAttr("to", onnxFloat))
	add("mask_minus1", "Sub", []string{id("mask_float"), id("one")})         // 0 real, -1 padding
	add("mask_scaled", "Mul", []string{id("mask_minus1"), id("pad")})        // 0 real, padLogit padding
	add("mask_col", "Reshape", []string{id("mask_scaled"), id("col_shape")}) // [batch, seq, 1]
	add("hidden_masked", "Concat", []string{hidden, id("mask_col")}, intAttr("axis", -1))

	ones := map[int]string{} // ones row per slice width
	var maxes []string
	for k, start := 0, 0; start < vocab; k, start = k+1, start+block {
		end := min(start+block, vocab)
		width := end - start
		if _, ok := ones[width]; !ok {
			name := fmt.Sprintf("ones_%d", width)
			row := make([]byte, 0, 4*width)
			for range width {
				row = append(row, float32Bytes(1)...)
			}
			init(name, onnxFloat, []int64{1, int64(width)}, row)
			ones[width] = id(name)
		}
		s := func(name string) string { return fmt.Sprintf("%s_%d", name, k) }
		init(s("start"), onnxInt64, []int64{1}, int64Bytes(int64(start)))
		init(s("end"), onnxInt64, []int64{1}, int64Bytes(int64(end)))
		add(s("w"), "Slice", []string{weight, id(s("start")), id(s("end")), id("axis1")})
		add(s("w_ones"), "Concat", []string{id(s("w")), ones[width]}, intAttr("axis", 0))
		add(s("logits"), "MatMul", []string{id("hidden_masked"), id(s("w_ones"))})
		if h.opset >= 18 { // axes became an input
			add(s("max"), "ReduceMax", []string{id(s("logits")), id("axis1")}, intAttr("keepdims", 0))
		} else {
			add(s("max"), "ReduceMax", []string{id(s("logits"))}, intsAttr("axes", 1), intAttr("keepdims", 0))
		}
		maxes = append(maxes, id(s("max")))
	}
	add("max", "Concat", maxes, intAttr("axis", 1))
	last := id("max")
	if len(h.biases) == 1 {
		init("flat", onnxInt64, []int64{1}, int64Bytes(-1))
		add("bias", "Reshape", []string{h.biases[0], id("flat")})
		add("max_biased", "Add", []string{id("max"), id("bias")})
		last = id("max_biased")
	}
	nodes = append(nodes, node(id("output"), "Identity", []string{last}, []string{MaxLogitsOutput}))

	// The projection and what follows it are replaced.
	newGraph, err := h.copyGraph(output, 4096+4*vocab, inits, func(i int, value []byte) [][]byte {
		if h.chainNodes[i] {
			return nil
		}
		return [][]byte{value}
	})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		newGraph = appendMessage(newGraph, graphNode, n)
	}
	newGraph = appendMessage(newGraph, graphOutput, floatValueInfo(MaxLogitsOutput, h.outDims[0], h.outDims[2]))
	out := make([]byte, 0, len(h.rest)+len(newGraph)+16)
	out = append(out, h.rest...)
	return appendMessage(out, modelGraph, newGraph), nil
}

// dimValue reads a TensorShapeProto.Dimension's fixed size, if it has one.
func dimValue(d []byte) (int, bool) {
	v, ok := 0, false
	eachField(d, func(n protowire.Number, t protowire.Type, _, raw []byte) error {
		if n == 1 && t == protowire.VarintType { // dim_value
			x, _ := protowire.ConsumeVarint(raw)
			v, ok = int(x), true
		}
		return nil
	})
	return v, ok
}
