"""Cast (``tf.cast``, to_float, to_double, to_int32, to_int64), with its gradient.

Cast is element-wise (see ops/elementwise.py): its expression is the
identity, and the kernel's store converts the type.
"""
from nbflow.framework import dtypes
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.elementwise import ANY, ElementwiseOp
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["cast", "to_float", "to_int32", "to_int64", "to_double"]


class Cast(ElementwiseOp):
    type = "Cast"
    expr = "{0}"
    kinds = ANY

    @classmethod
    def output_dtype(cls, in_dtypes):
        raise AssertionError("Cast's output dtype comes from its attrs")

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["DstT"], ctx.input_shapes[0])]


def _cast_expr(cls, in_dtypes, args):
    return "(" + args[0] + ")"


# Cast's expression is the identity; the kernel's store converts the type.
Cast.scalar_expr = classmethod(_cast_expr)


def cast(x, dtype, name=None):
    """``tf.cast``: a no-op when the dtype already matches (as in TF)."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype is dtype:
        return x
    return apply_op(Cast, [x], {"SrcT": x.dtype, "DstT": dtype, "Truncate": False}, name=name or "Cast")


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name=name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name=name)


# -- gradient -----------------------------------------------------------------------

@RegisterGradient("Cast")
def _cast_grad(op, grad):
    src = op.inputs[0].dtype
    if src.is_floating and op.outputs[0].dtype.is_floating:
        return cast(grad, src)
    return None
