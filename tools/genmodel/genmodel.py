#!/usr/bin/env python3
"""Generate small SPLADE-style BERT masked-LM ONNX models and reference vectors.

The models are real BERT/DistilBERT masked-LM graphs (embeddings, multi-head
self-attention, GELU feed-forward, the MLM transform head and a decoder tied to
the word embeddings) with random but seeded weights and the real
bert-base-uncased WordPiece vocabulary. The expected SPLADE vectors are
computed independently of the Go code: the Python `tokenizers` package
tokenizes, and a float64 numpy forward pass computes the logits of each text on
its own (no padding, no batching), followed by
w_j = max_t log(1 + ReLU(logit_tj)).

Usage (not run by CI; the outputs are committed):
  python3 tools/genmodel/genmodel.py fixtures --tokenizer PATH/bert-base-uncased.json --out splade/testdata
  python3 tools/genmodel/genmodel.py dense --tokenizer PATH --out plugin/testdata
  python3 tools/genmodel/genmodel.py model --size base --tokenizer PATH --out /tmp/bert-base-splade

Requirements: tools/genmodel/requirements.txt.
"""
import argparse
import json
import math
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer

OPSET = 17

SIZES = {
    # name: (layers, hidden, heads, intermediate)
    "tiny": (2, 32, 2, 64),
    "base": (12, 768, 12, 3072),
}


def make_weights(rng, vocab, layers, hidden, intermediate, max_pos, with_types, logit_bias_mean):
    """Seeded random weights, scaled so that the logits have a SPLADE-like sparsity."""
    def lin(fan_in, fan_out):
        return (rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)).astype(np.float32)

    def vec(n, scale=0.1, mean=0.0):
        return (mean + scale * rng.standard_normal(n)).astype(np.float32)

    w = {
        # Word embeddings double as the tied decoder; their scale sets the logit spread.
        "word": (rng.standard_normal((vocab, hidden)) * (2.0 / math.sqrt(hidden))).astype(np.float32),
        "pos": (rng.standard_normal((max_pos, hidden)) * 0.5).astype(np.float32),
        "emb_ln_g": vec(hidden, 0.1, 1.0),
        "emb_ln_b": vec(hidden),
    }
    if with_types:
        w["type"] = (rng.standard_normal((2, hidden)) * 0.5).astype(np.float32)
    for i in range(layers):
        p = f"l{i}_"
        for n in ("q", "k", "v", "o"):
            w[p + n + "_w"] = lin(hidden, hidden)
            w[p + n + "_b"] = vec(hidden)
        w[p + "ln1_g"], w[p + "ln1_b"] = vec(hidden, 0.1, 1.0), vec(hidden)
        w[p + "ff1_w"], w[p + "ff1_b"] = lin(hidden, intermediate), vec(intermediate)
        w[p + "ff2_w"], w[p + "ff2_b"] = lin(intermediate, hidden), vec(hidden)
        w[p + "ln2_g"], w[p + "ln2_b"] = vec(hidden, 0.1, 1.0), vec(hidden)
    w["head_w"], w["head_b"] = lin(hidden, hidden), vec(hidden)
    w["head_ln_g"], w["head_ln_b"] = vec(hidden, 0.1, 1.0), vec(hidden)
    w["decoder_b"] = vec(vocab, 1.0, logit_bias_mean)
    return w


class GraphBuilder:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, dtype=np.float32, name=None):
        name = name or self.name("const")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x, w, b):
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def layer_norm(self, x, g, b):
        return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-12)

    def gelu(self, x):
        # Exact (erf) GELU as in BERT: 0.5 * x * (1 + erf(x / sqrt(2))).
        e = self.op("Erf", [self.op("Div", [x, self.const(math.sqrt(2.0))])])
        return self.op("Mul", [self.op("Mul", [x, self.const(0.5)]), self.op("Add", [e, self.const(1.0)])])


