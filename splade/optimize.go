package splade

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// PooledSuffix names the rewritten graph beside the original:
// model.onnx → model.pooled.onnx.
const PooledSuffix = ".pooled.onnx"

// Field numbers of onnx.proto used by FoldPooling.
const (
	modelOpsetImport = 8
	modelGraph       = 7
	opsetDomain      = 1
	opsetVersion     = 2
	graphNode        = 1
	graphInitializer = 5
	graphInput       = 11
	graphOutput      = 12
	valueName        = 1
	valueType        = 2
	typeTensor       = 1
	tensorElemType   = 1
	tensorShape      = 2
	shapeDim         = 1
	nodeInput        = 1
	nodeOutput       = 2
	nodeName         = 3
	nodeOpType       = 4
	nodeAttribute    = 5
	attrName         = 1
	attrInt          = 3
	attrInts         = 8
	attrType         = 20
	attrTypeInt      = 2
	attrTypeInts     = 7
	tpDims           = 1
	tpDataType       = 2
	tpName           = 8
	tpRawData        = 9
	onnxFloat        = 1
	onnxInt64        = 7
)

// PooledOutput is the name of the output FoldPooling adds.
const PooledOutput = "spladeq_pooled"

// FoldPooling rewrites a SPLADE export whose output is logits [batch, seq,
// vocab] so the runtime itself returns the pooled weights [batch, vocab]:
// it appends Where(attention_mask, logits, -inf) → ReduceMax over the
// sequence → Relu → Log(1 + x) and makes that the only output. The max is
// taken first, then log1p∘ReLU, which is monotone, so the result equals
// max_t log(1 + ReLU(logit_t)) over the unmasked tokens. The rest of the
// model (and any external-data references) is copied unchanged; dst should
// be in the same directory as src.
func FoldPooling(src, dst string) error {
	if err := initRuntime(""); err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrModel, err)
	}
	g, err := inspectGraph(src)
	if err != nil {
		return err
	}
	if g.pooled {
		return fmt.Errorf("%w: %s already returns pooled [batch, vocab] weights", ErrModel, src)
	}
	graph, rest, opset, err := splitModel(data)
	if err != nil {
		return fmt.Errorf("%w: %s %v", ErrModel, src, err)
	}
	if opset < 13 {
		return fmt.Errorf("%w: %s uses opset %d; folding needs 13 or later (re-export with a newer opset)", ErrModel, src, opset)
	}

	// Keep every graph field but the outputs; find the logits output's
	// first (batch) and last (vocab) dimensions for the new output.
	var newGraph []byte
	var batchDim, vocabDim []byte
	var names []string
	err = eachField(graph, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch num {
		case graphOutput:
			name, dims := valueInfo(value)
			if name == g.output {
				if len(dims) != 3 {
					return fmt.Errorf("output %q has %d dimensions, want 3", name, len(dims))
				}
				batchDim, vocabDim = dims[0], dims[2]
			}
			return nil
		case graphNode:
			eachField(value, func(n protowire.Number, t protowire.Type, _, v []byte) error {
				if n == nodeName || n == nodeOutput {
					names = append(names, string(v))
				}
				return nil
			})
		}
		newGraph = append(newGraph, raw...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrModel, src, err)
	}
	if batchDim == nil {
		return fmt.Errorf("%w: %s: output %q not found in the graph", ErrModel, src, g.output)
	}
	p := uniquePrefix(names)
	id := func(s string) string { return p + s }

	newGraph = appendMessage(newGraph, graphInitializer, tensorProto(id("ninf"), onnxFloat, nil, float32Bytes(float32(math.Inf(-1)))))
	newGraph = appendMessage(newGraph, graphInitializer, tensorProto(id("one"), onnxFloat, nil, float32Bytes(1)))
	newGraph = appendMessage(newGraph, graphInitializer, tensorProto(id("axis2"), onnxInt64, []int64{1}, int64Bytes(2)))
	nodes := [][]byte{
		node(id("mask_bool"), "Cast", []string{"attention_mask"}, []string{id("mask_bool")}, intAttr("to", 9)), // BOOL
		node(id("mask3"), "Unsqueeze", []string{id("mask_bool"), id("axis2")}, []string{id("mask3")}),
		node(id("masked"), "Where", []string{id("mask3"), g.output, id("ninf")}, []string{id("masked")}),
	}
	if opset >= 18 {
		newGraph = appendMessage(newGraph, graphInitializer, tensorProto(id("axis1"), onnxInt64, []int64{1}, int64Bytes(1)))
		nodes = append(nodes, node(id("max"), "ReduceMax", []string{id("masked"), id("axis1")}, []string{id("max")}, intAttr("keepdims", 0)))
	} else {
		nodes = append(nodes, node(id("max"), "ReduceMax", []string{id("masked")}, []string{id("max")}, intsAttr("axes", 1), intAttr("keepdims", 0)))
	}
	nodes = append(nodes,
		node(id("relu"), "Relu", []string{id("max")}, []string{id("relu")}),
		node(id("plus1"), "Add", []string{id("relu"), id("one")}, []string{id("plus1")}),
		node(id("log"), "Log", []string{id("plus1")}, []string{PooledOutput}),
	)
	for _, n := range nodes {
		newGraph = appendMessage(newGraph, graphNode, n)
	}
	// The new output: float [batch, vocab], dims copied from the logits.
	newGraph = appendMessage(newGraph, graphOutput, floatValueInfo(PooledOutput, batchDim, vocabDim))
	return writeModel(dst, appendMessage(rest, modelGraph, newGraph))
}

