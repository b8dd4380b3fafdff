package splade

import (
	"fmt"

	"github.com/spladeq/spladeq/splade/hfgraph"
	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// MaxLogitsOutput is the output of a graph rewritten by blockHead: per
// sequence and vocabulary entry, the largest logit over the sequence's real
// tokens, [batch, vocab], before log1p∘ReLU.
const MaxLogitsOutput = hfgraph.MaxLogitsOutput

// DefaultHeadBlock is how many vocabulary entries one slice of the blocked
// head projects at a time (docs/benchmarks-history.md, "A blocked vocabulary head").
const DefaultHeadBlock = 4096

// blockHeadRewrite is blockHead; tests replace it to see a rewrite that
// loads but fails at run time fall back.
var blockHeadRewrite = blockHead

// blockHead rewrites a SPLADE export so the vocabulary projection is
// computed in slices of block vocabulary entries, each reduced to its
// maximum over the sequence right away: the [batch, seq, vocab] logits are
// never written out, only [batch, seq, block] at a time, which stays in
// cache, and the runtime returns [batch, vocab] (MaxLogitsOutput).
//
// The head itself is onnxgraph.BlockedMaxHead, which the graph builders of
// package hfgraph write too. The slices of the weight are constants the
// runtime folds when it loads the graph.
//
// A float projection and an int8 one with per-token scales (hfgraph.Int8's
// MatMulIntegerToFloat) are rewritten; a dynamically quantized one
// (quantize_dynamic's MatMulInteger) is not: the mask column would enter
// its per-tensor scale. It returns the rewritten model, or an error saying
// why the graph does not have the shape it can rewrite.
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
	vocab, ok := h.outDims[2].Size()
	if !ok || vocab <= 0 {
		return nil, fmt.Errorf("output %q has no fixed vocabulary dimension", output)
	}

	b := og.NewBuilder(uniquePrefix(h.names), h.opset)
	bias := ""
	if len(h.biases) == 1 {
		bias = h.biases[0]
	}
	if h.int8 {
		head, err := blockedInt8Head(b, h, bias, vocab, block)
		if err != nil {
			return nil, err
		}
		b.Output(head, MaxLogitsOutput)
	} else {
		b.Output(og.BlockedMaxHead(b, h.hidden(), "attention_mask", h.weight(), bias, vocab, block), MaxLogitsOutput)
	}

	// The projection and what follows it are replaced.
	newGraph, err := h.copyGraph(output, 4096+4*vocab, b, func(i int, value []byte) [][]byte {
		if h.chainNodes[i] {
			return nil
		}
		return [][]byte{value}
	})
	if err != nil {
		return nil, err
	}
	newGraph = og.AppendMessage(newGraph, og.GraphOutput, og.ValueInfoProto(MaxLogitsOutput, og.Float, h.outDims[0], h.outDims[2]))
	out := make([]byte, 0, len(h.rest)+len(newGraph)+16)
	out = append(out, h.rest...)
	return og.AppendMessage(out, og.ModelGraph, newGraph), nil
}

// blockedInt8Head is the blocked head of an int8 projection
// MatMulIntegerToFloat(q, W, scale, W scales[, zero point]):
// onnxgraph.BlockedMaxHeadInt8 over the same quantized input, on slices of
// the constant weight and its per-entry scales, which the runtime folds at
// load. A weight zero point is not supported (hfgraph writes symmetric
// weights).
func blockedInt8Head(b *og.Builder, h *headGraph, bias string, vocab, block int) (string, error) {
	n := h.nodes[h.matmul]
	if len(n.inputs) > 5 && n.inputs[5] != "" {
		return "", fmt.Errorf("the int8 vocabulary projection has a weight zero point; the blocked head handles symmetric weights")
	}
	scales := n.inputs[3]
	perEntry := false
	if d, ok := h.dims[scales]; ok && len(d) == 1 && d[0] == int64(vocab) {
		perEntry = true
	} else if ok && len(d) > 0 && !(len(d) == 1 && d[0] == 1) {
		return "", fmt.Errorf("the int8 vocabulary projection's weight scale %q has shape %v, want [] or [%d]", scales, d, vocab)
	}
	zero := ""
	if len(n.inputs) > 4 {
		zero = n.inputs[4]
	}
	slice := func(start, end int) (string, string) {
		name := fmt.Sprintf("w_%d", start/block)
		w := b.Named(name, "Slice", []string{n.inputs[1], b.Ints(int64(start)), b.Ints(int64(end)), b.Ints(1)})
		if !perEntry {
			return w, scales
		}
		return w, b.Named(name+"_scales", "Slice", []string{scales, b.Ints(int64(start)), b.Ints(int64(end)), b.Ints(0)})
	}
	return og.BlockedMaxHeadInt8(b, n.inputs[0], n.inputs[2], zero, "attention_mask", slice, bias, vocab, block), nil
}