def build_graph(w, layers, hidden, heads, with_types, pooled, graph_name, encoder_only=False):
    g = GraphBuilder()
    for k, v in w.items():
        g.inits.append(numpy_helper.from_array(v, k))
    hd = hidden // heads
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
    ]
    if with_types:
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", "sequence"]))

    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(1, np.int64)], axis=0)
    positions = g.op("Range", [g.const(0, np.int64), seq_len, g.const(1, np.int64)])
    x = g.op("Add", [g.op("Gather", ["word", "input_ids"], axis=0), g.op("Gather", ["pos", positions], axis=0)])
    if with_types:
        x = g.op("Add", [x, g.op("Gather", ["type", "token_type_ids"], axis=0)])
    x = g.layer_norm(x, "emb_ln_g", "emb_ln_b")

    maskf = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask_add = g.op("Mul", [g.op("Sub", [g.const(1.0), maskf]), g.const(-10000.0)])
    mask_add = g.op("Unsqueeze", [mask_add, g.const([1, 2], np.int64)])  # [b,1,1,s]
    split_shape = g.const([0, 0, heads, hd], np.int64)
    merge_shape = g.const([0, 0, hidden], np.int64)
    scale = g.const(1.0 / math.sqrt(hd))
    for i in range(layers):
        p = f"l{i}_"
        q = g.op("Transpose", [g.op("Reshape", [g.linear(x, p + "q_w", p + "q_b"), split_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [g.linear(x, p + "k_w", p + "k_b"), split_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [g.linear(x, p + "v_w", p + "v_b"), split_shape])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask_add])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = g.layer_norm(g.op("Add", [x, g.linear(ctx, p + "o_w", p + "o_b")]), p + "ln1_g", p + "ln1_b")
        h = g.gelu(g.linear(x, p + "ff1_w", p + "ff1_b"))
        x = g.layer_norm(g.op("Add", [x, g.linear(h, p + "ff2_w", p + "ff2_b")]), p + "ln2_g", p + "ln2_b")
    if encoder_only:
        g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
        outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])]
        used = {i for n in g.nodes for i in n.input}
        inits = [t for t in g.inits if t.name in used]
        graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="spladeq-genmodel")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model
    t = g.layer_norm(g.gelu(g.linear(x, "head_w", "head_b")), "head_ln_g", "head_ln_b")
    logits = g.op("Add", [g.op("MatMul", [t, g.op("Transpose", ["word"], perm=[1, 0])]), "decoder_b"])

    vocab = w["word"].shape[0]
    if pooled:
        m = g.op("Unsqueeze", [maskf, g.const([2], np.int64)])
        masked = g.op("Add", [g.op("Mul", [logits, m]), g.op("Mul", [g.op("Sub", [g.const(1.0), m]), g.const(-10000.0)])])
        pooled_max = g.op("ReduceMax", [masked], axes=[1], keepdims=0)
        out = g.op("Log", [g.op("Add", [g.op("Relu", [pooled_max]), g.const(1.0)])])
        g.nodes.append(helper.make_node("Identity", [out], ["sparse_embedding"]))
        outputs = [helper.make_tensor_value_info("sparse_embedding", TensorProto.FLOAT, ["batch", vocab])]
    else:
        g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", vocab])]

    graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="spladeq-genmodel")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def np_layer_norm(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


_erf = np.vectorize(math.erf)


def np_gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def reference_forward(w, layers, hidden, heads, ids, types, encoder_only=False):
    """float64 forward pass of one unpadded sequence; returns logits [seq, vocab]
    (or the last hidden states [seq, hidden] with encoder_only)."""
    W = {k: v.astype(np.float64) for k, v in w.items()}
    s = len(ids)
    hd = hidden // heads
    x = W["word"][ids] + W["pos"][np.arange(s)]
    if "type" in W:
        x = x + W["type"][types]
    x = np_layer_norm(x, W["emb_ln_g"], W["emb_ln_b"])
    for i in range(layers):
        p = f"l{i}_"
        q = (x @ W[p + "q_w"] + W[p + "q_b"]).reshape(s, heads, hd).transpose(1, 0, 2)
        k = (x @ W[p + "k_w"] + W[p + "k_b"]).reshape(s, heads, hd).transpose(1, 0, 2)
        v = (x @ W[p + "v_w"] + W[p + "v_b"]).reshape(s, heads, hd).transpose(1, 0, 2)
        sc = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        pr = sc / sc.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(1, 0, 2).reshape(s, hidden)
        x = np_layer_norm(x + ctx @ W[p + "o_w"] + W[p + "o_b"], W[p + "ln1_g"], W[p + "ln1_b"])
        h = np_gelu(x @ W[p + "ff1_w"] + W[p + "ff1_b"])
        x = np_layer_norm(x + h @ W[p + "ff2_w"] + W[p + "ff2_b"], W[p + "ln2_g"], W[p + "ln2_b"])
    if encoder_only:
        return x
    t = np_layer_norm(np_gelu(x @ W["head_w"] + W["head_b"]), W["head_ln_g"], W["head_ln_b"])
    return t @ W["word"].T + W["decoder_b"]


def splade_pool(logits):
    w = np.log1p(np.maximum(logits, 0.0)).max(axis=0)
    idx = np.nonzero(w > 0)[0]
    return {"indices": [int(i) for i in idx], "values": [round(float(w[i]), 8) for i in idx]}


def fixture_texts():
    long_words = " ".join(
        f"Section {i}: the quick brown fox jumps over the lazy dog while retrieval systems index sparse vectors."
        for i in range(1, 60)
    )
    return [
        "The quick brown fox jumps over the lazy dog.",
        "What is learned sparse retrieval?",
        "SPLADE expands queries and documents with related vocabulary terms.",
        "Qdrant stores sparse vectors next to dense vectors.",
        "Hello, world! How are you -- really? (Fine; thanks.)",
        "e-mail: someone@example.com, url: https://example.org/path?q=1&r=2",
        "Café naïve résumé jalapeño Ångström façade",
        "Straße Øresund Ærø Łódź",
        "東京は日本の首都です。",
        "机器学习和信息检索",
        "한국어 텍스트 예제",
        "Emoji test 🚀🔥 with rockets and fire 👍",
        "🙂",
        "In 2024, 3.14159 of 1,000,000 users paid $42.50 (about 7%).",
        "HeLLo WoRLD MiXeD CaSe ACRONYMS like NASA and BERT",
        "   ",
        "\t\n  \n",
        "",
        "a",
        "tokenization of unbelievably antidisestablishmentarianism hyperparameters",
        "line one\nline two\r\nline three",
        "Quotes: “smart” ‘single’ «guillemets» and ‚low‘",
        "Math: ∑ x² ≤ ∞ ± √2 ≈ 1.414",
        "Repeated repeated repeated repeated repeated words words words",
        "Mixed scripts: English, Русский, Ελληνικά, العربية, עברית, हिन्दी",
        long_words,
        "Short query",
        "ONNX Runtime executes the BERT masked language model head over the whole vocabulary.",
    ]


def write_model_dir(out_dir, model, tokenizer_path, config, onnx_rel="model.onnx"):
    os.makedirs(os.path.dirname(os.path.join(out_dir, onnx_rel)), exist_ok=True)
    onnx.save(model, os.path.join(out_dir, onnx_rel))
    shutil.copyfile(tokenizer_path, os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def encode_all(tokenizer_path, texts, max_length):
    tok = Tokenizer.from_file(tokenizer_path)
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()
    return [tok.encode(t) for t in texts]


def write_bad_graphs(out):
    """Tiny graphs that a SPLADE encoder must refuse, each with a clear error."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])
    pos = helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "sequence"])
    cases = {
        # The output is [batch] (a score per text), not logits.
        "wrong-output": ([ids, mask], [helper.make_node("Cast", ["input_ids"], ["f"], to=TensorProto.FLOAT),
                                       helper.make_node("ReduceSum", ["f"], ["score"], keepdims=0)],
                         [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])]),
        # An input the encoder cannot feed.
        "extra-input": ([ids, mask, pos], [helper.make_node("Add", ["input_ids", "position_ids"], ["s"]),
                                           helper.make_node("Cast", ["s"], ["logits"], to=TensorProto.FLOAT)],
                        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence"])]),
    }
    for name, (inputs, nodes, outputs) in cases.items():
        graph = helper.make_graph(nodes, name, inputs, outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="spladeq-genmodel")
        model.ir_version = 8
        onnx.checker.check_model(model)
        d = os.path.join(out, "bad", name)
        os.makedirs(d, exist_ok=True)
        onnx.save(model, os.path.join(d, "model.onnx"))


def cmd_fixtures(args):
    write_bad_graphs(args.out)
    layers, hidden, heads, inter = SIZES["tiny"]
    vocab = Tokenizer.from_file(args.tokenizer).get_vocab_size()
    texts = fixture_texts()
    variants = [
        # name, seed, token types, pooled, onnx path, model_type
        ("bert-tiny", 1, True, False, "model.onnx", "bert"),
        ("distilbert-tiny", 2, False, False, "onnx/model.onnx", "distilbert"),
        ("bert-tiny-pooled", 3, True, True, "model.onnx", "bert"),
    ]
    modes = {"document": 512, "query": 24}
    ref = {"generator": "tools/genmodel/genmodel.py", "texts": texts, "models": {}}
    for name, seed, with_types, pooled, rel, model_type in variants:
        rng = np.random.default_rng(seed)
        w = make_weights(rng, vocab, layers, hidden, inter, 512, with_types, args.logit_bias)
        model = build_graph(w, layers, hidden, heads, with_types, pooled, name)
        config = {
            "architectures": ["DistilBertForMaskedLM" if model_type == "distilbert" else "BertForMaskedLM"],
            "model_type": model_type,
            "vocab_size": vocab,
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": inter,
            "max_position_embeddings": 512,
        }
        write_model_dir(os.path.join(args.out, "models", name), model, args.tokenizer, config, rel)
        entry = {}
        for mode, max_len in modes.items():
            encs = encode_all(args.tokenizer, texts, max_len)
            vecs = []
            for e in encs:
                logits = reference_forward(w, layers, hidden, heads, np.array(e.ids), np.array(e.type_ids))
                vecs.append(splade_pool(logits))
            entry[mode] = {
                "max_length": max_len,
                "token_ids": [e.ids for e in encs],
                "vectors": vecs,
            }
        ref["models"][name] = entry
        nnz = [len(v["indices"]) for v in entry["document"]["vectors"]]
        print(f"{name}: mean nnz {np.mean(nnz):.0f}, max {max(nnz)}")
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")


def cmd_dense(args):
    """A BERT encoder for the onnx-dense vectorizer, with mean and CLS reference vectors."""
    layers, hidden, heads, inter = SIZES["tiny"]
    vocab = Tokenizer.from_file(args.tokenizer).get_vocab_size()
    rng = np.random.default_rng(4)
    w = make_weights(rng, vocab, layers, hidden, inter, 512, True, args.logit_bias)
    model = build_graph(w, layers, hidden, heads, True, False, "dense-tiny", encoder_only=True)
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab, "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": inter,
              "max_position_embeddings": 512}
    out = os.path.join(args.out, "models", "dense-tiny")
    write_model_dir(out, model, args.tokenizer, config)
    texts = fixture_texts()
    ref = {"generator": "tools/genmodel/genmodel.py dense", "texts": texts, "mean": [], "cls": []}
    for e in encode_all(args.tokenizer, texts, 512):
        h = reference_forward(w, layers, hidden, heads, np.array(e.ids), np.array(e.type_ids), encoder_only=True)
        for kind, v in (("mean", h.mean(axis=0)), ("cls", h[0])):
            ref[kind].append([round(float(x), 8) for x in v / np.linalg.norm(v)])
    with open(os.path.join(args.out, "dense_reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    # idf.json for the inference-free splade-idf module: token -> IDF over the fixture texts.
    tok = Tokenizer.from_file(args.tokenizer)
    df = {}
    for t in texts:
        for token in set(tok.encode(t, add_special_tokens=False).tokens):
            df[token] = df.get(token, 0) + 1
    n = len(texts)
    idf = {t: round(math.log(1 + (n - d + 0.5) / (d + 0.5)), 6) for t, d in sorted(df.items())}
    with open(os.path.join(args.idf_out, "idf.json"), "w") as f:
        json.dump(idf, f, indent=0, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out}, dense_reference.json and {args.idf_out}/idf.json ({len(idf)} tokens)")


def cmd_model(args):
    layers, hidden, heads, inter = SIZES[args.size]
    vocab = Tokenizer.from_file(args.tokenizer).get_vocab_size()
    rng = np.random.default_rng(args.seed)
    w = make_weights(rng, vocab, layers, hidden, inter, 512, True, args.logit_bias)
    model = build_graph(w, layers, hidden, heads, True, False, f"bert-{args.size}")
    config = {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": vocab,
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": inter, "max_position_embeddings": 512,
    }
    write_model_dir(args.out, model, args.tokenizer, config)
    print(f"wrote {args.out} ({layers} layers, hidden {hidden})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixtures", help="write the committed test models and reference vectors")
    f.add_argument("--tokenizer", required=True, help="bert-base-uncased tokenizer.json")
    f.add_argument("--out", default="splade/testdata")
    f.add_argument("--logit-bias", type=float, default=-7.0)
    f.set_defaults(fn=cmd_fixtures)
    d = sub.add_parser("dense", help="write the onnx-dense fixture model, its reference vectors and idf.json")
    d.add_argument("--tokenizer", required=True)
    d.add_argument("--out", default="plugin/testdata")
    d.add_argument("--idf-out", default="splade/testdata/models/bert-tiny")
    d.add_argument("--logit-bias", type=float, default=-7.0)
    d.set_defaults(fn=cmd_dense)
    m = sub.add_parser("model", help="write one model directory (e.g. BERT-base sized, for benchmarks)")
    m.add_argument("--tokenizer", required=True)
    m.add_argument("--size", choices=sorted(SIZES), default="base")
    m.add_argument("--seed", type=int, default=7)
    m.add_argument("--logit-bias", type=float, default=-7.0)
    m.add_argument("--out", required=True)
    m.set_defaults(fn=cmd_model)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
