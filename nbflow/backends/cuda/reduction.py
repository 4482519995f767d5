"""GPU reductions: Sum, Mean, Max, Min, Prod, EuclideanNorm over any axes (floating point),
All and Any (booleans), BiasAddGrad,
ArgMax/ArgMin along one axis and Cumsum/Cumprod (floating point and int32/int64 inputs).

A shared-memory tree per output element (nbflow/kernels/cuda/reduce.py). The
axes are usually known when the plan is built (a constant, or folded from
shapes); otherwise they are copied back at run time (small). Integer
reductions (EuclideanNorm of integers included) stay on the host.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import elementwise as ew
from nbflow.kernels.cuda import reduce as K
from nbflow.kernels.cuda.launch import grid_1d
from nbflow.ops import nn_misc_ops
from nbflow.ops import reduction_ops as R
from nbflow.ops.broadcast_ops import normalize_axes

_KIND = {R.Sum: "sum", R.Mean: "mean", R.Max: "max", R.Min: "min", R.Prod: "prod", R.EuclideanNorm: "euclidean",
         R.All: "all", R.Any: "any"}


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


def _bool_op(op):
    return op.inputs[0].dtype.as_numpy_dtype == np.bool_


@register_kernel(R.All, R.Any, device="GPU", accepts=_bool_op)
@register_kernel(R.Sum, R.Mean, R.Max, R.Min, R.Prod, R.EuclideanNorm, device="GPU", accepts=_float_op)
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


def _int_or_float(op):
    return op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64, np.int32, np.int64)


def _along_one_axis(ctx, what, launch, keep_axis):
    """``run(x, axis)`` for the one-axis kernels: the axis (a constant, else copied back),
    the (outer, r, n) view, the output (per shape; fresh in eager mode), then ``launch``."""
    fixed = ctx.value(1)
    dtype, device, fresh, outs = ctx.out_np_dtype(0), ctx.device, ctx.fresh_outputs, {}

    def run(x, axis_value):
        shape = tuple(x.shape)
        if not shape:
            raise ValueError("%s needs an input of rank >= 1, got a scalar" % ctx.op_def.type)
        if fixed is None:
            axis_value = axis_value.copy_to_host() if is_device_array(axis_value) else axis_value
        axis = R._one_axis(fixed if fixed is not None else axis_value, len(shape), what)
        out_shape = shape if keep_axis else shape[:axis] + shape[axis + 1:]
        out = device.empty(out_shape, dtype) if fresh else outs.get(out_shape)
        if out is None:
            out = outs[out_shape] = device.empty(out_shape, dtype)
        r, n = shape[axis], int(np.prod(shape[axis + 1:], dtype=np.int64))
        lines = int(np.prod(shape[:axis], dtype=np.int64)) * n
        if not keep_axis and r == 0:
            raise ValueError("Reduction axis %d is empty in shape %s" % (axis, list(shape)))
        if lines and r:
            blocks, threads = grid_1d(lines)
            launch(blocks, threads, x.reshape(x.size), out.reshape(out.size), r, n, lines, axis, shape)
        return out
    return run


@register_kernel(R.ArgMax, R.ArgMin, device="GPU", accepts=_int_or_float)
def arg_reduction_kernel(ctx):
    is_min = int(ctx.op_def is R.ArgMin)

    def launch(blocks, threads, x, out, r, n, lines, axis, shape):
        K.arg_reduce[blocks, threads](x, out, r, n, lines, is_min)
    return _along_one_axis(ctx, "dimension", launch, keep_axis=False)


@register_kernel(R.Cumsum, R.Cumprod, device="GPU", accepts=_int_or_float)
def scan_kernel(ctx):
    prod = int(ctx.op_def is R.Cumprod)
    exclusive, reverse = int(bool(ctx.attrs["exclusive"])), int(bool(ctx.attrs["reverse"]))
    identity = ctx.device.from_host(np.array([prod], dtype=ctx.out_np_dtype(0)))

    def launch(blocks, threads, x, out, r, n, lines, axis, shape):
        K.scan[blocks, threads](x, out, r, n, lines, exclusive, reverse, prod, identity)
    return _along_one_axis(ctx, "scan axis", launch, keep_axis=True)


@register_kernel(nn_misc_ops.L2Loss, device="GPU", accepts=_float_op)
def l2_loss_kernel(ctx):
    """sum(t ** 2) / 2: the halved squares (the generated element-wise kernel, into a scratch
    buffer), then the full-sum tree."""
    dtype, device, bound = ctx.out_np_dtype(0), ctx.device, {}
    expr = "x0 * x0 * np.%s(0.5)" % np.dtype(dtype).name

    def run(t):
        shape = tuple(t.shape)
        b = bound.get(shape)
        if b is None:
            kernel, patterns = ew.get_kernel([], [expr], [dtype], [shape], [dtype], shape)
            squares = device.empty(shape, dtype)
            b = bound[shape] = (ew.launcher(kernel, [shape], patterns, shape), squares,
                                bind_reduction(device, "sum", shape, list(range(len(shape))), (), dtype,
                                               ctx.fresh_outputs))
        square, squares, total = b
        square((t,), (squares,))
        return total(squares)
    return run
