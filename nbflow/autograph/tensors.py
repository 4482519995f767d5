"""What AutoGraph treats as a tensor.

One helper decides whether a value makes a statement graph control flow, so
eager mode can refine it in one place.
"""
from nbflow.framework.graph import Tensor


def is_symbolic(x):
    """A graph tensor: control flow on it must become tf.cond / tf.while_loop.

    Eager tensors (Tensor subclasses with a ``.numpy()`` method) and
    Variables are not: AutoGraph runs Python control flow on them, with
    ``bool(x)`` as the condition.
    """
    return isinstance(x, Tensor) and not hasattr(x, "numpy")


def is_range_tensor(x):
    """A symbolic ``tf.range(...)``: ``for`` loops over it count an index."""
    return is_symbolic(x) and x.op.type == "Range"
