"""``tf.keras.losses``: the loss functions and classes (TF 2 semantics).

Each returns the per-example loss, reduced over the last axis (the class axis of
the cross-entropies). Probabilities (``from_logits=False``) are clipped to
``[1e-7, 1 - 1e-7]`` as Keras does; in a graph, probabilities made by a Softmax
(or Sigmoid) op are replaced by that op's logits, as in TF (so the graph result
is the numerically stable one). Built from ordinary ops, so differentiable
eagerly and in graphs.

One difference from TF: ``huber`` keeps the dtype of ``y_pred`` (TF casts to
Keras's floatx, float32).

The classes (``Loss`` and its subclasses, ``LossFunctionWrapper``) call a function,
then weight and reduce the per-example losses (``losses_utils``); ``get``,
``serialize`` and ``deserialize`` resolve names as Keras does.
"""
import inspect

from nbflow.framework import context, dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.keras.losses_utils import Reduction, compute_weighted_loss, squeeze_or_expand_dimensions
from nbflow.ops import array_ops, math_ops, nn_softmax_ops, reduction_ops
from nbflow.ops.base import convert_to_tensor

__all__ = [
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE", "huber",
    "Reduction", "Loss", "LossFunctionWrapper", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
    "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber", "get", "serialize", "deserialize",
]

#: Keras's fuzz factor (``tf.keras.backend.epsilon()``)
EPSILON = 1e-7


def _made_by(output, op_type):
    """The graph op of type ``op_type`` that produced ``output`` (None eagerly or otherwise)."""
    if context.executing_eagerly() or not isinstance(output, Tensor) or hasattr(output, "numpy"):
        return None
    try:
        op = output.op
    except AttributeError:
        return None
    if op is None or op.type != op_type:
        return None
    if op_type == "Softmax" and op.attrs.get("axis", -1) != -1:
        return None  # a softmax over another axis than the last
    return op


def _const(x, dtype):
    """``x`` as a ``dtype`` tensor: a Python number converted directly (0.1 stays float64's 0.1)."""
    if isinstance(x, Tensor):
        return math_ops.cast(x, dtype)
    return convert_to_tensor(x, dtype=dtype)


def _clip(output):
    eps = _const(EPSILON, output.dtype)
    return math_ops.clip_by_value(output, eps, 1.0 - eps)


