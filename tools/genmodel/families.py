#!/usr/bin/env python3
"""Random-weight HuggingFace masked-LM checkpoints of four families, as test fixtures.

Writes, under splade/testdata/models/ (or --out), one HuggingFace model
directory per fixture (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, special_tokens_map.json) and its reference.json
computed by hfref.py from the files just written:

  hf-bert        BertForMaskedLM, WordPiece (uncased), type_vocab_size 2, gelu,
                 layer_norm_eps 1e-12, decoder weight absent (tied, as save_pretrained)
  hf-bert-fp16   the same weights stored as F16 (reference from the up-cast weights)
  hf-bert-bf16   the same weights stored as BF16
  hf-distilbert  DistilBertForMaskedLM, WordPiece (cased), no token types,
                 vocab_projector.weight absent (tied)
  hf-roberta     RobertaForMaskedLM, byte-level BPE, <s>=0 <pad>=1 </s>=2, positions
                 from padding_idx+1, layer_norm_eps 1e-5; stored the way older
                 conversions did: lm_head.decoder.weight (a copy of the word
                 embeddings), lm_head.decoder.bias and roberta.embeddings.position_ids (I64)
  hf-xlmr        XLMRobertaForMaskedLM, Unigram (SentencePiece-style), layer_norm_eps 1e-6,
                 decoder weight absent (tied)
  tokenweight-xlmr  a BGE-M3-style token-weight ONNX graph (input_ids, attention_mask ->
                 sparse_weights [batch, seq, 1]) with the hf-xlmr tokenizer

The tokenizers are trained with the tokenizers library on the man pages
installed on this machine (English, plus de/fr/es/ru/pl/ja for the Unigram
one), so regenerating on another machine gives other vocabularies and the
committed fixtures are the ones the tests use. Each fixture's weight scales
make the embedding LayerNorm sensitive to its epsilon and the head produce a
few dozen positive logits per token; the decoder biases are nudged so that
no pooled logit lies within 1e-3 of zero (a float32 graph cannot flip a term
in or out of a vector). `families.py` prints how much each wrong convention
(epsilon, position offset, token types, gelu flavour) moves the vectors.

  families.py [--out DIR] [--only NAME ...]

Needs numpy, tokenizers, onnx, ml_dtypes (tools/genmodel/requirements-families.txt);
onnxruntime, when installed, checks the token-weight graph against the numpy reference.
"""
import argparse
import glob
import gzip
import json
import os
import re
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hfref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARGIN = 1e-3
BIAS_MEAN = -4.5  # with logits of std ~1.5: a few dozen terms per vector

# --- corpus -----------------------------------------------------------------

_ROFF_KEEP = {"SH", "SS", "B", "I", "BR", "BI", "IB", "IR", "RB", "RI", "TP", "IP", "TH", "Nm", "Nd", "Sh", "Pp"}


def roff_text(raw):
    out = []
    for line in raw.splitlines():
        if line.startswith(('.\\"', "'\\\"", '\\"')):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            if not parts or parts[0] not in _ROFF_KEEP or len(parts) < 2:
                continue
            line = parts[1].replace('"', "")
        line = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", line)
        line = re.sub(r"\\\*(\[[^\]]*\]|\(..|.)", "", line)
        line = line.replace("\\-", "-").replace("\\(aq", "'").replace("\\(dq", '"').replace("\\e", "\\")
        line = re.sub(r"\\\((..)", "", line)
        line = re.sub(r"\\[&|^%:]", "", line).replace("\\ ", " ")
        line = line.strip()
        if line:
            out.append(line)
    return out


def man_lines(langs, per_lang):
    lines = []
    for lang in langs:
        base = "/usr/share/man" if lang == "en" else f"/usr/share/man/{lang}"
        files = sorted(glob.glob(f"{base}/man[1-8]/*.gz"))[:per_lang]
        if not files:
            sys.exit(f"no man pages under {base}: the tokenizers are trained on them")
        for f in files:
            try:
                lines += roff_text(gzip.open(f).read().decode("utf-8", "replace"))
            except (OSError, EOFError):
                continue
    return lines


# --- tokenizers ---------------------------------------------------------------


