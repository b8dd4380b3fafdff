package splade

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protowire"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// GatheredOutput is the output of a graph rewritten by gatherTokens: the
// logits of the real (attention mask 1) tokens only, [tokens, vocab], rows in
// batch-major order (sequence 0's tokens, then sequence 1's, ...).
const GatheredOutput = "spladeq_token_logits"

// graphNodeInfo is one NodeProto: its encoding and the fields the rewrite
// reads.
type graphNodeInfo struct {
	raw            []byte // the field, tag included
	op             string
	inputs, output []string
}

// headGraph is a parsed SPLADE graph and the path from its vocabulary
// projection to its logits output: what the load-time rewrites need.
type headGraph struct {
	graph, rest []byte // the GraphProto and the ModelProto's other fields
	opset       int
	nodes       []graphNodeInfo
	names       []string // every node and tensor name, for a unique prefix
	outDims     []og.Dim // the logits output's dimensions
	// chain holds the tensors between the projection and the output, and
	// chainNodes the nodes producing them (the projection included).
	chain      map[string]bool
	chainNodes map[int]bool
	matmul     int  // the projection: MatMul, or MatMulInteger when quantized
	target     int  // the node whose first input is the last hidden state
	quantized  bool // DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scales)
	// int8 marks a MatMulIntegerToFloat projection with a constant int8
	// weight and weight scales, its input quantized per token
	// (hfgraph.Int8 graphs).
	int8   bool
	biases []string // constants added between the projection and the output
	// dims are the initializers' dimensions.
	dims map[string][]int64
}

// hidden is the last hidden state the projection reads.
func (h *headGraph) hidden() string { return h.nodes[h.target].inputs[0] }

// weight is the projection's constant [hidden, vocab] weight (for a plain
// MatMul; tied embeddings reach it through a Transpose).
func (h *headGraph) weight() string { return h.nodes[h.matmul].inputs[1] }

