"""GPU MatMul (float32/float64): the tiled shared-memory kernel of nbflow/kernels/cuda/linalg.py."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import linalg as K
from nbflow.ops import linalg_ops


def _accepts(op):
    return op.inputs[0].dtype.as_numpy_dtype in (np.float32, np.float64)


@register_kernel(linalg_ops.MatMul, device="GPU", accepts=_accepts)
def matmul_kernel(ctx):
    a_shape, b_shape = ctx.input_shapes[0].as_tuple(), ctx.input_shapes[1].as_tuple()
    if None in a_shape or None in b_shape:
        raise NotImplementedError("GPU MatMul needs its shapes when the plan is built")
    try:
        m, n, k, sam, sak, sbk, sbn = K.layout(a_shape, b_shape, bool(ctx.attrs.get("transpose_a")),
                                               bool(ctx.attrs.get("transpose_b")))
    except ValueError as e:
        raise ctx.op_error(errors.InvalidArgumentError, str(e)) from None
    dtype = ctx.out_np_dtype(0)
    blocks, threads = K.grid(m, n)
    kernel = K.get_kernel(dtype)  # configured at each call (the simulator's kernel[...] mutates the kernel)
    device, fresh = ctx.device, ctx.fresh_outputs
    out = None if fresh else device.empty((m, n), dtype)

    def run(a, b):
        c = device.empty((m, n), dtype) if fresh else out
        if m and n:
            kernel[blocks, threads](a.reshape(a.size), b.reshape(b.size), c.reshape(c.size), m, n, k, sam, sak, sbk, sbn)
        return c
    return run
