"""Runtime values and expression operators of converted code: undefined
variables, ``and``/``or``/``not``/``==``/``!=`` and the ``range``/``len``
builtins, each a tf op on symbolic tensors and the Python operator otherwise.
"""
import builtins

from nbflow.autograph.tensors import is_symbolic
from nbflow.ops import math_compare_ops
from nbflow.ops.array_range_ops import range_ as tf_range
from nbflow.ops.array_shape_ops import shape as tf_shape
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.cond_op import cond


def _undefined_use(self, *args, **kwargs):
    raise UnboundLocalError(
        "local variable '%s' is used before it is assigned: it is assigned only on some paths of a "
        "converted if/while/for (autograph)" % object.__getattribute__(self, "symbol_name"))


class Undefined:
    """The value of a variable a converted statement may assign but that no
    statement has assigned yet. Using it raises an UnboundLocalError naming it."""

    __slots__ = ("symbol_name",)

    def __init__(self, symbol_name):
        object.__setattr__(self, "symbol_name", symbol_name)

    def __repr__(self):
        return "<autograph: undefined %r>" % object.__getattribute__(self, "symbol_name")

    def __getattr__(self, name):
        _undefined_use(self)


for _name in ("add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow neg pos abs "
              "lt le gt ge bool len iter getitem setitem call int float index matmul rmatmul").split():
    setattr(Undefined, "__%s__" % _name, _undefined_use)


class UndefinedReturnValue:
    """``retval_`` of a function before any of its rewritten returns ran."""

    def __repr__(self):
        return "<autograph: no return value yet>"


def retval(value):
    """The value the converted function returns (None when no return ran)."""
    return None if isinstance(value, UndefinedReturnValue) else value


def maybe_undefined(read, name):
    """The variable's value when it is bound on this path, else Undefined."""
    try:
        return read()
    except NameError:
        return Undefined(name)


def is_undefined(value):
    return isinstance(value, (Undefined, UndefinedReturnValue))


# -- logical operators ----------------------------------------------------------

def _as_bool(x, what):
    x = convert_to_tensor(x)
    if x.dtype.name != "bool":
        raise TypeError("autograph: the operands of a tensor '%s' must be bool tensors, got %s of dtype %s"
                        % (what, x.name, x.dtype.name))
    return x


def and_(a_fn, b_fn):
    """``a and b``: lazy as Python's; on a symbolic ``a``, a tf.cond that
    computes ``b`` only where ``a`` is true."""
    a = a_fn()
    if is_symbolic(a):
        a = _as_bool(a, "and")
        return cond(a, lambda: _as_bool(b_fn(), "and"), lambda: a, name="and")
    return a and b_fn()


def or_(a_fn, b_fn):
    """``a or b``; on a symbolic ``a``, ``b`` is computed only where ``a`` is false."""
    a = a_fn()
    if is_symbolic(a):
        a = _as_bool(a, "or")
        return cond(a, lambda: a, lambda: _as_bool(b_fn(), "or"), name="or")
    return a or b_fn()


def not_(a):
    if is_symbolic(a):
        return math_compare_ops.logical_not(a)
    return not a


def eq(a, b):
    """``a == b``: element-wise tf.equal when either side is symbolic (graph
    tensors otherwise compare by identity)."""
    if is_symbolic(a) or is_symbolic(b):
        return math_compare_ops.equal(a, b)
    return a == b


def not_eq(a, b):
    if is_symbolic(a) or is_symbolic(b):
        return math_compare_ops.not_equal(a, b)
    return a != b


# -- builtins -------------------------------------------------------------------

def range_(*args):
    """``range``: tf.range when an argument is symbolic."""
    if any(is_symbolic(a) for a in args):
        return tf_range(*args)
    return builtins.range(*args)


def len_(x):
    """``len``: the static first dimension of a symbolic tensor, else its shape's first entry."""
    if is_symbolic(x):
        dims = x.shape.as_tuple()
        if dims is None or len(dims) == 0:
            raise ValueError("len requires a tensor of known rank >= 1, got %s with shape %s" % (x.name, x.shape))
        if dims[0] is not None:
            return dims[0]
        return tf_shape(x)[0]
    return builtins.len(x)
