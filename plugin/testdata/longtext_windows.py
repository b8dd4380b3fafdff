"""Writes longtext_windows.json: the token windows long_text "max" must
encode, cut by the Python `tokenizers` package (Hugging Face's own), not by
spladeq's Chunks, so a windowing bug in Go cannot cancel out in
plugin/longtext_test.go.

A window is at most `size` tokens (no special tokens), consecutive windows
share `overlap` tokens, and each is the original text between its first
token's start and its last token's end. Run from the repository root:

    .deps/venv/bin/python plugin/testdata/longtext_windows.py
"""
import json
import os

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZERS = {
    "sparse": os.path.join(HERE, "..", "..", "splade", "testdata", "models", "bert-tiny", "tokenizer.json"),
    "dense": os.path.join(HERE, "models", "dense-tiny", "tokenizer.json"),
}
TEXTS = {
    # Its last words appear in no earlier window.
    "english": "The quick brown fox jumps over the lazy dog near the river bank. "
    "Later that evening the farmer counted his sheep twice and went to sleep. "
    "Zebras graze quietly on distant savannah plains.",
    # Multi-byte characters (offsets are bytes in Go, characters here) and
    # words split into several word pieces.
    "accents": "Crème brûlée and naïve café façades: the übermäßig long résumé of "
    "Zoë Ångström, written in Düsseldorf, ends with a smörgåsbord finale.",
}
# (size, overlap) as long_text "max" sets them for max_length 8 and 5 with
# ingest.chunk_overlap 2: the overlap is at most half the window.
CASES = [(6, 2), (3, 1)]


def windows(tok, text, size, overlap):
    enc = tok.encode(text, add_special_tokens=False)
    offsets = enc.offsets
    if len(offsets) <= size:
        return [text]
    out, start = [], 0
    while True:
        end = min(start + size, len(offsets))
        out.append(text[offsets[start][0]:offsets[end - 1][1]])
        if end == len(offsets):
            return out
        start += size - overlap


def main():
    cases = []
    for vec, path in TOKENIZERS.items():
        tok = Tokenizer.from_file(path)
        tok.no_truncation()
        tok.no_padding()
        for name, text in TEXTS.items():
            for size, overlap in CASES:
                cases.append({"vectorizer": vec, "text_name": name, "text": text, "size": size, "overlap": overlap,
                              "windows": windows(tok, text, size, overlap)})
    with open(os.path.join(HERE, "longtext_windows.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "plugin/testdata/longtext_windows.py", "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
