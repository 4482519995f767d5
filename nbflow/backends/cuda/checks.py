"""GPU CheckNumerics and InTopKV2 (nbflow/kernels/cuda/checks.py).

CheckNumerics scans the tensor on the device into two flags (NaN seen, Inf
seen), then copies the 8 bytes back and raises the CPU's InvalidArgumentError
(TF's message) on the host: a wait for the device every run, as TF's GPU
CheckNumerics also waits for its flags before it can fail the step. The
tensor itself passes through untouched. InTopKV2 is one thread per row,
reading ``k`` from the device (no copy back).
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import checks as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import array_shape_ops as S
from nbflow.ops import nn_softmax_ops

_WHAT = {1: "NaN", 2: "Inf", 3: "Inf and NaN"}


def _float_tensor(op):
    return op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64)


@register_kernel(S.CheckNumerics, device="GPU", accepts=_float_tensor)
def check_numerics_kernel(ctx):
    message = ctx.attrs["message"]
    fail = ctx.run_error_factory()
    flags = ctx.device.empty((2,), np.int32)

    def run(x):
        n = int(x.size)
        if n:
            K.clear_flags[1, 2](flags)
            blocks, threads = grid_1d(n)
            K.nonfinite_flags[blocks, threads](flat(x), n, flags)
            nan, inf = flags.copy_to_host()
            if nan or inf:
                raise fail("%s : Tensor had %s values" % (message, _WHAT[int(nan) + 2 * int(inf)]))
        return x
    return run


def _float32_predictions(op):
    return op.inputs[0].dtype.as_numpy_dtype == np.float32


@register_kernel(nn_softmax_ops.InTopKV2, device="GPU", accepts=_float32_predictions)
def in_top_k_kernel(ctx):
    static = None if ctx.fresh_outputs or not ctx.output_shapes[0].is_fully_defined() else \
        ctx.device.empty(ctx.output_shapes[0].as_tuple(), np.bool_)
    device = ctx.device

    def run(pred, targets, k):
        if pred.ndim != 2 or targets.ndim != 1 or pred.shape[0] != targets.shape[0]:
            raise ValueError("First dimension of predictions %s must match length of targets %s"
                             % (list(pred.shape), list(targets.shape)))
        rows, n = tuple(pred.shape)
        out = static if static is not None else device.empty((rows,), np.bool_)
        if rows:
            blocks, threads = grid_1d(rows)
            K.in_top_k[blocks, threads](flat(pred), targets, flat(device.from_host(k)), rows, n, out)
        return out
    return run
