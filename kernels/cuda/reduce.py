"""CUDA reductions (Sum, Mean, Max, Min, Prod, EuclideanNorm; All and Any of booleans)
over any axes: a shared-memory tree;
ArgMax/ArgMin along one axis: one thread per output (``arg_reduce``); Cumsum/Cumprod:
one thread per line (``scan``).

One block per output element (grid-stride over outputs): its threads stride
over the reduced elements, combine into a shared array of ``THREADS``
partial results, and halve it in log2(THREADS) barrier-separated steps. The
input's index is computed from the output index and the reduced index through
the kept and reduced dims and strides (small int64 device arrays), so one
kernel per (reduction, dtype) serves every shape and axis set.
"""
import numpy as np
from numba import cuda

from nbflow.kernels.cpu.codegen import load_generated
from nbflow.kernels.cuda.launch import MAX_BLOCKS, THREADS

_COMBINE = {
    "sum": "a + b", "mean": "a + b", "prod": "a * b",
    "max": "a if (a >= b) | (a != a) else b", "min": "a if (a <= b) | (a != a) else b",
    "euclidean": "a + b", "all": "a & b", "any": "a | b",
}
#: how a thread folds an input element ``b`` into its partial ``a`` (default: the tree's combine)
_ACCUMULATE = {"euclidean": "a + b * b"}
_kernels = {}

_TEMPLATE = '''import math
import numpy as np
from numba import cuda

THREADS = {threads}


@cuda.jit
def kernel(x, out, n_out, count, kdims, kstrides, rdims, rstrides):
    partial = cuda.shared.array(THREADS, dtype=np.{dtype})
    tid = cuda.threadIdx.x
    o = cuda.blockIdx.x
    while o < n_out:
        base = 0
        r = o
        for d in range(kdims.shape[0] - 1, -1, -1):
            base += (r % kdims[d]) * kstrides[d]
            r = r // kdims[d]
        a = {init}
        k = tid
        while k < count:
            off = base
            r = k
            for d in range(rdims.shape[0] - 1, -1, -1):
                off += (r % rdims[d]) * rstrides[d]
                r = r // rdims[d]
            b = x[off]
            a = {accumulate}
            k += THREADS
        partial[tid] = a
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                a = partial[tid]
                b = partial[tid + s]
                partial[tid] = {combine}
            cuda.syncthreads()
            s = s // 2
        if tid == 0:
            out[o] = {final}
        cuda.syncthreads()
        o += cuda.gridDim.x
'''


def _init(kind, dtype):
    T = "np." + np.dtype(dtype).name
    if kind in ("all", "any"):
        return "True" if kind == "all" else "False"
    if kind in ("sum", "mean", "euclidean"):
        return "%s(0)" % T
    if kind == "prod":
        return "%s(1)" % T
    if np.dtype(dtype).kind == "f":
        return "%s(-np.inf)" % T if kind == "max" else "%s(np.inf)" % T
    info = np.iinfo(dtype)
    return "%s(%d)" % (T, info.min if kind == "max" else info.max)


def generate_source(kind, dtype):
    T = "np." + np.dtype(dtype).name
    final = {"mean": "%s(partial[0] / %s(count))" % (T, T),
             "euclidean": "%s(math.sqrt(partial[0]))" % T}.get(kind, "partial[0]")
    shared = "bool_" if np.dtype(dtype) == np.bool_ else np.dtype(dtype).name
    return _TEMPLATE.format(threads=THREADS, dtype=shared, init=_init(kind, dtype), combine=_COMBINE[kind],
                            accumulate=_ACCUMULATE.get(kind, _COMBINE[kind]), final=final)


def get_kernel(kind, dtype):
    key = (kind, np.dtype(dtype).str)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = load_generated(generate_source(kind, dtype), "cuda_red").kernel
    return k


def plan(in_shape, axes):
    """(n_out, count, kdims, kstrides, rdims, rstrides) as numpy arrays (at least one entry each)."""
    nd = len(in_shape)
    axes = sorted({int(a) % nd for a in axes}) if nd else []
    strides, acc = [0] * nd, 1
    for k in range(nd - 1, -1, -1):
        strides[k] = acc
        acc *= in_shape[k]
    kept = [k for k in range(nd) if k not in axes]
    kd = [in_shape[k] for k in kept] or [1]
    ks = [strides[k] for k in kept] or [0]
    rd = [in_shape[k] for k in axes] or [1]
    rs = [strides[k] for k in axes] or [0]
    n_out = int(np.prod(kd, dtype=np.int64))
    count = int(np.prod(rd, dtype=np.int64))
    as64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return n_out, count, as64(kd), as64(ks), as64(rd), as64(rs)


def blocks_for(n_out):
    return max(1, min(n_out, MAX_BLOCKS * (64 if THREADS > 32 else 1)))


@cuda.jit
def arg_reduce(x, out, r, n, total, is_min):
    """ArgMax / ArgMin along the middle axis of an (outer, r, n) array, one thread per output:
    the first extreme element; a NaN counts as the extreme (the first NaN wins), as the CPU."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < total:
        base = (t // n) * r * n + t % n
        best = x[base]
        k = 0
        if best == best:
            for b in range(1, r):
                v = x[base + b * n]
                if v != v or (v < best if is_min else v > best):
                    best = v
                    k = b
                    if v != v:
                        break
        out[t] = k
        t += step


@cuda.jit
def scan(x, out, r, n, total, exclusive, reverse, prod, identity):
    """Cumsum / Cumprod along the middle axis of an (outer, r, n) array, one thread per line,
    in the CPU's order (kernels/cpu/scan.py): ``identity`` holds 0 or 1 of the dtype."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < total:
        base = (t // n) * r * n + t % n
        acc = identity[0]
        for s in range(r):
            b = base + (r - 1 - s if reverse else s) * n
            v = x[b]
            if exclusive:
                out[b] = acc
            acc = acc * v if prod else acc + v
            if not exclusive:
                out[b] = acc
        t += step
