"""Reductions over the middle axis of an (outer, reduced, inner) view.

Any reduction over a contiguous block of axes of a C-contiguous array is a
reshape away from this form; the caller transposes other axis sets first.

Floating-point sums, maxima and minima have kernels of their own (the
``*_mid`` kernels below them serve every other dtype):

* ``inner == 1`` (a full reduction, or over the last axes): each row of the
  (outer, reduced) matrix is one contiguous run. ``sum_run`` sums it in
  chunks of ``SUM_CHUNK`` elements, each chunk in the input's dtype by a loop
  that may reassociate (it vectorizes into 64 float32 partial sums), the
  chunk sums in float64: blocked summation, whose error does not grow with
  the length (a single float32 vector accumulator over 16M elements would add
  ~260K numbers per lane). ``extreme_run``: per chunk a NaN check and
  ``llvm.maxnum``/``minnum`` under the ``nnan`` flag (vmaxps/vminps), both
  vectorized.
* ``inner > 1``: the reduced rows are added column-wise into a float32
  (float64) scratch row of ``TILE`` columns, and every ``ROWS_CHUNK`` rows
  that scratch is added into a float64 row: the same blocking, across rows.

The ``*_parallel`` twins split the rows (or, for a single row, its chunks,
or the column tiles) across Numba's threads; each piece runs the serial
code. Chunk boundaries do not depend on the thread count, so a parallel sum
differs from the serial one at most by the order of the float64 additions
of the chunk sums.
"""
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from nbflow.kernels.jit import njit

#: elements per chunk of ``sum_run`` summed in the input's dtype (4 KB of float32).
SUM_CHUNK = 1024
#: rows added into the scratch row before it is added into the float64 row (column sums).
ROWS_CHUNK = 256
#: columns per tile of the column sums: a tile's scratch rows (float32 + float64:
#: 24 KB) stay in the L1 cache while the reduced rows stream through.
TILE = 2048


@njit(cache=True, fastmath={"reassoc"})
def sum_run(v):
    """Sum of a contiguous 1-D float array, as a float64 (blocked: see the module).
    Reassociation is allowed in this function only."""
    n = v.shape[0]
    total = 0.0
    j0 = 0
    while j0 < n:
        # a sliced chunk: the same loop over range(j0, min(n, j0 + SUM_CHUNK)) did not vectorize (7x slower)
        c = v[j0:j0 + SUM_CHUNK]
        s = v.dtype.type(0)
        for j in range(c.shape[0]):
            s += c[j]
        total += s
        j0 += SUM_CHUNK
    return total


@njit(cache=True)
def sum_rows(x, out):
    """out[a] = sum(x[a]) for the rows of a C-contiguous (outer, n) float array."""
    for a in range(x.shape[0]):
        out[a] = sum_run(x[a])


@njit(cache=True, parallel=True)
def sum_rows_parallel(x, out):
    """sum_rows with the rows split across threads."""
    for a in prange(x.shape[0]):
        out[a] = sum_run(x[a])


#: blocks per thread of ``sum_flat_parallel``: with one block per thread, a thread that
#: started late (or shared its core) held up the sum; 16 small blocks let the
#: threading layer balance them (16M float32 on 2 threads: 720 -> 613 us, PyTorch 591 us).
BLOCKS_PER_THREAD = 16


@njit(cache=True, parallel=True)
def sum_flat_parallel(v, nt):
    """Sum of a contiguous 1-D float array (float64) over ``nt * BLOCKS_PER_THREAD``
    blocks of whole chunks, summed by ``nt`` threads."""
    chunks = (v.shape[0] + SUM_CHUNK - 1) // SUM_CHUNK
    nb = max(1, min(chunks, nt * BLOCKS_PER_THREAD))
    total = 0.0
    for c in prange(nb):
        lo = chunks * c // nb * SUM_CHUNK
        hi = chunks * (c + 1) // nb * SUM_CHUNK
        total += sum_run(v[lo:hi])
    return total


@njit(cache=True)
def _sum_tile(x, out, a, c0, c1, part, acc):
    """out[a, c0:c1] = sum over b of x[a, b, c0:c1], blocked (see the module)."""
    r = x.shape[1]
    w = c1 - c0
    for c in range(w):
        acc[c] = 0.0
    for b0 in range(0, r, ROWS_CHUNK):
        for c in range(w):
            part[c] = 0
        for b in range(b0, min(r, b0 + ROWS_CHUNK)):
            xb = x[a, b, c0:c1]
            for c in range(w):
                part[c] += xb[c]
        for c in range(w):
            acc[c] += part[c]
    o = out[a, c0:c1]
    for c in range(w):
        o[c] = acc[c]


@njit(cache=True)
def sum_cols(x, out):
    """out[a, c] = sum over b of x[a, b, c] of a C-contiguous (outer, r, inner) float array."""
    o, r, n = x.shape
    part = np.empty(min(n, TILE), dtype=x.dtype)
    acc = np.empty(min(n, TILE), dtype=np.float64)
    for a in range(o):
        for c0 in range(0, n, TILE):
            _sum_tile(x, out, a, c0, min(n, c0 + TILE), part, acc)


@njit(cache=True, parallel=True)
def sum_cols_parallel(x, out, tile):
    """sum_cols with the (outer, tile of ``tile`` columns) pieces split across threads."""
    o, r, n = x.shape
    tiles = (n + tile - 1) // tile
    for k in prange(o * tiles):
        a = k // tiles
        c0 = (k % tiles) * tile
        part = np.empty(tile, dtype=x.dtype)
        acc = np.empty(tile, dtype=np.float64)
        _sum_tile(x, out, a, c0, min(n, c0 + tile), part, acc)


