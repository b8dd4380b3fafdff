#!/usr/bin/env python3
"""Vocabulary-head layouts measured against each other in ONNX Runtime.

The figures behind docs/benchmarks-history.md's "A blocked vocabulary head" section
("tried and dropped", and the per-operator profile). From a SPLADE export
whose head is MatMul(hidden, W or Transpose(E)) [+ Add(bias)] -> logits,
this builds:

  blocked     the layout splade/blockhead.go writes at load time: per slice
              of the vocabulary MatMul([hidden | mask column], [W_k ; ones])
              -> ReduceMax over the sequence; bias added after the max
  transposed  the same with [vocab, hidden] x [batch, hidden, seq] slices,
              max over the last (contiguous) axis
  if          an If node choosing per pass (a bool input) between the
              blocked head and the unmodified head

and times each against the unmodified graph on batch x seq token inputs,
checking that every variant's pooled maxima equal the unmodified graph's.
--profile prints each operator type's share of the blocked graph's run time.

  .deps/venv/bin/pip install -r tools/genmodel/requirements-quantize.txt   # onnx, onnxruntime
  .deps/venv/bin/python tools/bench/head_variants.py .deps/models/splade-mini --batch 14 --seq 72
  .deps/venv/bin/python tools/bench/head_variants.py .deps/models/splade-mini --batch 1 --seq 12
  .deps/venv/bin/python tools/bench/head_variants.py .deps/models/splade-mini --profile
"""
import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

P = "spladeq_proto/"


def find_head(graph):
    """The head MatMul, its weight tensor ([hidden, vocab]), the bias (or
    None) and the nodes from the MatMul to the output."""
    producer = {o: n for n in graph.node for o in n.output}
    consts = {i.name for i in graph.initializer}
    t, tail, bias = graph.output[0].name, [], None
    while True:
        n = producer[t]
        tail.append(n)
        if n.op_type == "Identity":
            t = n.input[0]
        elif n.op_type == "Add":
            c = [i for i in n.input if i in consts]
            if len(c) != 1:
                raise SystemExit(f"Add {n.name}: want one constant bias")
            bias = c[0]
            t = [i for i in n.input if i not in consts][0]
        elif n.op_type == "MatMul":
            return n, n.input[1], bias, tail
        else:
            raise SystemExit(f"unexpected {n.op_type} between the head and the output")


def hidden_size(model):
    """The hidden size: the head weight's (or its transposed source's) dim."""
    g = model.graph
    _, weight, _, _ = find_head(g)
    dims = {i.name: list(i.dims) for i in g.initializer}
    if weight in dims:
        return dims[weight][0]
    src = next(n for n in g.node if weight in n.output)
    return dims[src.input[0]][1]


def mask_column(extra):
    """Nodes computing [batch, seq, 1]: 0 for real tokens, -1e9 for padding."""
    extra += [numpy_helper.from_array(np.array(1, np.float32), P + "one"),
              numpy_helper.from_array(np.array(1e9, np.float32), P + "big"),
              numpy_helper.from_array(np.array([0, 0, 1], np.int64), P + "col")]
    return [helper.make_node("Cast", ["attention_mask"], [P + "mf"], to=TensorProto.FLOAT),
            helper.make_node("Sub", [P + "mf", P + "one"], [P + "m1"]),
            helper.make_node("Mul", [P + "m1", P + "big"], [P + "m2"]),
            helper.make_node("Reshape", [P + "m2", P + "col"], [P + "mask"])]


def blocked_nodes(hidden, weight, bias, vocab, block, extra, transposed=False):
    nodes = mask_column(extra)
    nodes.append(helper.make_node("Concat", [hidden, P + "mask"], [P + "hm"], axis=2))
    x = P + "hm"
    if transposed:
        nodes.append(helper.make_node("Transpose", [x], [P + "hmT"], perm=[0, 2, 1]))
        nodes.append(helper.make_node("Transpose", [weight], [P + "wT"], perm=[1, 0]))
        x, weight = P + "hmT", P + "wT"
    extra.append(numpy_helper.from_array(np.array([0 if transposed else 1], np.int64), P + "axis"))
    maxes = []
    for k, s in enumerate(range(0, vocab, block)):
        e = min(vocab, s + block)
        ones = np.ones((e - s, 1) if transposed else (1, e - s), np.float32)
        extra += [numpy_helper.from_array(np.array([s], np.int64), f"{P}s{k}"),
                  numpy_helper.from_array(np.array([e], np.int64), f"{P}e{k}"),
                  numpy_helper.from_array(ones, f"{P}ones{k}")]
        nodes += [helper.make_node("Slice", [weight, f"{P}s{k}", f"{P}e{k}", P + "axis"], [f"{P}w{k}"]),
                  helper.make_node("Concat", [f"{P}w{k}", f"{P}ones{k}"], [f"{P}wo{k}"], axis=1 if transposed else 0)]
        if transposed:
            nodes.append(helper.make_node("MatMul", [f"{P}wo{k}", x], [f"{P}l{k}"]))
            nodes.append(helper.make_node("ReduceMax", [f"{P}l{k}"], [f"{P}r{k}"], axes=[2], keepdims=0))
        else:
            nodes.append(helper.make_node("MatMul", [x, f"{P}wo{k}"], [f"{P}l{k}"], name=f"{P}l{k}"))
            nodes.append(helper.make_node("ReduceMax", [f"{P}l{k}"], [f"{P}r{k}"], axes=[1], keepdims=0))
        maxes.append(f"{P}r{k}")
    nodes.append(helper.make_node("Concat", maxes, [P + "cat"], axis=1))
    if bias:
        nodes.append(helper.make_node("Add", [P + "cat", bias], [P + "pooled"]))
    else:
        nodes.append(helper.make_node("Identity", [P + "cat"], [P + "pooled"]))
    return nodes


