"""Linear algebra kernels: matrix products (BLAS gemm, the routine np.dot
calls inside @njit), inverses and determinants (LAPACK through np.linalg
inside @njit)."""
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from nbflow.kernels.jit import njit

_CHAR = ir.IntType(8)
_INT_MAX = 2**31 - 1


@intrinsic
def _gemm(typingctx, a, b, out, ta, tb):
    """out = op(a) @ op(b) through BLAS gemm, op transposing where ``ta``/``tb``.

    a, b, out: C-contiguous 2-D arrays of one dtype (float32/float64), shapes
    checked by the caller, no dimension 0. It calls the helper Numba's own
    ``np.dot`` calls (``numba_xxgemm``, SciPy's BLAS) with the transposes as
    run-time flags: one compiled function serves every transpose, where
    ``np.dot`` on transposed views (F-contiguous) compiles each layout
    combination apart -- three ``matmul2d`` signatures in an MLP's step, 0.39 s
    of CPU to compile against 0.045 s (same BLAS call, same results)."""
    if not all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C" for x in (a, b, out)):
        return None
    if a.dtype != b.dtype or a.dtype != out.dtype or a.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        from numba.np import linalg as nl

        nl.ensure_blas()
        A = context.make_array(sig.args[0])(context, builder, args[0])
        B = context.make_array(sig.args[1])(context, builder, args[1])
        C = context.make_array(sig.args[2])(context, builder, args[2])
        ta_v = context.cast(builder, args[3], sig.args[3], types.boolean)
        tb_v = context.cast(builder, args[4], sig.args[4], types.boolean)
        a0, a1 = cgutils.unpack_tuple(builder, A.shape)
        _, b1 = cgutils.unpack_tuple(builder, B.shape)
        m, n = cgutils.unpack_tuple(builder, C.shape)
        k = builder.select(ta_v, a0, a1)
        intp = context.get_value_type(types.intp)
        voidp = cgutils.voidptr_t
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, intp, intp, intp, voidp, voidp, intp,
                                                voidp, intp, voidp, voidp, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        dtype = sig.args[0].dtype
        alpha = nl.make_constant_slot(context, builder, dtype, 1.0)
        beta = nl.make_constant_slot(context, builder, dtype, 0.0)
        t, nt = ir.Constant(_CHAR, ord("t")), ir.Constant(_CHAR, ord("n"))
        kind = ir.Constant(_CHAR, ord(nl.get_blas_kind(dtype)))
        # BLAS is column-major: the row-major C = op(A) op(B) is C' = op(B)' op(A)'
        res = builder.call(fn, (kind, builder.select(tb_v, t, nt), builder.select(ta_v, t, nt), n, m, k,
                                builder.bitcast(alpha, voidp), builder.bitcast(B.data, voidp), b1,
                                builder.bitcast(A.data, voidp), a1, builder.bitcast(beta, voidp),
                                builder.bitcast(C.data, voidp), n))
        nl.check_blas_return(context, builder, res)
        return context.get_dummy_value()
    return types.none(a, b, out, ta, tb), codegen


@njit(cache=True)
def matmul2d(a, b, out, ta, tb):
    """out = op(a) @ op(b): a, b and out C-contiguous float32/float64 matrices,
    op(x) = x.T where ``ta``/``tb`` (a transposed operand is passed as stored)."""
    m, k = (a.shape[1], a.shape[0]) if ta else (a.shape[0], a.shape[1])
    kb, n = (b.shape[1], b.shape[0]) if tb else (b.shape[0], b.shape[1])
    if k != kb or out.shape[0] != m or out.shape[1] != n:
        raise ValueError("matmul2d: incompatible shapes")
    if m > _INT_MAX or n > _INT_MAX or k > _INT_MAX:
        raise ValueError("matmul2d: a dimension does not fit in a C int")
    if m == 0 or n == 0:
        return
    if k == 0:
        out[:] = 0
        return
    _gemm(a, b, out, ta, tb)


@njit(cache=True)
def batch_matmul(a, b, ia, ib, adj_a, adj_b, out):
    """out[i] = op(a[ia[i]]) @ op(b[ib[i]]), op transposing when adj_*.

    ``a`` (Ba, m, k) and ``b`` (Bb, k, n) are C-contiguous stacks of matrices;
    ``ia``/``ib`` map each output batch entry to its operands (broadcasting
    without copies)."""
    for i in range(out.shape[0]):
        matmul2d(a[ia[i]], b[ib[i]], out[i], adj_a, adj_b)


@njit(cache=True)
def inverse_batched(a, out, adjoint):
    """out[i] = inverse(a[i]) (of its transpose when ``adjoint``); raises on a singular matrix."""
    for i in range(a.shape[0]):
        inv = np.linalg.inv(a[i])
        if adjoint:
            out[i] = inv.T
        else:
            out[i] = inv


@njit(cache=True)
def determinant_batched(a, out):
    """out[i] = det(a[i]) (LU factorization)."""
    for i in range(a.shape[0]):
        out[i] = np.linalg.det(a[i])
