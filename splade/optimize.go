package splade

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// PooledSuffix names the rewritten graph beside the original:
// model.onnx → model.pooled.onnx.
const PooledSuffix = ".pooled.onnx"

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
	graph, rest, opset, err := og.SplitModel(data)
	if err != nil {
		return fmt.Errorf("%w: %s %v", ErrModel, src, err)
	}
	if opset < 11 {
		return fmt.Errorf("%w: %s uses opset %d; folding needs 11 or later (re-export with a newer opset)", ErrModel, src, opset)
	}

	// Keep every graph field but the outputs; find the logits output's
	// first (batch) and last (vocab) dimensions for the new output.
	var newGraph []byte
	var batchDim, vocabDim og.Dim
	var names []string
	err = og.EachField(graph, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch num {
		case og.GraphOutput:
			name, dims := og.ValueInfo(value)
			if name == g.output {
				if len(dims) != 3 {
					return fmt.Errorf("output %q has %d dimensions, want 3", name, len(dims))
				}
				batchDim, vocabDim = dims[0], dims[2]
			}
			return nil
		case og.GraphNode:
			og.EachField(value, func(n protowire.Number, t protowire.Type, _, v []byte) error {
				if n == og.NodeName || n == og.NodeOutput {
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
	b := og.NewBuilder(uniquePrefix(names), opset)
	maskBool := b.Named("mask_bool", "Cast", []string{"attention_mask"}, og.IntAttr("to", og.Bool))
	var mask3 string
	if opset >= 13 {
		mask3 = b.Named("mask3", "Unsqueeze", []string{maskBool, b.Ints(2)})
	} else { // axes an attribute until opset 13
		mask3 = b.Named("mask3", "Unsqueeze", []string{maskBool}, og.IntsAttr("axes", 2))
	}
	masked := b.Named("masked", "Where", []string{mask3, g.output, b.Float(float32(math.Inf(-1)))})
	relu := b.Named("relu", "Relu", []string{b.ReduceMax("max", masked, 1)})
	plus1 := b.Named("plus1", "Add", []string{relu, b.Float(1)})
	b.Nodes = append(b.Nodes, og.NodeProto(b.Name("log"), "Log", []string{plus1}, []string{PooledOutput}))
	newGraph = b.AppendNodes(b.AppendInits(newGraph))
	// The new output: float [batch, vocab], dims copied from the logits.
	newGraph = og.AppendMessage(newGraph, og.GraphOutput, og.ValueInfoProto(PooledOutput, og.Float, batchDim, vocabDim))
	return writeModel(dst, og.AppendMessage(rest, og.ModelGraph, newGraph))
}

// PooledPath is where FoldPooling's output goes for an ONNX file.
func PooledPath(onnxPath string) string {
	return strings.TrimSuffix(onnxPath, filepath.Ext(onnxPath)) + PooledSuffix
}

// uniquePrefix returns a node-name prefix no existing name starts with.
func uniquePrefix(names []string) string { return og.UniquePrefix(names, "spladeq_fold") }
