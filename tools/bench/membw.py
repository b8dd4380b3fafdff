#!/usr/bin/env python3
"""Memory read bandwidth, one core alone and two cores at once, and how many
bytes of weights a model's forward pass reads: the figures behind
docs/benchmarks-history.md's "The limit at one client" (a [1, ~10]-token query pass
streams its model's weights rather than computing).

  OPENBLAS_NUM_THREADS=1 .deps/venv/bin/python tools/bench/membw.py .deps/models/minilm-l6 .deps/models/splade-mini
"""
import multiprocessing as mp
import sys
import time

import numpy as np


def read_gbps(barrier=None, out=None):
    a = np.ones(256 << 18, np.float32)  # 256 MB, far beyond the caches
    for _ in range(2):
        a.sum()
    if barrier is not None:
        barrier.wait()  # both readers start timing together
    t = time.perf_counter()
    for _ in range(10):
        a.sum()
    g = 10 * a.nbytes / (time.perf_counter() - t) / 1e9
    if out is not None:
        out.put(g)
    return g


def weights(model_dir):
    import onnx
    total = emb = 0
    for i in onnx.load(f"{model_dir}/model.onnx").graph.initializer:
        n = int(np.prod(i.dims)) * 4
        total += n
        if "word" in i.name or "embeddings" in i.name:
            emb += n
    return total, emb


if __name__ == "__main__":
    print(f"one core reading alone: {read_gbps():.1f} GB/s")
    barrier, out = mp.Barrier(2), mp.Queue()
    procs = [mp.Process(target=read_gbps, args=(barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    both = [out.get() for _ in procs]
    for p in procs:
        p.join()
    print("two cores reading at once: " + ", ".join(f"{g:.1f}" for g in both) + " GB/s each")
    for d in sys.argv[1:]:
        total, emb = weights(d)
        print(f"{d}: {total / 1e6:.1f} MB of fp32 weights, {emb / 1e6:.1f} MB in embedding-named tensors")
