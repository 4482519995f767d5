"""Binary arithmetic: Add, AddV2, Sub, Mul, RealDiv (truediv, divide, div),
FloorDiv, FloorMod, DivNoNan, Maximum, Minimum and SquaredDifference, with
Neg (the gradient of Sub and of the divisions) and AddN (the sum of n
tensors); also clip_by_value, scalar_mul and saturate_cast.

Every op is one scalar expression (see ops/elementwise.py). The gradients are
here; that of a broadcasting op sums each operand's gradient back to the
operand's shape (``reduce_to_shape``, broadcast_ops.py). Pow, whose gradient
is built from Log, is in math_unary_ops.py.
"""
from functools import partial

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.ops.array_fill_ops import zeros_like
from nbflow.ops.array_shape_ops import identity
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.broadcast_ops import reduce_to_shape
from nbflow.ops.elementwise import FLOAT, NUMERIC, ElementwiseOp
from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.ops.math_cast_ops import cast
from nbflow.ops.math_common import _binary, _binary_inputs, _unary, elementwise_class
from nbflow.ops.math_compare_ops import greater_equal, less_equal
from nbflow.ops.math_select_ops import where_v2

__all__ = [
    "add", "subtract", "multiply", "divide", "truediv", "realdiv", "div", "floordiv", "floor_div", "mod",
    "floormod", "maximum", "minimum", "squared_difference", "negative", "clip_by_value", "add_n", "scalar_mul",
    "sub", "mul", "neg", "div_no_nan", "saturate_cast",
]

_ew = partial(elementwise_class, __name__)

Add = _ew("Add", "{0} + {1}")
AddV2 = _ew("AddV2", "{0} + {1}")
Sub = _ew("Sub", "{0} - {1}")
Mul = _ew("Mul", "{0} * {1}")
RealDiv = _ew("RealDiv", "{0} / {1}", FLOAT)
FloorDiv = _ew("FloorDiv", "{0} // {1}")
FloorMod = _ew("FloorMod", "{0} % {1}")
# Integer division by zero is an error (TF's InvalidArgumentError), checked by the kernel.
FloorDiv.divisor_input = FloorMod.divisor_input = 1
# NaN-propagating max/min; `|` rather than `or` keeps the loop branch-free.
Maximum = _ew("Maximum", "{0} if ({0} >= {1}) | ({0} != {0}) else {1}")
Minimum = _ew("Minimum", "{0} if ({0} <= {1}) | ({0} != {0}) else {1}")
SquaredDifference = _ew("SquaredDifference", "({0} - {1}) * ({0} - {1})")
DivNoNan = _ew("DivNoNan", "{T}(0) if {1} == {T}(0) else {0} / {1}", FLOAT)
Neg = _ew("Neg", "-{0}")


class AddN(ElementwiseOp):
    type = "AddN"
    kinds = NUMERIC

    @classmethod
    def scalar_expr(cls, in_dtypes, args):
        return "(" + " + ".join(args) + ")"


    @classmethod
    def infer(cls, ctx):
        cls.check_dtypes(ctx)
        shape = ctx.input_shapes[0]
        for s in ctx.input_shapes[1:]:
            if not shape.is_compatible_with(s):
                raise ctx.error("Shapes %s and %s are incompatible in AddN" % (shape, s))
            shape = shape.merge_with(s)
        return [(ctx.input_dtypes[0], shape)]


# -- public functions -----------------------------------------------------------------

def add(x, y, name=None):
    return _binary(Add, x, y, name)


def subtract(x, y, name=None):
    return _binary(Sub, x, y, name)


def multiply(x, y, name=None):
    return _binary(Mul, x, y, name)


sub = subtract
mul = multiply


def realdiv(x, y, name=None):
    return _binary(RealDiv, x, y, name)


_TRUEDIV_FLOAT = {dtypes.int8: dtypes.float32, dtypes.uint8: dtypes.float32, dtypes.int16: dtypes.float32,
                  dtypes.uint16: dtypes.float32, dtypes.int32: dtypes.float64, dtypes.int64: dtypes.float64}


def truediv(x, y, name=None):
    """Python 3 division: integer operands are cast to float first (int32 -> float64)."""
    x, y = _binary_inputs(x, y)
    target = _TRUEDIV_FLOAT.get(x.dtype)
    if target is not None:
        x, y = cast(x, target), cast(y, target)
    return apply_op(RealDiv, [x, y], name=name or "truediv")


