"""Generated element-wise loops (CPU).

An element-wise computation is given as scalar Python expressions over the
input scalars ``x0, x1, ...`` (for a single op, one expression; for a fused
chain, several statements). This module writes the loop around them:
numpy broadcasting, one flat loop when every operand is either full-size or a
scalar (that loop vectorizes), nested loops otherwise. One generated kernel
serves every call with the same structure, dtypes and broadcast pattern.

Kernel signature (destination-passing): ``kernel(in0, in1, ..., out0, ...)``.
The flat loop sees its (C-contiguous) arrays through ``views.flat`` and reads a
one-element input with ``views.first``: Numba's ``reshape`` made up about 40%
of a small kernel's compile time.

Tiny outputs (at most ``TINY_ELEMENTS`` elements: the scalar arithmetic of a
learning-rate schedule, of dropout's keep probability, shape vectors) are not
worth a compile (0.1-0.3 s each): their kernel first runs its own source as
Python, on numpy scalars, and is compiled (or loaded from the disk cache) only
once it has been called ``COMPILE_AFTER_CALLS`` times (see ``TieredKernel``).
Only kernels whose results are bit-identical either way run as Python:
arithmetic, comparisons, selects, casts and the correctly rounded functions
(``_PY_SAFE``), no transcendentals (numpy's and Numba's may differ in the last
bit), no fused reductions (the compiled loop may reassociate the sum).
"""
import os
import re
import threading
import types

import numpy as np

from nbflow.kernels.cpu import views
from nbflow.kernels.cpu.threads import cooperate
from nbflow.kernels.cpu.codegen import load_generated

#: outputs of at most this many elements run as Python until ``COMPILE_AFTER_CALLS``
TINY_ELEMENTS = 16
#: calls of a tiny kernel (all its uses together) after which it is compiled: at a
#: few microseconds of Python per call, about what compiling it costs once
COMPILE_AFTER_CALLS = 10000

#: outputs of at least this many elements use the parallel variant of their
#: kernel (its flat loop, or a broadcasting kernel's first dimension, split into one
#: contiguous block per thread, ``prange``) when more than one thread is allowed.
#: Measured on the 2-core development machine under the TBB threading layer
#: (session 14; serial vs 2-thread time of the memory-bound chain
#: ``(relu(x*1.5-0.25)*y - z)**2`` on float32, the cheapest kind of kernel):
#: 64K elements 7.8 vs 12.8 us, 128K 19 vs 18 us, 256K 40 vs 31 us, 512K 67 vs
#: 57 us, 1M 132 vs 81 us. A parallel variant is a second kernel to compile,
#: 0.3-0.6 s cold, paid once per machine (loading it from the cache adds nothing
#: measurable to a process's first run: 203-216 vs 221-248 ms). The threshold is
#: 512K. 256K was tried: LeNet's 64x14x14x32 ReluGrad took 56 us split instead of
#: 107, but the README's MNIST command, cold, compiled parallel variants for its
#: evaluation batches (1000x512 = 512,000 elements) and took 9.2-9.4 s instead of
#: 8.3-8.6 s. Its 128x512 training groups stay serial either way. Until session 14
#: the threshold was 1M (chosen when loading a cached variant still cost ~50 ms),
#: which left the 1M-element kernel benchmarks on one core.
#: Override: ``NBFLOW_PARALLEL_MIN_ELEMENTS``.
PARALLEL_MIN_ELEMENTS = 1 << 19


def parallel_min_elements():
    """The parallel threshold in elements (``NBFLOW_PARALLEL_MIN_ELEMENTS`` overrides it)."""
    v = os.environ.get("NBFLOW_PARALLEL_MIN_ELEMENTS")
    return int(v) if v else PARALLEL_MIN_ELEMENTS


def thread_count(requested=None):
    """Threads a parallel kernel splits its loop over: ``requested`` (a
    session's ``intra_op_parallelism_threads``; 0 or None: all), capped by
    Numba's thread count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``)."""
    import numba

    n = numba.get_num_threads()
    return min(requested, n) if requested else n


_kernels = {}
_tiered = {}
_paths = {}


def source_path(kernel):
    """The file holding a generated kernel's source (for explain())."""
    return getattr(kernel, "source_path", None) or _paths.get(id(kernel))


def call_cell(kernel):
    """What a binder calls each step: ``cell[0]`` is the kernel (or, for a tiny
    kernel, its Python run until it is compiled, then the dispatcher itself)."""
    return kernel.cell if isinstance(kernel, TieredKernel) else (kernel,)