// parseHead parses an encoded ModelProto and walks back from the logits
// output to the vocabulary projection. It returns an error saying why the
// graph does not have a shape the rewrites handle.
func parseHead(data []byte, output string) (*headGraph, error) {
	graph, rest, opset, err := og.SplitModel(data)
	if err != nil {
		return nil, err
	}
	if opset < 11 {
		return nil, fmt.Errorf("uses opset %d; the rewrites need 11 or later", opset)
	}
	h := &headGraph{graph: graph, rest: rest, opset: opset, chain: map[string]bool{}, chainNodes: map[int]bool{}, matmul: -1, target: -1,
		dims: map[string][]int64{}}

	constants := map[string]bool{} // initializers and Constant outputs
	external := false
	err = og.EachField(graph, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch num {
		case og.GraphNode:
			n := graphNodeInfo{raw: raw}
			og.EachField(value, func(f protowire.Number, _ protowire.Type, _, v []byte) error {
				switch f {
				case og.NodeInput:
					n.inputs = append(n.inputs, string(v))
				case og.NodeOutput:
					n.output = append(n.output, string(v))
					h.names = append(h.names, string(v))
				case og.NodeName:
					h.names = append(h.names, string(v))
				case og.NodeOpType:
					n.op = string(v)
				}
				return nil
			})
			h.nodes = append(h.nodes, n)
			if n.op == "Constant" {
				for _, o := range n.output {
					constants[o] = true
				}
			}
		case og.GraphInitializer:
			var dims []int64
			var name string
			og.EachField(value, func(f protowire.Number, t protowire.Type, _, v []byte) error {
				switch {
				case f == og.TensorDims && t == protowire.VarintType:
					d, _ := protowire.ConsumeVarint(v)
					dims = append(dims, int64(d))
				case f == og.TensorDims && t == protowire.BytesType: // packed
					for len(v) > 0 {
						d, n := protowire.ConsumeVarint(v)
						if n < 0 {
							break
						}
						dims, v = append(dims, int64(d)), v[n:]
					}
				case f == og.TensorName:
					constants[string(v)] = true
					h.names = append(h.names, string(v))
					name = string(v)
				case f == og.TensorDataLocation && t == protowire.VarintType:
					if x, _ := protowire.ConsumeVarint(v); x == og.LocationExternal {
						external = true
					}
				}
				return nil
			})
			h.dims[name] = dims
		case og.GraphOutput:
			if name, dims := og.ValueInfo(value); name == output {
				if len(dims) != 3 {
					return fmt.Errorf("output %q has %d dimensions, want [batch, seq, vocab]", name, len(dims))
				}
				h.outDims = dims
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if external {
		return nil, fmt.Errorf("keeps its weights in external data files")
	}
	if h.outDims == nil {
		return nil, fmt.Errorf("output %q not found among the graph outputs", output)
	}

	nodes := h.nodes
	producer := map[string]int{}
	consumers := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.output {
			producer[o] = i
		}
		for _, in := range n.inputs {
			consumers[in]++
		}
	}
	// isConst: an initializer, a Constant, or a Transpose/Identity/Cast of
	// one (tied embeddings are exported as Transpose(word_embeddings)).
	var isConst func(name string, depth int) bool
	isConst = func(name string, depth int) bool {
		if constants[name] {
			return true
		}
		i, ok := producer[name]
		if !ok || depth > 4 {
			return false
		}
		switch nodes[i].op {
		case "Transpose", "Identity", "Cast":
			return len(nodes[i].inputs) == 1 && isConst(nodes[i].inputs[0], depth+1)
		}
		return false
	}

	// fromMatMulInteger: t is Cast(MatMulInteger(...)), the int32 product of
	// a dynamically quantized projection (onnxruntime's quantize_dynamic).
	fromMatMulInteger := func(t string) bool {
		c, ok := producer[t]
		if !ok || nodes[c].op != "Cast" || len(nodes[c].inputs) != 1 {
			return false
		}
		m, ok := producer[nodes[c].inputs[0]]
		return ok && nodes[m].op == "MatMulInteger"
	}

	// Walk back from the logits through Identity and constant-bias Add to
	// the MatMul with a constant weight — or, in a dynamically quantized
	// graph, through the Mul by the scales and the Cast to the
	// MatMulInteger with a constant int8 weight, whose input comes from
	// DynamicQuantizeLinear. Every tensor on the way changes shape, so each
	// must feed only the next step.
	t := output
	for h.matmul < 0 {
		i, ok := producer[t]
		if !ok {
			return nil, fmt.Errorf("output %q: no node produces %q", output, t)
		}
		if t != output && consumers[t] != 1 {
			return nil, fmt.Errorf("tensor %q between the vocabulary projection and the output is used %d times", t, consumers[t])
		}
		h.chain[t] = true
		h.chainNodes[i] = true
		n := nodes[i]
		switch {
		case n.op == "Identity" && len(n.inputs) == 1:
			t = n.inputs[0]
		case n.op == "Add" && len(n.inputs) == 2 && isConst(n.inputs[1], 0) && !isConst(n.inputs[0], 0):
			h.biases = append(h.biases, n.inputs[1])
			t = n.inputs[0]
		case n.op == "Add" && len(n.inputs) == 2 && isConst(n.inputs[0], 0) && !isConst(n.inputs[1], 0):
			h.biases = append(h.biases, n.inputs[0])
			t = n.inputs[1]
		case n.op == "MatMul" && len(n.inputs) == 2 && isConst(n.inputs[1], 0) && !isConst(n.inputs[0], 0):
			h.matmul, h.target = i, i
		case n.op == "Mul" && len(n.inputs) == 2 && fromMatMulInteger(n.inputs[0]):
			h.quantized = true
			t = n.inputs[0]
		case n.op == "Mul" && len(n.inputs) == 2 && fromMatMulInteger(n.inputs[1]):
			h.quantized = true
			t = n.inputs[1]
		case n.op == "Cast" && len(n.inputs) == 1:
			t = n.inputs[0]
		case n.op == "MatMulIntegerToFloat" && len(n.inputs) >= 4 && len(n.inputs) <= 6 && isConst(n.inputs[1], 0) && isConst(n.inputs[3], 0) &&
			!isConst(n.inputs[0], 0) && !isConst(n.inputs[2], 0):
			h.int8 = true
			h.matmul, h.target = i, i
		case n.op == "MatMulInteger" && len(n.inputs) >= 2 && isConst(n.inputs[1], 0):
			q, ok := producer[n.inputs[0]]
			if !ok || nodes[q].op != "DynamicQuantizeLinear" || len(nodes[q].output) != 3 || nodes[q].output[0] != n.inputs[0] ||
				consumers[n.inputs[0]] != 1 || consumers[nodes[q].output[1]] != 1 || consumers[nodes[q].output[2]] != 1 {
				return nil, fmt.Errorf("the quantized vocabulary projection %q does not take its input straight from a DynamicQuantizeLinear used only by it", t)
			}
			// The rows are gathered before the quantization, so its
			// per-tensor scale is taken over the real tokens only.
			h.chain[n.inputs[0]] = true
			h.quantized = true
			h.matmul, h.target = i, q
		default:
			return nil, fmt.Errorf("no vocabulary projection found: walking back from %q met node %q (%s), want Identity, a constant-bias Add or a MatMul with a constant weight", output, t, n.op)
		}
	}
	return h, nil
}

// gatherTokens rewrites a SPLADE export so the vocabulary projection — the
// MatMul of the last hidden states [batch, seq, hidden] with the constant
// [hidden, vocab] weight, the largest single cost of a SPLADE forward pass —
// runs only on the real tokens: the hidden states are flattened to
// [batch*seq, hidden], the rows whose attention mask is set are gathered
// (NonZero → Gather), and the projection, its bias and anything else between
// it and the logits output see [tokens, hidden] instead. Padding then costs
// nothing in the head, and the runtime writes tokens×vocab floats instead of
// batch×seq×vocab. The model is otherwise copied unchanged.
//
// It returns the rewritten model, or an error saying why the graph does not
// have the shape it can rewrite (the caller then runs the graph unmodified).
func gatherTokens(data []byte, output string) ([]byte, error) {
	h, err := parseHead(data, output)
	if err != nil {
		return nil, err
	}
	if h.int8 {
		return nil, fmt.Errorf("the vocabulary projection is int8 with per-token scales (MatMulIntegerToFloat); the blocked head takes it")
	}
	b := og.NewBuilder(uniquePrefix(h.names), h.opset)
	maskBool := b.Named("mask_bool", "Cast", []string{"attention_mask"}, og.IntAttr("to", og.Bool))
	maskFlat := b.Named("mask_flat", "Reshape", []string{maskBool, b.Ints(-1)})
	nonzero := b.Named("nonzero", "NonZero", []string{maskFlat})
	rows := b.Named("rows", "Reshape", []string{nonzero, b.Ints(-1)})
	hiddenFlat := b.Named("hidden_flat", "Flatten", []string{h.hidden()}, og.IntAttr("axis", 2))
	hiddenTokens := b.Named("hidden_tokens", "Gather", []string{hiddenFlat, rows}, og.IntAttr("axis", 0))
	gathered := b.Nodes
	b.Nodes = nil
	b.Output(output, GatheredOutput)

	newGraph, err := h.copyGraph(output, 4096, b, func(i int, value []byte) [][]byte {
		if i != h.target {
			return [][]byte{value}
		}
		return append(gathered, og.ReplaceFirstInput(value, hiddenTokens))
	})
	if err != nil {
		return nil, err
	}
	newGraph = og.AppendMessage(newGraph, og.GraphOutput, og.ValueInfoProto(GatheredOutput, og.Float, og.Symbolic("tokens"), h.outDims[2]))
	out := make([]byte, 0, len(h.rest)+len(newGraph)+16)
	out = append(out, h.rest...)
	return og.AppendMessage(out, og.ModelGraph, newGraph), nil
}

// copyGraph copies the graph with b's initializers first, each node
// replaced by what nodes returns for it (its index and encoding; nil drops
// it), then b's nodes, without the declared shapes of the chain's tensors
// (they no longer hold) and without the old logits output. extra sizes the
// copy up front: the graph holds the weights (hundreds of MB), and growing
// by append would copy them several times.
func (h *headGraph) copyGraph(output string, extra int, b *og.Builder, nodes func(i int, value []byte) [][]byte) ([]byte, error) {
	out := make([]byte, 0, len(h.graph)+extra)
	out = b.AppendInits(out)
	nodeIndex := 0
	err := og.EachField(h.graph, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch num {
		case og.GraphNode:
			for _, n := range nodes(nodeIndex, value) {
				out = og.AppendMessage(out, og.GraphNode, n)
			}
			nodeIndex++
			return nil
		case og.GraphValueInfo:
			if name, _ := og.ValueInfo(value); h.chain[name] {
				return nil
			}
		case og.GraphOutput:
			if name, _ := og.ValueInfo(value); name == output {
				return nil
			}
		}
		out = append(out, raw...)
		return nil
	})
	return b.AppendNodes(out), err
}

// writeModel writes an ONNX model atomically and checks that it loads.
func writeModel(dst string, data []byte) error {
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	if _, err := inspectGraph(dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("the rewritten graph does not load: %w", err)
	}
	return nil
}
