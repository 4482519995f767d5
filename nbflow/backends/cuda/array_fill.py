"""GPU Fill, ZerosLike, OnesLike and BroadcastTo: the generated element-wise kernel
(nbflow/kernels/cuda/elementwise.py) writing one value, or numpy broadcasting of
the input, into the output.

The output shape is the plan's when known; else it is read from the ``dims`` /
``shape`` input at run time (a small copy to the host: TF keeps these inputs in
host memory).
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import elementwise as ew
from nbflow.ops import array_fill_ops as F
from nbflow.ops import broadcast_ops as B
from nbflow.ops.array_common import _shape_value_to_tuple


def _numeric_out(op):
    try:
        return np.dtype(op.outputs[0].dtype.as_numpy_dtype).kind in "biuf" and \
            np.dtype(op.outputs[0].dtype.as_numpy_dtype) != np.float16
    except (AttributeError, TypeError):
        return False


class _Writer:
    """``write(inputs, in_shapes, out_shape) -> out``: the kernel ``expr`` per shape
    pattern, output buffers reused per shape (fresh in eager mode)."""

    def __init__(self, ctx, expr, in_dtypes):
        self.device, self.fresh, self.expr, self.in_dtypes = ctx.device, ctx.fresh_outputs, expr, in_dtypes
        self.dtype = ctx.out_np_dtype(0)
        self.bound = {}

    def write(self, ins, in_shapes, out_shape):
        key = (tuple(in_shapes), out_shape)
        b = self.bound.get(key)
        if b is None:
            kernel, patterns = ew.get_kernel([], [self.expr], self.in_dtypes, in_shapes, [self.dtype], out_shape)
            out = None if self.fresh else self.device.empty(out_shape, self.dtype)
            b = self.bound[key] = (ew.launcher(kernel, in_shapes, patterns, out_shape), out)
        launch, out = b
        if out is None:
            out = self.device.empty(out_shape, self.dtype)
        launch(ins, (out,))
        return out


def _shape_from(ctx, arr):
    static = ctx.output_shapes[0]
    if static.is_fully_defined():
        return static.as_tuple()
    host = arr.copy_to_host() if is_device_array(arr) else np.asarray(arr)
    return _shape_value_to_tuple(host)


@register_kernel(F.Fill, device="GPU", accepts=_numeric_out)
def fill_kernel(ctx):
    w = _Writer(ctx, "x0", [ctx.input_dtypes[1].as_numpy_dtype])
    return lambda dims, value: w.write((value,), [()], _shape_from(ctx, dims))


@register_kernel(F.ZerosLike, F.OnesLike, device="GPU", accepts=_numeric_out)
def zeros_like_kernel(ctx):
    w = _Writer(ctx, "%d" % ctx.op_def.fill_value, [])
    return lambda x: w.write((), [], tuple(x.shape))


@register_kernel(B.BroadcastTo, device="GPU", accepts=_numeric_out)
def broadcast_to_kernel(ctx):
    w = _Writer(ctx, "x0", [ctx.input_dtypes[0].as_numpy_dtype])

    def run(x, shape):
        out_shape = _shape_from(ctx, shape)
        try:
            ok = np.broadcast_shapes(tuple(x.shape), out_shape) == tuple(out_shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError("Unable to broadcast tensor of shape %s to tensor of shape %s"
                             % (list(x.shape), list(out_shape)))
        return w.write((x,), [tuple(x.shape)], out_shape)
    return run
