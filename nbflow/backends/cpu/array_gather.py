"""CPU kernels of gathers, scatters, where and one_hot (nbflow/ops/array_gather_ops.py;
GatherV2 and UnsortedSegmentSum: array_concat_ops.py; Where: math_select_ops.py).

The kernels move raw bits (unsigned ints of the element's size), so one
compiled kernel serves every element type of that size; strings (objects)
take numpy's fancy indexing instead.
"""
import numpy as np

from nbflow.backends.cpu.array_layout import _UINT
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import array as K
from nbflow.ops import array_concat_ops as C
from nbflow.ops import array_gather_ops as G
from nbflow.ops.math_select_ops import Where
from nbflow.ops.array_common import _axis_value, _fmt, _ints, _known, _prod


def _gather3(params3, idx, out3):
    """Gather along axis 1 of (outer, n, inner) arrays; returns the bad index position or -1."""
    if params3.dtype.kind == "O":
        bad = np.nonzero((idx < 0) | (idx >= params3.shape[1]))[0]
        if bad.size:
            return int(bad[0])
        out3[...] = params3[:, idx, :]
        return -1
    u = _UINT[params3.dtype.itemsize]
    return K.gather(params3.view(u), idx, out3.view(u))


def _index_position(pos, shape_):
    """The coordinates of flat position ``pos`` in ``shape_``, for error messages."""
    if len(shape_) <= 1:
        return str(pos)
    return ",".join(str(int(i)) for i in np.unravel_index(pos, shape_))


@register_kernel(C.GatherV2)
def _gatherv2(ctx):
    fail = ctx.run_error_factory()
    fixed_axis = ctx.value(2)
    out_np = ctx.out_np_dtype(0)
    static_out = ctx.static_buffer(0)
    p_dims = ctx.dims(0)
    if static_out is not None and fixed_axis is not None and _known(p_dims):
        a = _axis_value(fixed_axis, len(p_dims), fail, "axis")
        view = (_prod(p_dims[:a]), p_dims[a], _prod(p_dims[a + 1:]))

        def run_static(params, indices, axis):
            flat = indices.reshape(-1)
            bad = _gather3(params.reshape(view), flat, static_out.reshape(view[0], flat.shape[0], view[2]))
            if bad >= 0:
                raise fail("indices[%s] = %d is not in [0, %d)"
                           % (_index_position(bad, indices.shape), flat[bad], view[1]))
            return static_out
        return run_static

    def run(params, indices, axis):
        if params.ndim == 0:
            raise fail("params must be at least 1 dimensional")
        a = _axis_value(axis, params.ndim, fail, "axis")
        p = params.shape
        view = (_prod(p[:a]), p[a], _prod(p[a + 1:]))
        out = np.empty(p[:a] + indices.shape + p[a + 1:], dtype=out_np)
        flat = indices.reshape(-1)
        bad = _gather3(params.reshape(view), flat, out.reshape(view[0], flat.shape[0], view[2]))
        if bad >= 0:
            raise fail("indices[%s] = %d is not in [0, %d)"
                       % (_index_position(bad, indices.shape), flat[bad], view[1]))
        return out
    return run


@register_kernel(C.UnsortedSegmentSum)
def _unsorted_segment_sum(ctx):
    fail = ctx.run_error_factory()
    out_np = ctx.out_np_dtype(0)
    static_out = ctx.static_buffer(0)

    def run(data, ids, num):
        n = int(num)
        rest = data.shape[ids.ndim:]
        if data.shape[:ids.ndim] != ids.shape:
            raise fail("data.shape = %s does not start with segment_ids.shape = %s"
                       % (_fmt(data.shape), _fmt(ids.shape)))
        out = static_out if static_out is not None else np.empty((n,) + rest, dtype=out_np)
        flat = ids.reshape(-1)
        inner = _prod(rest)
        bad = K.segment_sum(data.reshape(1, flat.shape[0], inner), flat, out.reshape(1, n, inner))
        if bad >= 0:
            raise fail("segment_ids[%s] = %d is out of range [0, %d)"
                       % (_index_position(bad, ids.shape), flat[bad], n))
        return out
    return run


