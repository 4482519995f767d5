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
import re
import types

import numpy as np

from nbflow.kernels.cpu import views
from nbflow.kernels.cpu.codegen import load_generated

#: outputs of at most this many elements run as Python until ``COMPILE_AFTER_CALLS``
TINY_ELEMENTS = 16
#: calls of a tiny kernel (all its uses together) after which it is compiled: at a
#: few microseconds of Python per call, about what compiling it costs once
COMPILE_AFTER_CALLS = 10000

_kernels = {}
_tiered = {}
_paths = {}


def source_path(kernel):
    """The file holding a generated kernel's source (for explain())."""
    return _paths.get(id(kernel))


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


def generate_source(statements, outputs, in_dtypes, patterns, out_dtypes, out_ndim, sums=()):
    """Source of one kernel. ``statements``: lines over x0..xn defining temps;
    ``outputs``: one expression per output; ``sums``: (expression, dtype, mean?)
    per full reduction computed in the same loop (flat kernels only)."""
    n_in, n_out = len(in_dtypes), len(out_dtypes)
    args = ["in%d" % i for i in range(n_in)] + ["out%d" % i for i in range(n_out)] + \
        ["red%d" % i for i in range(len(sums))]
    flat = all(p in ("scalar", "full") for p in patterns)
    if sums and not flat:
        raise ValueError("fused reductions need a flat kernel")
    # Reassociation lets the reduction loop vectorize (several partial sums).
    flags = ", fastmath={'reassoc', 'nsz'}" if sums else ""
    lines = [
        "import math",
        "import numpy as np",
        "from nbflow.kernels.jit import njit",
        "from nbflow.kernels.cpu import fastmath",
        "from nbflow.kernels.cpu.views import first, flat",
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
            lines.append("    r%d = %s(0)" % (j, _np_name(dt)))
        if n_out:
            bound = "o0.shape[0]"
        else:
            full = [i for i, p in enumerate(patterns) if p == "full"]
            if not full:
                raise ValueError("a reduction-only kernel needs a full-size input")
            bound = "a%d.shape[0]" % full[0]
        lines.append("    n = %s" % bound)
        lines.append("    for i in range(n):")
        indent = "        "
        for i, p in enumerate(patterns):
            if p == "full":
                body.append("x%d = a%d[i]" % (i, i))
        store = ["o%d[i] = %s" % (j, "y%d" % j) for j in range(n_out)]
        store += ["r%d += %s" % (j, e) for j, (e, _, _) in enumerate(sums)]
    else:
        for i, p in enumerate(patterns):
            if p == "scalar":
                lines.append("    x%d = first(in%d)" % (i, i))
        for d in range(out_ndim):
            lines.append("    " * (d + 1) + "for i%d in range(out0.shape[%d]):" % (d, d))
        indent = "    " * (out_ndim + 1)
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
    for j, (_, dt, mean) in enumerate(sums):
        value = "r%d" % j
        if mean:
            value = "r%d / %s(n) if n else %s(np.nan)" % (j, _np_name(dt), _np_name(dt))
        lines.append("    flat(red%d)[0] = %s" % (j, value))
    return "\n".join(lines) + "\n"


def get_kernel(statements, outputs, in_dtypes, in_shapes, out_dtypes, out_shape=None, sums=()):
    """Return ``(kernel, out_shape)`` for concrete input shapes.

    ``out_shape`` defaults to the inputs' broadcast shape; a larger shape the
    inputs broadcast to may be given (that is ``broadcast_to``). ``sums``:
    (expression, dtype, is_mean) of full reductions done in the same loop."""
    if out_shape is None:
        out_shape = broadcast_shape(in_shapes) if in_shapes else ()
    out_shape = tuple(out_shape)
    patterns = tuple(_pattern(s, out_shape) for s in in_shapes)
    sums = tuple((e, np.dtype(d).str, bool(m)) for e, d, m in sums)
    key = (tuple(statements), tuple(outputs), tuple(np.dtype(d).str for d in in_dtypes), patterns,
           tuple(np.dtype(d).str for d in out_dtypes), len(out_shape), sums)
    k = _kernels.get(key)
    if k is None:
        src = generate_source(statements, outputs, in_dtypes, patterns, out_dtypes, len(out_shape), sums)
        mod = load_generated(src, "ew")
        k = mod.kernel
        _kernels[key] = k
        _paths[id(k)] = mod.__file__
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


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n
