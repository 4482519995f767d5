"""Linear algebra: MatMul (transpose_a/b), BatchMatMulV2 (broadcast batch dims,
adj_x/adj_y), MatrixInverse and MatrixDeterminant, with their gradients, and
``tf.eye`` (a composite; TF's eye is in linalg_ops too).

CPU kernels: nbflow/backends/cpu/linalg.py (BLAS for float32/float64; float16
multiplied in float32; int32/int64, which TF's CPU MatMul also accepts,
through numpy's integer matmul).
"""
import types

import numpy as np

from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops.array_common import _contains_tensor, _shape_tensor
from nbflow.ops.array_concat_ops import concat
from nbflow.ops.array_range_ops import range_
from nbflow.ops.array_shape_ops import expand_dims, identity, reshape, shape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.broadcast_ops import _KeptShape, broadcast_to, reduce_to_shape
from nbflow.ops.constant_op import constant

__all__ = ["matmul", "matrix_inverse", "matrix_determinant", "linalg"]

_MATMUL_TYPES = (dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def _d(x):
    return "?" if x is None else str(x)


def _fmt(dims):
    return "[%s]" % ",".join(map(_d, dims))


def _check_matmul_dtypes(ctx, op_type, a_name, b_name):
    da, db = ctx.input_dtypes
    if da is not db:
        raise TypeError("Input '%s' of '%s' Op has type %s that does not match type %s of argument '%s'."
                        % (b_name, ctx.name, db.name, da.name, a_name))
    if da not in _MATMUL_TYPES:
        raise TypeError("Value passed to '%s' (%s) has DataType %s not in list of allowed values: "
                        "float16, float32, float64, int32, int64" % (ctx.name, op_type, da.name))


class MatMul(Op):
    """2-D matrix product with transpose_a / transpose_b attrs."""

    type = "MatMul"

    @classmethod
    def infer(cls, ctx):
        _check_matmul_dtypes(ctx, cls.type, "a", "b")
        a = ctx.input_shapes[0].with_rank(2).as_tuple()
        b = ctx.input_shapes[1].with_rank(2).as_tuple()
        ta, tb = ctx.attrs["transpose_a"], ctx.attrs["transpose_b"]
        m, k1 = (a[1], a[0]) if ta else a
        k2, n = (b[1], b[0]) if tb else b
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError("Dimensions must be equal, but are %d and %d for '%s' (op: 'MatMul') with input "
                             "shapes: %s, %s." % (k1, k2, ctx.name, _fmt(a), _fmt(b)))
        return [(ctx.input_dtypes[0], TensorShape([m, n]))]


# -- BatchMatMulV2 ---------------------------------------------------------------------------

def _broadcast_batch(ba, bb, ctx=None, shapes=None):
    """numpy broadcast of two partially known batch shapes (tuples, None = unknown)."""
    n = max(len(ba), len(bb))
    pa = (1,) * (n - len(ba)) + tuple(ba)
    pb = (1,) * (n - len(bb)) + tuple(bb)
    out = []
    for x, y in zip(pa, pb):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
        elif x != y:
            msg = "In[0] and In[1] must be broadcastable, but are %s and %s" % shapes
            raise (ctx.error(msg) if ctx is not None else ValueError(msg))
        else:
            out.append(x)
    return out


class BatchMatMulV2(Op):
    """Products of stacks of matrices: x (..., m, k) @ y (..., k, n) with
    numpy-broadcast batch dims; ``adj_x``/``adj_y`` transpose the operands'
    last two axes."""

    type = "BatchMatMulV2"

    @classmethod
    def infer(cls, ctx):
        _check_matmul_dtypes(ctx, cls.type, "x", "y")
        sx, sy = ctx.input_shapes
        dt = ctx.input_dtypes[0]
        for s, nm in ((sx, "x"), (sy, "y")):
            if s.ndims is not None and s.ndims < 2:
                raise ctx.error("In[%d] ndims must be >= 2: %d" % (0 if nm == "x" else 1, s.ndims))
        if sx.ndims is None or sy.ndims is None:
            return [(dt, TensorShape(None))]
        x, y = sx.as_tuple(), sy.as_tuple()
        adj_x, adj_y = ctx.attrs["adj_x"], ctx.attrs["adj_y"]
        m, k1 = (x[-1], x[-2]) if adj_x else (x[-2], x[-1])
        k2, n = (y[-1], y[-2]) if adj_y else (y[-2], y[-1])
        if k1 is not None and k2 is not None and k1 != k2:
            raise ctx.error("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (_fmt(x), _fmt(y)))
        batch = _broadcast_batch(x[:-2], y[:-2], ctx, (_fmt(x), _fmt(y)))
        return [(dt, TensorShape(batch + [m, n]))]


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    """Matrix product; rank > 2 (or unknown rank) operands give a batched product
    (BatchMatMulV2) with numpy-broadcast batch dims. For real dtypes adjoint is transpose."""
    if transpose_a and adjoint_a:
        raise ValueError("Only one of transpose_a and adjoint_a can be True.")
    if transpose_b and adjoint_b:
        raise ValueError("Only one of transpose_b and adjoint_b can be True.")
    a = convert_to_tensor(a)
    b = convert_to_tensor(b) if hasattr(b, "op") or hasattr(b, "_as_graph_element") else \
        convert_to_tensor(b, dtype=a.dtype)
    ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    ra, rb = a.shape.ndims, b.shape.ndims
    if ra is None or rb is None or ra > 2 or rb > 2:
        return apply_op(BatchMatMulV2, [a, b], {"adj_x": ta, "adj_y": tb, "T": a.dtype}, name=name or "MatMul")
    return apply_op(MatMul, [a, b], {"transpose_a": ta, "transpose_b": tb, "T": a.dtype}, name=name or "MatMul")


@RegisterGradient("MatMul")
def _matmul_grad(op, grad):
    a, b = op.inputs
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    # a GradientTape says which inputs need no gradient (TF's skip_input_indices): eagerly,
    # an unneeded product is work nothing prunes
    skip = getattr(op, "skip_input_indices", ())
    if not ta and not tb:
        ga = lambda: matmul(grad, b, transpose_b=True)  # noqa: E731
        gb = lambda: matmul(a, grad, transpose_a=True)  # noqa: E731
    elif not ta and tb:
        ga = lambda: matmul(grad, b)  # noqa: E731
        gb = lambda: matmul(grad, a, transpose_a=True)  # noqa: E731
    elif ta and not tb:
        ga = lambda: matmul(b, grad, transpose_b=True)  # noqa: E731
        gb = lambda: matmul(a, grad)  # noqa: E731
    else:
        ga = lambda: matmul(b, grad, transpose_a=True, transpose_b=True)  # noqa: E731
        gb = lambda: matmul(grad, a, transpose_a=True, transpose_b=True)  # noqa: E731
    return None if 0 in skip else ga(), None if 1 in skip else gb()


@RegisterGradient("BatchMatMulV2")
def _batch_matmul_grad(op, grad):
    x, y = op.inputs
    adj_x, adj_y = op.attrs["adj_x"], op.attrs["adj_y"]
    if not adj_x and not adj_y:
        gx, gy = matmul(grad, y, adjoint_b=True), matmul(x, grad, adjoint_a=True)
    elif not adj_x and adj_y:
        gx, gy = matmul(grad, y), matmul(grad, x, adjoint_a=True)
    elif adj_x and not adj_y:
        gx, gy = matmul(y, grad, adjoint_b=True), matmul(x, grad)
    else:
        gx, gy = matmul(y, grad, adjoint_a=True, adjoint_b=True), matmul(grad, x, adjoint_a=True, adjoint_b=True)
    # broadcast batch dims: sum the gradient over them
    return reduce_to_shape(gx, x), reduce_to_shape(gy, y)


# -- inverse and determinant -------------------------------------------------------------

def _square_matrices(ctx, op_type):
    dt = ctx.input_dtypes[0]
    if dt not in (dtypes.float32, dtypes.float64):
        raise TypeError("Value passed to '%s' (%s) has DataType %s not in list of allowed values: float32, float64"
                        % (ctx.name, op_type, dt.name))
    s = ctx.input_shapes[0]
    if s.ndims is None:
        return None
    dims = s.as_tuple()
    if len(dims) < 2:
        raise ctx.error("Input must have rank >= 2, got %d" % len(dims))
    if dims[-1] is not None and dims[-2] is not None and dims[-1] != dims[-2]:
        raise ctx.error("Input matrices must be squares, got %s x %s" % (dims[-2], dims[-1]))
    return dims


class MatrixInverse(Op):
    """Inverse of each (..., n, n) matrix (of its transpose when ``adjoint``)."""

    type = "MatrixInverse"

    @classmethod
    def infer(cls, ctx):
        dims = _square_matrices(ctx, cls.type)
        return [(ctx.input_dtypes[0], TensorShape(None if dims is None else dims))]


class MatrixDeterminant(Op):
    """Determinant of each (..., n, n) matrix; output shape (...)."""

    type = "MatrixDeterminant"

    @classmethod
    def infer(cls, ctx):
        dims = _square_matrices(ctx, cls.type)
        return [(ctx.input_dtypes[0], TensorShape(None if dims is None else dims[:-2]))]


def matrix_inverse(input, adjoint=False, name=None):
    """Inverse of each square matrix in ``input`` (..., n, n); a singular matrix
    is an InvalidArgumentError ("Input is not invertible.")."""
    x = convert_to_tensor(input)
    return apply_op(MatrixInverse, [x], {"adjoint": bool(adjoint), "T": x.dtype}, name=name or "MatrixInverse")


def matrix_determinant(input, name=None):
    """Determinant of each square matrix in ``input`` (..., n, n)."""
    x = convert_to_tensor(input)
    return apply_op(MatrixDeterminant, [x], {"T": x.dtype}, name=name or "MatrixDeterminant")


@RegisterGradient("MatrixInverse")
def _matrix_inverse_grad(op, grad):
    # Y = A^-1: dA = -Y^T dY Y^T;  adjoint (Y = A^-T): dA = -Y dY^T Y
    ainv = op.outputs[0]
    if op.attrs["adjoint"]:
        return M.negative(matmul(ainv, matmul(grad, ainv, adjoint_a=True)))
    return M.negative(matmul(ainv, matmul(grad, ainv, adjoint_b=True), adjoint_a=True))


@RegisterGradient("MatrixDeterminant")
def _matrix_determinant_grad(op, grad):
    # d det(A) / dA = det(A) * A^-T
    a = op.inputs[0]
    scale = M.multiply(grad, op.outputs[0])
    dims = a.shape.as_tuple()
    if dims is not None and None not in dims:
        kept = list(dims[:-2]) + [1, 1]
    else:
        kept = apply_op(_KeptShape, [shape(a), convert_to_tensor(np.array([-2, -1], np.int32))])
    return M.multiply(reshape(scale, kept), matrix_inverse(a, adjoint=True))


# -- eye (tf.eye; array_ops exports it) --------------------------------------------------------

def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """Identity matrices: a constant when the sizes are Python values, else built
    from Range/Equal/Cast (folded at plan time when the sizes are known)."""
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "eye", [num_rows, num_columns, batch_shape]) as scope:
        cols = num_rows if num_columns is None else num_columns
        batch = [] if batch_shape is None else batch_shape
        if not _contains_tensor([num_rows, cols, batch]):
            r, c = int(num_rows), int(cols)
            b = [int(d) for d in np.asarray(batch).reshape(-1)]
            if r < 0 or c < 0 or any(d < 0 for d in b):
                raise ValueError("eye: sizes must be non-negative, got %s x %s, batch %s" % (r, c, b))
            value = np.broadcast_to(np.eye(r, c, dtype=dtype.as_numpy_dtype), b + [r, c])
            return constant(value, dtype=dtype, name=scope)
        rr = expand_dims(range_(convert_to_tensor(num_rows, dtype=dtypes.int32)), 1)
        cc = expand_dims(range_(convert_to_tensor(cols, dtype=dtypes.int32)), 0)
        mat = M.cast(M.equal(rr, cc), dtype)
        if batch_shape is None:
            return identity(mat, name=scope)
        target = concat([_shape_tensor(batch), shape(mat)], 0)
        return broadcast_to(mat, target, name=scope)


# tf.linalg: the TF 2 names of these ops
linalg = types.ModuleType("nbflow.linalg", "tf.linalg: matrix products, inverses, determinants.")
linalg.matmul = matmul
linalg.inv = matrix_inverse
linalg.det = matrix_determinant
