"""GPU MatMul and BatchMatMulV2 (float32/float64): cuBLAS through nvmath-python when
backends/cuda/blas.py says so (the ``cuda-blas`` extra installed, on a real GPU,
``NBFLOW_CUDA_BLAS`` / ``blas.set_enabled``), else the tiled shared-memory kernel of
nbflow/kernels/cuda/linalg.py (and its batched variant). The tiled kernel also
serves what one cuBLAS call cannot: empty products (k = 0 gives zeros) and batch
broadcasts that are not a stride (e.g. [2, 1] against [1, 3])."""
import numpy as np

from nbflow.backends.cuda import blas
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import cublas as CB
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
    if m and n and k and blas.use_cublas(ctx.device):
        return _cublas_matmul(ctx, CB.gemm_args(a_shape, b_shape, bool(ctx.attrs.get("transpose_a")),
                                                bool(ctx.attrs.get("transpose_b"))), dtype)
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


def _contiguous(ctx, *arrays):
    for a in arrays:
        if not a.flags["C_CONTIGUOUS"]:  # cuBLAS reads raw pointers: a strided view would be misread
            raise ctx.op_error(errors.InternalError, "cuBLAS %s: an input is not C-contiguous" % ctx.op_def.type)


def _cublas_matmul(ctx, g, dtype):
    """One cuBLAS GEMM a run (kernels/cuda/cublas.py: operands swapped for row-major)."""
    m, n = g.n, g.m  # the column-major call's n and m are the row-major product's rows and columns
    device, fresh = ctx.device, ctx.fresh_outputs
    gemm = CB.Gemm(blas.bindings(), dtype, blas.DeviceHandle(device))
    out = None if fresh else device.empty((m, n), dtype)

    def run(a, b):
        _contiguous(ctx, a, b)
        c = device.empty((m, n), dtype) if fresh else out
        gemm.run(a, b, c, g)
        return c
    return run


@register_kernel(linalg_ops.BatchMatMulV2, device="GPU", accepts=_accepts)
def batch_matmul_kernel(ctx):
    """Stacks of matrices with numpy-broadcast batch dims: the batched tiles, the batch index
    maps (which matrix of x and of y each output matrix uses) made on the host once per shape."""
    adj_x, adj_y = bool(ctx.attrs["adj_x"]), bool(ctx.attrs["adj_y"])
    dtype, device, fresh = ctx.out_np_dtype(0), ctx.device, ctx.fresh_outputs
    kernel, bound = K.get_kernel(dtype, batched=True), {}
    gemm = CB.Gemm(blas.bindings(), dtype, blas.DeviceHandle(device)) if blas.use_cublas(device) else None

    def bind(xs, ys):
        """The launch for inputs of shapes ``xs``, ``ys``: ``launch(x, y) -> out``."""
        try:
            m, n, k, sam, sak, sbk, sbn = K.layout(xs[-2:], ys[-2:], adj_x, adj_y)
        except ValueError:
            raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (_fmt(xs), _fmt(ys))) from None
        batch = tuple(_broadcast_batch(xs[:-2], ys[:-2], shapes=(_fmt(xs), _fmt(ys))))
        nb = int(np.prod(batch, dtype=np.int64))
        out_shape = batch + (m, n)
        bound_out = None if fresh else device.empty(out_shape, dtype)
        strides = CB.batch_strides(xs[:-2], ys[:-2], batch, m * k, k * n, m * n) if gemm is not None else None
        if strides is not None and m and n and k and nb:  # one strided batched cuBLAS call
            g = CB.gemm_args(xs[-2:], ys[-2:], adj_x, adj_y)

            def launch_cublas(x, y):
                _contiguous(ctx, x, y)
                out = device.empty(out_shape, dtype) if bound_out is None else bound_out
                gemm.run_batched(x, y, out, g, strides, nb)
                return out
            return launch_cublas
        ia = np.broadcast_to(np.arange(int(np.prod(xs[:-2], dtype=np.int64))).reshape(xs[:-2]), batch).reshape(nb)
        ib = np.broadcast_to(np.arange(int(np.prod(ys[:-2], dtype=np.int64))).reshape(ys[:-2]), batch).reshape(nb)
        maps = [device.from_host(np.ascontiguousarray(v, dtype=np.int64)) for v in (ia, ib)]
        dims, (blocks, threads) = (m, n, k, sam, sak, sbk, sbn), K.grid(m, n, nb)

        def launch_tiled(x, y):
            out = device.empty(out_shape, dtype) if bound_out is None else bound_out
            if out.size:  # k == 0 gives zeros: the tiles add nothing
                kernel[blocks, threads](x.reshape(x.size), y.reshape(y.size), out.reshape(out.size), *dims, *maps)
            return out
        return launch_tiled

    def run(x, y):
        key = (tuple(x.shape), tuple(y.shape))
        launch = bound.get(key)
        if launch is None:
            launch = bound[key] = bind(*key)
        return launch(x, y)
    return run
