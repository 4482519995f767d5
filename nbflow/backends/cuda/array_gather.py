"""GPU GatherV2 (tf.gather, embedding lookups), UnsortedSegmentSum (their gradient)
and OneHot: the kernels of nbflow/kernels/cuda/gather.py.

Out-of-range indices follow TF's GPU kernels (zeros in a gather, dropped in a
segment sum; the CPU raises). The gather's ``axis`` and OneHot's ``depth``
are read on the host (a plan-time constant, else a small copy back per run,
as TF keeps them in host memory).
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import elementwise as ew
from nbflow.kernels.cuda import gather as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import array_concat_ops as C
from nbflow.ops import array_gather_ops as G
from nbflow.ops.array_common import _axis_value, _fmt, _prod

_NUMERIC = "biuf"


def _host_int(known, arr):
    """A small input's value: known at plan time, else copied back from the device."""
    if known is not None:
        return known
    return arr.copy_to_host() if is_device_array(arr) else np.asarray(arr)


def _kind_ok(op, i, kinds=_NUMERIC):
    try:
        d = np.dtype(op.inputs[i].dtype.as_numpy_dtype)
    except (AttributeError, TypeError):
        return False
    return d.kind in kinds and d != np.float16


class _Outputs:
    """One output device array per shape (fresh per call in eager mode)."""

    def __init__(self, ctx):
        self.device, self.fresh, self.dtype, self.cache = ctx.device, ctx.fresh_outputs, ctx.out_np_dtype(0), {}

    def get(self, shape):
        if self.fresh:
            return self.device.empty(shape, self.dtype)
        out = self.cache.get(shape)
        if out is None:
            out = self.cache[shape] = self.device.empty(shape, self.dtype)
        return out


def zero_filler(dtype):
    """``zero(out)``: sets a device array to zeros (the generated fill kernel, one per shape)."""
    fills = {}

    def zero(out):
        if not out.size:
            return
        shape = tuple(out.shape)
        fill = fills.get(shape)
        if fill is None:
            kernel, patterns = ew.get_kernel([], ["0"], [], [], [dtype], shape)
            fill = fills[shape] = ew.launcher(kernel, [], patterns, shape)
        fill((), (out,))
    return zero


def _gather_ok(op):
    return _kind_ok(op, 0) and not op.attrs.get("batch_dims", 0)


@register_kernel(C.GatherV2, device="GPU", accepts=_gather_ok)
def gather_kernel(ctx):
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    known_axis = ctx.value(2)

    def run(params, indices, axis):
        if params.ndim == 0:
            raise fail("params must be at least 1 dimensional")
        p = tuple(params.shape)
        a = _axis_value(_host_int(known_axis, axis), len(p), fail, "axis")
        outer, n, inner = _prod(p[:a]), p[a], _prod(p[a + 1:])
        m = int(indices.size)
        out = outs.get(p[:a] + tuple(indices.shape) + p[a + 1:])
        total = outer * m * inner
        if total:
            blocks, threads = grid_1d(total)
            K.gather[blocks, threads](flat(params), flat(indices), flat(out), n, m, inner, total)
        return out
    return run


def _segment_ok(op):
    try:
        return np.dtype(op.inputs[0].dtype.as_numpy_dtype) in (np.float32, np.float64, np.int32) \
            and _kind_ok(op, 1, "iu")
    except (AttributeError, TypeError):
        return False


@register_kernel(C.UnsortedSegmentSum, device="GPU", accepts=_segment_ok)
def unsorted_segment_sum_kernel(ctx):
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    zero = zero_filler(ctx.out_np_dtype(0))
    known_num = ctx.value(2)

    def run(data, ids, num):
        segments = int(_host_int(known_num, num))
        d, s = tuple(data.shape), tuple(ids.shape)
        if d[:len(s)] != s:
            raise fail("data.shape = %s does not start with segment_ids.shape = %s" % (_fmt(d), _fmt(s)))
        rest = d[len(s):]
        out = outs.get((segments,) + rest)
        zero(out)
        total = int(data.size)
        if total and out.size:
            blocks, threads = grid_1d(total)
            K.segment_sum[blocks, threads](flat(data), flat(ids), flat(out), segments, _prod(rest), total)
        return out
    return run


def _one_hot_ok(op):
    return _kind_ok(op, 0, "iu") and _kind_ok(op, 2)


@register_kernel(G.OneHot, device="GPU", accepts=_one_hot_ok)
def one_hot_kernel(ctx):
    axis = ctx.attrs["axis"]
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    known_depth = ctx.value(1)

    def run(indices, depth, on, off):
        dep = int(_host_int(known_depth, depth))
        if dep < 0:
            raise fail("depth must be non-negative, got: %d" % dep)
        shp = tuple(indices.shape)
        a = len(shp) if axis == -1 else axis
        out = outs.get(shp[:a] + (dep,) + shp[a:])
        total = int(out.size)
        if total:
            blocks, threads = grid_1d(total)
            K.one_hot[blocks, threads](flat(indices), flat(on), flat(off), flat(out), dep, _prod(shp[a:]), total)
        return out
    return run
