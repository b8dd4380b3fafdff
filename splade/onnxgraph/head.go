package onnxgraph

import "fmt"

// PadLogit is what the blocked head's mask column adds to a padding
// position's logits: far below any real logit, so the max over a sequence
// never picks padding.
const PadLogit = -1e9

// BlockedMaxHead adds SPLADE's vocabulary head computed in slices of block
// vocabulary entries, each reduced to its maximum over the sequence right
// away, and returns the [batch, vocab] max logits (before log1p∘ReLU).
// hidden is the last hidden state [batch, seq, h], mask the int64
// attention mask [batch, seq], weight the [h, vocab] projection (a constant
// or a node of constants the runtime folds at load), bias a [vocab] bias or
// "".
//
// Per slice k: MatMul([hidden | mask column], [W[:, k] ; ones]) →
// ReduceMax over the sequence. The mask column is 0 for real tokens and
// PadLogit for padding, so padding rows lose every max; the row of ones
// adds it, and adds exactly 0 to a real token's logit. The bias is added
// once after the max: max_t(x_t + b) == max_t(x_t) + b in floating point
// too (rounding is monotone). The [batch, seq, vocab] logits are never
// written out, only [batch, seq, block] at a time, which stays in cache.
func BlockedMaxHead(b *Builder, hidden, mask, weight, bias string, vocab, block int) string {
	maskFloat := b.Named("mask_float", "Cast", []string{mask}, IntAttr("to", Float))
	minus1 := b.Named("mask_minus1", "Sub", []string{maskFloat, b.Float(1)}) // 0 real, -1 padding
	scaled := b.Named("mask_scaled", "Mul", []string{minus1, b.Float(-PadLogit)})
	col := b.Named("mask_col", "Reshape", []string{scaled, b.Ints(0, 0, 1)}) // [batch, seq, 1]
	masked := b.Named("hidden_masked", "Concat", []string{hidden, col}, IntAttr("axis", -1))

	ones := map[int]string{} // a row of ones per slice width
	var maxes []string
	for k, start := 0, 0; start < vocab; k, start = k+1, start+block {
		end := min(start+block, vocab)
		width := end - start
		if _, ok := ones[width]; !ok {
			row := make([]float32, width)
			for i := range row {
				row[i] = 1
			}
			ones[width] = b.Init(fmt.Sprintf("ones_%d", width), Float, []int64{1, int64(width)}, Float32Bytes(row...))
		}
		s := func(name string) string { return fmt.Sprintf("%s_%d", name, k) }
		w := b.Named(s("w"), "Slice", []string{weight, b.Ints(int64(start)), b.Ints(int64(end)), b.Ints(1)})
		wOnes := b.Named(s("w_ones"), "Concat", []string{w, ones[width]}, IntAttr("axis", 0))
		logits := b.Named(s("logits"), "MatMul", []string{masked, wOnes})
		maxes = append(maxes, b.ReduceMax(s("max"), logits, 1))
	}
	last := b.Named("max", "Concat", maxes, IntAttr("axis", 1))
	if bias != "" {
		flat := b.Named("bias", "Reshape", []string{bias, b.Ints(-1)})
		last = b.Named("max_biased", "Add", []string{last, flat})
	}
	return last
}

// BlockedMaxHeadInt8 is BlockedMaxHead for an int8 projection: q [batch,
// seq, h] is the last hidden state quantized to uint8 with one scale per
// token (scale [batch, seq, 1], zero point zero), and slice(start, end)
// returns the int8 weight [h, end-start] of vocabulary entries start..end
// and its per-entry scales [end-start] (constants, or nodes of constants
// the runtime folds at load). Per slice: MatMulIntegerToFloat → ReduceMax
// over the sequence; the bias is added once after the max.
//
// Padding needs no mask column here (the row of ones it needs would not
// fit the int8 weights): every padding position of q and of its scale is
// replaced by its sequence's first position (PaddingAsFirstToken), and a
// copy of a real token cannot change a max. Per-token scales make that
// exact: the real tokens' quantized values do not depend on what the
// padding held.
func BlockedMaxHeadInt8(b *Builder, q, scale, zero, mask string, slice func(start, end int) (w, scales string), bias string, vocab, block int) string {
	real := realTokens(b, mask)
	q = firstTokenAtPadding(b, "q", q, real)
	scale = firstTokenAtPadding(b, "scale", scale, real)
	var maxes []string
	for k, start := 0, 0; start < vocab; k, start = k+1, start+block {
		end := min(start+block, vocab)
		w, ws := slice(start, end)
		logits := b.NamedIn(MicrosoftDomain, fmt.Sprintf("logits_%d", k), "MatMulIntegerToFloat", []string{q, w, scale, ws, zero})
		maxes = append(maxes, b.ReduceMax(fmt.Sprintf("max_%d", k), logits, 1))
	}
	last := b.Named("max", "Concat", maxes, IntAttr("axis", 1))
	if bias != "" {
		flat := b.Named("bias", "Reshape", []string{bias, b.Ints(-1)})
		last = b.Named("max_biased", "Add", []string{last, flat})
	}
	return last
}

// PaddingAsFirstToken returns x [batch, seq, ...] with every padding
// position (mask 0) replaced by its sequence's first position, for a head
// that takes a max over the sequence: a copy of a real token cannot change
// the max. The first position is real in every non-empty sequence (padding
// is on the right); an empty sequence's result is not read.
func PaddingAsFirstToken(b *Builder, x, mask string) string {
	return firstTokenAtPadding(b, "x", x, realTokens(b, mask))
}

// realTokens is the mask as bool [batch, seq, 1].
func realTokens(b *Builder, mask string) string {
	real := b.Named("real", "Cast", []string{mask}, IntAttr("to", Bool))
	return b.Named("real_3d", "Reshape", []string{real, b.Ints(0, 0, 1)})
}

func firstTokenAtPadding(b *Builder, name, x, real string) string {
	first := b.Named(name+"_first", "Slice", []string{x, b.Ints(0), b.Ints(1), b.Ints(1)})
	return b.Named(name+"_padded_with_first", "Where", []string{real, x, first})
}
