#!/usr/bin/env python3
"""Time Python fastembed's SparseTextEmbedding on a local SPLADE model directory.

  HF_HUB_OFFLINE=1 python3 tools/bench/fastembed_splade.py DIR CORPUS.jsonl [--texts 128] [--threads 2] [--iterations 5]

fastembed loads the directory through its SPLADE++ model class
(specific_model_path), so no hub is contacted; it needs model.onnx,
tokenizer.json, config.json, tokenizer_config.json and special_tokens_map.json.
Compare with, on the same texts and threads, in the same sitting:

  bin/spladeq bench --model DIR --corpus CORPUS.jsonl --texts 128 --threads 2 --iterations 5 --docs 0

Requirements: pip install fastembed (0.9.1 was used).
"""
import argparse
import json
import time

from fastembed import SparseTextEmbedding


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("corpus")
    ap.add_argument("--texts", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    texts = [json.loads(line)["text"] for line in open(args.corpus)][: args.texts]
    model = SparseTextEmbedding("prithivida/Splade_PP_en_v1", specific_model_path=args.dir, threads=args.threads)
    list(model.embed(texts, batch_size=args.batch_size))  # warm-up
    start = time.perf_counter()
    for _ in range(args.iterations):
        list(model.embed(texts, batch_size=args.batch_size))
    elapsed = time.perf_counter() - start
    print(f"fastembed SparseTextEmbedding: {args.iterations * len(texts) / elapsed:.1f} docs/s "
          f"({len(texts)} texts x {args.iterations}, batch {args.batch_size}, {args.threads} threads)")


if __name__ == "__main__":
    main()
