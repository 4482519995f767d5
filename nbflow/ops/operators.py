"""Python operators on Tensor and Variable (+ - * / // % ** @, comparisons, [] ...).

Installed here rather than in framework/ so the graph model knows no op.
As in TF 1.x, ``==`` and ``!=`` keep Python identity semantics.
"""
from nbflow.framework import errors
from nbflow.framework import eager_tensor as _eager_tensor
from nbflow.framework.graph import Tensor
from nbflow.ops import math_ops as M
from nbflow.ops.array_ops import _slice_helper
from nbflow.framework.context import _EAGER, _default_graph_stack
from nbflow.ops import base as _base
from nbflow.ops.base import apply_op
from nbflow.ops.linalg_ops import matmul
from nbflow.ops.variables import Variable


def _binary(fn, reverse=False, name=None):
    """Operator names follow TF 1.x: ``a + b`` is named "add", ``tf.add`` "Add"."""
    if reverse:
        return lambda self, other: fn(other, self, name=name)
    return lambda self, other: fn(self, other, name=name)


def _matmul(a, b, name=None):
    return matmul(a, b, name=name)


def _getitem(self, key):
    return _slice_helper(self, key)


_OPS = {
    "__add__": _binary(M.add, name="add"), "__radd__": _binary(M.add, True, "add"),
    "__sub__": _binary(M.subtract, name="sub"), "__rsub__": _binary(M.subtract, True, "sub"),
    "__mul__": _binary(M.multiply, name="mul"), "__rmul__": _binary(M.multiply, True, "mul"),
    "__truediv__": _binary(M.truediv, name="truediv"), "__rtruediv__": _binary(M.truediv, True, "truediv"),
    "__floordiv__": _binary(M.floordiv, name="floordiv"), "__rfloordiv__": _binary(M.floordiv, True, "floordiv"),
    "__mod__": _binary(M.floormod, name="mod"), "__rmod__": _binary(M.floormod, True, "mod"),
    "__pow__": _binary(M.pow, name="pow"), "__rpow__": _binary(M.pow, True, "pow"),
    "__matmul__": _binary(_matmul), "__rmatmul__": _binary(_matmul, True),
    "__lt__": _binary(M.less), "__le__": _binary(M.less_equal),
    "__gt__": _binary(M.greater), "__ge__": _binary(M.greater_equal),
    "__and__": _binary(M.logical_and), "__rand__": _binary(M.logical_and, True),
    "__or__": _binary(M.logical_or), "__ror__": _binary(M.logical_or, True),
    "__xor__": _binary(M.logical_xor), "__rxor__": _binary(M.logical_xor, True),
    "__neg__": lambda self: M.negative(self),
    "__abs__": lambda self: M.abs(self),
    "__invert__": lambda self: M.logical_not(self),
    "__getitem__": _getitem,
}

for _cls in (Tensor, Variable):
    for _name, _fn in _OPS.items():
        setattr(_cls, _name, _fn)


def _eager_fast(op_cls, name, generic):
    """``a + b`` on two eager tensors goes straight to apply_op (the same op and kernel as
    ``generic``; a dtype mismatch is still the op's error); anything else takes ``generic``."""
    EagerTensor = _eager_tensor.EagerTensor
    executor, no_attrs = _base._eager_executor, _base._NO_ATTRS

    def op(self, other):
        if type(other) is EagerTensor:
            if _EAGER[0] and not _default_graph_stack:
                return executor[0](op_cls, [self, other], no_attrs, name)
            return apply_op(op_cls, [self, other], name=name)
        return generic(self, other)
    return op


for _name, _op_cls, _op_name in (("__add__", M.Add, "add"), ("__sub__", M.Sub, "sub"), ("__mul__", M.Mul, "mul")):
    setattr(_eager_tensor.EagerTensor, _name, _eager_fast(_op_cls, _op_name, _OPS[_name]))


def _tensor_equality(a, b, negate):
    """TF 2's ``==`` on eager tensors: element-wise; False (``!=``: True) for None or
    values of another dtype or an incompatible shape."""
    if b is None:
        return negate
    try:
        return M.not_equal(a, b) if negate else M.equal(a, b)
    except (errors.InvalidArgumentError, TypeError, ValueError):
        return negate


_eager_tensor._equality_hook[0] = _tensor_equality
