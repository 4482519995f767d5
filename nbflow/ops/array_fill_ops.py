"""Tensors built from a shape and a scalar.

Fill, zeros/ones (a Const when small and static, as TF) and
zeros_like/ones_like, with their gradients. (Broadcasting is in
broadcast_ops.py, range and linspace in array_range_ops.py, eye in
linalg_ops.py.)
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.array_common import (
    _check_index_dtype, _contains_tensor, _is_tensor, _prod, _shape_tensor, _shape_value_to_tuple,
)
from nbflow.ops.array_shape_ops import reshape, shape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.broadcast_ops import reduce_sum
from nbflow.ops.constant_op import constant
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["zeros_like", "ones_like", "fill", "zeros", "ones"]


# -- fills -------------------------------------------------------------------------

class Fill(Op):
    """Fill(dims, value)."""

    type = "Fill"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 0, "dims")
        vshape = ctx.input_shapes[1]
        if vshape.ndims is not None and vshape.ndims != 0:
            raise ctx.error("Shape must be rank 0 but is rank %d: value must be a scalar" % vshape.ndims)
        dims = ctx.value(0)
        if dims is None:
            n = ctx.dims(0)
            return [(ctx.input_dtypes[1], TensorShape(None if n is None or n[0] is None else [None] * n[0]))]
        if np.ndim(dims) != 1:
            raise ctx.error("dims must be a vector, got shape %s" % (list(np.shape(dims)),))
        dims = _shape_value_to_tuple(dims)
        if any(d < 0 for d in dims):
            raise ctx.error("Fill dimensions must be >= 0, got %s" % (list(dims),))
        return [(ctx.input_dtypes[1], TensorShape(dims))]


def fill(dims, value, name=None):
    return apply_op(Fill, [_shape_tensor(dims), convert_to_tensor(value)], name=name or "Fill")


def _static_shape_list(shape):
    """The shape as a list of ints when it is given as Python values, else None."""
    if _is_tensor(shape) or _contains_tensor(shape):
        return None
    if isinstance(shape, TensorShape):
        return shape.as_list() if shape.is_fully_defined() else None
    try:
        arr = np.asarray(shape)
    except (TypeError, ValueError):
        return None
    if arr.dtype.kind not in "iu" or arr.ndim > 1:
        return None
    return [int(d) for d in arr.reshape(-1)]


def _const_fill(shape, value, dtype, name, kind):
    """TF builds a Const for a small Python shape (fewer than 1000 elements), else a Fill."""
    with name_scope(name, kind, [shape]) as scope:
        dims = _static_shape_list(shape)
        if dims is not None:
            if any(d < 0 for d in dims):
                raise ValueError("Fill dimensions must be >= 0, got %s" % (dims,))
            if _prod(dims) < 1000:
                return constant(np.full(dims, value, dtype=dtype.as_numpy_dtype), dtype=dtype, name=scope)
        s = _shape_tensor(shape)
        if s.shape.ndims == 0:
            s = reshape(s, [-1])
        return fill(s, convert_to_tensor(np.asarray(value, dtype=dtype.as_numpy_dtype), dtype=dtype), name=scope)


def zeros(shape, dtype=dtypes.float32, name=None):
    dtype = dtypes.as_dtype(dtype)
    return _const_fill(shape, b"" if dtype is dtypes.string else 0, dtype, name, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    dtype = dtypes.as_dtype(dtype)
    if dtype is dtypes.string:
        raise TypeError("tf.ones is not defined for strings")
    return _const_fill(shape, 1, dtype, name, "ones")


class ZerosLike(Op):
    type = "ZerosLike"
    differentiable = False
    fill_value = 0

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def plan_value(cls, ctx):
        dims = ctx.dims(0)
        if dims is not None and None not in dims:
            return np.full(dims, cls._value(ctx.input_dtypes[0]), dtype=ctx.input_dtypes[0].as_numpy_dtype)
        return None

    @classmethod
    def _value(cls, dtype):
        if dtype is dtypes.string:
            if cls.fill_value:
                raise TypeError("ones_like is not defined for strings")
            return b""
        return cls.fill_value


class OnesLike(ZerosLike):
    type = "OnesLike"
    fill_value = 1


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    x = convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) is not x.dtype:
        out = zeros(shape(x) if not x.shape.is_fully_defined() else x.shape.as_list(), dtype=dtype,
                    name=name or "zeros_like")
        out.set_shape(x.shape)
        return out
    return apply_op(ZerosLike, [x], name=name or "zeros_like")


def ones_like(tensor, dtype=None, name=None, optimize=True):
    x = convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) is not x.dtype:
        out = ones(shape(x) if not x.shape.is_fully_defined() else x.shape.as_list(), dtype=dtype,
                   name=name or "ones_like")
        out.set_shape(x.shape)
        return out
    return apply_op(OnesLike, [x], name=name or "ones_like")


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Fill")
def _fill_grad(op, grad):
    return None, reduce_sum(grad)