// splitModel splits an encoded ModelProto into its graph, every other
// field (encoded, in order) and the default-domain opset version.
func splitModel(data []byte) (graph, rest []byte, opset int, err error) {
	err = eachField(data, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch {
		case num == modelGraph && typ == protowire.BytesType:
			graph = value
			return nil
		case num == modelOpsetImport && typ == protowire.BytesType:
			if d, v := opsetEntry(value); d == "" || d == "ai.onnx" {
				opset = v
			}
		}
		rest = append(rest, raw...)
		return nil
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("does not parse as ONNX: %v", err)
	}
	if graph == nil {
		return nil, nil, 0, fmt.Errorf("has no graph")
	}
	return graph, rest, opset, nil
}

// PooledPath is where FoldPooling's output goes for an ONNX file.
func PooledPath(onnxPath string) string {
	return strings.TrimSuffix(onnxPath, filepath.Ext(onnxPath)) + PooledSuffix
}

// eachField calls fn for every top-level field of a message: its number,
// wire type, raw encoding (tag included) and value (bytes for
// length-delimited fields, the varint's encoding otherwise).
func eachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, raw, value []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		raw, value := msg[:n+m], msg[n:n+m]
		if typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(value)
			value = v
		}
		if err := fn(num, typ, raw, value); err != nil {
			return err
		}
		msg = msg[n+m:]
	}
	return nil
}

// valueInfo returns a ValueInfoProto's name and its tensor dimensions
// (each an encoded TensorShapeProto.Dimension).
func valueInfo(vi []byte) (string, [][]byte) {
	var name string
	var dims [][]byte
	eachField(vi, func(n protowire.Number, t protowire.Type, _, v []byte) error {
		switch n {
		case valueName:
			name = string(v)
		case valueType:
			eachField(v, func(n protowire.Number, t protowire.Type, _, tv []byte) error {
				if n == typeTensor {
					eachField(tv, func(n protowire.Number, t protowire.Type, _, sv []byte) error {
						if n == tensorShape {
							eachField(sv, func(n protowire.Number, t protowire.Type, _, d []byte) error {
								if n == shapeDim {
									dims = append(dims, d)
								}
								return nil
							})
						}
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	return name, dims
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func node(name, op string, inputs, outputs []string, attrs ...[]byte) []byte {
	var b []byte
	for _, in := range inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	for _, out := range outputs {
		b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
		b = protowire.AppendString(b, out)
	}
	b = protowire.AppendTag(b, nodeName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, nodeOpType, protowire.BytesType)
	b = protowire.AppendString(b, op)
	for _, a := range attrs {
		b = appendMessage(b, nodeAttribute, a)
	}
	return b
}

func intAttr(name string, v int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, attrName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, attrInt, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(v))
	b = protowire.AppendTag(b, attrType, protowire.VarintType)
	return protowire.AppendVarint(b, attrTypeInt)
}

func intsAttr(name string, vs ...int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, attrName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	for _, v := range vs {
		b = protowire.AppendTag(b, attrInts, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	}
	b = protowire.AppendTag(b, attrType, protowire.VarintType)
	return protowire.AppendVarint(b, attrTypeInts)
}

func tensorProto(name string, dataType int, dims []int64, raw []byte) []byte {
	var b []byte
	for _, d := range dims {
		b = protowire.AppendTag(b, tpDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, tpDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(dataType))
	b = protowire.AppendTag(b, tpName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, tpRawData, protowire.BytesType)
	return protowire.AppendBytes(b, raw)
}

func float32Bytes(f float32) []byte {
	return protowire.AppendFixed32(nil, math.Float32bits(f))
}

func int64Bytes(v int64) []byte {
	return protowire.AppendFixed64(nil, uint64(v))
}

// uniquePrefix returns a node-name prefix no existing name starts with.
func uniquePrefix(names []string) string {
	p := "spladeq_fold/"
	for i := 0; ; i++ {
		clash := false
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				clash = true
				break
			}
		}
		if !clash {
			return p
		}
		p = fmt.Sprintf("spladeq_fold%d/", i)
	}
}
