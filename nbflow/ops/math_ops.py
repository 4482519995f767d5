"""Element-wise math: the public ``tf.*`` math functions and the math op classes.

This module gathers the names of the math op families, each in its own module
with its ops' gradients:

* math_binary_ops  -- add, subtract, multiply, the divisions, floormod, maximum/minimum, squared_difference,
  negative, add_n, clip_by_value, scalar_mul, saturate_cast
* math_unary_ops   -- abs, sign, rounding, exp/log, powers and roots (pow too), trigonometric and hyperbolic
  functions, erf, sigmoid, log_sigmoid; the backward ops SigmoidGrad, TanhGrad, SqrtGrad, ...
* math_compare_ops -- comparisons, logical ops, tf.bitwise.invert, is_nan/is_inf/is_finite
* math_select_ops  -- tf.where (Select, SelectV2; Where for the one-argument form), where_v2
* math_cast_ops    -- cast, to_float, to_double, to_int32, to_int64

Every op but Where is one scalar expression (see ops/elementwise.py). Shared
helpers: math_common.py. Reductions are in reduction_ops.py (reduce_sum:
broadcast_ops.py, beside broadcast_to).
"""
from nbflow.ops.math_binary_ops import (  # noqa: F401
    Add, AddN, AddV2, DivNoNan, FloorDiv, FloorMod, Maximum, Minimum, Mul, Neg, RealDiv, SquaredDifference, Sub,
    _TRUEDIV_FLOAT, add, add_n, clip_by_value, div, div_no_nan, divide, floor_div, floordiv, floormod, maximum,
    minimum, mod, mul, multiply, neg, negative, realdiv, saturate_cast, scalar_mul, squared_difference, sub,
    subtract, truediv,
)
from nbflow.ops.math_cast_ops import (  # noqa: F401
    Cast, _cast_expr, cast, to_double, to_float, to_int32, to_int64,
)
from nbflow.ops.math_common import (  # noqa: F401
    _binary, _binary_inputs, _unary,
)
from nbflow.ops.math_compare_ops import (  # noqa: F401
    Equal, Greater, GreaterEqual, Invert, IsFinite, IsInf, IsNan, Less, LessEqual, LogicalAnd, LogicalNot,
    LogicalOr, NotEqual, equal, greater, greater_equal, is_finite, is_inf, is_nan, less, less_equal, logical_and,
    logical_not, logical_or, logical_xor, not_equal,
)
from nbflow.ops.math_select_ops import (  # noqa: F401
    Select, SelectV1, Where, where, where_indices, where_v2,
)
from nbflow.ops.math_unary_ops import (  # noqa: F401
    Abs, Acos, Asin, Atan, Ceil, Cos, Cosh, Erf, Exp, Expm1, Floor, Log, Log1p, Pow, Reciprocal, ReciprocalGrad,
    Rint, Round, Rsqrt, RsqrtGrad, Sigmoid, SigmoidGrad, Sign, Sin, Sinh, Sqrt, SqrtGrad, Square, Tan, Tanh,
    TanhGrad, _POW_SPECIAL, _pow_expr_for, abs, acos, asin, atan, ceil, cos, cosh, erf, exp, expm1, floor, log,
    log1p, log_sigmoid, pow, reciprocal, rint, round, rsqrt, sigmoid, sign, sin, sinh, sqrt, square, tan, tanh,
)

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
