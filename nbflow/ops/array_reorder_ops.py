"""Re-ordered and repeated elements: transpose, invert_permutation, reverse, tile.

Transpose, ReverseV2 and Tile are layout ops (one strided copy each).
Gradients are here.
"""
import numpy as np

from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.array_common import _check_index_dtype, _index_tensor, _ints, _known, _static
from nbflow.ops.array_layout import _Copy, _LayoutOp, _row_strides
from nbflow.ops.array_range_ops import range_
from nbflow.ops.array_shape_ops import rank, reshape, shape, size
from nbflow.ops.array_stack_ops import stack
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["transpose", "invert_permutation", "reverse", "reverse_v2", "tile"]


# -- transpose ---------------------------------------------------------------------

def _check_perm(perm, rank, fail):
    perm = [int(p) for p in perm]
    if len(perm) != rank:
        raise fail("transpose expects a vector of size %d. But input(1) is a vector of size %d" % (rank, len(perm)))
    for k, p in enumerate(perm):
        if p < 0 or p >= rank:
            raise fail("perm[%d] = %d is out of range [0, %d)" % (k, p, rank))
    if len(set(perm)) != rank:
        missing = [k for k in range(rank) if k not in perm][0]
        raise fail("%d is missing from {%s}." % (missing, ",".join(str(p) for p in perm)))
    return perm


class Transpose(_LayoutOp):
    type = "Transpose"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "perm")
        dims = ctx.dims(0)
        perm = ctx.value(1)
        if perm is None:
            if dims is not None:
                return [(ctx.input_dtypes[0], TensorShape([None] * len(dims)))]
            n = ctx.dims(1)
            return [(ctx.input_dtypes[0], TensorShape(None if not n or n[0] is None else [None] * n[0]))]
        perm = _ints(perm)
        if dims is None:
            return [(ctx.input_dtypes[0], TensorShape([None] * len(perm)))]
        perm = _check_perm(perm, len(dims), ctx.error)
        return [(ctx.input_dtypes[0], TensorShape([dims[p] for p in perm]))]

    @classmethod
    def plan_forwards(cls, ctx):
        perm = ctx.value(1)
        if perm is not None and _ints(perm) == list(range(np.size(perm))):
            return 0
        return None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = shapes[0]
        perm = _check_perm(_ints(values[1]), len(dims), fail)
        strides = _row_strides(dims)
        out = [dims[p] for p in perm]
        return [out], [(0, 0, _Copy(out, 0, [strides[p] for p in perm]))], []


def transpose(a, perm=None, name="transpose", conjugate=False):
    """``tf.transpose``: dimension i of the result is dimension perm[i] of ``a``
    (default: reversed)."""
    with name_scope(name, "transpose", [a]) as scope:
        x = convert_to_tensor(a, name="a")
        if perm is None:
            r = x.shape.ndims
            if r is not None:
                perm_t = convert_to_tensor(np.arange(r - 1, -1, -1, dtype=np.int32), name="perm")
            else:
                rk = rank(x)
                perm_t = M.subtract(M.subtract(rk, 1), range_(0, rk, 1))
        else:
            perm_t = _index_tensor(perm, "perm")
        return apply_op(Transpose, [x, perm_t], name=scope)


class InvertPermutation(Op):
    type = "InvertPermutation"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 0, "x")
        s = ctx.input_shapes[0]
        if s.ndims is not None and s.ndims != 1:
            raise ctx.error("invert_permutation expects a 1-D vector, got shape %s" % s)
        return [(ctx.input_dtypes[0], TensorShape([None]) if s.ndims is None else s)]


def invert_permutation(x, name=None):
    return apply_op(InvertPermutation, [_index_tensor(x)], name=name or "InvertPermutation")


# -- reverse, tile ----------------------------------------------------------------------

def _reverse_axes(axes, rank_, fail):
    out = []
    for a in _ints(axes):
        if a < -rank_ or a >= rank_:
            raise fail("'axis'[%d] = %d is out of valid range [%d, %d)" % (len(out), a, -rank_, rank_))
        a %= rank_
        if a in out:
            raise fail("axis %d specified more than once." % a)
        out.append(a)
    return out


