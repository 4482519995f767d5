"""STREAM-style memory bandwidth probe: the machine's limit the other rates are read against.

The four STREAM kernels on float32 arrays larger than the last-level cache
(bytes counted as STREAM does: copy and scale move 2 arrays, add and triad
3 -- numpy's triad really makes two passes, which is part of what it costs):

    copy   a = b          scale  a = q*b
    add    a = b + c      triad  a = b + q*c

Implementations: numpy with ``out=`` (no temporaries), a serial ``@njit``
loop, a ``parallel=True`` ``@njit`` loop (``prange``; all cores), PyTorch.
"""
import numpy as np
from numba import njit, prange

from benchmarks.harness import Case, Impl, torch_or_skip

Q = 3.0


@njit(cache=True)
def copy_loop(b, a):
    for i in range(a.size):
        a[i] = b[i]


@njit(cache=True)
def scale_loop(b, q, a):
    for i in range(a.size):
        a[i] = q * b[i]


@njit(cache=True)
def add_loop(b, c, a):
    for i in range(a.size):
        a[i] = b[i] + c[i]


@njit(cache=True)
def triad_loop(b, c, q, a):
    for i in range(a.size):
        a[i] = b[i] + q * c[i]


@njit(cache=True, parallel=True)
def copy_par(b, a):
    for i in prange(a.size):
        a[i] = b[i]


@njit(cache=True, parallel=True)
def scale_par(b, q, a):
    for i in prange(a.size):
        a[i] = q * b[i]


@njit(cache=True, parallel=True)
def add_par(b, c, a):
    for i in prange(a.size):
        a[i] = b[i] + c[i]


@njit(cache=True, parallel=True)
def triad_par(b, c, q, a):
    for i in prange(a.size):
        a[i] = b[i] + q * c[i]


def cases(quick):
    n = 1 << 16 if quick else 1 << 24  # 64 MiB per array (the L3 cache here is 32 MiB)
    store = {}

    def arrays():
        if not store:
            rng = np.random.default_rng(1)
            store["v"] = (np.zeros(n, np.float32), rng.standard_normal(n, dtype=np.float32),
                          rng.standard_normal(n, dtype=np.float32))
        return store["v"]

    q = np.float32(Q)

    def numpy_impl(kind):
        def setup():
            a, b, c = arrays()
            if kind == "copy":
                def step():
                    np.copyto(a, b)
                    return a
            elif kind == "scale":
                def step():
                    np.multiply(b, q, out=a)
                    return a
            elif kind == "add":
                def step():
                    np.add(b, c, out=a)
                    return a
            else:
                def step():
                    np.multiply(c, q, out=a)
                    np.add(a, b, out=a)
                    return a
            return step
        return setup

    def njit_impl(kind, parallel):
        fns = {"copy": (copy_loop, copy_par), "scale": (scale_loop, scale_par),
               "add": (add_loop, add_par), "triad": (triad_loop, triad_par)}
        fn = fns[kind][1 if parallel else 0]

        def setup():
            a, b, c = arrays()
            args = {"copy": (b, a), "scale": (b, q, a), "add": (b, c, a), "triad": (b, c, q, a)}[kind]

            def step():
                fn(*args)
                return a
            return step
        return setup

    def torch_impl(kind):
        def setup():
            torch = torch_or_skip()
            a, b, c = (torch.from_numpy(v) for v in arrays())
            if kind == "copy":
                def step():
                    return a.copy_(b)
            elif kind == "scale":
                def step():
                    return torch.mul(b, Q, out=a)
            elif kind == "add":
                def step():
                    return torch.add(b, c, out=a)
            else:
                def step():
                    return torch.add(b, c, alpha=Q, out=a)
            return step
        return setup

    out = []
    for kind, n_arrays in (("copy", 2), ("scale", 2), ("add", 3), ("triad", 3)):
        out.append(Case(
            "stream/" + kind, "stream", "STREAM %s on %d float32 (%d MiB per array)" % (kind, n, 4 * n >> 20),
            [Impl("numpy", numpy_impl(kind)), Impl("njit-loop", njit_impl(kind, False)),
             Impl("njit-parallel", njit_impl(kind, True)), Impl("torch", torch_impl(kind))],
            unit="GB/s", work=n_arrays * 4 * n / 1e9, baselines=("numpy", "torch"), reference="numpy",
            rtol=1e-6, atol=1e-6))
    return out
