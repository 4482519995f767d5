"""GPU MatMul and BatchMatMulV2 (float32/float64): the tiled shared-memory kernel of
nbflow/kernels/cuda/linalg.py (and its batched variant)."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import linalg as K
from nbflow.ops import linalg_ops
from nbflow.ops.linalg_ops import _broadcast_batch, _fmt


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


@register_kernel(linalg_ops.BatchMatMulV2, device="GPU", accepts=_accepts)
def batch_matmul_kernel(ctx):
    """Stacks of matrices with numpy-broadcast batch dims: the batched tiles, the batch index
    maps (which matrix of x and of y each output matrix uses) made on the host once per shape."""
    adj_x, adj_y = bool(ctx.attrs["adj_x"]), bool(ctx.attrs["adj_y"])
    dtype, device, fresh = ctx.out_np_dtype(0), ctx.device, ctx.fresh_outputs
    kernel, bound = K.get_kernel(dtype, batched=True), {}

    def bind(xs, ys):
        try:
            m, n, k, sam, sak, sbk, sbn = K.layout(xs[-2:], ys[-2:], adj_x, adj_y)
        except ValueError:
            raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (_fmt(xs), _fmt(ys))) from None
        batch = tuple(_broadcast_batch(xs[:-2], ys[:-2], shapes=(_fmt(xs), _fmt(ys))))
        nb = int(np.prod(batch, dtype=np.int64))
        ia = np.broadcast_to(np.arange(int(np.prod(xs[:-2], dtype=np.int64))).reshape(xs[:-2]), batch).reshape(nb)
        ib = np.broadcast_to(np.arange(int(np.prod(ys[:-2], dtype=np.int64))).reshape(ys[:-2]), batch).reshape(nb)
        maps = [device.from_host(np.ascontiguousarray(v, dtype=np.int64)) for v in (ia, ib)]
        out = None if fresh else device.empty(batch + (m, n), dtype)
        return batch + (m, n), out, (m, n, k, sam, sak, sbk, sbn), maps, K.grid(m, n, nb)

    def run(x, y):
        key = (tuple(x.shape), tuple(y.shape))
        b = bound.get(key)
        if b is None:
            b = bound[key] = bind(*key)
        out_shape, out, dims, maps, (blocks, threads) = b
        if out is None:
            out = device.empty(out_shape, dtype)
        if out.size:  # k == 0 gives zeros: the tiles add nothing
            kernel[blocks, threads](x.reshape(x.size), y.reshape(y.size), out.reshape(out.size), *dims, *maps)
        return out
    return run
