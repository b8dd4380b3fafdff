#!/usr/bin/env python3
"""This machine's fp32 GEMM ceilings, for the limit analysis in docs/benchmarks-history.md.

Prints GFLOP/s of a square sgemm (2048^3) and of a SPLADE-head-shaped GEMM
([1024, 128] x [128, 30522]: 1024 tokens through a hidden-128 model's
vocabulary projection). Run with the venv make models creates, with
OpenBLAS's core-type overrides unset (they slow a current numpy):

  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .deps/venv/bin/python tools/bench/gemm_ceiling.py
"""
import time

import numpy as np


def gflops(a, b, n=10):
    a @ b  # warm-up
    t = time.time()
    for _ in range(n):
        a @ b
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] * n / (time.time() - t) / 1e9


def rand(*shape):
    return np.random.rand(*shape).astype(np.float32)


if __name__ == "__main__":
    print(f"square sgemm 2048^3: {gflops(rand(2048, 2048), rand(2048, 2048)):.0f} GFLOP/s")
    print(f"head-shaped [1024,128]x[128,30522]: {gflops(rand(1024, 128), rand(128, 30522)):.0f} GFLOP/s")
