"""CPU kernels of fills (nbflow/ops/array_fill_ops.py), broadcasting (broadcast_ops.py), range and
linspace (array_range_ops.py)."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import dtypes
from nbflow.kernels.cpu import array as K
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.ops import array_fill_ops as F
from nbflow.ops import array_range_ops as RG
from nbflow.ops import broadcast_ops as B
from nbflow.ops.array_common import _ints, _shape_value_to_tuple
from nbflow.ops.array_range_ops import _range_size
from nbflow.ops.broadcast_ops import _broadcast_shapes, broadcast_gradient_axes


@register_kernel(F.Fill)
def _fill(ctx):
    npd = ctx.out_np_dtype(0)
    out = ctx.static_buffer(0)
    if out is not None:
        def run_static(dims, value):
            out[...] = value
            return out
        return run_static
    fail = ctx.run_error_factory()

    def run(dims, value):
        d = _shape_value_to_tuple(dims)
        if any(n < 0 for n in d):
            raise fail("Fill dimensions must be >= 0, got %s" % (list(d),))
        return np.full(d, value, dtype=npd)
    return run


@register_kernel(F.ZerosLike)
def _zeros_like(ctx):
    # OnesLike too (a subclass): the value comes from the op class
    cls = ctx.op_def
    v = cls._value(ctx.input_dtypes[0])
    return lambda x: np.full(x.shape, v, dtype=x.dtype)


@register_kernel(B.BroadcastTo)
def _broadcast_to(ctx):
    npd = ctx.input_dtypes[0].as_numpy_dtype
    if ctx.input_dtypes[0] in (dtypes.string, dtypes.float16):  # no Numba kernels for these
        return lambda x, s: np.ascontiguousarray(np.broadcast_to(x, _shape_value_to_tuple(s)))
    get_out = ctx.buffer_source(0)
    in_dims = ctx.dims(0)
    if get_out is not None and in_dims is not None and None not in in_dims:
        kernel, _ = ew_kernels.get_kernel([], ["x0"], [npd], [in_dims], [npd], ctx.output_shapes[0].as_tuple())

        def run(x, s):
            out = get_out()
            kernel(x, out)
            return out
        return run
    fail = ctx.run_error_factory()

    def run_dynamic(x, s):
        target = _shape_value_to_tuple(s)
        if x.ndim > len(target) or any(d != 1 and d != t for d, t in zip(x.shape[::-1], target[::-1])):
            raise fail("Unable to broadcast tensor of shape %s to %s" % (list(x.shape), list(target)))
        kernel, _ = ew_kernels.get_kernel([], ["x0"], [npd], [x.shape], [npd], target)
        o = np.empty(target, dtype=npd)
        kernel(x, o)
        return o
    return run_dynamic


@register_kernel(B.BroadcastGradientArgs)
def _broadcast_gradient_args(ctx):
    return lambda sx, sy: broadcast_gradient_axes(sx, sy)


@register_kernel(B.BroadcastArgs)
def _broadcast_args(ctx):
    fail = ctx.run_error_factory()
    npd = ctx.out_np_dtype(0)
    return lambda a, b: np.array(_broadcast_shapes(_ints(a), _ints(b), fail), dtype=npd)


@register_kernel(RG.Range)
def _range(ctx):
    npd = ctx.out_np_dtype(0)
    fail = ctx.run_error_factory()

    def run(a, b, c):
        a, b, c = a.item(), b.item(), c.item()
        n = _range_size(a, b, c, fail)
        return (a + np.arange(n, dtype=npd) * np.asarray(c, dtype=npd)).astype(npd, copy=False)
    return run


@register_kernel(RG.LinSpace)
def _lin_space(ctx):
    out = ctx.static_buffer(0)
    npd = ctx.out_np_dtype(0)
    fail = ctx.run_error_factory()

    def run(start, stop, num):
        n = int(num)
        if n <= 0:
            raise fail("Requires num > 0: %d" % n)
        o = out if out is not None else np.empty(n, dtype=npd)
        K.linspace(start.reshape(1), stop.reshape(1), o)
        return o
    return run