def divide(x, y, name=None):
    return truediv(x, y, name=name or "truediv")


def div(x, y, name=None):
    """Python 2 semantics: floor division for integers, true division for floats."""
    x, y = _binary_inputs(x, y)
    if x.dtype.is_integer:
        return apply_op(FloorDiv, [x, y], name=name or "div")
    return apply_op(RealDiv, [x, y], name=name or "div")


def div_no_nan(x, y, name=None):
    return _binary(DivNoNan, x, y, name)


def floordiv(x, y, name=None):
    return _binary(FloorDiv, x, y, name or "floordiv")


floor_div = floordiv


def floormod(x, y, name=None):
    return _binary(FloorMod, x, y, name)


mod = floormod


def maximum(x, y, name=None):
    return _binary(Maximum, x, y, name)


def minimum(x, y, name=None):
    return _binary(Minimum, x, y, name)


def squared_difference(x, y, name=None):
    return _binary(SquaredDifference, x, y, name)


def negative(x, name=None):
    return _unary(Neg, x, name)


neg = negative


def scalar_mul(scalar, x, name=None):
    return multiply(scalar, x, name=name)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    t = convert_to_tensor(t)
    with name_scope(name, "clip_by_value", [t]) as scope:
        lo = minimum(t, clip_value_max)
        return maximum(lo, clip_value_min, name=scope.rstrip("/") or None)


def saturate_cast(value, dtype, name=None):
    dtype = dtypes.as_dtype(dtype)
    value = convert_to_tensor(value)
    if value.dtype.is_floating and dtype.is_integer:
        value = clip_by_value(value, float(dtype.min), float(dtype.max))
    return cast(value, dtype, name=name)


def add_n(inputs, name=None):
    """Sum of a list of tensors of one shape and dtype."""
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a list of at least one Tensor with the same dtype and shape")
    inputs = [convert_to_tensor(t) for t in inputs]
    if len(inputs) == 1:
        return identity(inputs[0], name=name)
    return apply_op(AddN, inputs, name=name or "AddN")


# -- gradients ------------------------------------------------------------------------

def _binary_grads(op, gx, gy):
    x, y = op.inputs
    return reduce_to_shape(gx, x) if gx is not None else None, reduce_to_shape(gy, y) if gy is not None else None


@RegisterGradient("Add")
def _add_grad(op, grad):
    return _binary_grads(op, grad, grad)


@RegisterGradient("AddV2")
def _addv2_grad(op, grad):
    return _binary_grads(op, grad, grad)


@RegisterGradient("Sub")
def _sub_grad(op, grad):
    return _binary_grads(op, grad, negative(grad))


@RegisterGradient("Mul")
def _mul_grad(op, grad):
    x, y = op.inputs
    skip = getattr(op, "skip_input_indices", ())  # set by a GradientTape (eager): see linalg_ops
    return _binary_grads(op, None if 0 in skip else multiply(grad, y), None if 1 in skip else multiply(x, grad))


@RegisterGradient("RealDiv")
def _realdiv_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, realdiv(grad, y), negative(multiply(grad, realdiv(op.outputs[0], y))))


@RegisterGradient("DivNoNan")
def _divnonan_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, div_no_nan(grad, y), negative(multiply(grad, div_no_nan(op.outputs[0], y))))


@RegisterGradient("FloorMod")
def _floormod_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, grad, negative(multiply(grad, floordiv(x, y))))


NotDifferentiable("FloorDiv")


def _minmax_grad(op, grad, select_x):
    x, y = op.inputs
    zeros = zeros_like(grad)
    return _binary_grads(op, where_v2(select_x, grad, zeros), where_v2(select_x, zeros, grad))


@RegisterGradient("Maximum")
def _maximum_grad(op, grad):
    x, y = op.inputs
    return _minmax_grad(op, grad, greater_equal(x, y))


@RegisterGradient("Minimum")
def _minimum_grad(op, grad):
    x, y = op.inputs
    return _minmax_grad(op, grad, less_equal(x, y))


@RegisterGradient("SquaredDifference")
def _sqdiff_grad(op, grad):
    x, y = op.inputs
    d = multiply(multiply(grad, 2.0 if x.dtype.is_floating else 2), subtract(x, y))
    return _binary_grads(op, d, negative(d))


@RegisterGradient("Neg")
def _neg_grad(op, grad):
    return negative(grad)


@RegisterGradient("AddN")
def _addn_grad(op, grad):
    return [grad] * len(op.inputs)
