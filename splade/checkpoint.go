package splade

import (
	"fmt"

	"github.com/spladeq/spladeq/splade/hfgraph"
	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// openGraph returns the model's graph spec and, for a checkpoint
// directory, the graph built in memory (package hfgraph) with the given
// head; for an ONNX file the bytes are nil and kind and prefer pick its
// output (inspectGraphAs).
func openGraph(m ModelDir, opts hfgraph.Options, kind OutputKind, prefer ...string) (graphSpec, []byte, error) {
	if m.ONNX != "" {
		if opts.Quantize != hfgraph.Float32 {
			return graphSpec{}, nil, quantizeONNXError(m, opts.Quantize)
		}
		g, err := inspectGraphAs(m.ONNX, kind, prefer...)
		if err == nil {
			g.quantization = onnxQuantization(m.ONNX)
		}
		return g, nil, err
	}
	if kind == OutputTokenWeights || kind == OutputPooled {
		return graphSpec{}, nil, fmt.Errorf("%w: %s: output kind %s: a graph built from a checkpoint has the masked-LM head (logits)", ErrModel, m.Checkpoint, kind)
	}
	if opts.Opset == 0 {
		opts.Opset = buildOpset
	}
	bg, err := hfgraph.Build(m.Dir, opts)
	if err != nil {
		return graphSpec{}, nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	g := graphSpec{inputs: bg.Inputs, output: bg.Output, vocab: bg.Vocab, quantization: bg.Quantization}
	g.typeIDs = contains(bg.Inputs, "token_type_ids")
	switch bg.Output {
	case MaxLogitsOutput:
		g.maxPooled = true
	case hfgraph.HiddenOutput:
		g.vocab = bg.Hidden
	}
	return g, bg.Model, nil
}

// buildOpset, when not 0, is the opset graphs are built at; benchmarks set
// it to compare against hfgraph.Opset.
var buildOpset = 0

// sparseHead is the head built into a SPLADE checkpoint's graph: the
// blocked head unless it is turned off (WithHeadBlock(0)), then the
// logits, which the gather rewrite may still take.
func sparseHead(o options) hfgraph.Options {
	opts := o.quant
	opts.Head, opts.Block = hfgraph.Logits, 0
	if o.headBlock > 0 {
		opts.Head, opts.Block = hfgraph.MaxLogits, o.headBlock
	}
	return opts
}

// quantizeONNXError says why a quantization was asked of a model whose
// graph is an ONNX file: graphs are quantized while they are built from a
// checkpoint, and an ONNX file already quantized needs no option.
func quantizeONNXError(m ModelDir, q hfgraph.Quantization) error {
	if op := QuantizedOp(m.ONNX); op != "" {
		return fmt.Errorf("%w: %s is already quantized (it has %s nodes): load it without quantization %s", ErrModel, m.ONNX, op, q)
	}
	return fmt.Errorf("%w: quantization %s is built from a safetensors checkpoint (%s), and %s has none beside its ONNX graph %s", ErrModel, q,
		hfgraph.SafetensorsFile, m.Dir, m.ONNX)
}

// quantizedOps are the op types that mark a quantized ONNX graph: ONNX
// Runtime's quantize_dynamic and quantize_static outputs, hfgraph's int8
// graphs, and the fusions of either.
var quantizedOps = []string{"MatMulIntegerToFloat", "DynamicQuantizeMatMul", "MatMulInteger", "QLinearMatMul",
	"MatMulNBits", "QAttention", "DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear"}

// QuantizedOp returns the first op type of quantizedOps the ONNX file at
// path has, or "" (also when the file cannot be read: loading it reports
// that).
func QuantizedOp(path string) string {
	ops, err := og.OpTypes(path)
	if err != nil {
		return ""
	}
	for _, op := range quantizedOps {
		if ops[op] > 0 {
			return op
		}
	}
	return ""
}

// checkInt8File refuses a directory's hfgraph.Int8File that
// WithQuantization(hfgraph.Int8) would run but should not: one with no
// quantized nodes, and one that quantizes activations with one scale per
// tensor (DynamicQuantizeLinear, ONNX Runtime's quantize_dynamic), whose
// vectors depend on their batch-mates. Named with WithONNXFile, either runs
// as it is.
func checkInt8File(path, dir string) error {
	ops, err := og.OpTypes(path)
	if err != nil {
		return nil // loading it says what is wrong
	}
	rebuild := fmt.Sprintf("rebuild it with `spladeq model convert --quantize int8 --force %s`, or name it with onnx_file to run it as it is", dir)
	if ops["DynamicQuantizeLinear"] > 0 {
		return fmt.Errorf("%w: %s quantizes activations with one scale per tensor (DynamicQuantizeLinear, as ONNX Runtime's quantize_dynamic writes), so a text's vector would depend on its batch-mates: %s", ErrModel, path, rebuild)
	}
	if QuantizedOp(path) == "" {
		return fmt.Errorf("%w: %s has no quantized nodes, it is not an int8 graph: %s", ErrModel, path, rebuild)
	}
	return nil
}

// onnxQuantization is what Info reports for an ONNX file: Int8 when its
// nodes are quantized (QuantizedOp), else Float32.
func onnxQuantization(path string) hfgraph.Quantization {
	if QuantizedOp(path) != "" {
		return hfgraph.Int8
	}
	return hfgraph.Float32
}
