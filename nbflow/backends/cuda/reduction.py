"""GPU reductions: Sum, Mean, Max, Min, Prod over any axes (floating point), BiasAddGrad,
and ArgMax/ArgMin along one axis (floating point and int32/int64 inputs).

A shared-memory tree per output element (nbflow/kernels/cuda/reduce.py). The
axes are usually known when the plan is built (a constant, or folded from
shapes); otherwise they are copied back at run time (small). Integer and
boolean reductions stay on the host.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import reduce as K
from nbflow.kernels.cuda.launch import grid_1d
from nbflow.ops import nn_misc_ops
from nbflow.ops import reduction_ops as R
from nbflow.ops.broadcast_ops import normalize_axes

_KIND = {R.Sum: "sum", R.Mean: "mean", R.Max: "max", R.Min: "min", R.Prod: "prod"}


def _float_op(op):
    return op.inputs[0].dtype.is_floating and op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64)


def bind_reduction(device, kind, in_shape, axes, out_shape, dtype, fresh=False):
    """``run(x) -> out`` reducing a C-contiguous device array over ``axes``."""
    kernel = K.get_kernel(kind, dtype)
    n_out, count, kd, ks, rd, rs = K.plan(in_shape, axes)
    dev = [device.from_host(a) for a in (kd, ks, rd, rs)]
    blocks = K.blocks_for(n_out)
    out = None if fresh else device.empty(out_shape, dtype)

    def run(x, *_):
        o = device.empty(out_shape, dtype) if fresh else out
        flat_x = x.reshape(x.size) if x.ndim != 1 else x
        if n_out:
            kernel[blocks, K.THREADS](flat_x, o.reshape(o.size) if o.ndim != 1 else o, n_out, count, *dev)
        return o
    return run


@register_kernel(R.Sum, R.Mean, R.Max, R.Min, R.Prod, device="GPU", accepts=_float_op)
def reduction_kernel(ctx):
    x_shape = ctx.input_shapes[0].as_tuple()
    axes = ctx.value(1)
    kind = _KIND[next(c for c in ctx.op_def.__mro__ if c in _KIND)]
    dtype = ctx.out_np_dtype(0)
    if axes is None or x_shape is None or None in x_shape or not ctx.output_shapes[0].is_fully_defined():
        return _dynamic(ctx, kind, dtype)
    axes = normalize_axes(axes, len(x_shape))
    return bind_reduction(ctx.device, kind, x_shape, axes, ctx.output_shapes[0].as_tuple(), dtype,
                          ctx.fresh_outputs)


def _dynamic(ctx, kind, dtype):
    """Axes or shapes known only at run time (folding off, a shape computed on the device):
    the axes are copied back (small) and the reduction bound per (shape, axes)."""
    keep = bool(ctx.attrs.get("keep_dims", False))
    device, bound = ctx.device, {}

    def run(x, axes):
        shape = tuple(x.shape)
        host = axes.copy_to_host() if is_device_array(axes) else np.asarray(axes)
        ax = tuple(normalize_axes(host, len(shape)))
        key = (shape, ax)
        fn = bound.get(key)
        if fn is None:
            out = tuple(1 if k in ax else d for k, d in enumerate(shape)) if keep else \
                tuple(d for k, d in enumerate(shape) if k not in ax)
            fn = bound[key] = bind_reduction(device, kind, shape, ax, out, dtype, ctx.fresh_outputs)
        return fn(x)
    return run


def _bias_grad_ok(op):
    fmt = op.attrs.get("data_format") or "NHWC"
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    return _float_op(op) and not fmt.startswith("NC")


@register_kernel(nn_misc_ops.BiasAddGrad, device="GPU", accepts=_bias_grad_ok)
def bias_add_grad_kernel(ctx):
    x_shape = ctx.input_shapes[0].as_tuple()
    if x_shape is None or None in x_shape:
        raise NotImplementedError("GPU BiasAddGrad needs its input shape when the plan is built")
    return bind_reduction(ctx.device, "sum", x_shape, list(range(len(x_shape) - 1)), (x_shape[-1],),
                          ctx.out_np_dtype(0), ctx.fresh_outputs)


def _arg_ok(op):
    return op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64, np.int32, np.int64)


@register_kernel(R.ArgMax, R.ArgMin, device="GPU", accepts=_arg_ok)
def arg_reduction_kernel(ctx):
    fixed = ctx.value(1)
    is_min = int(ctx.op_def is R.ArgMin)
    dtype, device, fresh, outs = ctx.out_np_dtype(0), ctx.device, ctx.fresh_outputs, {}

    def run(x, dim):
        shape = tuple(x.shape)
        if fixed is None:
            dim = dim.copy_to_host() if is_device_array(dim) else dim
        axis = R._one_axis(fixed if fixed is not None else dim, len(shape), "dimension")
        if shape[axis] == 0:
            raise ValueError("Reduction axis %d is empty in shape %s" % (axis, list(shape)))
        out_shape = shape[:axis] + shape[axis + 1:]
        out = device.empty(out_shape, dtype) if fresh else outs.get(out_shape)
        if out is None:
            out = outs[out_shape] = device.empty(out_shape, dtype)
        r = shape[axis]
        n = int(np.prod(shape[axis + 1:], dtype=np.int64))
        total = int(out.size)
        if total:
            blocks, threads = grid_1d(total)
            K.arg_reduce[blocks, threads](x.reshape(x.size), out.reshape(total), r, n, total, is_min)
        return out
    return run
