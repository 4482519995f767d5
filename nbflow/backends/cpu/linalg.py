"""CPU kernels of the linear-algebra ops (nbflow/ops/linalg_ops.py).

MatMul runs the register-tiled product of kernels/cpu/microgemm.py (float32/float64,
the operands as stored and the transposes as flags; split across Numba's
threads from 2M multiply-adds); BatchMatMul runs BLAS gemm inside @njit
(kernels/cpu/linalg.py). float16 is multiplied in float32 and rounded back;
int32/int64 (which TF's CPU MatMul also accepts) use numpy's integer matmul --
BLAS has no integer GEMM.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import linalg as K
from nbflow.kernels.cpu import microgemm as G
from nbflow.kernels.cpu.threads import threads_for
from nbflow.ops import linalg_ops
from nbflow.ops.linalg_ops import _broadcast_batch, _fmt


def _product(a2, b2, out):
    """out = a2 @ b2 for 2-D operands (possibly transposed views) without a kernel:
    float16, integers, and float operands that are not C-contiguous."""
    if out.size == 0:
        return
    if a2.shape[1] == 0:
        out[...] = 0
    elif out.dtype == np.float16:
        out[...] = np.dot(a2.astype(np.float32), b2.astype(np.float32))
    else:
        np.matmul(a2, b2, out=out)


def _check_square(x):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError("Input matrices must be squares, got shape %s" % (list(x.shape),))


#: multiply-adds (M*K*N) from which MatMul splits its output across Numba's threads.
#: Measured with the TBB threading layer (session 12, kernels alone, 2 cores, serial vs
#: two threads): 1M (128x64x128) 8.7 vs 7.6 us, 2M (32x128x512) 19.3 vs 13.1 us, 4M
#: 34-41 vs 21-25 us, 12.8M (mlp/b32's 32x784x512) 119 vs 66 us. (Under the workqueue
#: layer a parallel call cost ~100 us and the threshold was 16M.)
PARALLEL_MIN_MACS = 1 << 21


def _threads(m, k, n):
    return threads_for(m * k * n, PARALLEL_MIN_MACS)


@register_kernel(linalg_ops.MatMul, fresh_outputs=True)
def _mat_mul(ctx):
    ta, tb = ctx.attrs["transpose_a"], ctx.attrs["transpose_b"]
    out = ctx.static_buffer(0)
    npd = ctx.out_np_dtype(0)
    tiled = npd in (np.float32, np.float64)
    gemm_fn = G.gemm_address(npd) if tiled else None
    # scratch for transpose_b (b.T, or the transposed product; at most b.size elements);
    # without transpose_b the kernel never reads it: an empty array of the dtype
    bt = [np.empty(0, dtype=npd) if tiled else None]
    bd = ctx.dims(1)
    if tiled and tb and bd is not None and None not in bd:
        bt[0] = np.empty(max(int(np.prod(bd)), 1), dtype=npd)

    def run(a, b):
        a2 = a.T if ta else a
        b2 = b.T if tb else b
        if a2.shape[1] != b2.shape[0]:
            raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (_fmt(a.shape), _fmt(b.shape)))
        o = out if out is not None else np.empty((a2.shape[0], b2.shape[1]), dtype=npd)
        if tiled and a.flags.c_contiguous and b.flags.c_contiguous:
            if tb and bt[0].size < b.size:
                bt[0] = np.empty(max(b.size, 1), dtype=npd)
            m, k, n = a2.shape[0], a2.shape[1], b2.shape[1]
            nt = _threads(m, k, n)
            # the operands as stored, the transposes as flags
            if nt > 1:
                G.matmul_parallel(gemm_fn, a, b, o, ta, tb, bt[0], nt)
            else:
                G.matmul(gemm_fn, a, b, o, ta, tb, bt[0])
        else:
            _product(a2, b2, o)
        return o
    return run


@register_kernel(linalg_ops.BatchMatMulV2, fresh_outputs=True)
def _batch_mat_mulv2(ctx):
    adj_x, adj_y = bool(ctx.attrs["adj_x"]), bool(ctx.attrs["adj_y"])
    npd = ctx.out_np_dtype(0)
    out_buf = ctx.static_buffer(0)
    blas = npd in (np.float32, np.float64)
    cache = {}

    def layout(xs, ys):
        """Batch index maps and output shape for these input shapes (cached)."""
        key = (xs, ys)
        got = cache.get(key)
        if got is None:
            m, k1 = (xs[-1], xs[-2]) if adj_x else (xs[-2], xs[-1])
            k2, n = (ys[-1], ys[-2]) if adj_y else (ys[-2], ys[-1])
            if k1 != k2:
                raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (_fmt(xs), _fmt(ys)))
            batch = tuple(_broadcast_batch(xs[:-2], ys[:-2], shapes=(_fmt(xs), _fmt(ys))))
            nb = int(np.prod(batch)) if batch else 1
            ia = np.broadcast_to(np.arange(int(np.prod(xs[:-2]))).reshape(xs[:-2]), batch).reshape(nb)
            ib = np.broadcast_to(np.arange(int(np.prod(ys[:-2]))).reshape(ys[:-2]), batch).reshape(nb)
            got = (np.ascontiguousarray(ia), np.ascontiguousarray(ib), batch + (m, n), nb, k1)
            cache[key] = got
        return got

    def run(x, y):
        ia, ib, out_shape, nb, k = layout(x.shape, y.shape)
        out = out_buf if out_buf is not None else np.empty(out_shape, dtype=npd)
        if out.size == 0:
            return out
        if k == 0:
            out[...] = 0
            return out
        x3 = x.reshape((-1,) + x.shape[-2:])
        y3 = y.reshape((-1,) + y.shape[-2:])
        o3 = out.reshape((nb,) + out_shape[-2:])
        if blas:
            K.batch_matmul(x3, y3, ia, ib, adj_x, adj_y, o3)
        else:
            xs = x3[ia].swapaxes(1, 2) if adj_x else x3[ia]
            ys = y3[ib].swapaxes(1, 2) if adj_y else y3[ib]
            if npd == np.float16:
                o3[...] = np.matmul(xs.astype(np.float32), ys.astype(np.float32))
            else:
                np.matmul(xs, ys, out=o3)
        return out
    return run


@register_kernel(linalg_ops.MatrixInverse)
def _matrix_inverse(ctx):
    adjoint = bool(ctx.attrs["adjoint"])
    out_buf = ctx.static_buffer(0)

    def run(a):
        _check_square(a)
        out = out_buf if out_buf is not None else np.empty(a.shape, dtype=a.dtype)
        if out.size == 0:
            return out
        n = a.shape[-1]
        try:
            K.inverse_batched(a.reshape(-1, n, n), out.reshape(-1, n, n), adjoint)
        except np.linalg.LinAlgError:
            raise ValueError("Input is not invertible.") from None
        return out
    return run


@register_kernel(linalg_ops.MatrixDeterminant)
def _matrix_determinant(ctx):
    out_buf = ctx.static_buffer(0)

    def run(a):
        _check_square(a)
        out = out_buf if out_buf is not None else np.empty(a.shape[:-2], dtype=a.dtype)
        n = a.shape[-1]
        if n == 0:
            out[...] = 1  # the empty product
        elif out.size:
            K.determinant_batched(a.reshape(-1, n, n), out.reshape(-1))
        return out
    return run

