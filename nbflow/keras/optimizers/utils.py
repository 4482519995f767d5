"""Helpers of the Keras optimizers: checking (gradient, variable) pairs, gating updates."""
import logging

import numpy as np

from nbflow.framework import context, dtypes
from nbflow.framework.graph import Operation, Tensor, get_default_graph
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.variables import Variable

__all__ = ["is_number", "state_key", "filter_grads", "gate_ops"]

_logger = logging.getLogger("nbflow")
_VALID_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64)


def is_number(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def state_key():
    """Where the optimizer's own variables live now: None (eager) or the default graph."""
    return None if context.executing_eagerly() else get_default_graph()


def tensor_name(t):
    """``"<name> "`` of a graph tensor; nothing for an eager one (which has no name)."""
    return "" if hasattr(t, "numpy") else t.name + " "


def filter_grads(grads_and_vars):
    """The (gradient, variable) pairs with a gradient; TF's errors for the rest."""
    pairs = []
    for pair in tuple(grads_and_vars):
        try:
            g, v = pair
        except (TypeError, ValueError):
            raise ValueError("`grads_and_vars` must be an iterable of (gradient, variable) pairs, got %r"
                             % (pair,)) from None
        pairs.append((g, v))
    filtered = [(g, v) for g, v in pairs if g is not None]
    if not filtered:
        raise ValueError("No gradients provided for any variable: %s."
                         % ([getattr(v, "name", str(v)) for _, v in pairs],))
    empty = [getattr(v, "name", str(v)) for g, v in pairs if g is None]
    if empty:
        _logger.warning("Gradients do not exist for variables %s when minimizing the loss.", empty)
    out = []
    for g, v in filtered:
        if isinstance(v, Tensor) and not isinstance(v, Variable):
            raise NotImplementedError("Trying to update a Tensor ", v)
        if not isinstance(v, Variable):
            raise TypeError("Expected a tf.Variable in `grads_and_vars`, got %r" % (v,))
        if v.dtype not in _VALID_DTYPES:
            raise ValueError("Invalid type %r for %s, expected: %s."
                             % (v.dtype.name, v.name, [d.name for d in _VALID_DTYPES]))
        try:
            g = convert_to_tensor(g)
        except (TypeError, ValueError):
            raise TypeError("Gradient must be convertible to a Tensor, or None: %r" % (g,)) from None
        if g.dtype is not v.dtype:
            raise TypeError("Gradient %shas dtype %s but variable %s has dtype %s"
                            % (tensor_name(g), g.dtype.name, v.name, v.dtype.name))
        if not g.shape.is_compatible_with(v.shape):
            raise ValueError("Gradient %shas shape %s, incompatible with variable %s of shape %s"
                             % (tensor_name(g), g.shape, v.name, v.shape))
        out.append((g, v))
    return out


def gate_ops(tensors):
    out = []
    for t in tensors:
        if hasattr(t, "_as_graph_element") and not isinstance(t, (Tensor, Operation)):
            t = t._as_graph_element()
        t = t.op if isinstance(t, Tensor) else t
        if isinstance(t, Operation) and t not in out:
            out.append(t)
    return out
