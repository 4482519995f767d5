"""GPU MatrixInverse and MatrixDeterminant (float32, float64) of batches of small
square matrices: the one-block-a-matrix kernels of nbflow/kernels/cuda/matrix.py.
Their gradients are composed of ops (matmuls, the inverse) that run on the GPU.

A singular matrix makes MatrixInverse raise TF's InvalidArgumentError "Input
is not invertible." as the CPU op does: each run copies the per-matrix
singular flags back (one sync, a batch-sized int32 vector).
"""
import numpy as np

from nbflow.backends.cuda.array_gather import _Outputs
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import matrix as K
from nbflow.kernels.cuda.launch import MAX_BLOCKS, THREADS
from nbflow.ops import linalg_ops


def _float(op):
    return op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64)


def _grid(batch, n):
    """One block a matrix (at most MAX_BLOCKS, striding over the rest), a warp or more of threads."""
    threads = 32
    while threads < n * n and threads < THREADS:
        threads *= 2
    return min(batch, MAX_BLOCKS), threads


class _Scratch:
    """The work copy (batch, n, n), the factor column (batch, n) and the flags (batch,) per shape."""

    def __init__(self, device, dtype):
        self.device, self.dtype, self.arrays = device, dtype, {}

    def get(self, batch, n):
        got = self.arrays.get((batch, n))
        if got is None:
            got = self.arrays[batch, n] = (self.device.empty((batch * n * n,), self.dtype),
                                           self.device.empty((batch * n,), self.dtype),
                                           self.device.empty((batch,), np.int32))
        return got


def _square(ctx, a):
    shape = tuple(int(d) for d in a.shape)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ctx.op_error(errors.InvalidArgumentError, "Input matrices must be squares, got shape %s" % list(shape))
    n = shape[-1]
    return shape, n, int(a.size) // (n * n) if n else 0


@register_kernel(linalg_ops.MatrixInverse, device="GPU", accepts=_float)
def matrix_inverse_kernel(ctx):
    adjoint = 1 if ctx.attrs["adjoint"] else 0
    outs = _Outputs(ctx)
    scratch = _Scratch(ctx.device, ctx.out_np_dtype(0))

    def run(a):
        shape, n, batch = _square(ctx, a)
        out = outs.get(shape)
        if batch:
            work, fac, bad = scratch.get(batch, n)
            blocks, threads = _grid(batch, n)
            K.inverse[blocks, threads](a.reshape(a.size), work, fac, out.reshape(out.size), bad, n, batch, adjoint)
            if bad.copy_to_host().any():  # the sync: TF's error for a singular matrix
                raise ctx.op_error(errors.InvalidArgumentError, "Input is not invertible.")
        return out
    return run


@register_kernel(linalg_ops.MatrixDeterminant, device="GPU", accepts=_float)
def matrix_determinant_kernel(ctx):
    outs = _Outputs(ctx)
    dtype = ctx.out_np_dtype(0)
    scratch = _Scratch(ctx.device, dtype)
    ones, fresh = {}, ctx.fresh_outputs

    def run(a):
        shape, n, batch = _square(ctx, a)
        out = outs.get(shape[:-2])
        if not out.size:
            return out
        if n == 0:  # the empty product
            one = None if fresh else ones.get(shape)
            if one is None:
                one = ctx.device.from_host(np.ones(shape[:-2], dtype))
                if not fresh:
                    ones[shape] = one
            return one
        work, fac, _ = scratch.get(batch, n)
        blocks, threads = _grid(batch, n)
        K.determinant[blocks, threads](a.reshape(a.size), work, fac, out.reshape(out.size), n, batch)
        return out
    return run
