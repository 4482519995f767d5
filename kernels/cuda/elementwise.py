"""Generated element-wise CUDA kernels (the CPU's are kernels/cpu/elementwise.py).

The same scalar statements as the CPU's (``x0, x1, ...`` in, ``t<k>`` temps,
one expression per output), translated for device code (``np.exp`` ->
``math.exp``, which numba-cuda lowers to libdevice's ``expf`` for float32;
``np.floor`` -> ``libdevice.floorf``), inside one grid-stride ``@cuda.jit``
loop over the flat output. Operands are flat views; each is read as

- ``full``: same shape as the output, ``x = in[i]``;
- ``scalar``: one element, read once before the loop;
- ``bcast``: numpy broadcasting, its index computed from the output
  coordinates (passed as ``d<k>`` dims) and its element strides (``s<i>_<k>``,
  0 along broadcast dims) -- shapes are kernel arguments, so one generated
  kernel serves every shape of the same pattern.

Kernel signature (destination-passing):
``kernel(in0, ..., out0, ..., part0, ..., n, d0, ..., s<i>_0, ...)``.

Full sums/means of members (a flat group: no broadcast operand) are
accumulated in the same loop: each thread adds its elements in float64, a
shared-memory tree sums a block's threads, and thread 0 writes the block's
sum to ``part<j>[blockIdx]``; ``finish_kernel`` then sums those per-block
partials in one block, in a fixed order (results do not depend on timing, as
atomics' would), and writes the output scaled by 1/n for a mean. Sources are written
to the kernel cache directory by hash (kernels/cpu/codegen.py), as the CPU's.
"""
import re

import numpy as np

from nbflow.kernels.cpu.codegen import load_generated
from nbflow.kernels.cuda.launch import SIMULATOR, THREADS, flat, grid_1d

