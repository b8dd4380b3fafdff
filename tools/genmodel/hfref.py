#!/usr/bin/env python3
"""Independent float64 numpy reference for HuggingFace masked-LM sparse encoders.

Reads a HuggingFace model directory as it is on disk (config.json,
model.safetensors, tokenizer.json) and computes, with numpy only, what
transformers' BertForMaskedLM, DistilBertForMaskedLM, RobertaForMaskedLM and
XLMRobertaForMaskedLM compute, followed by SPLADE pooling:

    w_j = max over the (non-padding) tokens t of log(1 + ReLU(logit_tj))

The conventions follow the transformers modeling files (modeling_bert.py,
modeling_distilbert.py, modeling_roberta.py, modeling_xlm_roberta.py):

  BERT        positions 0..n-1, token_type_ids all 0 (row 0 of
              token_type_embeddings is added), LayerNorm eps = layer_norm_eps,
              activation = hidden_act (also in the MLM head transform),
              head: cls.predictions.transform.dense -> act -> LayerNorm ->
              decoder (tied to word embeddings) + cls.predictions.bias.
  DistilBERT  positions 0..n-1, no token types, every LayerNorm eps = 1e-12
              (fixed in the modeling file, config has no epsilon),
              activation = config.activation, q scaled by 1/sqrt(d) before q.k,
              head: vocab_transform -> act -> vocab_layer_norm -> vocab_projector
              (weight tied to word embeddings) + vocab_projector.bias.
  RoBERTa /   positions padding_idx+1 .. padding_idx+n for non-padding tokens
  XLM-R       (padding tokens get padding_idx), token type row 0 added,
              LayerNorm eps = layer_norm_eps, encoder activation = hidden_act,
              head: lm_head.dense -> exact (erf) gelu whatever hidden_act says
              -> lm_head.layer_norm -> decoder (tied) + lm_head.bias.

Tied decoder weights: the decoder matrix is read from the checkpoint when it is
stored there, else the word-embedding matrix is used (save_pretrained drops
tied tensors). fp16/bf16 checkpoints are up-cast to float32 exactly, then the
whole pass runs in float64.

  hfref.py DIR [DIR...]        write DIR/reference.json for each directory
  hfref.py --check DIR [...]   recompute and compare with DIR/reference.json
  hfref.py --onnx M.onnx DIR   also run an MLM ONNX graph (output logits [batch, seq,
                               vocab]) on the texts, as one padded batch per mode, with
                               onnxruntime, and report its largest difference

Needs numpy and tokenizers (tools/genmodel/requirements-families.txt).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

# The texts every fixture is checked on: short and long, ASCII and not, an
# empty one, and one longer than the document max_length.
LONG_TEXT = (
    "The kill command sends the specified signal to the specified processes or process groups. "
    "If no signal is specified, the TERM signal is sent. The default action for this signal is to "
    "terminate the process. This signal should be used in preference to the KILL signal (number 9), "
    "since a process may install a handler for the TERM signal in order to perform clean-up steps "
    "before terminating in an orderly fashion. If a process does not terminate after a TERM signal "
    "has been sent, then the KILL signal may be used; be aware that the latter signal cannot be "
    "caught, and so does not give the target process the opportunity to perform any clean-up before "
    "terminating. Die Größe der Datei wird in Bytes angegeben; Zeichenketten werden nicht übersetzt."
)
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is learned sparse retrieval?",
    "grep searches for PATTERNS in each FILE and prints each line that matches a pattern.",
    "Café naïve résumé jalapeño Ångström façade",
    "Die Option --recursive liest alle Dateien unter jedem Verzeichnis rekursiv.",
    "Mixed scripts: English, Русский, Ελληνικά, العربية, 東京は日本の首都です。",
    "Emoji test 🚀🔥 with rockets and fire 👍",
    "a",
    "",
    LONG_TEXT,
]
MODES = {"document": 64, "query": 24}

FORMAT = (
    "texts: the input strings. models.<dir>.<mode> for mode document and query: max_length (tokens, "
    "special tokens included; truncation by the tokenizers library, longest_first, no padding), "
    "token_ids[i] (the ids fed to the model for texts[i], one sequence, attention mask all ones, "
    "token_type_ids all zero), vectors[i] = {indices: ascending vocabulary ids with weight > 0, "
    "values: the weights, float64 rounded to 8 decimals}. SPLADE models: weight_j = max over tokens "
    "of log(1 + relu(logit_j)). Token-weight models: weight of id = max over the tokens carrying it of "
    "relu(token weight), special tokens (bos/eos/pad/unk) dropped; token_weights[i] lists the model's "
    "per-token output."
)

DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2), "F64": ("<f8", 8), "I64": ("<i8", 8)}


def read_safetensors(path):
    """name -> float32 array (int64 buffers such as position_ids are skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] not in DTYPES:
            raise SystemExit(f"{path}: tensor {name}: dtype {meta['dtype']} not supported")
        if meta["dtype"] == "I64":
            continue
        start, end = meta["data_offsets"]
        raw = np.frombuffer(data[base + start:base + end], dtype=DTYPES[meta["dtype"]][0])
        if meta["dtype"] == "BF16":  # bf16 is the top half of a float32
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw.astype(np.float32)
        out[name] = arr.reshape(meta["shape"])
    return out


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


