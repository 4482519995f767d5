"""``tf.keras.metrics``: streaming metrics (TF 2 semantics) and the metric functions.

A ``Metric`` is a ``tf.Module`` whose state lives in non-trainable variables made by
``add_weight`` under ``init_scope`` (so a metric made inside a ``tf.function`` trace
gets eager variables, as TF). ``update_state`` adds to them with ``assign_add`` ops:
eagerly the update runs at once; inside a ``tf.function`` the assign ops are part of
the compiled plan (automatic control dependencies order them and the reads of
``result()``); in a TF 1 graph ``update_state`` returns the update op and ``result()``
a tensor (reads made under the caller's control dependencies: ``metric(y, p)`` reads
after its update). Graph-mode state variables go to the LOCAL_VARIABLES and
METRIC_VARIABLES collections, so ``tf.local_variables_initializer()`` (or
``tf.variables_initializer(metric.variables)``) initializes them, as tf.metrics'
(TF 1.15's Keras puts them in no collection and initializes them in its session;
``global_variables_initializer`` does not cover them, so ``tf.train.Saver`` does not
save them).
"""
import inspect
import re

import numpy as np

from nbflow.framework import context, dtypes, hooks
from nbflow.framework.graph import GraphKeys, control_dependencies
from nbflow.keras import losses as losses_mod
from nbflow.keras.losses_utils import squeeze_or_expand_dimensions
from nbflow.module.module import Module, camel_to_snake, valid_identifier
from nbflow.ops import array_ops, control_flow_ops, math_ops, reduction_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.variables import Variable

__all__ = [
    "Metric", "Reduce", "Sum", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy", "BinaryCrossentropy", "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "get", "serialize", "deserialize",
]

FLOATX = dtypes.float32
_SUM, _SUM_OVER_BATCH_SIZE, _WEIGHTED_MEAN = "sum", "sum_over_batch_size", "weighted_mean"


def _scope_name(name):
    """A valid tf.Module name for a metric called ``name`` (any string in Keras)."""
    if valid_identifier(name):
        return name
    name = re.sub(r"[^a-zA-Z0-9_]", "_", str(name))
    return name if valid_identifier(name) else "metric_" + name


class Metric(Module):
    """Base of the streaming metrics (``tf.keras.metrics.Metric``).

    Subclasses make their state in ``__init__`` with ``add_weight`` and define
    ``update_state(...)`` (returning the update op in a graph) and ``result()``.
    ``metric(...)`` updates, then returns ``result()``; ``reset_state()`` zeroes the state."""

    def __init__(self, name=None, dtype=None, **kwargs):
        if name is None:
            name = camel_to_snake(type(self).__name__)
        super().__init__(name=_scope_name(name))
        self._metric_name = name
        self._dtype = dtypes.as_dtype(dtype or FLOATX)
        self._weights = []
        self._reset_ops = {}
        self.stateful = True
        self.built = True

    @property
    def name(self):
        return self._metric_name

    @property
    def dtype(self):
        """The dtype's name ('float32'), as Keras."""
        return self._dtype.name

    # -- state --------------------------------------------------------------------------------
    def add_weight(self, name, shape=(), aggregation=None, synchronization=None, initializer=None, dtype=None):
        """A non-trainable state variable ``<metric scope>/<name>`` (zeros unless
        ``initializer``: "zeros", "ones", a number, or ``f(shape, dtype=)``)."""
        dtype = dtypes.as_dtype(dtype or self._dtype)
        shape = tuple(int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape] if shape else []))
        if initializer is None or initializer == "zeros":
            value = np.zeros(shape, dtype.as_numpy_dtype)
        elif initializer == "ones":
            value = np.ones(shape, dtype.as_numpy_dtype)
        elif callable(initializer):
            value = initializer(list(shape), dtype=dtype)
        else:
            value = np.full(shape, initializer, dtype.as_numpy_dtype)
        with context.init_scope(), control_dependencies(None), self.name_scope:
            var = Variable(value, name=name, trainable=False, dtype=dtype,
                           collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES])
        self._weights.append(var)
        return var

    @property
    def variables(self):
        """The state variables, in the order they were made."""
        return tuple(self._weights)

    @property
    def weights(self):
        return list(self._weights)

    @property
    def non_trainable_weights(self):
        return list(self._weights)

    @property
    def trainable_weights(self):
        return []

    @property
    def trainable_variables(self):
        return ()

    def reset_state(self):
        """Zero every state variable. Eagerly (and inside a ``tf.function`` trace, as assign
        ops of the function) at once; in a TF 1 graph it returns the reset op (built once)
        and runs it in the default session when there is one, as Keras's session does."""
        if context.executing_eagerly() or context.eager_enabled():
            assigns = [v.assign(np.zeros(v.shape.as_list(), v.dtype.as_numpy_dtype)) for v in self._weights]
            return None if context.executing_eagerly() else control_flow_ops.group(*assigns)
        if not self._weights:
            return None
        graph = self._weights[0].graph
        op = self._reset_ops.get(graph)
        if op is None:
            with graph.as_default(), control_dependencies(None), self.name_scope:
                op = self._reset_ops[graph] = control_flow_ops.group(
                    *[v.assign(np.zeros(v.shape.as_list(), v.dtype.as_numpy_dtype)) for v in self._weights],
                    name="reset_state")
        session = hooks.call(hooks.DEFAULT_SESSION)
        if session is not None and getattr(session, "graph", None) is graph:
            session.run(op)
        return op

    def reset_states(self):
        return self.reset_state()

    # -- use ------------------------------------------------------------------------------------
    def update_state(self, *args, **kwargs):
        raise NotImplementedError("Must be implemented in subclasses.")

    def result(self):
        raise NotImplementedError("Must be implemented in subclasses.")

    def __call__(self, *args, **kwargs):
        update = self.update_state(*args, **kwargs)
        if context.executing_eagerly() or update is None:
            return self.result()
        with control_dependencies([update]):
            return self.result()

    def _read(self, var):
        """A read of ``var`` made now (under the caller's control dependencies, in a graph)."""
        return var.read_value()

    # -- config -----------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "<%s name=%r dtype=%s>" % (type(self).__name__, self.name, self.dtype)