class TieredKernel:
    """A tiny generated kernel: runs as Python until it has been called
    ``COMPILE_AFTER_CALLS`` times, then as the compiled kernel.

    Called like the kernel; a binder that calls it every step calls
    ``cell[0]`` instead, which is the compiled dispatcher itself once it is
    hot (no Python call in between). Python runs of the same source give the
    same bits (``_py_safe`` admits only such kernels). One instance per
    generated kernel, shared by every tiny use of it, so the calls are
    counted together."""

    __slots__ = ("dispatcher", "python", "calls", "cell")

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        f = dispatcher.py_func
        # the same code over the module's globals, with Python versions of the views
        self.python = types.FunctionType(f.__code__, dict(f.__globals__, **views.PYTHON), f.__name__,
                                         f.__defaults__, f.__closure__)
        self.calls = 0
        self.cell = [self._python]

    def __call__(self, *args):
        return self.cell[0](*args)

    @property
    def compiled(self):
        return self.cell[0] is self.dispatcher

    def _python(self, *args):
        self.calls += 1
        if self.calls <= COMPILE_AFTER_CALLS:
            try:
                # numpy would warn where the compiled kernel (error_model='numpy')
                # silently gives inf, NaN or a wrapped integer
                with np.errstate(all="ignore"):
                    return self.python(*args)
            except Exception:
                pass  # numpy refused what Numba computes (an integer to a negative power): compile
        self.cell[0] = self.dispatcher
        return self.dispatcher(*args)


# np.<name> allowed in a kernel that runs as Python: dtype constructors and
# functions that are exact (or correctly rounded) in numpy and Numba alike.
_PY_SAFE = frozenset([
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
    "floor", "ceil", "trunc", "rint", "sqrt", "isnan", "isinf", "isfinite", "nan", "inf",
])
_ATTR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b")


def _py_safe(statements, outputs, in_dtypes, out_dtypes, sums):
    """Whether the kernel's Python run gives the same results as its compiled run."""
    if sums:
        return False
    text = " ".join(list(statements) + list(outputs))
    for mod, name in _ATTR.findall(text):
        if mod != "np" or name not in _PY_SAFE:
            return False  # fastmath.*, math.*, np.exp ...
    return all(np.dtype(d).kind in "biuf" for d in list(in_dtypes) + list(out_dtypes))


def broadcast_shape(shapes):
    """numpy's broadcast of concrete shapes; raises ValueError if incompatible."""
    return tuple(np.broadcast_shapes(*shapes))


def _pattern(in_shape, out_shape):
    """Per input: 'scalar', 'full', or a tuple of per-dim broadcast flags."""
    size = 1
    for d in in_shape:
        size *= d
    # "full" first: when the iteration space itself has one element, a
    # reduction-only kernel still needs a full-size input to bound its loop.
    if tuple(in_shape) == tuple(out_shape):
        return "full"
    if size == 1:
        return "scalar"
    return tuple(d == 1 and o != 1 for d, o in zip(in_shape, out_shape[len(out_shape) - len(in_shape):]))


def _np_name(dtype):
    return "np." + np.dtype(dtype).name if np.dtype(dtype) != np.bool_ else "np.bool_"


