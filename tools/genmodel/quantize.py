#!/usr/bin/env python3
"""Int8 dynamic quantization of an ONNX model directory's graph.

  quantize.py DIR [--keep-head-fp32]

writes DIR/model.int8.onnx (weights int8, activations quantized at run time)
with ONNX Runtime's own quantize_dynamic. quantize_dynamic only quantizes
MatMuls whose weight is a constant; in graphs whose vocabulary projection is
tied to the word embeddings through a Transpose (the fixtures, the converted
models, most SPLADE exports) the projection would stay fp32, so the
Transpose of the constant is folded first (a [hidden, vocab] initializer):
the vocabulary projection — most of a small SPLADE's FLOPs — is quantized
too. --keep-head-fp32 skips the folding (only the encoder layers' MatMuls
become MatMulInteger).

Never used unless named: set vectorizers.NAME.onnx_file: model.int8.onnx, and
check the agreement first with
  spladeq bench --model DIR --compare-onnx model.int8.onnx

Requirements: tools/genmodel/requirements-quantize.txt.
"""
import argparse
import os

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--keep-head-fp32", action="store_true", help="do not fold the tied projection's Transpose")
    args = ap.parse_args()
    src = os.path.join(args.dir, "model.onnx")
    if not os.path.exists(src):
        src = os.path.join(args.dir, "onnx", "model.onnx")
    dst = os.path.join(os.path.dirname(src), "model.int8.onnx")
    model = onnx.load(src)
    if not args.keep_head_fp32:
        fold_transposed_weights(model)
    # quantize_dynamic selects and excludes nodes by name: name unnamed ones.
    for n in model.graph.node:
        if not n.name:
            n.name = "node/" + n.output[0]
    named = dst + ".named.onnx"
    onnx.save(model, named)
    try:
        quantize_dynamic(named, dst, weight_type=QuantType.QInt8)
    finally:
        os.remove(named)
    q = onnx.load(dst, load_external_data=False).graph.node
    print(f"wrote {dst}: {sum(n.op_type == 'MatMulInteger' for n in q)} MatMulInteger, "
          f"{sum(n.op_type == 'MatMul' for n in q)} MatMul left in fp32")


def fold_transposed_weights(model):
    """Replaces MatMul(x, Transpose(W)) with MatMul(x, W_T) for a constant 2-D
    W, so the weight is a constant quantize_dynamic can quantize."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    folded = 0
    for n in list(model.graph.node):
        if n.op_type != "MatMul":
            continue
        t = producer.get(n.input[1])
        if t is None or t.op_type != "Transpose" or t.input[0] not in inits:
            continue
        perm = [list(a.ints) for a in t.attribute if a.name == "perm"]
        w = numpy_helper.to_array(inits[t.input[0]])
        if w.ndim != 2 or (perm and perm[0] != [1, 0]):
            continue
        name = t.input[0] + "_transposed"
        if name not in inits:
            model.graph.initializer.append(numpy_helper.from_array(w.T.copy(), name))
            inits[name] = model.graph.initializer[-1]
        n.input[1] = name
        folded += 1
        if all(c is n for c in consumers.get(t.output[0], [])):
            model.graph.node.remove(t)
    print(f"folded {folded} transposed constant weight(s) into initializers")


if __name__ == "__main__":
    main()