def _broadcast_weights(sample_weight, values, reduction):
    """TF's weights_broadcast_ops: a scalar, or weights of the values' rank whose dims are 1
    or equal, are broadcast to the values' shape; otherwise the values are reduced (mean,
    or sum for Sum) over their trailing axes to the weights' rank."""
    w_rank, v_rank = sample_weight.shape.ndims, values.shape.ndims
    if w_rank is None or v_rank is None or w_rank == 0:
        return sample_weight * array_ops.ones_like(values), values
    w_dims, v_dims = sample_weight.shape.as_list(), values.shape.as_list()
    if w_rank == v_rank and all(w is None or v is None or w == 1 or w == v for w, v in zip(w_dims, v_dims)):
        if w_dims == v_dims and None not in w_dims:
            return sample_weight, values
        return sample_weight * array_ops.ones_like(values), values
    if w_rank > v_rank:
        raise ValueError("weights can not be broadcast to values. values.rank=%d. weights.rank=%d. "
                         "values.shape=%s. weights.shape=%s." % (v_rank, w_rank, values.shape, sample_weight.shape))
    axes = list(range(w_rank, v_rank))
    reduce = reduction_ops.reduce_sum if reduction == _SUM else reduction_ops.reduce_mean
    return sample_weight, reduce(values, axis=axes)


