"""Element-wise math: every op one scalar expression (see ops/elementwise.py).

Also AddN, Cast, Select and Where (``tf.where`` with and without x and y) and
the public ``tf.*`` math functions. Gradients are in ``math_grad.py``.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.array_shape_ops import identity, reshape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.elementwise import ANY, BOOL, FLOAT, INT, NUMERIC, ElementwiseOp, broadcast_static

__all__ = [
    "add", "subtract", "multiply", "divide", "truediv", "realdiv", "div", "floordiv", "floor_div", "mod",
    "floormod", "pow", "maximum", "minimum", "squared_difference", "negative", "abs", "sign", "exp", "log",
    "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "sigmoid", "floor", "ceil", "round", "rint", "greater", "less", "equal",
    "not_equal", "greater_equal", "less_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
    "where", "where_v2", "cast", "to_float", "to_int32", "to_int64", "to_double", "clip_by_value", "add_n",
    "scalar_mul", "is_nan", "is_inf", "is_finite", "sub", "mul", "neg", "erf", "div_no_nan",
    "log_sigmoid", "saturate_cast",
]


def _ew(type_name, expr, kinds=NUMERIC, output="same", **extra):
    """Define an element-wise op class from its scalar expression."""
    attrs = {"type": type_name, "expr": expr, "kinds": kinds, "output": output, "__module__": __name__}
    attrs.update(extra)
    return type(type_name, (ElementwiseOp,), attrs)


# -- binary arithmetic ------------------------------------------------------
Add = _ew("Add", "{0} + {1}")
AddV2 = _ew("AddV2", "{0} + {1}")
Sub = _ew("Sub", "{0} - {1}")
Mul = _ew("Mul", "{0} * {1}")
RealDiv = _ew("RealDiv", "{0} / {1}", FLOAT)
FloorDiv = _ew("FloorDiv", "{0} // {1}")
FloorMod = _ew("FloorMod", "{0} % {1}")
# NaN-propagating max/min; `|` rather than `or` keeps the loop branch-free.
Maximum = _ew("Maximum", "{0} if ({0} >= {1}) | ({0} != {0}) else {1}")
Minimum = _ew("Minimum", "{0} if ({0} <= {1}) | ({0} != {0}) else {1}")

# x ** y with a known small exponent becomes multiplications (pow() is a
# scalar libm call that stops the loop from vectorizing).
_POW_SPECIAL = {2.0: "{0} * {0}", 1.0: "{0}", 3.0: "{0} * {0} * {0}", 0.5: "np.sqrt({0})",
                -1.0: "{T}(1) / {0}", -2.0: "{T}(1) / ({0} * {0})"}


def _pow_expr_for(cls, values):
    e = values[1]
    if e is None or np.size(e) != 1:
        return None
    e = np.asarray(e).reshape(())
    if e.dtype.kind != "f" and e < 0:
        return None  # integer powers with negative exponents keep TF's integer semantics
    return _POW_SPECIAL.get(float(e))


Pow = _ew("Pow", "{0} ** {1}", expr_for=classmethod(_pow_expr_for))
SquaredDifference = _ew("SquaredDifference", "({0} - {1}) * ({0} - {1})")
DivNoNan = _ew("DivNoNan", "{T}(0) if {1} == {T}(0) else {0} / {1}", FLOAT)

# -- comparisons and logic --------------------------------------------------
Greater = _ew("Greater", "{0} > {1}", NUMERIC, "bool")
Less = _ew("Less", "{0} < {1}", NUMERIC, "bool")
GreaterEqual = _ew("GreaterEqual", "{0} >= {1}", NUMERIC, "bool")
LessEqual = _ew("LessEqual", "{0} <= {1}", NUMERIC, "bool")
Equal = _ew("Equal", "{0} == {1}", ANY, "bool")
NotEqual = _ew("NotEqual", "{0} != {1}", ANY, "bool")
LogicalAnd = _ew("LogicalAnd", "{0} and {1}", BOOL)
LogicalOr = _ew("LogicalOr", "{0} or {1}", BOOL)
LogicalNot = _ew("LogicalNot", "not {0}", BOOL)
# bitwise not (tf.bitwise.invert); reverses the order of any integer type exactly
Invert = _ew("Invert", "~{0}", INT)

# -- unary ------------------------------------------------------------------
Neg = _ew("Neg", "-{0}")
Abs = _ew("Abs", "abs({0})")
Sign = _ew("Sign", "({T}(1) if {0} > {T}(0) else ({T}(-1) if {0} < {T}(0) else {0}))")
Exp = _ew("Exp", "np.exp({0})", FLOAT)
Log = _ew("Log", "np.log({0})", FLOAT)
Log1p = _ew("Log1p", "np.log1p({0})", FLOAT)
Expm1 = _ew("Expm1", "np.expm1({0})", FLOAT)
Sqrt = _ew("Sqrt", "np.sqrt({0})", FLOAT)
Rsqrt = _ew("Rsqrt", "{T}(1) / np.sqrt({0})", FLOAT)
Square = _ew("Square", "{0} * {0}")
Reciprocal = _ew("Reciprocal", "{T}(1) / {0}", FLOAT)
Sin = _ew("Sin", "np.sin({0})", FLOAT)
Cos = _ew("Cos", "np.cos({0})", FLOAT)
Tan = _ew("Tan", "np.tan({0})", FLOAT)
Asin = _ew("Asin", "np.arcsin({0})", FLOAT)
Acos = _ew("Acos", "np.arccos({0})", FLOAT)
Atan = _ew("Atan", "np.arctan({0})", FLOAT)
Sinh = _ew("Sinh", "np.sinh({0})", FLOAT)
Cosh = _ew("Cosh", "np.cosh({0})", FLOAT)
Tanh = _ew("Tanh", "np.tanh({0})", FLOAT)
Erf = _ew("Erf", "math.erf({0})", FLOAT)
# Stable for large |x|: exp(-x) overflows to inf and 1/inf is 0.
Sigmoid = _ew("Sigmoid", "{T}(1) / ({T}(1) + np.exp(-{0}))", FLOAT)
Floor = _ew("Floor", "np.floor({0})", FLOAT)
Ceil = _ew("Ceil", "np.ceil({0})", FLOAT)
Round = _ew("Round", "np.rint({0})", FLOAT)  # banker's rounding, as TF
Rint = _ew("Rint", "np.rint({0})", FLOAT)
IsNan = _ew("IsNan", "{0} != {0}", FLOAT, "bool")
IsInf = _ew("IsInf", "np.isinf({0})", FLOAT, "bool")
IsFinite = _ew("IsFinite", "np.isfinite({0})", FLOAT, "bool")

# -- backward kernels of element-wise ops (TF's names and argument order) -----
SigmoidGrad = _ew("SigmoidGrad", "{1} * {0} * ({T}(1) - {0})", FLOAT)      # (y, dy)
TanhGrad = _ew("TanhGrad", "{1} * ({T}(1) - {0} * {0})", FLOAT)           # (y, dy)
SqrtGrad = _ew("SqrtGrad", "{1} * {T}(0.5) / {0}", FLOAT)                 # (y, dy)
RsqrtGrad = _ew("RsqrtGrad", "{1} * {T}(-0.5) * {0} * {0} * {0}", FLOAT)  # (y, dy)
ReciprocalGrad = _ew("ReciprocalGrad", "-{1} * {0} * {0}", FLOAT)         # (y, dy)


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


class Select(ElementwiseOp):
    """``where(cond, x, y)``: broadcasting select (SelectV2 semantics)."""

    type = "SelectV2"
    expr = "{1} if {0} else {2}"
    kinds = ANY
    same_dtype_inputs = (1, 2)

    @classmethod
    def check_dtypes(cls, ctx):
        if ctx.input_dtypes[0] is not dtypes.bool_:
            raise TypeError("Input 'condition' of '%s' must be bool, got %s" % (ctx.name, ctx.input_dtypes[0].name))
        super().check_dtypes(ctx)

    @classmethod
    def output_dtype(cls, in_dtypes):
        return in_dtypes[1]

    @classmethod
    def compute_dtype(cls, in_dtypes):
        return in_dtypes[1]


class SelectV1(Select):
    """TF1 ``tf.where(cond, x, y)`` (op type Select): x and y have one shape; the
    condition has that shape too, or is a vector picking rows (``where``
    reshapes it to a column that broadcasts)."""

    type = "Select"

    @classmethod
    def infer(cls, ctx):
        cls.check_dtypes(ctx)
        sx, sy = ctx.input_shapes[1], ctx.input_shapes[2]
        if not sx.is_compatible_with(sy):
            raise ctx.error("Shapes of 't' and 'e' must be equal, but are %s and %s" % (sx, sy))
        return [(ctx.input_dtypes[1], broadcast_static(ctx).merge_with(sx.merge_with(sy)))]


# -- public functions ---------------------------------------------------------

def _binary_inputs(x, y):
    """Convert operands as TF does: the first Tensor fixes the dtype of Python values.

    Two Tensors are never converted: a dtype mismatch is the op's TypeError
    (TF has no implicit promotion)."""
    x_t = isinstance(x, Tensor) or hasattr(x, "_as_graph_element")
    y_t = isinstance(y, Tensor) or hasattr(y, "_as_graph_element")
    if x_t and y_t:
        return convert_to_tensor(x), convert_to_tensor(y)
    if x_t:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    elif y_t:
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y.dtype)
    else:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    return x, y


def _binary(cls, x, y, name):
    x, y = _binary_inputs(x, y)
    return apply_op(cls, [x, y], name=name or cls.type)


def _unary(cls, x, name):
    return apply_op(cls, [convert_to_tensor(x)], name=name or cls.type)


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


def pow(x, y, name=None):
    return _binary(Pow, x, y, name)


def maximum(x, y, name=None):
    return _binary(Maximum, x, y, name)


def minimum(x, y, name=None):
    return _binary(Minimum, x, y, name)


def squared_difference(x, y, name=None):
    return _binary(SquaredDifference, x, y, name)


def greater(x, y, name=None):
    return _binary(Greater, x, y, name)


def less(x, y, name=None):
    return _binary(Less, x, y, name)


def greater_equal(x, y, name=None):
    return _binary(GreaterEqual, x, y, name)


def less_equal(x, y, name=None):
    return _binary(LessEqual, x, y, name)


def equal(x, y, name=None):
    return _binary(Equal, x, y, name)


def not_equal(x, y, name=None):
    return _binary(NotEqual, x, y, name)


def logical_and(x, y, name=None):
    return _binary(LogicalAnd, x, y, name)


def logical_or(x, y, name=None):
    return _binary(LogicalOr, x, y, name)


def logical_not(x, name=None):
    return _unary(LogicalNot, x, name)


def logical_xor(x, y, name="LogicalXor"):
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


def negative(x, name=None):
    return _unary(Neg, x, name)


neg = negative


def abs(x, name=None):
    return _unary(Abs, x, name)


def sign(x, name=None):
    return _unary(Sign, x, name)


def exp(x, name=None):
    return _unary(Exp, x, name)


def log(x, name=None):
    return _unary(Log, x, name)


def log1p(x, name=None):
    return _unary(Log1p, x, name)


def expm1(x, name=None):
    return _unary(Expm1, x, name)


def sqrt(x, name=None):
    return _unary(Sqrt, x, name)


def rsqrt(x, name=None):
    return _unary(Rsqrt, x, name)


def square(x, name=None):
    return _unary(Square, x, name)


def reciprocal(x, name=None):
    return _unary(Reciprocal, x, name)


def sin(x, name=None):
    return _unary(Sin, x, name)


def cos(x, name=None):
    return _unary(Cos, x, name)


def tan(x, name=None):
    return _unary(Tan, x, name)


def asin(x, name=None):
    return _unary(Asin, x, name)


def acos(x, name=None):
    return _unary(Acos, x, name)


def atan(x, name=None):
    return _unary(Atan, x, name)


def sinh(x, name=None):
    return _unary(Sinh, x, name)


def cosh(x, name=None):
    return _unary(Cosh, x, name)


def tanh(x, name=None):
    return _unary(Tanh, x, name)


def erf(x, name=None):
    return _unary(Erf, x, name)


def sigmoid(x, name=None):
    return _unary(Sigmoid, x, name)


def log_sigmoid(x, name=None):
    x = convert_to_tensor(x)
    # log(sigmoid(x)) = -softplus(-x), computed stably.
    return negative(log1p(exp(negative(abs(x)))) + maximum(negative(x), 0.0), name=name or "LogSigmoid")


def floor(x, name=None):
    return _unary(Floor, x, name)


def ceil(x, name=None):
    return _unary(Ceil, x, name)


def round(x, name=None):
    x = convert_to_tensor(x)
    if x.dtype.is_integer:
        return x
    return _unary(Round, x, name)


def rint(x, name=None):
    return _unary(Rint, x, name)


def is_nan(x, name=None):
    return _unary(IsNan, x, name)


def is_inf(x, name=None):
    return _unary(IsInf, x, name)


def is_finite(x, name=None):
    return _unary(IsFinite, x, name)


def cast(x, dtype, name=None):
    """``tf.cast``: a no-op when the dtype already matches (as in TF)."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype is dtype:
        return x
    return apply_op(Cast, [x], {"SrcT": x.dtype, "DstT": dtype, "Truncate": False}, name=name or "Cast")