ACTS = {
    "gelu": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


def act_fn(name):
    if name not in ACTS:
        raise SystemExit(f"activation {name!r} not supported by the reference")
    return ACTS[name]


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def linear(x, w, b):
    return x @ w.T + b  # torch Linear stores [out, in]


def attention(x, mask, q, k, v, heads):
    """Self-attention over one sequence; mask[t] is 1 for real tokens."""
    n, hdim = x.shape
    d = hdim // heads
    qh = q.reshape(n, heads, d).transpose(1, 0, 2)
    kh = k.reshape(n, heads, d).transpose(1, 0, 2)
    vh = v.reshape(n, heads, d).transpose(1, 0, 2)
    scores = qh @ kh.transpose(0, 2, 1) / math.sqrt(d)
    scores = np.where(mask[None, None, :] > 0, scores, -np.inf)
    scores -= scores.max(-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(-1, keepdims=True)
    return (p @ vh).transpose(1, 0, 2).reshape(n, hdim)


class Model:
    """A masked-LM checkpoint loaded for the reference pass.

    The keyword arguments are mutations used only to show that a fixture
    detects a wrong convention (families.py prints how far each moves the
    vectors); the reference itself never sets them.
    """

    def __init__(self, d, eps=None, pos_offset=None, no_token_type=False, head_act=None, act=None):
        self.dir = d
        self.cfg = json.load(open(os.path.join(d, "config.json")))
        self.w = {k: v.astype(np.float64) for k, v in read_safetensors(os.path.join(d, "model.safetensors")).items()}
        self.mt = self.cfg["model_type"]
        self.mut = dict(eps=eps, pos_offset=pos_offset, no_token_type=no_token_type, head_act=head_act, act=act)

    def t(self, name):
        if name not in self.w:
            raise SystemExit(f"{self.dir}: tensor {name} missing from model.safetensors")
        return self.w[name]

    def ln(self, prefix, x, eps):
        if self.mut["eps"] is not None:
            eps = self.mut["eps"]
        if prefix + ".gamma" in self.w:  # checkpoints converted from TensorFlow name them gamma/beta
            return layer_norm(x, self.t(prefix + ".gamma"), self.t(prefix + ".beta"), eps)
        return layer_norm(x, self.t(prefix + ".weight"), self.t(prefix + ".bias"), eps)

    def logits(self, ids, mask=None):
        ids = np.asarray(ids, dtype=np.int64)
        mask = np.ones(len(ids)) if mask is None else np.asarray(mask, dtype=np.float64)
        if self.mt == "distilbert":
            return self._distilbert(ids, mask)
        if self.mt in ("bert", "roberta", "xlm-roberta"):
            return self._bert_like(ids, mask)
        raise SystemExit(f"{self.dir}: model_type {self.mt!r} not supported by the reference")

    def _bert_like(self, ids, mask):
        c = self.cfg
        roberta = self.mt in ("roberta", "xlm-roberta")
        p = "roberta." if roberta else "bert."
        eps = c.get("layer_norm_eps", 1e-12)
        act = act_fn(self.mut["act"] or c.get("hidden_act", "gelu"))
        heads = c["num_attention_heads"]
        if roberta:
            pad = c["pad_token_id"]
            real = (ids != pad).astype(np.int64)
            pos = np.cumsum(real) * real + pad  # create_position_ids_from_input_ids
        else:
            pos = np.arange(len(ids))
        if self.mut["pos_offset"] is not None:
            pos = np.arange(len(ids)) + self.mut["pos_offset"]
        x = self.t(p + "embeddings.word_embeddings.weight")[ids] + self.t(p + "embeddings.position_embeddings.weight")[pos]
        if not self.mut["no_token_type"]:
            x = x + self.t(p + "embeddings.token_type_embeddings.weight")[np.zeros(len(ids), np.int64)]
        x = self.ln(p + "embeddings.LayerNorm", x, eps)
        for i in range(c["num_hidden_layers"]):
            lp = f"{p}encoder.layer.{i}."
            q = linear(x, self.t(lp + "attention.self.query.weight"), self.t(lp + "attention.self.query.bias"))
            k = linear(x, self.t(lp + "attention.self.key.weight"), self.t(lp + "attention.self.key.bias"))
            v = linear(x, self.t(lp + "attention.self.value.weight"), self.t(lp + "attention.self.value.bias"))
            a = attention(x, mask, q, k, v, heads)
            a = linear(a, self.t(lp + "attention.output.dense.weight"), self.t(lp + "attention.output.dense.bias"))
            x = self.ln(lp + "attention.output.LayerNorm", a + x, eps)
            h = act(linear(x, self.t(lp + "intermediate.dense.weight"), self.t(lp + "intermediate.dense.bias")))
            h = linear(h, self.t(lp + "output.dense.weight"), self.t(lp + "output.dense.bias"))
            x = self.ln(lp + "output.LayerNorm", h + x, eps)
        word = self.t(p + "embeddings.word_embeddings.weight")
        if roberta:
            head_act = act_fn(self.mut["head_act"] or "gelu")  # RobertaLMHead calls gelu directly
            h = head_act(linear(x, self.t("lm_head.dense.weight"), self.t("lm_head.dense.bias")))
            h = self.ln("lm_head.layer_norm", h, eps)
            dec = self.w.get("lm_head.decoder.weight", word)
            bias = self.w.get("lm_head.bias", self.w.get("lm_head.decoder.bias"))
        else:
            head_act = act_fn(self.mut["head_act"]) if self.mut["head_act"] else act
            h = head_act(linear(x, self.t("cls.predictions.transform.dense.weight"),
                                self.t("cls.predictions.transform.dense.bias")))
            h = self.ln("cls.predictions.transform.LayerNorm", h, eps)
            dec = self.w.get("cls.predictions.decoder.weight", word)
            bias = self.w.get("cls.predictions.bias", self.w.get("cls.predictions.decoder.bias"))
        if bias is None:
            raise SystemExit(f"{self.dir}: no MLM decoder bias in model.safetensors")
        return h @ dec.T + bias

    def _distilbert(self, ids, mask):
        c = self.cfg
        eps = 1e-12  # hard-coded in modeling_distilbert.py
        act = act_fn(self.mut["act"] or c.get("activation", "gelu"))
        heads = c["n_heads"]
        pos = np.arange(len(ids))
        if self.mut["pos_offset"] is not None:
            pos = pos + self.mut["pos_offset"]
        p = "distilbert."
        x = self.t(p + "embeddings.word_embeddings.weight")[ids] + self.t(p + "embeddings.position_embeddings.weight")[pos]
        x = self.ln(p + "embeddings.LayerNorm", x, eps)
        for i in range(c["n_layers"]):
            lp = f"{p}transformer.layer.{i}."
            q = linear(x, self.t(lp + "attention.q_lin.weight"), self.t(lp + "attention.q_lin.bias"))
            k = linear(x, self.t(lp + "attention.k_lin.weight"), self.t(lp + "attention.k_lin.bias"))
            v = linear(x, self.t(lp + "attention.v_lin.weight"), self.t(lp + "attention.v_lin.bias"))
            a = attention(x, mask, q, k, v, heads)
            a = linear(a, self.t(lp + "attention.out_lin.weight"), self.t(lp + "attention.out_lin.bias"))
            x = self.ln(lp + "sa_layer_norm", a + x, eps)
            h = act(linear(x, self.t(lp + "ffn.lin1.weight"), self.t(lp + "ffn.lin1.bias")))
            h = linear(h, self.t(lp + "ffn.lin2.weight"), self.t(lp + "ffn.lin2.bias"))
            x = self.ln(lp + "output_layer_norm", h + x, eps)
        head_act = act_fn(self.mut["head_act"]) if self.mut["head_act"] else act
        h = head_act(linear(x, self.t("vocab_transform.weight"), self.t("vocab_transform.bias")))
        h = self.ln("vocab_layer_norm", h, eps)
        dec = self.w.get("vocab_projector.weight", self.t(p + "embeddings.word_embeddings.weight"))
        return h @ dec.T + self.t("vocab_projector.bias")


def splade_weights(logits, mask=None):
    """Dense float64 SPLADE weights over the vocabulary."""
    if mask is not None:
        logits = logits[np.asarray(mask) > 0]
    return np.log1p(np.maximum(logits, 0.0)).max(axis=0)


def sparse(w):
    idx = np.nonzero(w > 0)[0]
    return {"indices": [int(i) for i in idx], "values": [round(float(w[i]), 8) for i in idx]}


def tokenizer_for(d, max_length):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def special_ids(d):
    """Ids of the tokenizer's special tokens named in special_tokens_map.json (bos/eos/pad/unk/cls/sep)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    m = json.load(open(os.path.join(d, "special_tokens_map.json")))
    out = set()
    for key in ("bos_token", "eos_token", "pad_token", "unk_token", "cls_token", "sep_token"):
        v = m.get(key)
        if isinstance(v, dict):
            v = v["content"]
        if v is not None:
            out.add(tok.token_to_id(v))
    return out


def compute(d, texts=TEXTS, modes=MODES, model=None, name=None):
    """The reference document for one SPLADE model directory (keyed by its base name unless name is given)."""
    model = model or Model(d)
    name = name or os.path.basename(os.path.normpath(d))
    entry = {}
    for mode, max_len in modes.items():
        tok = tokenizer_for(d, max_len)
        ids_all, vecs = [], []
        for text in texts:
            ids = tok.encode(text).ids
            ids_all.append(ids)
            vecs.append(sparse(splade_weights(model.logits(ids))))
        entry[mode] = {"max_length": max_len, "token_ids": ids_all, "vectors": vecs}
    return {
        "generator": "tools/genmodel/hfref.py",
        "format": FORMAT,
        "architecture": model.cfg["architectures"][0],
        "texts": list(texts),
        "models": {name: entry},
    }


def compare(a, b, tol=1e-6):
    """Largest difference between two reference documents (inf if index sets or ids differ)."""
    worst = 0.0
    for name, entry in a["models"].items():
        for mode, m in entry.items():
            o = b["models"][name][mode]
            if m["token_ids"] != o["token_ids"]:
                return math.inf
            for va, vb in zip(m["vectors"], o["vectors"]):
                if va["indices"] != vb["indices"]:
                    return math.inf
                if va["values"]:
                    worst = max(worst, float(np.max(np.abs(np.array(va["values"]) - np.array(vb["values"])))))
    return worst


def onnx_diff(onnx_path, doc):
    """Largest |difference| between an MLM ONNX graph's pooled vectors (padded batch) and doc."""
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    entry = next(iter(doc["models"].values()))
    pad = 1 if doc["architecture"].startswith(("Roberta", "XLMRoberta")) else 0
    worst = 0.0
    for mode, m in entry.items():
        rows = m["token_ids"]
        n = max(len(r) for r in rows)
        ids = np.full((len(rows), n), pad, np.int64)
        mask = np.zeros_like(ids)
        for b, r in enumerate(rows):
            ids[b, :len(r)], mask[b, :len(r)] = r, 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        logits = sess.run(["logits"], {k: v for k, v in feed.items() if k in names})[0].astype(np.float64)
        for b, want in enumerate(m["vectors"]):
            got = splade_weights(logits[b], mask[b])
            dense = np.zeros_like(got)
            dense[want["indices"]] = want["values"]
            worst = max(worst, float(np.max(np.abs(got - dense))))
    return worst


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the existing reference.json instead of writing")
    ap.add_argument("--onnx", help="an MLM ONNX graph of the (single) directory to compare with the reference")
    ap.add_argument("--name", help="the key under models (default: the directory's base name)")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    bad = 0
    for d in args.dirs:
        doc = compute(d, name=args.name)
        if args.onnx:
            diff = onnx_diff(args.onnx, doc)
            print(f"{args.onnx}: max |vector difference| from the numpy reference {diff:.3g}")
            bad += diff > 1e-5
        path = os.path.join(d, "reference.json")
        if args.check:
            diff = compare(doc, json.load(open(path)))
            print(f"{d}: max |difference| {diff:.3g}")
            bad += diff > 1e-7
        else:
            write_json(path, doc)
            print(f"wrote {path}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
