#!/usr/bin/env python3
"""Generate a tiny token-weight sparse model (BGE-M3 layout) and its reference vectors.

The model directory mirrors a BGE-M3 three-head ONNX export: an XLM-R style
Unigram tokenizer (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask> last), a graph with
inputs input_ids and attention_mask only (no token_type_ids) and three outputs
in BGE-M3's order: dense_vecs [batch, H], sparse_vecs [batch, sequence, 1]
(one raw weight per token, no ReLU: the encoder applies it) and colbert_vecs
[batch, sequence, H]. onnx/model.squeezed.onnx is the same model with the
sparse output squeezed to [batch, sequence] and no other output.

A token's weight depends on its id, its position and a masked mean over the
text's tokens, so padding that leaked into the mean, or a pooling that took
the first occurrence of a repeated token instead of the largest, would change
the vectors.

The expected vectors are computed independently of the Go code: the Python
`tokenizers` package tokenizes each text on its own (no padding), a float64
numpy forward pass gives the weights, and the vector is, per token id that is
not a special token, the largest ReLU'd weight (FlagEmbedding's lexical
weights).

Usage (not run by CI; the outputs are committed):
  python3 tools/genmodel/tokenweights.py --out splade/testdata/models/xlmr-token-weights-tiny
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

OPSET = 17
HIDDEN = 8
MAX_LEN = 32
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]
WORDS = ("the quick brown fox jumps over lazy dog what is learned sparse retrieval splade "
         "expands queries and documents with related vocabulary terms qdrant stores vectors "
         "next to dense hello world how are you token weight model bge multilingual").split()
SUBWORDS = ["ing", "ed", "s", "er", "re", "tion", "al", "ly"]
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is learned sparse retrieval?",
    "the the the dog dog the",
    "Sparse vectors next to dense vectors, and sparse queries with sparse documents.",
    "hello <mask> world",
    "Ünïcödé ✓ 東京 unknown glyphs",
    "",
    "a",
    " ".join(["token weight"] * 40),
]


def build_tokenizer():
    pieces = [(t, 0.0) for t in SPECIAL]
    seen = set(SPECIAL)

    def add(piece, score):
        if piece not in seen:
            seen.add(piece)
            pieces.append((piece, score))

    add("\u2581", -2.0)
    for i, w in enumerate(WORDS):
        add("\u2581" + w, -3.0 - 0.01 * i)
    for i, w in enumerate(SUBWORDS):
        add(w, -5.0 - 0.01 * i)
    for i, c in enumerate(CHARS):
        add(c, -8.0 - 0.01 * i)
        add("\u2581" + c, -8.5 - 0.01 * i)
    pieces.append(("<mask>", 0.0))
    tok = Tokenizer(models.Unigram(pieces, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens(SPECIAL + ["<mask>"])
    tok.enable_truncation(MAX_LEN)
    return tok, len(pieces)


def make_weights(rng, vocab):
    return {
        "emb": (rng.standard_normal((vocab, HIDDEN)) * 0.8).astype(np.float32),
        "pos": (rng.standard_normal(HIDDEN) * 0.04).astype(np.float32),
        "ctx": (rng.standard_normal((HIDDEN, HIDDEN)) * 0.5).astype(np.float32),
        "w": (rng.standard_normal((HIDDEN, 1)) * 1.0).astype(np.float32),
        "b": np.array([0.1], dtype=np.float32),
        "colbert": (rng.standard_normal((HIDDEN, HIDDEN)) * 0.3).astype(np.float32),
    }


def build_graph(w, squeezed):
    """hidden = tanh(emb[ids] + pos_index * pos + masked_mean(emb[ids]) @ ctx); weight = hidden @ w + b."""
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    inits += [
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array(1, dtype=np.int64), "axis1_scalar"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
    ]
    n = helper.make_node
    nodes = [
        n("Gather", ["emb", "input_ids"], ["e"]),
        n("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        n("CumSum", ["maskf", "axis1_scalar"], ["posidx"]),
        n("Unsqueeze", ["posidx", "axis2"], ["posidx3"]),
        n("Mul", ["posidx3", "pos"], ["posterm"]),
        n("Mul", ["e", "mask3"], ["em"]),
        n("ReduceSum", ["em", "axis1"], ["esum"], keepdims=1),
        n("ReduceSum", ["mask3", "axis1"], ["msum"], keepdims=1),
        n("Max", ["msum", "one"], ["msafe"]),
        n("Div", ["esum", "msafe"], ["emean"]),
        n("MatMul", ["emean", "ctx"], ["ctxterm"]),
        n("Add", ["e", "posterm"], ["h0"]),
        n("Add", ["h0", "ctxterm"], ["h1"]),
        n("Tanh", ["h1"], ["hidden"]),
        n("MatMul", ["hidden", "w"], ["wl"]),
    ]
    seq3 = ["batch", "sequence", 1]
    if squeezed:
        nodes += [n("Add", ["wl", "b"], ["w3"]), n("Squeeze", ["w3", "axis2"], ["sparse_vecs"])]
        outputs = [helper.make_tensor_value_info("sparse_vecs", TensorProto.FLOAT, ["batch", "sequence"])]
    else:
        nodes += [
            n("Add", ["wl", "b"], ["sparse_vecs"]),
            n("Gather", ["hidden", "zero"], ["dense_vecs"], axis=1),
            n("MatMul", ["hidden", "colbert"], ["colbert_vecs"]),
        ]
        inits.append(numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"))
        outputs = [
            helper.make_tensor_value_info("dense_vecs", TensorProto.FLOAT, ["batch", HIDDEN]),
            helper.make_tensor_value_info("sparse_vecs", TensorProto.FLOAT, seq3),
            helper.make_tensor_value_info("colbert_vecs", TensorProto.FLOAT, ["batch", "sequence", HIDDEN]),
        ]
    inputs = [helper.make_tensor_value_info(x, TensorProto.INT64, ["batch", "sequence"]) for x in ("input_ids", "attention_mask")]
    graph = helper.make_graph(nodes, "token_weights", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="spladeq-genmodel")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def forward(w, ids):
    """One text, no padding, float64."""
    e = w["emb"].astype(np.float64)[ids]
    pos = np.arange(1, len(ids) + 1, dtype=np.float64)[:, None] * w["pos"].astype(np.float64)
    ctx = e.mean(axis=0, keepdims=True) @ w["ctx"].astype(np.float64)
    hidden = np.tanh(e + pos + ctx)
    return (hidden @ w["w"].astype(np.float64))[:, 0] + float(w["b"][0])


def lexical(weights, ids, special):
    best = {}
    for t, i in enumerate(ids):
        if i in special:
            continue
        x = max(float(weights[t]), 0.0)
        if x > 0 and x > best.get(i, 0.0):
            best[i] = x
    idx = sorted(best)
    return idx, [best[i] for i in idx]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    tok, vocab = build_tokenizer()
    tok.save(os.path.join(args.out, "tokenizer.json"))
    rng = np.random.default_rng(args.seed)
    w = make_weights(rng, vocab)
    onnx.save(build_graph(w, False), os.path.join(args.out, "onnx", "model.onnx"))
    onnx.save(build_graph(w, True), os.path.join(args.out, "onnx", "model.squeezed.onnx"))
    mask_id = vocab - 1
    special = {0, 1, 2, 3, mask_id}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": vocab,
                   "hidden_size": HIDDEN, "max_position_embeddings": MAX_LEN + 2, "pad_token_id": 1,
                   "bos_token_id": 0, "eos_token_id": 2}, f, indent=2)
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": {"content": "<mask>", "lstrip": True}}
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        dec = {str(i): {"content": t, "special": True} for i, t in enumerate(SPECIAL)}
        dec[str(mask_id)] = {"content": "<mask>", "special": True}
        json.dump(dict(specials, model_max_length=MAX_LEN, tokenizer_class="XLMRobertaTokenizer",
                       added_tokens_decoder=dec), f, indent=2)
    with open(os.path.join(args.out, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=2)

    cases = []
    for text in TEXTS:
        enc = tok.encode(text)
        ids = enc.ids
        idx, vals = lexical(forward(w, np.array(ids)), ids, special)
        cases.append({"text": text, "ids": ids, "indices": idx, "values": vals})
    ref = {"generator": "tools/genmodel/tokenweights.py", "max_length": MAX_LEN, "vocab_size": vocab,
           "special_ids": sorted(special), "cases": cases}
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"vocab {vocab}, {len(cases)} texts -> {args.out}")


if __name__ == "__main__":
    main()