def wordpiece(lines, vocab, lowercase):
    from tokenizers import processors
    from tokenizers.implementations import BertWordPieceTokenizer
    t = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=None if lowercase else False)
    t.train_from_iterator(lines, vocab_size=vocab, min_frequency=2, limit_alphabet=400, show_progress=False,
                          special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    cls, sep = t.token_to_id("[CLS]"), t.token_to_id("[SEP]")
    t.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return t


def bytelevel_bpe(lines, vocab):
    from tokenizers import processors
    from tokenizers.implementations import ByteLevelBPETokenizer
    t = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    t.train_from_iterator(lines, vocab_size=vocab, min_frequency=2, show_progress=False,
                          special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>")),
                                                    trim_offsets=True, add_prefix_space=False)
    return t


def unigram(lines, vocab):
    from tokenizers import AddedToken, processors
    from tokenizers.implementations import SentencePieceUnigramTokenizer
    t = SentencePieceUnigramTokenizer()
    t.train_from_iterator(lines, vocab_size=vocab, show_progress=False,
                          special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>")
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", t.token_to_id("<s>")), ("</s>", t.token_to_id("</s>"))])
    return t


BERT_SPECIALS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                 "mask_token": "[MASK]"}
ROBERTA_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                    "pad_token": "<pad>", "cls_token": "<s>",
                    "mask_token": {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False,
                                   "single_word": False}}


def write_tokenizer(d, tok, tok_class, specials, max_len, extra=None):
    tok.save(os.path.join(d, "tokenizer.json"))
    cfg = {"tokenizer_class": tok_class, "model_max_length": max_len, "clean_up_tokenization_spaces": True}
    cfg.update({k: (v["content"] if isinstance(v, dict) else v) for k, v in specials.items()})
    cfg.update(extra or {})
    hfref.write_json(os.path.join(d, "tokenizer_config.json"), cfg)
    hfref.write_json(os.path.join(d, "special_tokens_map.json"), specials)


# --- safetensors ----------------------------------------------------------------


