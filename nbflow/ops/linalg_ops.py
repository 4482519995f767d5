"""Linear algebra: MatMul (transpose_a/b) and BatchMatMul."""
import numpy as np

from nbflow.framework.tensor_shape import TensorShape
from nbflow.kernels.cpu import linalg as K
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.autodiff.gradients import RegisterGradient

__all__ = ["matmul"]


class MatMul(Op):
    """2-D matrix product with transpose_a / transpose_b attrs."""

    type = "MatMul"

    @classmethod
    def infer(cls, ctx):
        a, b = ctx.input_shapes
        if ctx.input_dtypes[0] is not ctx.input_dtypes[1]:
            raise TypeError("Input 'b' of 'MatMul' Op has type %s that does not match type %s of argument 'a'."
                            % (ctx.input_dtypes[1].name, ctx.input_dtypes[0].name))
        if not ctx.input_dtypes[0].is_floating:
            raise TypeError("MatMul '%s' supports float16/32/64 only, got %s" % (ctx.name, ctx.input_dtypes[0].name))
        a = a.with_rank(2).as_tuple()
        b = b.with_rank(2).as_tuple()
        ta, tb = ctx.attrs["transpose_a"], ctx.attrs["transpose_b"]
        m, k1 = (a[1], a[0]) if ta else a
        k2, n = (b[1], b[0]) if tb else b
        if k1 is not None and k2 is not None and k1 != k2:
            raise ctx.error("Dimensions must be equal, but are %d and %d for '%s' (op: 'MatMul') with input "
                            "shapes: [%s], [%s]." % (k1, k2, ctx.name, ",".join(map(_d, a)), ",".join(map(_d, b))))
        return [(ctx.input_dtypes[0], TensorShape([m, n]))]

    @classmethod
    def plan(cls, ctx):
        ta, tb = ctx.attrs["transpose_a"], ctx.attrs["transpose_b"]
        out = ctx.static_buffer(0)
        npd = ctx.out_np_dtype(0)
        kernel = K.matmul2d if npd != np.float16 else None

        def run(a, b):
            a2 = a.T if ta else a
            b2 = b.T if tb else b
            o = out if out is not None else np.empty((a2.shape[0], b2.shape[1]), dtype=npd)
            if a2.shape[1] != b2.shape[0]:
                raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (a.shape, b.shape))
            if kernel is None or a2.shape[1] == 0:
                o[...] = np.dot(a2.astype(np.float32), b2.astype(np.float32))
            else:
                kernel(a2, b2, o)
            return o
        return run


def _d(x):
    return "?" if x is None else str(x)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    a = convert_to_tensor(a)
    b = convert_to_tensor(b, dtype=a.dtype)
    ta, tb = transpose_a or adjoint_a, transpose_b or adjoint_b
    ra, rb = a.shape.ndims, b.shape.ndims
    if (ra is not None and ra > 2) or (rb is not None and rb > 2):
        from nbflow.ops.batch_matmul import batch_matmul

        return batch_matmul(a, b, ta, tb, name=name)
    return apply_op(MatMul, [a, b], {"transpose_a": bool(ta), "transpose_b": bool(tb)}, name=name or "MatMul")


@RegisterGradient("MatMul")
def _matmul_grad(op, grad):
    a, b = op.inputs
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    if not ta and not tb:
        return matmul(grad, b, transpose_b=True), matmul(a, grad, transpose_a=True)
    if not ta and tb:
        return matmul(grad, b), matmul(grad, a, transpose_a=True)
    if ta and not tb:
        return matmul(b, grad, transpose_b=True), matmul(a, grad)
    return matmul(b, grad, transpose_a=True, transpose_b=True), matmul(grad, a, transpose_a=True, transpose_b=True)