def generate_source(statements, outputs, in_dtypes, patterns, out_dtypes, out_ndim, sums=(), parallel=False):
    """Source of one kernel. ``statements``: lines over x0..xn defining temps;
    ``outputs``: one expression per output; ``sums``: (expression, dtype, mean?)
    per full reduction computed in the same loop (flat kernels only).

    ``parallel``: the kernel takes one more argument, the number of blocks
    ``nt``, and runs ``prange(nt)`` over contiguous blocks of the flat loop, or
    of a broadcasting kernel's outermost dimension (each block's inner loops
    are the serial ones, which vectorize).

    Float sums are blocked, as kernels/cpu/reduce.py ``sum_run``: the loop runs
    over chunks of ``SUM_CHUNK`` elements (sliced views), each chunk summed in
    the sum's dtype (reassociated: vectorized), the chunk sums added in float64
    (a ``prange`` reduction when parallel; the blocks are whole chunks)."""
    n_in, n_out = len(in_dtypes), len(out_dtypes)
    args = ["in%d" % i for i in range(n_in)] + ["out%d" % i for i in range(n_out)] + \
        ["red%d" % i for i in range(len(sums))]
    flat = all(p in ("scalar", "full") for p in patterns)
    if sums and not flat:
        raise ValueError("fused reductions need a flat kernel")
    if parallel and not flat and out_ndim == 0:
        raise ValueError("a parallel broadcasting kernel needs a dimension to split")
    if parallel:
        args.append("nt")
    # Reassociation lets the reduction loop vectorize (several partial sums).
    flags = ", fastmath={'reassoc', 'nsz'}" if sums else ""
    if parallel:
        flags += ", parallel=True"
    lines = [
        "import math",
        "import numpy as np",
    ] + (["from numba import prange"] if parallel else []) + [
        "from nbflow.kernels.jit import njit",
        "from nbflow.kernels.cpu import fastmath",
        "from nbflow.kernels.cpu.views import first, flat",
    ] + (["from nbflow.kernels.cpu.reduce import SUM_CHUNK"] if sums else []) + [
        "",
        "",
        "@njit(cache=True, error_model='numpy'%s)" % flags,
        "def kernel(%s):" % ", ".join(args),
    ]
    body = []
    if flat:
        for i, p in enumerate(patterns):
            if p == "scalar":
                lines.append("    x%d = first(in%d)" % (i, i))
            else:
                lines.append("    a%d = flat(in%d)" % (i, i))
        for j in range(n_out):
            lines.append("    o%d = flat(out%d)" % (j, j))
        for j, (_, dt, _) in enumerate(sums):
            # float sums are blocked: chunks of SUM_CHUNK in the dtype, their sums in float64
            lines.append("    r%d = %s" % (j, "0.0" if np.dtype(dt).kind == "f" else "%s(0)" % _np_name(dt)))
        if n_out:
            bound = "o0.shape[0]"
        else:
            full = [i for i, p in enumerate(patterns) if p == "full"]
            if not full:
                raise ValueError("a reduction-only kernel needs a full-size input")
            bound = "a%d.shape[0]" % full[0]
        lines.append("    n = %s" % bound)
        indent = "    "
        lo, hi = "0", "n"
        if parallel:
            lines.append("    for c in prange(nt):")
            if sums:  # blocks of whole chunks: the serial kernel's chunks
                lines.append("        units = (n + SUM_CHUNK - 1) // SUM_CHUNK")
                lines.append("        lo = min(n, units * c // nt * SUM_CHUNK)")
                lines.append("        hi = min(n, units * (c + 1) // nt * SUM_CHUNK)")
            else:
                lines.append("        lo = n * c // nt")
                lines.append("        hi = n * (c + 1) // nt")
            indent = "        "
            lo, hi = "lo", "hi"
        if sums:
            lines.append(indent + "for k in range(%s, %s, SUM_CHUNK):" % (lo, hi))
            indent += "    "
            lines.append(indent + "m = min(SUM_CHUNK, %s - k)" % hi)
            lo, hi = "k", "k + m"
            for j, (_, dt, _) in enumerate(sums):
                lines.append(indent + "p%d = %s(0)" % (j, _np_name(dt)))
        if parallel or sums:
            # Sliced views, indexed from 0: indexing the whole arrays from
            # ``lo`` kept the loop from vectorizing (2.5x slower than serial).
            for i, p in enumerate(patterns):
                if p == "full":
                    lines.append(indent + "b%d = a%d[%s:%s]" % (i, i, lo, hi))
            for j in range(n_out):
                lines.append(indent + "q%d = o%d[%s:%s]" % (j, j, lo, hi))
            lines.append(indent + ("for i in range(m):" if sums else "for i in range(%s - %s):" % (hi, lo)))
            src, dst = "b", "q"
        else:
            lines.append(indent + "for i in range(n):")
            src, dst = "a", "o"
        indent += "    "
        acc = "p"
        for i, p in enumerate(patterns):
            if p == "full":
                body.append("x%d = %s%d[i]" % (i, src, i))
        store = ["%s%d[i] = %s" % (dst, j, "y%d" % j) for j in range(n_out)]
        store += ["%s%d += %s" % (acc, j, e) for j, (e, _, _) in enumerate(sums)]
    else:
        for i, p in enumerate(patterns):
            if p == "scalar":
                lines.append("    x%d = first(in%d)" % (i, i))
        nest = 1
        if parallel:  # blocks of the outermost dimension
            lines.append("    for c in prange(nt):")
            lines.append("        for i0 in range(out0.shape[0] * c // nt, out0.shape[0] * (c + 1) // nt):")
            nest = 2
        for d in range(1 if parallel else 0, out_ndim):
            lines.append("    " * (d + nest) + "for i%d in range(out0.shape[%d]):" % (d, d))
        indent = "    " * (out_ndim + nest)
        idx_out = ", ".join("i%d" % d for d in range(out_ndim))
        for i, p in enumerate(patterns):
            if p == "scalar":
                continue
            if p == "full":
                body.append("x%d = in%d[%s]" % (i, i, idx_out))
                continue
            offset = out_ndim - len(p)
            idx = ", ".join("0" if b else "i%d" % (offset + k) for k, b in enumerate(p))
            body.append("x%d = in%d[%s]" % (i, i, idx))
        store = ["out%d[%s] = y%d" % (j, idx_out, j) for j in range(n_out)]
    body += list(statements)
    body += ["y%d = %s(%s)" % (j, _np_name(out_dtypes[j]), e) for j, e in enumerate(outputs)]
    body += store
    lines += [indent + b for b in body]
    if sums:
        # after the chunk's loop: its sums into the totals (a prange reduction when parallel)
        ind = "            " if parallel else "        "
        lines += [ind + "r%d += p%d" % (j, j) for j in range(len(sums))]
    for j, (_, dt, mean) in enumerate(sums):
        value = "%s(r%d)" % (_np_name(dt), j)
        if mean:
            value = "%s(r%d / n) if n else %s(np.nan)" % (_np_name(dt), j, _np_name(dt))
        lines.append("    flat(red%d)[0] = %s" % (j, value))
    return "\n".join(lines) + "\n"


