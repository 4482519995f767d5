"""CUDA checks and per-row tests: CheckNumerics' non-finite flags, InTopKV2.

``nonfinite_flags`` is a grid-stride scan setting ``flags[0]`` (a NaN was seen)
and ``flags[1]`` (an infinity): every writer stores the same 1, so plain
stores suffice (no atomics); ``clear_flags`` zeroes them first. ``in_top_k``
is one thread per row, the CPU's rule (kernels/cpu/nn.py): ties count for the
target, an out-of-range target or a non-finite value in the row gives False.
"""
import math

from numba import cuda


@cuda.jit
def clear_flags(flags):
    if cuda.grid(1) < flags.shape[0]:
        flags[cuda.grid(1)] = 0


@cuda.jit
def nonfinite_flags(x, n, flags):
    i = cuda.grid(1)
    nan = 0
    inf = 0
    while i < n:
        v = x[i]
        if math.isnan(v):
            nan = 1
        elif math.isinf(v):
            inf = 1
        i += cuda.gridsize(1)
    if nan:
        flags[0] = 1
    if inf:
        flags[1] = 1


@cuda.jit
def in_top_k(pred, targets, k, rows, n, out):
    """out[r] = whether pred[r, targets[r]] is among the k[0] largest of row r."""
    r = cuda.grid(1)
    kk = k[0]
    while r < rows:
        t = targets[r]
        ok = t >= 0 and t < n
        if ok:
            tv = pred[r * n + t]
            ok = not (math.isnan(tv) or math.isinf(tv))
            more = 0
            j = 0
            while ok and j < n:
                v = pred[r * n + j]
                if math.isnan(v) or math.isinf(v):
                    ok = False
                elif v > tv:
                    more += 1
                j += 1
            ok = ok and more < kk
        out[r] = ok
        r += cuda.gridsize(1)
