"""``tf.keras.backend``: the few global settings the layers need.

* ``floatx()`` ("float32"), ``epsilon()``, ``set_floatx`` / ``set_epsilon``.
* ``unique_object_name(base, zero_based=True)``: Keras' layer-name counter
  (``dense``, ``dense_1``, ...). TF 2 keeps one counter table per graph, and
  eager mode (with every ``tf.function`` trace) counts in one global table;
  TF 1 graphs count per graph. ``clear_session()`` resets the eager table.
* ``learning_phase()`` / ``set_learning_phase(value)``: the ``training`` value a
  layer sees when called with ``training=None`` (0 unless set: inference).
* ``get_value`` / ``batch_get_value`` / ``set_value`` / ``batch_set_value``:
  a variable's value eagerly, or through the default Session in a TF 1 graph.
"""
import numpy as np

from nbflow.framework import context
from nbflow.framework.graph import get_default_graph

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "unique_object_name", "reset_uids", "clear_session",
           "learning_phase", "set_learning_phase", "get_value", "batch_get_value", "set_value", "batch_set_value",
           "count_params", "eager_counting"]

_FLOATX = ["float32"]
_EPSILON = [1e-7]
_EAGER_UIDS = {}
#: [value]: the learning phase set with set_learning_phase (None: not set)
_LEARNING_PHASE = [None]


def floatx():
    return _FLOATX[0]


def set_floatx(value):
    if value not in ("float16", "float32", "float64"):
        raise ValueError("Unknown floatx type: " + str(value))
    _FLOATX[0] = str(value)


def epsilon():
    return _EPSILON[0]


def set_epsilon(value):
    _EPSILON[0] = value


def eager_counting():
    """True where TF 2 counts names in its global table: executing eagerly or tracing a tf.function."""
    if not context.eager_enabled():
        return False
    return context.executing_eagerly() or bool(getattr(get_default_graph(), "lift_variables", False))


def _uid_table():
    if eager_counting():
        return _EAGER_UIDS
    return get_default_graph()._extra.setdefault("keras_object_name_uids", {})


def unique_object_name(name, zero_based=True):
    """``name`` the first time (``zero_based``), then ``name_1``, ``name_2`` ... (Keras' rule)."""
    uids = _uid_table()
    n = uids.get(name, 0)
    uids[name] = n + 1
    if zero_based:
        return name if n == 0 else "%s_%d" % (name, n)
    return "%s_%d" % (name, n + 1)


def observe_object_name(name):
    """A name given explicitly: later generated names skip it (as TF's)."""
    uids = _uid_table()
    uids.setdefault(name, 1)


def reset_uids():
    _EAGER_UIDS.clear()
    get_default_graph()._extra.pop("keras_object_name_uids", None)


def clear_session():
    """Resets layer names (and the learning phase), as ``tf.keras.backend.clear_session``."""
    reset_uids()
    _LEARNING_PHASE[0] = None


def learning_phase():
    """0 (inference) unless ``set_learning_phase`` was called."""
    return 0 if _LEARNING_PHASE[0] is None else _LEARNING_PHASE[0]


def set_learning_phase(value):
    if value not in (0, 1):
        raise ValueError("Expected learning phase to be 0 or 1.")
    _LEARNING_PHASE[0] = value


def _is_eager_variable(v):
    return hasattr(v, "numpy") and hasattr(v, "handle")


def get_value(x):
    if _is_eager_variable(x) or hasattr(x, "numpy"):
        return np.array(x.numpy(), copy=True)
    from nbflow.runtime.session import get_default_session
    sess = get_default_session()
    if sess is None:
        raise ValueError("get_value of a graph variable needs a default Session (use `with sess.as_default():`)")
    return sess.run(x)


def batch_get_value(tensors):
    return [get_value(x) for x in tensors]


def set_value(x, value):
    value = np.asarray(value)
    if _is_eager_variable(x):
        x.assign(value.astype(x.dtype.as_numpy_dtype))
        return
    from nbflow.runtime.session import get_default_session
    sess = get_default_session()
    if sess is None:
        raise ValueError("set_value of a graph variable needs a default Session (use `with sess.as_default():`)")
    x.load(value.astype(x.dtype.as_numpy_dtype), sess)


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def count_params(x):
    return int(np.prod(x.shape.as_list(), dtype=np.int64))
