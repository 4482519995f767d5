"""Kernels of the array ops: strided copies, gathers, scatters, Where, OneHot.

Most array ops only move elements. Transpose, Slice, StridedSlice, ReverseV2,
Tile, Pad, ConcatV2, Pack, Unpack and Split are all one ``strided_copy``: the
caller describes where each element comes from and goes to as an offset plus
one stride per dimension (in elements; negative for reversed axes, zero for
repeated ones) over flat views of the two buffers. Copies ignore the element
type, so the caller views every buffer as unsigned integers of its item size:
one compiled kernel serves float32, int32 and everything else of 4 bytes.
"""
import numpy as np

from nbflow.kernels.jit import njit


@njit(cache=True)
def strided_copy(src, src_off, src_strides, dst, dst_off, dst_strides, shape):
    """For every index i of ``shape``:
    dst[dst_off + sum_k i_k dst_strides[k]] = src[src_off + sum_k i_k src_strides[k]].

    ``src`` and ``dst`` are flat arrays; the innermost dimension is the inner
    loop (a straight copy when both of its strides are 1)."""
    nd = shape.shape[0]
    for k in range(nd):
        if shape[k] == 0:
            return
    if nd == 0:
        dst[dst_off] = src[src_off]
        return
    last = nd - 1
    n = shape[last]
    ss = src_strides[last]
    ds = dst_strides[last]
    idx = np.zeros(nd, np.int64)
    s = src_off
    d = dst_off
    # (Indices are never negative here. Views indexed from 0 and unsigned
    # indices spare Numba's negative-index wraparound, which stops the
    # inner loop from vectorizing: 10x on a block copy.)
    while True:
        if ss == 1 and ds == 1:
            a = src[s:s + n]
            b = dst[d:d + n]
            for j in range(n):
                b[j] = a[j]
        else:
            for j in range(n):
                dst[np.uint64(d + j * ds)] = src[np.uint64(s + j * ss)]
        # advance the index over the outer dimensions (an odometer)
        k = last - 1
        while k >= 0:
            idx[k] += 1
            s += src_strides[k]
            d += dst_strides[k]
            if idx[k] < shape[k]:
                break
            s -= src_strides[k] * shape[k]
            d -= dst_strides[k] * shape[k]
            idx[k] = 0
            k -= 1
        if k < 0:
            return


@njit(cache=True)
def gather(params, indices, out):
    """out[o, m, i] = params[o, indices[m], i]. Returns the position of the
    first index outside [0, n) (nothing is written then), else -1."""
    outer, n, inner = params.shape
    count = indices.shape[0]
    for m in range(count):
        if indices[m] < 0 or indices[m] >= n:
            return m
    for o in range(outer):
        for m in range(count):
            k = indices[m]
            for i in range(inner):
                out[o, m, i] = params[o, k, i]
    return -1


@njit(cache=True)
def segment_sum(data, ids, out):
    """out[o, ids[m], i] += data[o, m, i] over a zeroed ``out``; negative ids are
    dropped (TF's UnsortedSegmentSum). Returns the position of the first id
    >= out.shape[1] (nothing is written then), else -1."""
    outer, n, inner = out.shape
    count = ids.shape[0]
    for m in range(count):
        if ids[m] >= n:
            return m
    zero = out.dtype.type(0)
    for o in range(outer):
        for k in range(n):
            for i in range(inner):
                out[o, k, i] = zero
        for m in range(count):
            k = ids[m]
            if k < 0:
                continue
            for i in range(inner):
                out[o, k, i] += data[o, m, i]
    return -1


@njit(cache=True)
def gather_nd(params, indices, dims, out):
    """out[m, :] = params[flat(indices[m, :]), :] where ``flat`` is the row-major
    position in ``dims``. Returns the first bad row of ``indices`` or -1."""
    count, depth = indices.shape
    inner = params.shape[1]
    for m in range(count):
        for j in range(depth):
            v = indices[m, j]
            if v < 0 or v >= dims[j]:
                return m
    for m in range(count):
        flat = 0
        for j in range(depth):
            flat = flat * dims[j] + indices[m, j]
        for i in range(inner):
            out[m, i] = params[flat, i]
    return -1


@njit(cache=True)
def scatter_nd(updates, indices, dims, out):
    """out (zeroed first)[flat(indices[m, :]), :] += updates[m, :] (TF's
    ScatterNd: duplicates add up). Returns the first bad row or -1."""
    count, depth = indices.shape
    rows, inner = out.shape
    for m in range(count):
        for j in range(depth):
            v = indices[m, j]
            if v < 0 or v >= dims[j]:
                return m
    zero = out.dtype.type(0)
    for r in range(rows):
        for i in range(inner):
            out[r, i] = zero
    for m in range(count):
        flat = 0
        for j in range(depth):
            flat = flat * dims[j] + indices[m, j]
        for i in range(inner):
            out[flat, i] += updates[m, i]
    return -1


@njit(cache=True)
def count_true(x):
    """Number of non-zero elements of the flat array ``x``."""
    n = 0
    for i in range(x.shape[0]):
        if x[i]:
            n += 1
    return n


@njit(cache=True)
def where_coords(x, shape, out):
    """Row-major coordinates (in ``shape``) of the non-zero elements of the flat
    array ``x``, one per row of ``out`` (int64, [count_true(x), len(shape)])."""
    rank = shape.shape[0]
    idx = np.zeros(rank, np.int64)
    row = 0
    for f in range(x.shape[0]):
        if x[f]:
            for k in range(rank):
                out[row, k] = idx[k]
            row += 1
        k = rank - 1
        while k >= 0:
            idx[k] += 1
            if idx[k] < shape[k]:
                break
            idx[k] = 0
            k -= 1


@njit(cache=True)
def one_hot(indices, on, off, out):
    """out[o, d, i] = on[0] if indices[o, i] == d else off[0]."""
    outer, depth, inner = out.shape
    on_v = on[0]
    off_v = off[0]
    for o in range(outer):
        for d in range(depth):
            for i in range(inner):
                out[o, d, i] = on_v if indices[o, i] == d else off_v


@njit(cache=True)
def nonfinite_flags(x):
    """Bit 1: x holds a NaN; bit 2: x holds an infinity."""
    flags = 0
    for i in range(x.shape[0]):
        v = x[i]
        if v - v != 0:  # NaN or +-inf
            if v != v:
                flags |= 1
            else:
                flags |= 2
    return flags


@njit(cache=True)
def linspace(start, stop, out):
    """out[i] = start[0] + i * (stop[0] - start[0]) / (n - 1); the last element is stop."""
    n = out.shape[0]
    if n == 0:
        return
    a = start[0]
    if n == 1:
        out[0] = a
        return
    T = out.dtype.type  # computed in the output type (as TF), not float64
    step = (stop[0] - a) / T(n - 1)
    for i in range(n - 1):
        out[i] = a + T(i) * step
    out[n - 1] = stop[0]