def get_kernel(statements, outputs, in_dtypes, in_shapes, out_dtypes, out_shape=None, sums=(), threads=1):
    """Return ``(kernel, out_shape)`` for concrete input shapes.

    ``out_shape`` defaults to the inputs' broadcast shape; a larger shape the
    inputs broadcast to may be given (that is ``broadcast_to``). ``sums``:
    (expression, dtype, is_mean) of full reductions done in the same loop.

    ``threads``: how many threads the kernel may use (1: serial; 0 or None:
    all of Numba's). With more than one, a flat kernel whose iteration space
    has at least ``parallel_min_elements()`` elements is the parallel variant
    (compiled only then, cached in its own generated file), called through a
    closure that passes its block count."""
    if out_shape is None:
        out_shape = broadcast_shape(in_shapes) if in_shapes else ()
    out_shape = tuple(out_shape)
    patterns = tuple(_pattern(s, out_shape) for s in in_shapes)
    sums = tuple((e, np.dtype(d).str, bool(m)) for e, d, m in sums)
    key = (tuple(statements), tuple(outputs), tuple(np.dtype(d).str for d in in_dtypes), patterns,
           tuple(np.dtype(d).str for d in out_dtypes), len(out_shape), sums)
    nt = thread_count(threads) if threads != 1 else 1
    size = _size(out_shape) if out_shape else max((_size(s) for s in in_shapes), default=1)
    if nt > 1 and size >= parallel_min_elements():
        if not all(p in ("scalar", "full") for p in patterns):
            nt = min(nt, out_shape[0]) if out_shape else 1  # a broadcasting kernel splits its first dimension
        if nt > 1:
            return _parallel_kernel(key, statements, outputs, in_dtypes, patterns, out_dtypes, out_shape, sums,
                                    nt), out_shape
    k = _serial_kernel(key, statements, outputs, in_dtypes, patterns, out_dtypes, out_shape, sums)
    if _size(out_shape) <= TINY_ELEMENTS:
        t = _tiered.get(key)
        if t is None:
            t = TieredKernel(k) if _py_safe(statements, outputs, in_dtypes, out_dtypes, sums) else False
            _tiered[key] = t
            if t:
                _paths[id(t)] = _paths[id(k)]
        if t:
            return t, out_shape
    return k, out_shape


def _serial_kernel(key, statements, outputs, in_dtypes, patterns, out_dtypes, out_shape, sums):
    k = _kernels.get(key)
    if k is None:
        src = generate_source(statements, outputs, in_dtypes, patterns, out_dtypes, len(out_shape), sums)
        mod = load_generated(src, "ew")
        k = mod.kernel
        _kernels[key] = k
        _paths[id(k)] = mod.__file__
    return k


_parallel = {}
_launch = threading.Lock()


def _parallel_kernel(key, statements, outputs, in_dtypes, patterns, out_dtypes, out_shape, sums, nt):
    """The parallel variant of a kernel, bound to ``nt`` blocks."""
    k = _parallel.get(key)
    if k is None:
        src = generate_source(statements, outputs, in_dtypes, patterns, out_dtypes, len(out_shape), sums,
                              parallel=True)
        mod = load_generated(src, "ewp")
        k = mod.kernel
        _parallel[key] = k
        _paths[id(k)] = mod.__file__

    serial = _serial_kernel(key, statements, outputs, in_dtypes, patterns, out_dtypes, out_shape, sums)
    cooperate()  # BLAS single-threaded from now on (kernels/cpu/threads.py)
    acquire, release = _launch.acquire, _launch.release

    def parallel_kernel(*args):
        # Numba's workqueue layer aborts the process when two threads launch
        # parallel kernels at once: a kernel called while another thread's
        # parallel kernel runs (a tf.data/prefetch thread) runs serially.
        if acquire(False):
            try:
                return k(*args, nt)
            finally:
                release()
        return serial(*args)
    parallel_kernel.parallel_threads = nt
    parallel_kernel.source_path = _paths[id(k)]
    return parallel_kernel


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n