_MATH = {
    "np.exp(": "math.exp(", "np.log(": "math.log(", "np.log1p(": "math.log1p(", "np.expm1(": "math.expm1(",
    "np.sqrt(": "math.sqrt(", "np.sin(": "math.sin(", "np.cos(": "math.cos(", "np.tan(": "math.tan(",
    "np.arcsin(": "math.asin(", "np.arccos(": "math.acos(", "np.arctan(": "math.atan(",
    "np.sinh(": "math.sinh(", "np.cosh(": "math.cosh(", "np.tanh(": "math.tanh(",
    "np.isinf(": "math.isinf(", "np.isfinite(": "math.isfinite(",
    # the CPU's vectorizable float32 versions: on the GPU, libdevice's float32 functions
    "fastmath.exp32(": "math.exp(", "fastmath.log32(": "math.log(", "fastmath.sin32(": "math.sin(",
    "fastmath.cos32(": "math.cos(", "fastmath.tanh32(": "math.tanh(",
}
# rounding functions that must stay floating point (math.floor returns an integer)
_ROUND = ("floor", "ceil", "rint")
_DTYPE_CTORS = frozenset(["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                          "float32", "float64"])
_ATTR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b")

_kernels = {}
_paths = {}


class UnsupportedExpression(ValueError):
    """A scalar expression that has no CUDA translation."""


def translate(expr, compute_dtype):
    """A CPU scalar expression as device code, for computations in ``compute_dtype``."""
    for cpu, gpu in _MATH.items():
        expr = expr.replace(cpu, gpu)
    f32 = np.dtype(compute_dtype) == np.float32
    if not SIMULATOR:  # the simulator runs kernels as Python: numpy's own rounding (its libdevice gives NaN)
        for name in _ROUND:
            expr = expr.replace("np.%s(" % name, "libdevice.%s%s(" % (name, "f" if f32 else ""))
    allowed = _DTYPE_CTORS | (frozenset("np." + n for n in _ROUND) if SIMULATOR else frozenset())
    for mod, name in _ATTR.findall(expr):
        if (mod == "np" and name not in allowed and "np." + name not in allowed) or mod not in ("np", "math", "libdevice"):
            raise UnsupportedExpression("no CUDA translation of %s.%s in %r" % (mod, name, expr))
    return expr


def _np_name(dtype):
    return "np." + np.dtype(dtype).name if np.dtype(dtype) != np.bool_ else "np.bool_"


def pattern(in_shape, out_shape):
    """'full', 'scalar' or 'bcast' (numpy broadcasting)."""
    if tuple(in_shape) == tuple(out_shape):
        return "full"
    if int(np.prod(in_shape, dtype=np.int64)) == 1:
        return "scalar"
    return "bcast"


def generate_source(statements, outputs, patterns, out_dtypes, out_ndim, sums=()):
    """Source of one grid-stride kernel (statements already translated); ``sums``:
    the names of the values whose full sums the kernel also accumulates."""
    n_in, n_out = len(patterns), len(out_dtypes)
    bcast = [i for i, p in enumerate(patterns) if p == "bcast"]
    if sums and bcast:
        raise ValueError("fused sums need a flat group (no broadcast operand)")
    dims = ["d%d" % k for k in range(out_ndim)] if bcast else []
    strides = ["s%d_%d" % (i, k) for i in bcast for k in range(out_ndim)]
    parts = ["part%d" % j for j in range(len(sums))]
    args = ["in%d" % i for i in range(n_in)] + ["out%d" % j for j in range(n_out)] + parts + ["n"] + dims + strides
    lines = ["import math", "import numpy as np", "from numba import cuda", "from numba.cuda import libdevice",
             "", "THREADS = %d" % THREADS, "", "", "@cuda.jit", "def kernel(%s):" % ", ".join(args)]
    for i, p in enumerate(patterns):
        if p == "scalar":
            lines.append("    x%d = in%d[0]" % (i, i))
    lines += ["    acc%d = np.float64(0.0)" % j for j in range(len(sums))]
    lines += ["    i = cuda.grid(1)", "    step = cuda.gridsize(1)", "    while i < n:"]
    body = []
    if bcast:
        body.append("r = i")
        for k in range(out_ndim - 1, 0, -1):
            body += ["c%d = r %% d%d" % (k, k), "r = r // d%d" % k]
        body.append("c0 = r")
    for i, p in enumerate(patterns):
        if p == "full":
            body.append("x%d = in%d[i]" % (i, i))
        elif p == "bcast":
            body.append("x%d = in%d[%s]" % (i, i, " + ".join("c%d * s%d_%d" % (k, i, k) for k in range(out_ndim))))
    body += list(statements)
    body += ["out%d[i] = %s(%s)" % (j, _np_name(out_dtypes[j]), e) for j, e in enumerate(outputs)]
    body += ["acc%d += np.float64(%s)" % (j, name) for j, name in enumerate(sums)]
    body.append("i += step")
    lines += ["        " + b for b in body]
    if sums:
        lines += ["    tid = cuda.threadIdx.x"]
        lines += ["    sh%d = cuda.shared.array(THREADS, dtype=np.float64)" % j for j in range(len(sums))]
        lines += ["    sh%d[tid] = acc%d" % (j, j) for j in range(len(sums))]
        lines += ["    cuda.syncthreads()", "    s = THREADS // 2", "    while s > 0:", "        if tid < s:"]
        lines += ["            sh%d[tid] += sh%d[tid + s]" % (j, j) for j in range(len(sums))]
        lines += ["        cuda.syncthreads()", "        s = s // 2", "    if tid == 0:"]
        lines += ["        part%d[cuda.blockIdx.x] = sh%d[0]" % (j, j) for j in range(len(sums))]
    return "\n".join(lines) + "\n"


def get_kernel(statements, outputs, in_dtypes, in_shapes, out_dtypes, out_shape, sums=()):
    """``(kernel, patterns)``: the generated kernel for these patterns (shapes are arguments)."""
    out_shape = tuple(out_shape)
    patterns = tuple(pattern(s, out_shape) for s in in_shapes)
    key = (tuple(statements), tuple(outputs), tuple(np.dtype(d).str for d in in_dtypes), patterns,
           tuple(np.dtype(d).str for d in out_dtypes), tuple(sums), len(out_shape) if "bcast" in patterns else 0)
    k = _kernels.get(key)
    if k is None:
        src = generate_source(statements, outputs, patterns, out_dtypes, key[-1], sums)
        mod = load_generated(src, "cuda_ew")
        k = mod.kernel
        _kernels[key] = k
        _paths[id(k)] = mod.__file__
    return k, patterns


def source_path(kernel):
    return _paths.get(id(kernel))


def shape_args(in_shapes, patterns, out_shape):
    """The trailing ``n, d<k>..., s<i>_<k>...`` arguments for these shapes."""
    n = int(np.prod(out_shape, dtype=np.int64)) if len(out_shape) else 1
    extra = [n]
    if "bcast" in patterns:
        nd = len(out_shape)
        extra += [int(d) for d in out_shape]
        for shape, p in zip(in_shapes, patterns):
            if p != "bcast":
                continue
            shape = (1,) * (nd - len(shape)) + tuple(shape)
            st, acc = [0] * nd, 1
            for k in range(nd - 1, -1, -1):
                st[k] = 0 if shape[k] == 1 else acc
                acc *= shape[k]
            extra += st
    return extra


def launcher(kernel, in_shapes, patterns, out_shape):
    """``launch(inputs, outputs)``: flat views, shape arguments and grid bound once. A kernel
    with fused sums takes its per-block partials arrays after the outputs (``outs``)."""
    extra = tuple(shape_args(in_shapes, patterns, out_shape))
    n = extra[0]
    blocks, threads = grid_1d(n)

    def launch(ins, outs):
        if n:
            # configured at each call: the simulator's kernel[...] configures the kernel object itself
            kernel[blocks, threads](*[flat(a) for a in ins], *[flat(o) for o in outs], *extra)
    return launch


def partial_blocks(n):
    """How many per-block partial sums a fused kernel over ``n`` elements writes."""
    return grid_1d(n)[0]


_FINISH = """import numpy as np
from numba import cuda

THREADS = %d


@cuda.jit
def finish(parts, n_parts, out, scale):
    sh = cuda.shared.array(THREADS, dtype=np.float64)
    tid = cuda.threadIdx.x
    acc = np.float64(0.0)
    j = tid
    while j < n_parts:
        acc += parts[j]
        j += THREADS
    sh[tid] = acc
    cuda.syncthreads()
    s = THREADS // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s = s // 2
    if tid == 0:
        out[0] = np.%s(sh[0] * scale)
"""


def finish_kernel(out_dtype):
    """``finish(parts, n_parts, out, scale)``: out[0] = sum(parts) * scale, one block."""
    key = ("finish", np.dtype(out_dtype).str)
    k = _kernels.get(key)
    if k is None:
        mod = load_generated(_FINISH % (THREADS, np.dtype(out_dtype).name), "cuda_sum")
        k = _kernels[key] = mod.finish
    return k