def write_safetensors(path, tensors, dtype="F32"):
    """tensors: name -> array (float arrays stored as dtype, int64 as I64), names sorted as save_pretrained does."""
    import ml_dtypes
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        if a.dtype == np.int64:
            dt, raw = "I64", a.astype("<i8").tobytes()
        elif dtype == "F32":
            dt, raw = "F32", a.astype("<f4").tobytes()
        elif dtype == "F16":
            dt, raw = "F16", a.astype("<f2").tobytes()
        elif dtype == "BF16":
            dt, raw = "BF16", a.astype(np.float32).astype(ml_dtypes.bfloat16).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps({"__metadata__": {"format": "pt"}, **header}, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# --- weights ------------------------------------------------------------------------


class Rand:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def n(self, *shape, std=1.0, mean=0.0):
        return (mean + std * self.rng.standard_normal(shape)).astype(np.float32)

    def lin(self, out_f, in_f):
        return self.n(out_f, in_f, std=1.0 / np.sqrt(in_f)), self.n(out_f, std=0.1)

    def ln(self, dim, scale=1.0):
        return scale * (1.0 + self.n(dim, std=0.1)), self.n(dim, std=0.1)


def put_lin(w, name, pair):
    w[name + ".weight"], w[name + ".bias"] = pair


def bert_like_weights(r, p, c, emb_std, head_gamma, bias_mean, roberta):
    hdim, inter, vocab = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    w = {}
    word = r.n(vocab, hdim, std=emb_std)
    word[c["pad_token_id"]] = 0.0  # nn.Embedding(padding_idx=...) starts (and stays) zero
    pos = r.n(c["max_position_embeddings"], hdim, std=emb_std)
    if roberta:
        pos[c["pad_token_id"]] = 0.0
    w[p + "embeddings.word_embeddings.weight"] = word
    w[p + "embeddings.position_embeddings.weight"] = pos
    w[p + "embeddings.token_type_embeddings.weight"] = r.n(c["type_vocab_size"], hdim, std=emb_std)
    put_lin(w, p + "embeddings.LayerNorm", r.ln(hdim))
    for i in range(c["num_hidden_layers"]):
        lp = f"{p}encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            put_lin(w, lp + n, r.lin(hdim, hdim))
        put_lin(w, lp + "attention.output.LayerNorm", r.ln(hdim))
        put_lin(w, lp + "intermediate.dense", r.lin(inter, hdim))
        put_lin(w, lp + "output.dense", r.lin(hdim, inter))
        put_lin(w, lp + "output.LayerNorm", r.ln(hdim))
    if roberta:
        put_lin(w, "lm_head.dense", r.lin(hdim, hdim))
        put_lin(w, "lm_head.layer_norm", r.ln(hdim, head_gamma))
        w["lm_head.bias"] = r.n(vocab, std=0.5, mean=bias_mean)
    else:
        put_lin(w, "cls.predictions.transform.dense", r.lin(hdim, hdim))
        put_lin(w, "cls.predictions.transform.LayerNorm", r.ln(hdim, head_gamma))
        w["cls.predictions.bias"] = r.n(vocab, std=0.5, mean=bias_mean)
    return w


def distilbert_weights(r, c, emb_std, head_gamma, bias_mean):
    hdim, inter, vocab = c["dim"], c["hidden_dim"], c["vocab_size"]
    w = {}
    word = r.n(vocab, hdim, std=emb_std)
    word[c["pad_token_id"]] = 0.0
    p = "distilbert."
    w[p + "embeddings.word_embeddings.weight"] = word
    w[p + "embeddings.position_embeddings.weight"] = r.n(c["max_position_embeddings"], hdim, std=emb_std)
    put_lin(w, p + "embeddings.LayerNorm", r.ln(hdim))
    for i in range(c["n_layers"]):
        lp = f"{p}transformer.layer.{i}."
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            put_lin(w, lp + "attention." + n, r.lin(hdim, hdim))
        put_lin(w, lp + "sa_layer_norm", r.ln(hdim))
        put_lin(w, lp + "ffn.lin1", r.lin(inter, hdim))
        put_lin(w, lp + "ffn.lin2", r.lin(hdim, inter))
        put_lin(w, lp + "output_layer_norm", r.ln(hdim))
    put_lin(w, "vocab_transform", r.lin(hdim, hdim))
    put_lin(w, "vocab_layer_norm", r.ln(hdim, head_gamma))
    w["vocab_projector.bias"] = r.n(vocab, std=0.5, mean=bias_mean)
    return w


# --- configs --------------------------------------------------------------------------


def bert_config(vocab, hdim, layers, heads, inter, max_pos, eps):
    return {
        "architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "classifier_dropout": None,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hdim, "initializer_range": 0.02,
        "intermediate_size": inter, "layer_norm_eps": eps, "max_position_embeddings": max_pos, "model_type": "bert",
        "num_attention_heads": heads, "num_hidden_layers": layers, "pad_token_id": 0,
        "position_embedding_type": "absolute", "torch_dtype": "float32", "transformers_version": "4.46.3",
        "type_vocab_size": 2, "use_cache": True, "vocab_size": vocab,
    }


def distilbert_config(vocab, hdim, layers, heads, inter, max_pos):
    return {
        "activation": "gelu", "architectures": ["DistilBertForMaskedLM"], "attention_dropout": 0.1, "dim": hdim,
        "dropout": 0.1, "hidden_dim": inter, "initializer_range": 0.02, "max_position_embeddings": max_pos,
        "model_type": "distilbert", "n_heads": heads, "n_layers": layers, "pad_token_id": 0,
        "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True,
        "torch_dtype": "float32", "transformers_version": "4.46.3", "vocab_size": vocab,
    }


def roberta_config(arch, model_type, vocab, hdim, layers, heads, inter, max_len, eps):
    return {
        "architectures": [arch], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "classifier_dropout": None,
        "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hdim,
        "initializer_range": 0.02, "intermediate_size": inter, "layer_norm_eps": eps,
        "max_position_embeddings": max_len + 2, "model_type": model_type, "num_attention_heads": heads,
        "num_hidden_layers": layers, "pad_token_id": 1, "position_embedding_type": "absolute",
        "torch_dtype": "float32", "transformers_version": "4.46.3", "type_vocab_size": 1, "use_cache": True,
        "vocab_size": vocab,
    }


# --- fixtures ----------------------------------------------------------------------------


def bias_name(cfg):
    return {"bert": "cls.predictions.bias", "distilbert": "vocab_projector.bias",
            "roberta": "lm_head.bias", "xlm-roberta": "lm_head.bias"}[cfg["model_type"]]


def save_model(d, cfg, w, dtype="F32", extra=None):
    cfg = dict(cfg, torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
    hfref.write_json(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), dict(w, **(extra(w) if extra else {})), dtype)


def settle(d, cfg, w, dtype="F32", extra=None):
    """Save, then nudge decoder biases until no pooled logit is within MARGIN of zero."""
    bname = bias_name(cfg)
    for attempt in range(8):
        save_model(d, cfg, w, dtype, extra)
        model = hfref.Model(d)
        close = set()
        for mode, max_len in hfref.MODES.items():
            tok = hfref.tokenizer_for(d, max_len)
            for text in hfref.TEXTS:
                m = model.logits(tok.encode(text).ids).max(axis=0)
                close.update(np.nonzero(np.abs(m) < MARGIN)[0].tolist())
        if not close:
            return model
        step = 4 * MARGIN if dtype == "F32" else 0.05  # a half-precision bias moves in coarser steps
        w[bname][sorted(close)] += step
    sys.exit(f"{d}: pooled logits still within {MARGIN} of zero after 8 nudges")


def mutation_report(d, model_kw_list):
    base = hfref.compute(d)
    out = []
    for label, kw in model_kw_list:
        doc = hfref.compute(d, model=hfref.Model(d, **kw))
        diff = worst_value_diff(base, doc)
        out.append(f"{label}: {diff}")
    return "; ".join(out)


def worst_value_diff(a, b):
    """Largest |difference| between two references' dense vectors (a missing term counts as its value)."""
    worst = 0.0
    ea, eb = next(iter(a["models"].values())), next(iter(b["models"].values()))
    for mode, m in ea.items():
        for va, vb in zip(m["vectors"], eb[mode]["vectors"]):
            da, db = dict(zip(va["indices"], va["values"])), dict(zip(vb["indices"], vb["values"]))
            for k in set(da) | set(db):
                worst = max(worst, abs(da.get(k, 0.0) - db.get(k, 0.0)))
    return f"{worst:.3g}"


def finish(d, mutations):
    doc = hfref.compute(d)
    hfref.write_json(os.path.join(d, "reference.json"), doc)
    entry = next(iter(doc["models"].values()))
    nnz = [len(v["indices"]) for m in entry.values() for v in m["vectors"]]
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{os.path.relpath(d, ROOT)}: {size // 1024} KiB, vocab {hfref.Model(d).cfg['vocab_size']}, "
          f"terms per vector {min(nnz)}..{max(nnz)}")
    if mutations:
        print("  wrong convention -> max |vector difference|: " + mutation_report(d, mutations))


def gen_bert(out, lines):
    d = os.path.join(out, "hf-bert")
    os.makedirs(d, exist_ok=True)
    tok = wordpiece(lines, 2000, lowercase=True)
    write_tokenizer(d, tok, "BertTokenizer", BERT_SPECIALS, 128, {"do_lower_case": True, "strip_accents": None,
                                                                   "tokenize_chinese_chars": True})
    cfg = bert_config(tok.get_vocab_size(), 32, 2, 2, 64, 128, 1e-12)
    w = bert_like_weights(Rand(101), "bert.", cfg, emb_std=0.02, head_gamma=1.5 / (0.02 * np.sqrt(32)),
                          bias_mean=BIAS_MEAN, roberta=False)
    settle(d, cfg, w)
    finish(d, [("eps 1e-5", dict(eps=1e-5)), ("positions from 2", dict(pos_offset=2)),
               ("no token type", dict(no_token_type=True)), ("tanh gelu", dict(act="gelu_new"))])
    for dtype, name in (("F16", "hf-bert-fp16"), ("BF16", "hf-bert-bf16")):
        dd = os.path.join(out, name)
        os.makedirs(dd, exist_ok=True)
        for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copyfile(os.path.join(d, f), os.path.join(dd, f))
        wh = {k: v.copy() for k, v in w.items()}
        settle(dd, cfg, wh, dtype)
        finish(dd, [])
        print(f"  vs fp32 hf-bert: max |vector difference| "
              f"{worst_value_diff(hfref.compute(d), hfref.compute(dd))} (the rounding of the weights)")


def gen_distilbert(out, lines):
    d = os.path.join(out, "hf-distilbert")
    os.makedirs(d, exist_ok=True)
    tok = wordpiece(lines, 1500, lowercase=False)
    write_tokenizer(d, tok, "DistilBertTokenizer", BERT_SPECIALS, 128,
                    {"do_lower_case": False, "model_input_names": ["input_ids", "attention_mask"]})
    cfg = distilbert_config(tok.get_vocab_size(), 32, 2, 4, 96, 128)
    w = distilbert_weights(Rand(202), cfg, emb_std=0.01, head_gamma=1.5 / (0.01 * np.sqrt(32)), bias_mean=BIAS_MEAN)
    settle(d, cfg, w)
    finish(d, [("eps 1e-5", dict(eps=1e-5)), ("positions from 2", dict(pos_offset=2)),
               ("tanh gelu", dict(act="gelu_new"))])


def gen_roberta(out, lines, name, arch, model_type, tok, tok_class, hdim, heads, inter, eps, emb_std, seed,
                legacy):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_tokenizer(d, tok, tok_class, ROBERTA_SPECIALS, 128,
                    {"add_prefix_space": False, "trim_offsets": True} if model_type == "roberta" else {})
    cfg = roberta_config(arch, model_type, tok.get_vocab_size(), hdim, 2, heads, inter, 128, eps)
    w = bert_like_weights(Rand(seed), "roberta.", cfg, emb_std=emb_std, head_gamma=1.5 / (emb_std * np.sqrt(hdim)),
                          bias_mean=BIAS_MEAN, roberta=True)
    extra = None
    if legacy:  # what pytorch_model.bin conversions of roberta-base carry besides the parameters
        def extra(w):
            return {"lm_head.decoder.weight": w["roberta.embeddings.word_embeddings.weight"],
                    "lm_head.decoder.bias": w["lm_head.bias"],
                    "roberta.embeddings.position_ids": np.arange(cfg["max_position_embeddings"],
                                                                 dtype=np.int64)[None, :]}
    settle(d, cfg, w, extra=extra)
    other = 1e-12 if eps != 1e-12 else 1e-5
    finish(d, [(f"eps {other:g}", dict(eps=other)), ("positions from 0", dict(pos_offset=0)),
               ("no token type", dict(no_token_type=True)), ("tanh gelu in the head", dict(head_act="gelu_new"))])
    return d


def gen_tokenweight(out, xlmr_dir):
    """BGE-M3-style token weights: relu(linear(LayerNorm(emb + pos + masked mean))) per token."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    d = os.path.join(out, "tokenweight-xlmr")
    os.makedirs(d, exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(os.path.join(xlmr_dir, f), os.path.join(d, f))
    vocab = json.load(open(os.path.join(xlmr_dir, "config.json")))["vocab_size"]
    hdim, pad, max_pos, eps = 16, 1, 130, 1e-5
    r = Rand(505)
    wt = {
        "word": r.n(vocab, hdim, std=1.0), "pos": r.n(max_pos, hdim, std=0.5),
        "ln_g": 1.0 + r.n(hdim, std=0.1), "ln_b": r.n(hdim, std=0.1),
        "lin_w": r.n(hdim, 1, std=1.0 / np.sqrt(hdim)), "lin_b": np.array([0.05], np.float32),
    }
    nodes = [
        helper.make_node("Gather", ["word", "input_ids"], ["tok_emb"]),
        helper.make_node("Equal", ["input_ids", "pad_id"], ["is_pad"]),
        helper.make_node("Not", ["is_pad"], ["not_pad"]),
        helper.make_node("Cast", ["not_pad"], ["real"], to=TensorProto.INT64),
        helper.make_node("CumSum", ["real", "axis1"], ["csum"]),
        helper.make_node("Mul", ["csum", "real"], ["csum_real"]),
        helper.make_node("Add", ["csum_real", "pad_id"], ["pos_ids"]),
        helper.make_node("Gather", ["pos", "pos_ids"], ["pos_emb"]),
        helper.make_node("Add", ["tok_emb", "pos_emb"], ["h"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["h", "mask3"], ["hm"]),
        helper.make_node("ReduceSum", ["hm", "axes1"], ["hsum"], keepdims=1),
        helper.make_node("ReduceSum", ["mask3", "axes1"], ["msum"], keepdims=1),
        helper.make_node("Div", ["hsum", "msum"], ["ctx"]),
        helper.make_node("Add", ["h", "ctx"], ["hc"]),
        helper.make_node("LayerNormalization", ["hc", "ln_g", "ln_b"], ["x"], axis=-1, epsilon=eps),
        helper.make_node("MatMul", ["x", "lin_w"], ["xw"]),
        helper.make_node("Add", ["xw", "lin_b"], ["logit"]),
        helper.make_node("Relu", ["logit"], ["sparse_weights"]),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in wt.items()] + [
        numpy_helper.from_array(np.array(pad, np.int64), "pad_id"),
        numpy_helper.from_array(np.array(1, np.int64), "axis1"),
        numpy_helper.from_array(np.array([1], np.int64), "axes1"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
    ]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in ("input_ids", "attention_mask")]
    outs = [helper.make_tensor_value_info("sparse_weights", TensorProto.FLOAT, ["batch", "seq", 1])]
    graph = helper.make_graph(nodes, "tokenweight", ins, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="families.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    hfref.write_json(os.path.join(d, "config.json"), {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "hidden_size": hdim, "pad_token_id": pad,
        "bos_token_id": 0, "eos_token_id": 2, "max_position_embeddings": max_pos, "vocab_size": vocab,
        "note": "test fixture: model.onnx outputs sparse_weights [batch, seq, 1] = relu(linear(hidden)) per token",
    })

    def forward(ids):  # the numpy twin of the graph, one unpadded sequence, float64
        ids = np.asarray(ids, np.int64)
        real = (ids != pad).astype(np.int64)
        h = wt["word"].astype(np.float64)[ids] + wt["pos"].astype(np.float64)[np.cumsum(real) * real + pad]
        x = hfref.layer_norm(h + h.mean(0, keepdims=True), wt["ln_g"], wt["ln_b"], eps)
        return np.maximum(x @ wt["lin_w"].astype(np.float64) + wt["lin_b"], 0.0)[:, 0]

    specials = hfref.special_ids(d)
    doc = {"generator": "tools/genmodel/families.py (tokenweight)", "format": hfref.FORMAT,
           "architecture": "token-weight (BGE-M3 sparse head style)", "output": "sparse_weights",
           "special_ids": sorted(specials), "texts": hfref.TEXTS, "models": {"tokenweight-xlmr": {}}}
    for mode, max_len in hfref.MODES.items():
        tok = hfref.tokenizer_for(d, max_len)
        ids_all, vecs, tws = [], [], []
        for text in hfref.TEXTS:
            ids = tok.encode(text).ids
            tw = forward(ids)
            best = {}
            for i, x in zip(ids, tw):
                if i not in specials and x > 0 and x > best.get(i, 0.0):
                    best[i] = x
            ids_all.append(ids)
            tws.append([round(float(x), 8) for x in tw])
            vecs.append({"indices": sorted(best), "values": [round(float(best[i]), 8) for i in sorted(best)]})
        doc["models"]["tokenweight-xlmr"][mode] = {"max_length": max_len, "token_ids": ids_all, "vectors": vecs,
                                                   "token_weights": tws}
    hfref.write_json(os.path.join(d, "reference.json"), doc)
    nnz = [len(v["indices"]) for m in doc["models"]["tokenweight-xlmr"].values() for v in m["vectors"]]
    print(f"{os.path.relpath(d, ROOT)}: terms per vector {min(nnz)}..{max(nnz)}")
    try:
        import onnxruntime as ort
    except ImportError:
        print("  onnxruntime not installed: graph not cross-checked")
        return
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
    m = doc["models"]["tokenweight-xlmr"]["document"]
    n = max(len(i) for i in m["token_ids"])
    ids = np.full((len(m["token_ids"]), n), pad, np.int64)
    mask = np.zeros_like(ids)
    for b, row in enumerate(m["token_ids"]):
        ids[b, :len(row)], mask[b, :len(row)] = row, 1
    got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    worst = max(float(np.max(np.abs(got[b, :len(row), 0] - np.array(m["token_weights"][b]))))
                for b, row in enumerate(m["token_ids"]))
    print(f"  onnxruntime, padded batch of {len(ids)}: max |token weight - reference| {worst:.3g}")
    if worst > 1e-4:
        sys.exit("token-weight graph disagrees with its numpy twin")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "splade", "testdata", "models"))
    args = ap.parse_args()
    en = man_lines(["en"], 600)
    multi = man_lines(["en"], 150) + man_lines(["de", "fr", "es", "ru", "pl", "ja"], 60)
    print(f"corpus: {len(en)} English man-page lines, {len(multi)} multilingual")
    gen_bert(args.out, en)
    gen_distilbert(args.out, en)
    gen_roberta(args.out, en, "hf-roberta", "RobertaForMaskedLM", "roberta", bytelevel_bpe(en, 1800),
                "RobertaTokenizer", 32, 4, 96, 1e-5, 0.01, 303, legacy=True)
    xd = gen_roberta(args.out, multi, "hf-xlmr", "XLMRobertaForMaskedLM", "xlm-roberta", unigram(multi, 2500),
                     "XLMRobertaTokenizer", 32, 2, 128, 1e-6, 0.005, 404, legacy=False)
    gen_tokenweight(args.out, xd)


if __name__ == "__main__":
    main()