def variant(model, kind, block):
    g = model.graph
    mm, weight, bias, tail = find_head(g)
    vocab = g.output[0].type.tensor_type.shape.dim[2].dim_value
    body = [n for n in g.node if n not in tail]
    extra = []
    if kind in ("blocked", "transposed"):
        nodes = body + blocked_nodes(mm.input[0], weight, bias, vocab, block, extra, kind == "transposed")
        outputs = [helper.make_tensor_value_info(P + "pooled", TensorProto.FLOAT, ["batch", vocab])]
        inputs = list(g.input)
    else:  # if: blocked head or the unmodified head, chosen by a bool input
        then = blocked_nodes(mm.input[0], weight, bias, vocab, block, extra)
        then.append(helper.make_node("Identity", [P + "pooled"], [P + "then"]))
        extra.append(numpy_helper.from_array(np.array([-1, vocab], np.int64), P + "flat"))
        other = list(reversed(tail)) + [helper.make_node("Reshape", [g.output[0].name, P + "flat"], [P + "else"])]
        vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["rows", vocab])
        nodes = body + [helper.make_node("If", [P + "blocked"], [P + "pooled"],
                                         then_branch=helper.make_graph(then, "then", [], [vi(P + "then")]),
                                         else_branch=helper.make_graph(other, "else", [], [vi(P + "else")]))]
        outputs = [vi(P + "pooled")]
        inputs = list(g.input) + [helper.make_tensor_value_info(P + "blocked", TensorProto.BOOL, [])]
    out = helper.make_model(helper.make_graph(nodes, kind, inputs, outputs, list(g.initializer) + extra),
                            opset_imports=model.opset_import)
    out.ir_version = model.ir_version
    return out


def session(path, profile=False):
    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = os.cpu_count(), 1
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    o.log_severity_level = 3
    o.enable_profiling = profile
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def timed(fn, n):
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, default=14)
    ap.add_argument("--seq", type=int, default=72)
    ap.add_argument("--block", type=int, default=4096)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    path = os.path.join(a.model_dir, "model.onnx")
    model = onnx.load(path)
    rng = np.random.default_rng(0)
    lens = rng.integers(int(a.seq * 0.9), a.seq + 1, a.batch)
    lens[0] = a.seq
    mask = (np.arange(a.seq)[None, :] < lens[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(1000, 20000, (a.batch, a.seq)), 0).astype(np.int64)
    feed = {"input_ids": ids, "attention_mask": mask}
    if any(i.name == "token_type_ids" for i in model.graph.input):
        feed["token_type_ids"] = np.zeros_like(ids)
    base = session(path)
    logits = base.run(None, feed)[0]
    want = np.where(mask[:, :, None] == 1, logits, -np.inf).max(1)
    print(f"{a.batch} x {a.seq} tokens ({mask.sum()} real), slices of {a.block}; ms per pass, {a.runs} runs")
    print(f"unmodified graph (logits out, nothing pooled): {timed(lambda: base.run(None, feed), a.runs):.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("blocked", "transposed", "if"):
            p = os.path.join(tmp, kind + ".onnx")
            onnx.save(variant(model, kind, a.block), p)
            s = session(p, profile=a.profile and kind == "blocked")
            f = dict(feed)
            if kind == "if":
                for choice in (True, False):
                    f[P + "blocked"] = np.array(choice)
                    ms = timed(lambda: s.run(None, f), a.runs)
                    print(f"if, {'blocked' if choice else 'unmodified'} branch: {ms:.2f}")
                continue
            got = s.run(None, f)[0]
            diff = float(np.abs(np.maximum(got, 0) - np.maximum(want, 0)).max())
            print(f"{kind}: {timed(lambda: s.run(None, f), a.runs):.2f} (max |difference| of ReLU(max) {diff:g})")
            if a.profile and kind == "blocked":
                share, head_us = collections.Counter(), 0
                for e in json.load(open(s.end_profiling())):
                    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                        share[e["args"]["op_name"]] += e["dur"]
                        if e["name"].startswith(P + "l"):
                            head_us += e["dur"]
                total = sum(share.values())
                for op, us in share.most_common(6):
                    print(f"  {op}: {us / total:.0%} of kernel time")
                hidden = hidden_size(model)
                flops = 2 * mask.size * (hidden + 1) * want.shape[1] * (a.runs + 1)
                print(f"  the slices' MatMuls: {flops / head_us / 1e3:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
