"""The gradient registry: op type -> gradient function, or "not differentiable".

The one record of differentiability. An op type is differentiable when a
gradient function is registered for it (``@RegisterGradient("Type")``, TF's
protocol: the function gets the forward Operation and its output gradients
and returns one gradient per input), and not differentiable when declared so
(``NotDifferentiable("Type")``, or ``differentiable = False`` on its Op
class, which declares it). An op whose gradient exists mathematically but is
not implemented is declared with ``GradientNotImplemented`` and raises a clear
error naming the op. Each gradient lives in the family module of its op.
"""

_registry = {}
_not_differentiable = set()
_not_implemented = {}  # op type -> why its (well-defined) gradient is missing


class RegisterGradient:
    """Decorator: ``@tf.RegisterGradient("OpType")``."""

    def __init__(self, op_type):
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type

    def __call__(self, f):
        if self._op_type in _registry:
            raise KeyError("Registering two gradient with name '%s'!" % self._op_type)
        _registry[self._op_type] = f
        return f


def NotDifferentiable(op_type):
    """Declare that ops of ``op_type`` have no gradient (inputs get None)."""
    if not isinstance(op_type, str):
        raise TypeError("op_type must be a string")
    _not_differentiable.add(op_type)


NoGradient = NotDifferentiable


def GradientNotImplemented(op_type, reason):
    """Declare that ``op_type`` has a well-defined gradient that nbflow does not
    implement: asking for it raises an error naming the op and ``reason``
    (TF's rule: such ops must not be declared not differentiable)."""
    _not_implemented[op_type] = reason


class NoGradientError(LookupError):
    """An op on the path from ys to xs has no gradient function."""


def get_gradient_function(op):
    """The op's gradient function; None when it is declared not differentiable."""
    op_type = op.attrs.get("_gradient_op_type", op.type)
    if op_type in _not_differentiable:
        return None
    fn = _registry.get(op_type)
    if fn is None and op_type in _not_implemented:
        raise NoGradientError("No gradient defined for operation '%s' (op type: %s): %s"
                              % (op.name, op_type, _not_implemented[op_type]))
    if fn is None:
        raise NoGradientError("No gradient defined for operation '%s' (op type: %s)" % (op.name, op_type))
    return fn


def has_gradient(op_type):
    return op_type in _registry


def is_declared_not_differentiable(op_type):
    return op_type in _not_differentiable


def is_declared_not_implemented(op_type):
    return op_type in _not_implemented


# -- symbolic differentiation, for gradient functions that differentiate a sub-graph
# (a cond branch, a while body): tf.gradients lives in autodiff, above ops, and
# registers itself here when imported.
_gradients_impl = []


def register_gradients_impl(fn):
    _gradients_impl[:] = [fn]


def gradients(*args, **kwargs):
    """``tf.gradients`` (nbflow/autodiff/gradients.py), for use inside gradient functions."""
    if not _gradients_impl:
        raise RuntimeError("nbflow.autodiff is not imported; import nbflow first")
    return _gradients_impl[0](*args, **kwargs)
