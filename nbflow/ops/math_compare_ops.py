"""Comparisons and logic: Greater, Less, GreaterEqual, LessEqual, Equal,
NotEqual, LogicalAnd, LogicalOr, LogicalNot, Invert (``tf.bitwise.invert``)
and IsNan, IsInf, IsFinite. Element-wise (see ops/elementwise.py), with bool
outputs (Invert: the integer input's type); none is differentiable.
"""
from functools import partial

from nbflow.ops.elementwise import ANY, BOOL, FLOAT, INT, NUMERIC
from nbflow.ops.gradient_registry import NotDifferentiable
from nbflow.ops.math_common import _binary, _unary, elementwise_class

__all__ = [
    "greater", "less", "equal", "not_equal", "greater_equal", "less_equal", "logical_and", "logical_or",
    "logical_not", "logical_xor", "is_nan", "is_inf", "is_finite",
]

_ew = partial(elementwise_class, __name__)

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
IsNan = _ew("IsNan", "{0} != {0}", FLOAT, "bool")
IsInf = _ew("IsInf", "np.isinf({0})", FLOAT, "bool")
IsFinite = _ew("IsFinite", "np.isfinite({0})", FLOAT, "bool")

for _t in ("Greater", "Less", "GreaterEqual", "LessEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr",
           "LogicalNot", "Invert", "IsNan", "IsInf", "IsFinite"):
    NotDifferentiable(_t)


# -- public functions -----------------------------------------------------------------

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


def is_nan(x, name=None):
    return _unary(IsNan, x, name)


def is_inf(x, name=None):
    return _unary(IsInf, x, name)


def is_finite(x, name=None):
    return _unary(IsFinite, x, name)
