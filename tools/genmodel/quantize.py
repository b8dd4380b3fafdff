#!/usr/bin/env python3
"""Int8 dynamic quantization of an ONNX model directory's graph.

  quantize.py DIR [--keep-decoder]

writes DIR/model.int8.onnx (weights int8, activations quantized at run time)
with ONNX Runtime's own quantize_dynamic. --keep-decoder leaves the MatMul
nodes that produce the vocabulary logits in fp32: that projection dominates a
small SPLADE model and is the most sensitive to quantization.

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
    ap.add_argument("--keep-decoder", action="store_true")
    args = ap.parse_args()
    src = os.path.join(args.dir, "model.onnx")
    if not os.path.exists(src):
        src = os.path.join(args.dir, "onnx", "model.onnx")
    dst = os.path.join(os.path.dirname(src), "model.int8.onnx")
    model = onnx.load(src)
    # quantize_dynamic selects and excludes nodes by name: name unnamed ones.
    for n in model.graph.node:
        if not n.name:
            n.name = "node/" + n.output[0]
    named = dst + ".named.onnx"
    onnx.save(model, named)
    exclude = []
    if args.keep_decoder:
        g = model.graph
        out = g.output[0].name
        producers = {o: n for n in g.node for o in n.output}
        # Walk back from the logits output through Add/Identity to the MatMul.
        name = out
        while name in producers:
            n = producers[name]
            if n.op_type in ("MatMul", "Gemm"):
                exclude.append(n.name)
                break
            name = n.input[0]
    try:
        quantize_dynamic(named, dst, weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
    finally:
        os.remove(named)
    print(f"wrote {dst}" + (f" (kept in fp32: {exclude})" if exclude else ""))


if __name__ == "__main__":
    main()
