"""GPU Range, LinSpace and InvertPermutation (nbflow/kernels/cuda/sequence.py).

Range's and LinSpace's scalar inputs decide the output's length: they are
read on the host (plan constants, else copied back: TF keeps them in host
memory), then the values are written on the device. InvertPermutation checks
its input on the device and copies one flag back each run (a wait, as any
data-dependent error needs); a bad permutation is copied back whole so the
CPU's check raises its exact message.
"""
import numpy as np

from nbflow.backends.cuda.host_scalars import HostScalars
from nbflow.backends.cuda.nn import _Buffers
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import sequence as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import array_range_ops as RG
from nbflow.ops import array_reorder_ops as T
from nbflow.ops.array_range_ops import _range_size
from nbflow.ops.array_reorder_ops import _check_perm


def _out_dtype_in(*dtypes):
    return lambda op: op.outputs[0].dtype.as_numpy_dtype in dtypes


def _vector(ctx):
    """``get(n)``: a 1-D output of length n (kept per length; fresh per call in eager mode)."""
    bufs, dtype = _Buffers(ctx), ctx.out_np_dtype(0)
    return lambda n: bufs.get([(n,)], dtype)[0]


@register_kernel(RG.Range, device="GPU", accepts=_out_dtype_in(np.int32, np.int64, np.float32, np.float64))
def range_kernel(ctx):
    fail = ctx.run_error_factory()
    scalars, outs, device = HostScalars(ctx, (0, 1, 2)), _vector(ctx), ctx.device
    fill = K.kernels(ctx.out_np_dtype(0)).range_fill

    def run(start, limit, delta):
        n = _range_size(scalars.get(0, start), scalars.get(1, limit), scalars.get(2, delta), fail)
        out = outs(n)
        if n:
            blocks, threads = grid_1d(n)
            fill[blocks, threads](flat(device.from_host(start)), flat(device.from_host(delta)), n, out)
        return out
    return run


@register_kernel(RG.LinSpace, device="GPU", accepts=_out_dtype_in(np.float32, np.float64))
def lin_space_kernel(ctx):
    fail = ctx.run_error_factory()
    scalars, outs, device = HostScalars(ctx, (2,)), _vector(ctx), ctx.device
    fill = K.kernels(ctx.out_np_dtype(0)).linspace

    def run(start, stop, num):
        n = int(scalars.get(2, num))
        if n <= 0:
            raise fail("Requires num > 0: %d" % n)
        out = outs(n)
        blocks, threads = grid_1d(n)
        fill[blocks, threads](flat(device.from_host(start)), flat(device.from_host(stop)), n, out)
        return out
    return run


@register_kernel(T.InvertPermutation, device="GPU", accepts=_out_dtype_in(np.int32, np.int64))
def invert_permutation_kernel(ctx):
    fail = ctx.run_error_factory()
    outs, bad = _vector(ctx), ctx.device.empty((1,), np.int32)

    def run(x):
        if x.ndim != 1:
            raise fail("invert_permutation expects a 1-D vector, got shape %s" % list(x.shape))
        n = int(x.shape[0])
        out = outs(n)
        if n:
            blocks, threads = grid_1d(n)
            K.prepare[blocks, threads](out, n, bad)
            K.invert_permutation[blocks, threads](x, n, out, bad)
            if bad.copy_to_host()[0]:
                _check_perm(x.copy_to_host(), n, fail)
                raise fail("%s is not a permutation" % list(x.copy_to_host()))  # _check_perm always raises first
        return out
    return run
