"""tf.constant, Placeholder and PlaceholderWithDefault.

The Const op itself is defined in base.py, beside ``convert_to_tensor``, which
builds it; it is importable from here as before.
"""
import numpy as np

from nbflow.framework import context, dtypes
from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.ops.base import (  # noqa: F401  (Const, constant_from_array: re-exported)
    Const, Op, apply_op, _infer_numpy, as_tensor_shape_arg, constant_from_array, convert_to_tensor,
)

__all__ = ["constant", "placeholder", "placeholder_with_default"]


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """``tf.constant``: a Const node holding ``value`` (broadcast to ``shape``)."""
    dtype = dtypes.as_dtype(dtype) if dtype is not None else None
    arr = _infer_numpy(value, dtype)
    if shape is not None:
        shape = tuple(as_tensor_shape_arg(shape).as_list())
        if arr.shape != shape:
            if verify_shape:
                raise TypeError("Expected Tensor's shape: %s, got %s." % (shape, arr.shape))
            if arr.size == 1:
                arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
            elif arr.size == int(np.prod(shape)):
                arr = arr.reshape(shape)
            else:
                raise TypeError(
                    "Eager execution of tf.constant with unsupported shape (value has %d elements, shape is %s "
                    "with %d elements)." % (arr.size, shape, int(np.prod(shape)))
                )
    return constant_from_array(arr, name=name)


# TF's error messages use the DataType proto names.
_PROTO_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


class Placeholder(Op):
    type = "Placeholder"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["dtype"], ctx.attrs["shape"])]


def placeholder(dtype, shape=None, name=None):
    """``tf.placeholder``: a tensor that must be fed in ``Session.run``."""
    if context.executing_eagerly():
        raise RuntimeError("tf.placeholder() is not compatible with eager execution.")
    dtype = dtypes.as_dtype(dtype)
    return apply_op(Placeholder, [], {"dtype": dtype, "shape": as_tensor_shape_arg(shape)}, name=name or "Placeholder")


class PlaceholderWithDefault(Op):
    type = "PlaceholderWithDefault"
    stateful = True  # its value may be fed, so it is never folded

    @classmethod
    def infer(cls, ctx):
        shape = ctx.attrs["shape"]
        if not shape.is_compatible_with(ctx.input_shapes[0]):
            raise ctx.error("default value shape %s is incompatible with shape %s" % (ctx.input_shapes[0], shape))
        return [(ctx.input_dtypes[0], shape)]


def placeholder_with_default(input, shape, name=None):
    x = convert_to_tensor(input)
    return apply_op(
        PlaceholderWithDefault, [x], {"dtype": x.dtype, "shape": as_tensor_shape_arg(shape)},
        name=name or "PlaceholderWithDefault")


@RegisterGradient("PlaceholderWithDefault")
def _placeholder_with_default_grad(op, grad):
    return grad  # its value is its input's unless fed (as TF's identity gradient)
