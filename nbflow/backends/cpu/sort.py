"""CPU kernels of the sorting ops (nbflow/ops/sort_ops.py): TopKV2, the
ScatterLastAxis/GatherLastAxis pair behind its gradient, and Unique.

Each sees its input as rows along the last axis (kernels/cpu/sort.py);
float16 is sorted in float32.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import sort as K
from nbflow.ops import sort_ops


def _rows(shape):
    """(number of rows, row length) of an array seen as rows along its last axis."""
    n = shape[-1]
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    return rows, n


@register_kernel(sort_ops.TopKV2)
def _topkv2(ctx):
    npd = ctx.input_dtypes[0].as_numpy_dtype
    fixed_k = ctx.value(1)
    values_buf, indices_buf = ctx.static_buffer(0), ctx.static_buffer(1)

    def run(x, k):
        k = int(fixed_k if fixed_k is not None else k)
        if x.ndim == 0:
            raise ValueError("input must be >= 1-D, got shape []")
        if k < 0:
            raise ValueError("Need k >= 0, got %d" % k)
        rows, n = _rows(x.shape)
        if n < k:
            raise ValueError("input must have at least k columns. Had %d, needed %d" % (n, k))
        out_shape = x.shape[:-1] + (k,)
        values = values_buf if values_buf is not None else np.empty(out_shape, dtype=npd)
        indices = indices_buf if indices_buf is not None else np.empty(out_shape, dtype=np.int32)
        if x.dtype == np.float16:
            v32 = np.empty((rows, k), dtype=np.float32)
            K.top_k_rows(x.astype(np.float32).reshape(rows, n), k, v32, indices.reshape(rows, k))
            values.reshape(rows, k)[...] = v32
        else:
            K.top_k_rows(x.reshape(rows, n), k, values.reshape(rows, k), indices.reshape(rows, k))
        return values, indices
    return run


@register_kernel(sort_ops.ScatterLastAxis)
def _scatter_last_axis(ctx):
    out_buf = ctx.static_buffer(0)
    npd = ctx.out_np_dtype(0)

    def run(indices, updates, shape):
        out = out_buf if out_buf is not None else np.empty(tuple(int(d) for d in shape), dtype=npd)
        rows, n = _rows(out.shape)
        k = indices.shape[-1]
        if out.dtype == np.float16:
            o32 = np.empty((rows, n), dtype=np.float32)
            K.scatter_last_axis(indices.reshape(rows, k), updates.astype(np.float32).reshape(rows, k), o32)
            out.reshape(rows, n)[...] = o32
        else:
            K.scatter_last_axis(indices.reshape(rows, k), updates.reshape(rows, k), out.reshape(rows, n))
        return out
    return run


@register_kernel(sort_ops.GatherLastAxis)
def _gather_last_axis(ctx):
    out_buf = ctx.static_buffer(0)

    def run(params, indices):
        out = out_buf if out_buf is not None else np.empty(indices.shape, dtype=params.dtype)
        rows, n = _rows(params.shape)
        k = indices.shape[-1]
        K.gather_last_axis(params.reshape(rows, n), indices.reshape(rows, k), out.reshape(rows, k))
        return out
    return run


@register_kernel(sort_ops.Unique)
def _unique(ctx):
    idx_np = ctx.attrs["out_idx"].as_numpy_dtype

    def run(x):
        if x.ndim != 1:
            raise ValueError("unique expects a 1D vector, got shape %s" % (list(x.shape),))
        keys = x
        if x.dtype == np.bool_:
            keys = x.view(np.uint8)
        elif x.dtype == np.float16:
            keys = x.astype(np.float32)
        y = np.empty(x.shape[0], dtype=keys.dtype)
        idx = np.empty(x.shape[0], dtype=idx_np)
        count = K.unique_first_order(keys, y, idx)
        y = y[:count]
        return (y.view(np.bool_) if x.dtype == np.bool_ else y.astype(x.dtype, copy=False)), idx
    return run

