#!/usr/bin/env python3
"""Convert a HuggingFace BERT safetensors checkpoint to an ONNX model directory.

  convert.py mlm   --src DIR --out DIR   BertForMaskedLM (SPLADE): output logits [batch, seq, vocab]
  convert.py dense --src DIR --out DIR   BertModel (sentence embeddings): output last_hidden_state

DIR holds model.safetensors, config.json and tokenizer.json (tokenizer_config.json
optional), as in a HuggingFace model repository. The graph is built by
genmodel.build_graph, the same BERT the fixtures use, from the checkpoint's real
weights; then a float64 numpy forward pass (genmodel.reference_forward) on a few
sentences is written to reference.json in the output directory, so the Go
encoder can be checked against it. Needs only numpy and onnx (no torch).
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genmodel  # noqa: E402

SENTENCES = [
    "What is the capital of France?",
    "Learned sparse retrieval expands queries with related terms.",
    "The quick brown fox jumps over the lazy dog.",
]


def load_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": "skip"}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dt = dtypes.get(meta["dtype"])
        if dt == "skip":  # buffers such as embeddings.position_ids
            continue
        if dt is None:
            sys.exit(f"{path}: tensor {name} has dtype {meta['dtype']}, not supported")
        s, e = meta["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + s:8 + n + e], dtype=dt).reshape(meta["shape"]).astype(np.float32)
    return out


def pick(w, *names):
    for n in names:
        if n in w:
            return w[n]
    sys.exit(f"checkpoint has none of {names}")


def ln(w, prefix):
    return (pick(w, prefix + ".weight", prefix + ".gamma"), pick(w, prefix + ".bias", prefix + ".beta"))


def map_weights(w, layers, mlm):
    """HuggingFace BERT names -> genmodel names."""
    p = "bert." if any(k.startswith("bert.") for k in w) else ""
    out = {
        "word": pick(w, p + "embeddings.word_embeddings.weight"),
        "pos": pick(w, p + "embeddings.position_embeddings.weight"),
        "type": pick(w, p + "embeddings.token_type_embeddings.weight"),
    }
    out["emb_ln_g"], out["emb_ln_b"] = ln(w, p + "embeddings.LayerNorm")
    for i in range(layers):
        lp = f"{p}encoder.layer.{i}."
        for ours, theirs in (("q", "attention.self.query"), ("k", "attention.self.key"), ("v", "attention.self.value"),
                             ("o", "attention.output.dense"), ("ff1", "intermediate.dense"), ("ff2", "output.dense")):
            # torch Linear stores [out, in]; the graph multiplies x @ W with W [in, out].
            out[f"l{i}_{ours}_w"] = np.ascontiguousarray(pick(w, lp + theirs + ".weight").T)
            out[f"l{i}_{ours}_b"] = pick(w, lp + theirs + ".bias")
        out[f"l{i}_ln1_g"], out[f"l{i}_ln1_b"] = ln(w, lp + "attention.output.LayerNorm")
        out[f"l{i}_ln2_g"], out[f"l{i}_ln2_b"] = ln(w, lp + "output.LayerNorm")
    if mlm:
        out["head_w"] = np.ascontiguousarray(pick(w, "cls.predictions.transform.dense.weight").T)
        out["head_b"] = pick(w, "cls.predictions.transform.dense.bias")
        out["head_ln_g"], out["head_ln_b"] = ln(w, "cls.predictions.transform.LayerNorm")
        decoder = w.get("cls.predictions.decoder.weight")
        if decoder is not None and not np.array_equal(decoder, out["word"]):
            sys.exit("untied decoder weights are not supported by this converter")
        out["decoder_b"] = pick(w, "cls.predictions.bias", "cls.predictions.decoder.bias")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["mlm", "dense"])
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cfg = json.load(open(os.path.join(args.src, "config.json")))
    if cfg.get("model_type") != "bert":
        sys.exit(f"model_type {cfg.get('model_type')!r}: only bert is supported")
    if cfg.get("hidden_act", "gelu") != "gelu":
        sys.exit(f"hidden_act {cfg['hidden_act']!r}: only gelu is supported")
    layers, hidden, heads = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    mlm = args.kind == "mlm"
    w = map_weights(load_safetensors(os.path.join(args.src, "model.safetensors")), layers, mlm)
    if not mlm:
        # The encoder-only graph has no head; give build_graph placeholders it drops.
        vocab = w["word"].shape[0]
        w.update(head_w=np.zeros((hidden, hidden), np.float32), head_b=np.zeros(hidden, np.float32),
                 head_ln_g=np.ones(hidden, np.float32), head_ln_b=np.zeros(hidden, np.float32),
                 decoder_b=np.zeros(vocab, np.float32))
    model = genmodel.build_graph(w, layers, hidden, heads, True, False, os.path.basename(args.out), encoder_only=not mlm)
    os.makedirs(args.out, exist_ok=True)
    onnx.save(model, os.path.join(args.out, "model.onnx"))
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(args.src, f)):
            shutil.copyfile(os.path.join(args.src, f), os.path.join(args.out, f))

    from tokenizers import Tokenizer  # noqa: E402  (only for the reference)
    tok = Tokenizer.from_file(os.path.join(args.src, "tokenizer.json"))
    tok.no_padding()
    ref = {"generator": "tools/genmodel/convert.py " + args.kind, "texts": SENTENCES, "vectors": []}
    for s in SENTENCES:
        e = tok.encode(s)
        h = genmodel.reference_forward(w, layers, hidden, heads, np.array(e.ids), np.array(e.type_ids), encoder_only=not mlm)
        if mlm:
            ref["vectors"].append(genmodel.splade_pool(h))
        else:
            v = h.mean(axis=0)
            ref["vectors"].append([round(float(x), 8) for x in v / np.linalg.norm(v)])
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")
    print(f"wrote {args.out} ({args.kind}, {layers} layers, hidden {hidden})")


if __name__ == "__main__":
    main()
