#!/usr/bin/env python3
"""Int8 dynamic quantization of an ONNX model directory's graph.

  quantize.py DIR

writes DIR/model.int8.onnx (weights int8, activations quantized at run time)
with ONNX Runtime's own quantize_dynamic. quantize_dynamic only quantizes
MatMuls whose weight is a constant; in graphs whose vocabulary projection is
tied to the word embeddings through a Transpose (the fixtures, the converted
models) that projection therefore stays fp32, while the encoder layers' MatMuls
become MatMulInteger.

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
    try:
        quantize_dynamic(named, dst, weight_type=QuantType.QInt8)
    finally:
        os.remove(named)
    q = onnx.load(dst, load_external_data=False).graph.node
    print(f"wrote {dst}: {sum(n.op_type == 'MatMulInteger' for n in q)} MatMulInteger, "
          f"{sum(n.op_type == 'MatMul' for n in q)} MatMul left in fp32")


if __name__ == "__main__":
    main()