class Reduce(Metric):
    """A ``total`` of the (weighted) values, and for the means a ``count`` (of values, or the
    sum of the weights)."""

    def __init__(self, reduction, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reduction = reduction
        self.total = self.add_weight("total", initializer="zeros")
        if reduction in (_SUM_OVER_BATCH_SIZE, _WEIGHTED_MEAN):
            self.count = self.add_weight("count", initializer="zeros")

    def update_state(self, values, sample_weight=None):
        """Add ``values`` (weighted by ``sample_weight``) to the state. Returns the update op in
        a graph (None eagerly, where it has run)."""
        eager = context.executing_eagerly()
        values = math_ops.cast(values, self._dtype)
        if sample_weight is not None:
            sample_weight = math_ops.cast(sample_weight, self._dtype)
            values, _, sample_weight = squeeze_or_expand_dimensions(values, sample_weight=sample_weight)
            sample_weight, values = _broadcast_weights(sample_weight, values, self.reduction)
            values = math_ops.multiply(values, sample_weight)
        value_sum = reduction_ops.reduce_sum(values)
        update_total = self.total.assign_add(value_sum)
        if self.reduction == _SUM:
            return None if eager else update_total
        if self.reduction == _WEIGHTED_MEAN and sample_weight is not None:
            num_values = reduction_ops.reduce_sum(sample_weight)
        else:
            num_values = math_ops.cast(array_ops.size(values), self._dtype)
        if eager:
            self.count.assign_add(num_values)
            return None
        with control_dependencies([update_total]):
            return self.count.assign_add(num_values)

    def result(self):
        if self.reduction == _SUM:
            return array_ops.identity(self._read(self.total))
        return math_ops.div_no_nan(self._read(self.total), self._read(self.count))


class Sum(Reduce):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(_SUM, name=name, dtype=dtype)


class Mean(Reduce):
    """The (weighted) mean of the values seen: ``sum(w * v) / sum(w)``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(_WEIGHTED_MEAN, name=name, dtype=dtype)


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred, **kwargs)`` (per-example values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = math_ops.cast(y_true, self._dtype)
        y_pred = math_ops.cast(y_pred, self._dtype)
        y_pred, y_true = squeeze_or_expand_dimensions(y_pred, y_true)
        matches = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(matches, sample_weight=sample_weight)

    def get_config(self):
        config = {k: v for k, v in self._fn_kwargs.items()}
        if type(self) is MeanMetricWrapper:
            config["fn"] = getattr(self._fn, "__name__", self._fn)
        config.update(super().get_config())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is MeanMetricWrapper:
            return cls(get(config.pop("fn")), **config)
        return cls(**config)


# -- the metric functions (per-example values) ------------------------------------------------------

def accuracy(y_true, y_pred):
    """1.0 where ``y_pred == y_true`` (element-wise), else 0.0."""
    y_pred, y_true = convert_to_tensor(y_pred), convert_to_tensor(y_true)
    if not y_pred.shape.is_compatible_with(y_true.shape):
        raise ValueError("Shapes %s and %s are incompatible" % (y_pred.shape, y_true.shape))
    if y_true.dtype is not y_pred.dtype:
        y_pred = math_ops.cast(y_pred, y_true.dtype)
    return math_ops.cast(math_ops.equal(y_true, y_pred), FLOATX)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Mean over the last axis of ``(y_pred > threshold) == y_true``."""
    y_pred = convert_to_tensor(y_pred)
    y_true = math_ops.cast(y_true, y_pred.dtype)
    threshold = math_ops.cast(threshold, y_pred.dtype)
    y_pred = math_ops.cast(math_ops.greater(y_pred, threshold), y_pred.dtype)
    return reduction_ops.reduce_mean(math_ops.cast(math_ops.equal(y_true, y_pred), FLOATX), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of one-hot ``y_true`` is the arg-max of ``y_pred``."""
    return math_ops.cast(math_ops.equal(reduction_ops.argmax(y_true, axis=-1),
                                        reduction_ops.argmax(y_pred, axis=-1)), FLOATX)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label ``y_true`` ([N] or [N, 1]) is the arg-max of ``y_pred``."""
    y_pred, y_true = convert_to_tensor(y_pred), convert_to_tensor(y_true)
    if y_true.shape.ndims is not None and y_pred.shape.ndims is not None \
            and y_true.shape.ndims == y_pred.shape.ndims:
        y_true = array_ops.squeeze(y_true, [-1])
    y_pred = reduction_ops.argmax(y_pred, axis=-1)
    if y_pred.dtype is not y_true.dtype:
        y_pred = math_ops.cast(y_pred, y_true.dtype)
    return math_ops.cast(math_ops.equal(y_true, y_pred), FLOATX)


acc = ACC = accuracy
mse = MSE = mean_squared_error = losses_mod.mean_squared_error
mae = MAE = mean_absolute_error = losses_mod.mean_absolute_error
sparse_categorical_crossentropy = losses_mod.sparse_categorical_crossentropy
categorical_crossentropy = losses_mod.categorical_crossentropy
binary_crossentropy = losses_mod.binary_crossentropy


# -- the metric classes --------------------------------------------------------------------------------

class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true``."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of ``y_pred`` is that of the one-hot label."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of ``y_pred`` is the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype=dtype)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean sparse categorical cross-entropy."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(sparse_categorical_crossentropy, name, dtype=dtype, from_logits=from_logits, axis=axis)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(categorical_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(binary_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


# -- get / serialize / deserialize -----------------------------------------------------------------------

_FUNCTIONS = {
    "accuracy": accuracy, "acc": accuracy, "ACC": accuracy,
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error, "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy, "binary_crossentropy": binary_crossentropy,
}
_CLASSES = {cls.__name__: cls for cls in (
    Sum, Mean, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, SparseCategoricalCrossentropy, CategoricalCrossentropy,
    BinaryCrossentropy)}


def serialize(metric):
    """A metric function's name, or ``{"class_name": ..., "config": ...}`` of a Metric."""
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    name = getattr(metric, "__name__", None)
    if name is None:
        raise ValueError("Cannot serialize %r" % (metric,))
    return name


def deserialize(config, custom_objects=None):
    """A metric from a name (a function name or alias: the function; a class name: an
    instance with default arguments) or a ``{"class_name", "config"}`` dict."""
    custom_objects = custom_objects or {}
    if isinstance(config, dict):
        class_name = config.get("class_name")
        cls = custom_objects.get(class_name) or _CLASSES.get(class_name)
        if cls is None:
            raise ValueError("Unknown metric function: %s" % (class_name,))
        return cls.from_config(dict(config.get("config", {})))
    obj = custom_objects.get(config) or _FUNCTIONS.get(config) or _CLASSES.get(config)
    if obj is None:
        raise ValueError("Unknown metric function: %s" % (config,))
    return obj() if inspect.isclass(obj) else obj


def get(identifier):
    """A metric function or object from a name, a config dict, a Metric class (an instance
    with defaults) or a callable (returned as is). Plain 'accuracy' is the element-wise
    ``accuracy`` here; ``compile_utils.resolve_metric`` picks the accuracy a loss needs."""
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret metric function identifier: {}".format(identifier))