def _llvm_binary(name):
    """An intrinsic calling ``llvm.<name>`` on two floats of one type."""
    @intrinsic
    def call(typingctx, a, b):
        if not isinstance(a, types.Float) or a != b:
            return None

        def codegen(context, builder, sig, args):
            t = args[0].type
            fn = builder.module.declare_intrinsic("llvm." + name, [t], ir.FunctionType(t, [t, t]))
            return builder.call(fn, args)
        return a(a, b), codegen
    return call


_maxnum = _llvm_binary("maxnum")
_minnum = _llvm_binary("minnum")


@njit(cache=True, fastmath={"nnan", "nsz"})
def max_nonan(v):
    """max of a contiguous 1-D float array, n >= 1, for data without NaN: with
    a NaN in ``v`` the result is one of v's values, unspecified. The
    ``nnan`` flag is what lets the loop vectorize (vmaxps); callers check
    for NaN themselves (``has_nan``) or do not need to (softmax: a NaN
    propagates through exp and the sum anyway)."""
    m = v[0]
    for j in range(v.shape[0]):
        m = _maxnum(m, v[j])
    return m


@njit(cache=True, fastmath={"nnan", "nsz"})
def min_nonan(v):
    """min of a contiguous 1-D float array, n >= 1, for data without NaN (see max_nonan)."""
    m = v[0]
    for j in range(v.shape[0]):
        m = _minnum(m, v[j])
    return m


@njit(cache=True)
def has_nan(v):
    """Whether a 1-D float array holds a NaN (a vectorized OR; no fast-math flags here)."""
    bad = False
    for j in range(v.shape[0]):
        bad |= v[j] != v[j]
    return bad


@njit(cache=True)
def extreme_run(v, want_max):
    """max (or min) of a contiguous 1-D float array, n >= 1; NaN if any element
    is NaN (as TF). Chunk by chunk: the extreme, then the NaN check while the
    chunk is in the L1 cache."""
    n = v.shape[0]
    m = v[0]
    j0 = 0
    while j0 < n:
        c = v[j0:j0 + SUM_CHUNK]
        if has_nan(c):
            return v.dtype.type(np.nan)
        e = max_nonan(c) if want_max else min_nonan(c)
        if want_max:
            m = e if e > m else m
        else:
            m = e if e < m else m
        j0 += SUM_CHUNK
    return m


@njit(cache=True)
def extreme_rows(x, out, want_max):
    """out[a] = max (min) of x[a] for the rows of a C-contiguous (outer, n) float array, n >= 1."""
    for a in range(x.shape[0]):
        out[a] = extreme_run(x[a], want_max)


@njit(cache=True, fastmath=True)
def sum_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        if n == 1:
            acc = out.dtype.type(0)
            for b in range(r):
                acc += x[a, b, 0]
            out[a, 0] = acc
        else:
            for c in range(n):
                out[a, c] = 0
            for b in range(r):
                for c in range(n):
                    out[a, c] += x[a, b, c]


@njit(cache=True)
def prod_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = 1
        for b in range(r):
            for c in range(n):
                out[a, c] *= x[a, b, c]


@njit(cache=True)
def max_mid(x, out, lowest):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = lowest
        for b in range(r):
            for c in range(n):
                v = x[a, b, c]
                if v > out[a, c] or v != v:
                    out[a, c] = v


@njit(cache=True)
def min_mid(x, out, highest):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = highest
        for b in range(r):
            for c in range(n):
                v = x[a, b, c]
                if v < out[a, c] or v != v:
                    out[a, c] = v


@njit(cache=True)
def any_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = False
        for b in range(r):
            for c in range(n):
                if x[a, b, c]:
                    out[a, c] = True


@njit(cache=True)
def all_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = True
        for b in range(r):
            for c in range(n):
                if not x[a, b, c]:
                    out[a, c] = False


@njit(cache=True, fastmath=True)
def sum_squares_mid(x, out):
    """out = sum(x * x) over the middle axis (EuclideanNorm takes its square root)."""
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = 0
        for b in range(r):
            for c in range(n):
                v = x[a, b, c]
                out[a, c] += v * v


@njit(cache=True)
def divide_trunc(out, n):
    """Integer mean: divide in place, rounding toward zero (C's division, as TF)."""
    flat = out.reshape(out.size)
    for i in range(flat.size):
        v = flat[i]
        q = abs(v) // n
        flat[i] = q if v >= 0 else -q


@njit(cache=True)
def argmax_mid(x, out):
    """Index of the first largest element along the middle axis (NaN counts as largest)."""
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            best = x[a, 0, c]
            k = 0
            if best == best:
                for b in range(1, r):
                    v = x[a, b, c]
                    if v > best or v != v:
                        best = v
                        k = b
                        if v != v:
                            break
            out[a, c] = k


@njit(cache=True)
def argmin_mid(x, out):
    """Index of the first smallest element along the middle axis (NaN counts as smallest)."""
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            best = x[a, 0, c]
            k = 0
            if best == best:
                for b in range(1, r):
                    v = x[a, b, c]
                    if v < best or v != v:
                        best = v
                        k = b
                        if v != v:
                            break
            out[a, c] = k


def as_outer_mid_inner(shape, axes):
    """(outer, reduced, inner) sizes if ``axes`` (sorted) form one contiguous block, else None."""
    if not axes:
        n = int(np.prod(shape)) if shape else 1
        return (n, 1, 1)
    if list(axes) != list(range(axes[0], axes[-1] + 1)):
        return None
    outer = int(np.prod(shape[:axes[0]])) if axes[0] > 0 else 1
    mid = int(np.prod([shape[a] for a in axes]))
    inner = int(np.prod(shape[axes[-1] + 1:])) if axes[-1] + 1 < len(shape) else 1
    return (outer, mid, inner)
