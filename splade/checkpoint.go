package splade

import (
	"fmt"

	"github.com/spladeq/spladeq/splade/hfgraph"
)

// openGraph returns the model's graph spec and, for a checkpoint
// directory, the graph built in memory (package hfgraph) with the given
// head; for an ONNX file the bytes are nil and kind and prefer pick its
// output (inspectGraphAs).
func openGraph(m ModelDir, opts hfgraph.Options, kind OutputKind, prefer ...string) (graphSpec, []byte, error) {
	if m.ONNX != "" {
		g, err := inspectGraphAs(m.ONNX, kind, prefer...)
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
	g := graphSpec{inputs: bg.Inputs, output: bg.Output, vocab: bg.Vocab}
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
	if o.headBlock > 0 {
		return hfgraph.Options{Head: hfgraph.MaxLogits, Block: o.headBlock}
	}
	return hfgraph.Options{Head: hfgraph.Logits}
}
