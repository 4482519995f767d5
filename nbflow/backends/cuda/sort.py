"""GPU TopKV2 and the ScatterLastAxis/GatherLastAxis pair behind its gradient:
the kernels of nbflow/kernels/cuda/sort.py (rows along the last axis). TopK
sorts rows of up to ``MAX_SORT`` elements in shared memory (bitonic), and
ranks the elements of longer rows by counting.

``k`` and ScatterLastAxis's ``shape`` are read on the host (plan-time
constants, else a small copy back per run, as TF keeps them in host memory).
The scatter adds atomically (float32, float64, int32); indices outside the
row are zeros in the gather and dropped in the scatter, as the GPU gathers
(top_k's own indices are always inside).
"""
import numpy as np

from nbflow.backends.cuda.array_gather import _host_int, _kind_ok, _Outputs, zero_filler
from nbflow.backends.cuda.array_gather_nd import atomic_ok
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import sort as K
from nbflow.kernels.cuda.launch import MAX_BLOCKS, THREADS, flat, grid_1d
from nbflow.ops import sort_ops
from nbflow.ops.array_common import _fmt


def _launch(kernel, total, *args):
    if total:
        blocks, threads = grid_1d(total)
        kernel[blocks, threads](*args, total)


@register_kernel(sort_ops.TopKV2, device="GPU", accepts=lambda op: _kind_ok(op, 0, "fiu"))
def top_k_kernel(ctx):
    fail = ctx.run_error_factory()
    known_k = ctx.value(1)
    device, fresh, dtype = ctx.device, ctx.fresh_outputs, ctx.out_np_dtype(0)
    bound = {}

    def outputs(shape):
        got = None if fresh else bound.get(shape)
        if got is None:
            got = (device.empty(shape, dtype), device.empty(shape, np.int32))
            if not fresh:
                bound[shape] = got
        return got

    def run(x, k):
        k = int(_host_int(known_k, k))
        shape = tuple(int(d) for d in x.shape)
        if not shape:
            raise fail("input must be >= 1-D, got shape []")
        if k < 0:
            raise fail("Need k >= 0, got %d" % k)
        n = shape[-1]
        if n < k:
            raise fail("input must have at least k columns. Had %d, needed %d" % (n, k))
        values, indices = outputs(shape[:-1] + (k,))
        if not k or not values.size:
            return values, indices
        if n <= K.MAX_SORT:
            size = 32
            while size < n:
                size *= 2
            rows = int(x.size) // n
            sort_rows = K.sorter(np.dtype(dtype), size)
            sort_rows[min(rows, MAX_BLOCKS), min(THREADS, size)](flat(x), flat(values), flat(indices), n, k, rows)
        else:
            _launch(K.top_k, int(x.size), flat(x), flat(values), flat(indices), n, k)
        return values, indices
    return run


@register_kernel(sort_ops.GatherLastAxis, device="GPU", accepts=lambda op: _kind_ok(op, 0) and _kind_ok(op, 1, "iu"))
def gather_last_axis_kernel(ctx):
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)

    def run(params, indices):
        p, i = tuple(params.shape), tuple(indices.shape)
        if not p or p[:-1] != i[:-1]:
            raise fail("params %s and indices %s must agree but for the last axis" % (_fmt(p), _fmt(i)))
        out = outs.get(i)
        _launch(K.gather_last_axis, int(out.size), flat(params), flat(indices), flat(out), p[-1], i[-1])
        return out
    return run


@register_kernel(sort_ops.ScatterLastAxis, device="GPU", accepts=lambda op: atomic_ok(op, 1) and _kind_ok(op, 0, "iu"))
def scatter_last_axis_kernel(ctx):
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    zero = zero_filler(ctx.out_np_dtype(0))
    known_shape = ctx.value(2)

    def run(indices, updates, shape):
        dims = tuple(int(d) for d in np.asarray(_host_int(known_shape, shape)).reshape(-1))
        i = tuple(indices.shape)
        if not dims or tuple(updates.shape) != i or i[:-1] != dims[:-1]:
            raise fail("indices %s, updates %s and shape %s must agree but for the last axis"
                       % (_fmt(i), _fmt(updates.shape), _fmt(dims)))
        out = outs.get(dims)
        zero(out)
        _launch(K.scatter_last_axis, int(updates.size), flat(indices), flat(updates), flat(out), dims[-1], i[-1])
        return out
    return run