@register_kernel(G.GatherNd)
def _gather_nd(ctx):
    fail = ctx.run_error_factory()
    out_np = ctx.out_np_dtype(0)
    static_out = ctx.static_buffer(0)

    def run(params, indices):
        k = indices.shape[-1]
        if k > params.ndim:
            raise fail("indices.shape[-1] must be <= params.rank")
        lead = indices.shape[:-1]
        rows = _prod(lead)
        inner = _prod(params.shape[k:])
        out = static_out if static_out is not None else np.empty(lead + params.shape[k:], dtype=out_np)
        idx2 = indices.reshape(rows, k)
        dims_ = np.array(params.shape[:k], dtype=np.int64)
        p2 = params.reshape(_prod(params.shape[:k]), inner)
        o2 = out.reshape(rows, inner)
        if p2.dtype.kind == "O":
            bad = np.nonzero(np.any((idx2 < 0) | (idx2 >= dims_), axis=1))[0] if rows else []
            bad = int(bad[0]) if len(bad) else -1
            if bad < 0 and rows:
                o2[...] = p2[np.ravel_multi_index(idx2.T, params.shape[:k]) if k else np.zeros(rows, int)]
        else:
            u = _UINT[p2.dtype.itemsize]
            bad = K.gather_nd(p2.view(u), idx2, dims_, o2.view(u))
        if bad >= 0:
            raise fail("indices%s = [%s] does not index into param shape %s"
                       % (_fmt(list(np.unravel_index(bad, lead))) if lead else "[0]",
                          ", ".join(str(v) for v in idx2[bad]), _fmt(params.shape)))
        return out
    return run


@register_kernel(G.ScatterNd)
def _scatter_nd(ctx):
    fail = ctx.run_error_factory()
    out_np = ctx.out_np_dtype(0)
    static_out = ctx.static_buffer(0)

    def run(indices, updates, shape_):
        dims = _ints(shape_)
        k = indices.shape[-1]
        rows = _prod(indices.shape[:-1])
        inner = _prod(dims[k:])
        if updates.size != rows * inner:
            raise fail("updates has shape %s, which does not match indices %s and shape %s"
                       % (_fmt(updates.shape), _fmt(indices.shape), _fmt(dims)))
        out = static_out if static_out is not None else np.empty(dims, dtype=out_np)
        bad = K.scatter_nd(updates.reshape(rows, inner), indices.reshape(rows, k),
                           np.array(dims[:k], dtype=np.int64), out.reshape(_prod(dims[:k]), inner))
        if bad >= 0:
            raise fail("indices[%d] = [%s] does not index into shape %s"
                       % (bad, ", ".join(str(v) for v in indices.reshape(rows, k)[bad]), _fmt(dims)))
        return out
    return run


@register_kernel(Where)
def _where(ctx):
    def run(x):
        flat = x.reshape(-1)
        if flat.dtype == np.float16:
            flat = flat.astype(np.float32)
        n = K.count_true(flat)
        out = np.empty((n, x.ndim), dtype=np.int64)
        if n:
            K.where_coords(flat, np.array(x.shape, dtype=np.int64), out)
        return out
    return run


@register_kernel(G.OneHot)
def _one_hot(ctx):
    axis = ctx.attrs["axis"]
    out_np = ctx.out_np_dtype(0)
    static_out = ctx.static_buffer(0)
    u = _UINT[np.dtype(out_np).itemsize]
    fail = ctx.run_error_factory()

    def run(indices, depth, on, off):
        d = int(depth)
        if d < 0:
            raise fail("depth must be non-negative, got: %d" % d)
        a = indices.ndim if axis == -1 else axis
        shp = indices.shape[:a] + (d,) + indices.shape[a:]
        out = static_out if static_out is not None else np.empty(shp, dtype=out_np)
        outer, inner = _prod(indices.shape[:a]), _prod(indices.shape[a:])
        K.one_hot(indices.reshape(outer, inner), on.reshape(1).view(u), off.reshape(1).view(u),
                  out.reshape(outer, d, inner).view(u))
        return out
    return run