def _pred_and_true(y_true, y_pred):
    y_pred = convert_to_tensor(y_pred)
    y_true = math_ops.cast(y_true, y_pred.dtype)
    return y_true, y_pred


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Cross-entropy of integer labels ``y_true`` ([...] or [..., 1]) against the class
    scores ``y_pred`` [..., classes] (probabilities, or logits when ``from_logits``)."""
    output = convert_to_tensor(y_pred)
    target = convert_to_tensor(y_true)
    rank = output.shape.ndims
    if rank is not None:
        axis = axis % rank
        if axis != rank - 1:
            perm = list(range(axis)) + list(range(axis + 1, rank)) + [axis]
            output = array_ops.transpose(output, perm=perm)
    elif axis != -1:
        raise ValueError("sparse_categorical_crossentropy over axis %d needs y_pred's rank" % axis)
    if not from_logits:
        softmax = _made_by(output, "Softmax")
        if softmax is not None:
            output = softmax.inputs[0]
        else:
            output = math_ops.log(_clip(output))
    if target.dtype is not dtypes.int64 and target.dtype is not dtypes.int32:
        target = math_ops.cast(target, dtypes.int64)
    target_rank = target.shape.ndims
    if target_rank is not None and rank is not None and target_rank != rank - 1:
        out_shape = array_ops.shape(output)
        classes = output.shape.as_list()[-1]
        target = array_ops.reshape(target, [-1])
        output = array_ops.reshape(output, [-1, classes if classes is not None else out_shape[-1]])
        res = nn_softmax_ops.sparse_softmax_cross_entropy_with_logits(labels=target, logits=output)
        if rank >= 3:
            return array_ops.reshape(res, out_shape[:-1])
        return res
    return nn_softmax_ops.sparse_softmax_cross_entropy_with_logits(labels=target, logits=output)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0):
    """Cross-entropy of the distributions ``y_true`` (one-hot) against ``y_pred`` over the
    last axis; ``label_smoothing`` moves the targets toward ``1 / classes``."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        ls = _const(label_smoothing, y_pred.dtype)
        classes = math_ops.cast(array_ops.shape(y_true)[-1], y_pred.dtype)
        y_true = y_true * (1.0 - ls) + ls / classes
    if not from_logits:
        softmax = _made_by(y_pred, "Softmax")
        if softmax is None:
            output = y_pred / reduction_ops.reduce_sum(y_pred, -1, keepdims=True)
            return -reduction_ops.reduce_sum(y_true * math_ops.log(_clip(output)), -1)
        y_pred = softmax.inputs[0]
    return nn_softmax_ops.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=y_pred, axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0):
    """Mean over the last axis of the element-wise binary cross-entropy; ``label_smoothing``
    moves the targets toward 0.5."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        ls = _const(label_smoothing, y_pred.dtype)
        y_true = y_true * (1.0 - ls) + 0.5 * ls
    if not from_logits:
        sigmoid = _made_by(y_pred, "Sigmoid")
        if sigmoid is None:
            output = _clip(y_pred)
            eps = _const(EPSILON, y_pred.dtype)
            bce = y_true * math_ops.log(output + eps) + (1.0 - y_true) * math_ops.log(1.0 - output + eps)
            return reduction_ops.reduce_mean(-bce, axis=-1)
        y_pred = sigmoid.inputs[0]
    return reduction_ops.reduce_mean(
        nn_softmax_ops.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred), axis=-1)


def mean_squared_error(y_true, y_pred):
    """``mean(square(y_pred - y_true), axis=-1)``."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    return reduction_ops.reduce_mean(math_ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_pred - y_true), axis=-1)``."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    return reduction_ops.reduce_mean(math_ops.abs(y_pred - y_true), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of ``0.5 * e^2`` where ``|e| <= delta``, else
    ``delta * |e| - 0.5 * delta^2`` (``e = y_pred - y_true``)."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    delta = _const(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = math_ops.abs(error)
    half = _const(0.5, y_pred.dtype)
    return reduction_ops.reduce_mean(
        math_ops.where_v2(math_ops.less_equal(abs_error, delta), half * math_ops.square(error),
                          delta * abs_error - half * math_ops.square(delta)), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# -- the loss classes ---------------------------------------------------------------------------

class Loss:
    """Base of the Keras loss classes: ``loss(y_true, y_pred, sample_weight=None)`` computes
    the per-example losses with ``call`` (subclasses define it), weights them by
    ``sample_weight`` (a scalar, one weight per example -- [N] or [N, 1] -- or one per
    element) and reduces them by ``reduction`` (``Reduction.AUTO``: the weighted sum
    divided by the number of per-example losses, zero weights included, as Keras)."""

    def __init__(self, reduction=Reduction.AUTO, name=None):
        Reduction.validate(reduction)
        self.reduction = reduction
        self.name = name
        self._allow_sum_over_batch_size = False

    def __call__(self, y_true, y_pred, sample_weight=None):
        with name_scope(self.name or type(self).__name__):
            losses = self.call(y_true, y_pred)
            return compute_weighted_loss(losses, sample_weight, reduction=self._get_reduction())

    def call(self, y_true, y_pred):
        raise NotImplementedError("Must be implemented in subclasses.")

    def _get_reduction(self):
        return Reduction.SUM_OVER_BATCH_SIZE if self.reduction == Reduction.AUTO else self.reduction

    def get_config(self):
        return {"reduction": self.reduction, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "<%s name=%r reduction=%r>" % (type(self).__name__, self.name, self.reduction)


class LossFunctionWrapper(Loss):
    """A loss class around a loss function ``fn(y_true, y_pred, **kwargs)``; ranks of
    ``y_true``/``y_pred`` are matched first (a trailing size-1 dimension dropped)."""

    def __init__(self, fn, reduction=Reduction.AUTO, name=None, **kwargs):
        super().__init__(reduction=reduction, name=name)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_pred = convert_to_tensor(y_pred)
        y_true = convert_to_tensor(y_true)
        y_pred, y_true = squeeze_or_expand_dimensions(y_pred, y_true)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = dict(self._fn_kwargs)
        config.update(super().get_config())
        return config


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Integer labels against class scores (``sparse_categorical_crossentropy``)."""

    def __init__(self, from_logits=False, reduction=Reduction.AUTO, name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, from_logits=from_logits)


class CategoricalCrossentropy(LossFunctionWrapper):
    """One-hot labels against class scores (``categorical_crossentropy``)."""

    def __init__(self, from_logits=False, label_smoothing=0, reduction=Reduction.AUTO,
                 name="categorical_crossentropy"):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class BinaryCrossentropy(LossFunctionWrapper):
    """0/1 labels against probabilities or logits (``binary_crossentropy``)."""

    def __init__(self, from_logits=False, label_smoothing=0, reduction=Reduction.AUTO, name="binary_crossentropy"):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction=Reduction.AUTO, name="mean_squared_error"):
        super().__init__(mean_squared_error, reduction=reduction, name=name)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction=Reduction.AUTO, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction=reduction, name=name)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction=Reduction.AUTO, name="huber_loss"):
        super().__init__(huber, reduction=reduction, name=name, delta=delta)


# -- get / serialize / deserialize -----------------------------------------------------------------

_FUNCTIONS = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error, "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "huber": huber, "huber_loss": huber,
}
_CLASSES = {cls.__name__: cls for cls in (
    Loss, LossFunctionWrapper, SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError, Huber)}


def serialize(loss):
    """A loss function's name, or ``{"class_name": ..., "config": ...}`` of a Loss object."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError("Cannot serialize %r" % (loss,))
    return name


def deserialize(name, custom_objects=None):
    """A loss from its name (a function name or alias: the function; a class name: an
    instance with default arguments) or a ``{"class_name", "config"}`` dict."""
    custom_objects = custom_objects or {}
    if isinstance(name, dict):
        class_name = name.get("class_name")
        cls = custom_objects.get(class_name) or _CLASSES.get(class_name)
        if cls is None:
            raise ValueError("Unknown loss function: %s" % (class_name,))
        config = dict(name.get("config", {}))
        if inspect.isclass(cls):
            return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        return cls
    obj = custom_objects.get(name) or _FUNCTIONS.get(name) or _CLASSES.get(name)
    if obj is None:
        raise ValueError("Unknown loss function: %s" % (name,))
    return obj() if inspect.isclass(obj) else obj


def get(identifier):
    """A loss from ``identifier``: None; a name ('sparse_categorical_crossentropy', 'mse',
    'MeanSquaredError' ...); a config dict; a Loss class (instantiated with defaults); a
    Loss object or any callable (returned as is)."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return deserialize(identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret loss function identifier: {}".format(identifier))