def saturate_cast(value, dtype, name=None):
    dtype = dtypes.as_dtype(dtype)
    value = convert_to_tensor(value)
    if value.dtype.is_floating and dtype.is_integer:
        value = clip_by_value(value, float(dtype.min), float(dtype.max))
    return cast(value, dtype, name=name)


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name=name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name=name)


class Where(Op):
    """Where(input): int64 coordinates [N, rank] of the true (non-zero) elements,
    in row-major order. The number of rows is known only at run time."""

    type = "Where"
    differentiable = False
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if dt is dtypes.string:
            raise TypeError("Where '%s': the input must be bool or numeric, got string" % ctx.name)
        r = ctx.input_shapes[0].ndims
        return [(dtypes.int64, TensorShape([None, r]))]


def where_indices(condition, name=None):
    """``tf.where(condition)`` with one argument: the coordinates of the true elements."""
    return apply_op(Where, [convert_to_tensor(condition)], name=name or "Where")


def where(condition, x=None, y=None, name=None):
    """TF1 ``tf.where``: with x and y, Select (a rank-1 condition picks rows);
    without, the coordinates of true elements (Where, above)."""
    if x is None and y is None:
        return where_indices(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    condition = convert_to_tensor(condition)
    x, y = _binary_inputs(x, y)
    c_shape, x_shape = condition.shape, x.shape
    c_rank, x_rank = c_shape.ndims, x_shape.ndims
    op_name = name or "Select"
    if c_rank == 1 and x_rank is not None and x_rank > 1:
        if not c_shape.is_compatible_with(TensorShape(x_shape.as_tuple()[:1])):
            raise ValueError("Dimension 0 of 'condition' (%s) must match dimension 0 of 'x' (%s) for '%s'"
                             % (c_shape, x_shape, op_name))
        condition = reshape(condition, [-1] + [1] * (x_rank - 1))
    elif c_rank is not None and x_rank is not None:
        if c_rank != x_rank:
            raise ValueError("Shapes must be equal rank, but are %d and %d for '%s'" % (c_rank, x_rank, op_name))
        if not c_shape.is_compatible_with(x_shape):
            raise ValueError("Shapes of 'condition' and 'x' must be equal, but are %s and %s for '%s'"
                             % (c_shape, x_shape, op_name))
    return apply_op(SelectV1, [condition, x, y], name=op_name)


def where_v2(condition, x=None, y=None, name=None):
    """TF2 ``tf.where``: numpy-style broadcasting of condition, x and y."""
    if x is None and y is None:
        return where_indices(condition, name=name)
    condition = convert_to_tensor(condition)
    x, y = _binary_inputs(x, y)
    return apply_op(Select, [condition, x, y], name=name or "SelectV2")


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    t = convert_to_tensor(t)
    with name_scope(name, "clip_by_value", [t]) as scope:
        lo = minimum(t, clip_value_max)
        return maximum(lo, clip_value_min, name=scope.rstrip("/") or None)


def scalar_mul(scalar, x, name=None):
    return multiply(scalar, x, name=name)


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


def add_n(inputs, name=None):
    """Sum of a list of tensors of one shape and dtype."""
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a list of at least one Tensor with the same dtype and shape")
    inputs = [convert_to_tensor(t) for t in inputs]
    if len(inputs) == 1:
        return identity(inputs[0], name=name)
    return apply_op(AddN, inputs, name=name or "AddN")


# Cast's expression is the identity; the kernel's store converts the type.
Cast.scalar_expr = classmethod(_cast_expr)