class ReverseV2(_LayoutOp):
    type = "ReverseV2"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "axis")
        dims = ctx.dims(0)
        axes = ctx.value(1)
        if dims is not None and axes is not None:
            if np.ndim(axes) != 1:
                raise ctx.error("'axis' must be 1-D, got shape %s" % (list(np.shape(axes)),))
            _reverse_axes(axes, len(dims), ctx.error)
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def plan_forwards(cls, ctx):
        axes, dims = ctx.value(1), ctx.dims(0)
        if axes is not None and _known(dims) and all(dims[a] <= 1 for a in _reverse_axes(axes, len(dims), ctx.error)):
            return 0
        return None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = shapes[0]
        axes = _reverse_axes(values[1], len(dims), fail)
        strides = _row_strides(dims)
        off = sum((dims[a] - 1) * strides[a] for a in axes if dims[a])
        src = [-s if k in axes else s for k, s in enumerate(strides)]
        return [list(dims)], [(0, 0, _Copy(dims, off, src))], []


def reverse(tensor, axis, name=None):
    """``tf.reverse`` (ReverseV2): reverse the listed axes."""
    return apply_op(ReverseV2, [convert_to_tensor(tensor), _index_tensor(axis)], name=name or "ReverseV2")


reverse_v2 = reverse


class Tile(_LayoutOp):
    type = "Tile"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "multiples")
        dims = ctx.dims(0)
        m = ctx.value(1)
        dt = ctx.input_dtypes[0]
        if m is None:
            if dims is not None:
                return [(dt, TensorShape([None] * len(dims)))]
            n = ctx.dims(1)
            return [(dt, TensorShape(None if not n or n[0] is None else [None] * n[0]))]
        m = _ints(m)
        if dims is None:
            return [(dt, TensorShape([0 if k == 0 else None for k in m]))]
        cls._check(dims, m, ctx.error)
        return [(dt, TensorShape([0 if k == 0 else (None if d is None else d * k) for d, k in zip(dims, m)]))]

    @staticmethod
    def _check(dims, m, fail):
        if len(m) != len(dims):
            raise fail("Expected multiples argument to be a vector of length %d but got length %d"
                       % (len(dims), len(m)))
        for k, v in enumerate(m):
            if v < 0:
                raise fail("Expected multiples[%d] >= 0, but got %d" % (k, v))

    @classmethod
    def plan_forwards(cls, ctx):
        m = ctx.value(1)
        return 0 if m is not None and all(v == 1 for v in _ints(m)) else None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = list(shapes[0])
        m = _ints(values[1])
        cls._check(dims, m, fail)
        strides = _row_strides(dims)
        shape_, src = [], []
        for d, k, s in zip(dims, m, strides):
            shape_ += [k, d]
            src += [0, s]
        return [[d * k for d, k in zip(dims, m)]], [(0, 0, _Copy(shape_, 0, src))], []


def tile(input, multiples, name=None):
    return apply_op(Tile, [convert_to_tensor(input), _index_tensor(multiples)], name=name or "Tile")


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Transpose")
def _transpose_grad(op, grad):
    p = op.inputs[1]
    pv = constant_value(p)
    inv = np.argsort(np.asarray(pv)).astype(np.asarray(pv).dtype) if pv is not None else invert_permutation(p)
    return transpose(grad, inv), None


@RegisterGradient("ReverseV2")
def _reverse_grad(op, grad):
    return reverse(grad, op.inputs[1]), None


@RegisterGradient("Tile")
def _tile_grad(op, grad):
    """Sum the copies: view the gradient as [m0, d0, m1, d1, ...] and sum the m axes."""
    x, multiples = op.inputs
    mv, xs = constant_value(multiples), _static(x)
    if mv is not None and xs is not None:
        m = [int(v) for v in np.asarray(mv).reshape(-1)]
        if all(v == 1 for v in m):
            return grad, None
        split_shape = [d for pair in zip(m, xs) for d in pair]
        g = R.reduce_sum(reshape(grad, split_shape), list(range(0, 2 * len(m), 2)))
    else:
        input_shape = shape(x, out_type=multiples.dtype)
        split_shape = reshape(transpose(stack([multiples, input_shape])), [-1])
        axes = range_(0, size(split_shape), 2)
        g = R.reduce_sum(reshape(grad, split_shape), axes)
    g.set_shape(x.shape)
    return g, None
