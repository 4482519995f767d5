"""Generated element-wise loops (CPU).

An element-wise computation is given as scalar Python expressions over the
input scalars ``x0, x1, ...`` (for a single op, one expression; for a fused
chain, several statements). This module writes the loop around them:
numpy broadcasting, one flat loop when every operand is either full-size or a
scalar (that loop vectorizes), nested loops otherwise. One generated kernel
serves every call with the same structure, dtypes and broadcast pattern.

Kernel signature (destination-passing): ``kernel(in0, in1, ..., out0, ...)``.
"""
import numpy as np

from nbflow.kernels.cpu.codegen import load_generated

_kernels = {}
_paths = {}


def source_path(kernel):
    """The file holding a generated kernel's source (for explain())."""
    return _paths.get(id(kernel))


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
        "",
        "",
        "@njit(cache=True, error_model='numpy'%s)" % flags,
        "def kernel(%s):" % ", ".join(args),
    ]
    body = []
    if flat:
        for i, p in enumerate(patterns):
            if p == "scalar":
                lines.append("    x%d = in%d.reshape(1)[0]" % (i, i))
            else:
                lines.append("    a%d = in%d.reshape(in%d.size)" % (i, i, i))
        for j in range(n_out):
            lines.append("    o%d = out%d.reshape(out%d.size)" % (j, j, j))
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
                lines.append("    x%d = in%d.reshape(1)[0]" % (i, i))
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
        lines.append("    red%d.reshape(1)[0] = %s" % (j, value))
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
    return k, out_shape
