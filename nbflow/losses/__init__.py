"""``tf.losses`` (TF 1.15's losses_impl): weighted, reduced losses that are
added to the ``tf.GraphKeys.LOSSES`` collection.

As in TF, the losses are computed in float32 (inputs are cast) and the
result is cast back to the dtype of the unreduced losses.
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, add_to_collection, get_collection, name_scope
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.constant_op import constant

__all__ = [
    "Reduction", "compute_weighted_loss", "add_loss", "absolute_difference", "mean_squared_error", "log_loss",
    "hinge_loss", "huber_loss", "cosine_distance", "softmax_cross_entropy", "sparse_softmax_cross_entropy",
    "sigmoid_cross_entropy", "get_losses", "get_regularization_losses", "get_regularization_loss",
    "get_total_loss",
]


class Reduction:
    """How a weighted loss tensor is reduced to the returned value."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError("Invalid Reduction Key %s." % key)


# -- helpers ----------------------------------------------------------------------

def add_loss(loss, loss_collection=GraphKeys.LOSSES):
    """Adds ``loss`` to ``loss_collection`` (nothing when the collection is None/empty)."""
    if loss_collection:
        add_to_collection(loss_collection, loss)


def _assert_broadcastable(weights, values):
    """Static check that ``weights`` broadcasts to ``values`` (scalar, or the same
    rank with every dimension 1 or equal), as TF's assert_broadcastable.
    Dimensions unknown when the graph is built are not checked."""
    ws, vs = weights.shape, values.shape
    if ws.ndims is None or vs.ndims is None or ws.ndims == 0:
        return
    msg = "weights can not be broadcast to values."
    if ws.ndims != vs.ndims:
        raise ValueError("%s values.rank=%s. weights.rank=%s. values.shape=%s. weights.shape=%s."
                         % (msg, vs.ndims, ws.ndims, vs, ws))
    for i, (w, v) in enumerate(zip(ws.as_tuple(), vs.as_tuple())):
        if w is not None and v is not None and w != 1 and w != v:
            raise ValueError("%s Mismatch at dim %d. values.shape=%s weights.shape=%s." % (msg, i, vs, ws))


def _safe_mean(losses, num_present):
    total = R.reduce_sum(losses)
    return M.div_no_nan(total, num_present, name="value")


def _num_elements(losses):
    with name_scope(None, "num_elements", [losses]) as scope:
        return M.cast(array_ops.size(losses, name=scope), losses.dtype)


def _num_present(losses, weights):
    """The number of elements of ``losses`` whose (broadcast) weight is non-zero."""
    with name_scope(None, "num_present", [losses, weights]) as scope:
        weights = M.cast(weights, dtypes.float32)
        present = M.where_v2(M.equal(weights, 0.0), array_ops.zeros_like(weights), array_ops.ones_like(weights))
        present = M.multiply(present, array_ops.ones_like(losses))  # broadcast to the losses' shape
        return R.reduce_sum(present, name=scope)


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``losses * weights``, reduced as ``reduction`` says, added to ``loss_collection``."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss", [losses, weights]):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        if not input_dtype.is_floating:
            raise TypeError("losses must be a floating point tensor, got %s" % input_dtype.name)
        losses = M.cast(losses, dtypes.float32)
        weights = M.cast(weights, dtypes.float32)
        _assert_broadcastable(weights, losses)
        weighted_losses = M.multiply(losses, weights)
        if reduction == Reduction.NONE:
            loss = weighted_losses
        else:
            loss = R.reduce_sum(weighted_losses)
            if reduction == Reduction.MEAN:
                loss = _safe_mean(loss, R.reduce_sum(M.multiply(array_ops.ones_like(losses), weights)))
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = _safe_mean(loss, _num_present(losses, weights))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_mean(loss, _num_elements(losses))
        loss = M.cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


def _check_not_none(**kw):
    for k, v in kw.items():
        if v is None:
            raise ValueError("%s must not be None." % k)


def _float32_pair(labels, predictions):
    predictions = M.cast(predictions, dtypes.float32)
    labels = M.cast(labels, dtypes.float32)
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError("Shapes %s and %s are incompatible" % (predictions.shape, labels.shape))
    return labels, predictions


# -- regression losses ----------------------------------------------------------------

def absolute_difference(labels, predictions, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                        reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """|predictions - labels|, weighted and reduced."""
    _check_not_none(labels=labels, predictions=predictions)
    with name_scope(scope, "absolute_difference", [predictions, labels, weights]) as scope:
        labels, predictions = _float32_pair(labels, predictions)
        losses = M.abs(M.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """(predictions - labels) ** 2, weighted and reduced."""
    _check_not_none(labels=labels, predictions=predictions)
    with name_scope(scope, "mean_squared_error", [predictions, labels, weights]) as scope:
        labels, predictions = _float32_pair(labels, predictions)
        losses = M.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None, loss_collection=GraphKeys.LOSSES,
             reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """-labels * log(predictions + eps) - (1 - labels) * log(1 - predictions + eps)."""
    _check_not_none(labels=labels, predictions=predictions)
    with name_scope(scope, "log_loss", [predictions, labels, weights]) as scope:
        labels, predictions = _float32_pair(labels, predictions)
        losses = M.subtract(M.negative(M.multiply(labels, M.log(M.add(predictions, epsilon)))),
                            M.multiply(M.subtract(1.0, labels), M.log(M.add(M.subtract(1.0, predictions), epsilon))))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def hinge_loss(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """max(0, 1 - (2 * labels - 1) * logits) for labels in {0, 1}."""
    _check_not_none(labels=labels, logits=logits)
    with name_scope(scope, "hinge_loss", [logits, labels, weights]) as scope:
        labels, logits = _float32_pair(labels, logits)
        all_ones = array_ops.ones_like(labels)
        labels = M.subtract(M.multiply(2.0, labels), all_ones)
        losses = nn_ops.relu(M.subtract(all_ones, M.multiply(labels, logits)))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """0.5 * e**2 where |e| <= delta, else delta * (|e| - 0.5 * delta), e = predictions - labels."""
    _check_not_none(labels=labels, predictions=predictions)
    with name_scope(scope, "huber_loss", [predictions, labels, weights]) as scope:
        labels, predictions = _float32_pair(labels, predictions)
        abs_error = M.abs(M.subtract(predictions, labels))
        quadratic = M.minimum(abs_error, delta)
        linear = M.subtract(abs_error, quadratic)
        losses = M.add(M.multiply(0.5, M.multiply(quadratic, quadratic)), M.multiply(delta, linear))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def cosine_distance(labels, predictions, axis=None, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS, dim=None):
    """1 - sum(labels * predictions, axis) for unit-normalized inputs."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    if axis is None:
        raise ValueError("You must specify 'axis'.")
    _check_not_none(labels=labels, predictions=predictions)
    with name_scope(scope, "cosine_distance_loss", [predictions, labels, weights]) as scope:
        labels, predictions = _float32_pair(labels, predictions)
        radial_diffs = M.multiply(predictions, labels)
        losses = M.subtract(1.0, R.reduce_sum(radial_diffs, axis=[axis], keepdims=True))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


# -- classification losses ---------------------------------------------------------------

def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """tf.nn.sigmoid_cross_entropy_with_logits, weighted and reduced; labels
    smoothed towards 1/2 by ``label_smoothing``."""
    _check_not_none(multi_class_labels=multi_class_labels, logits=logits)
    with name_scope(scope, "sigmoid_cross_entropy_loss", [logits, multi_class_labels, weights]) as scope:
        logits = convert_to_tensor(logits)
        multi_class_labels = M.cast(multi_class_labels, logits.dtype)
        if not logits.shape.is_compatible_with(multi_class_labels.shape):
            raise ValueError("Shapes %s and %s are incompatible" % (logits.shape, multi_class_labels.shape))
        if label_smoothing > 0:
            multi_class_labels = M.add(M.multiply(multi_class_labels, 1.0 - label_smoothing), 0.5 * label_smoothing)
        losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=multi_class_labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """tf.nn.softmax_cross_entropy_with_logits_v2 over the last axis, weighted per
    example and reduced; labels smoothed towards 1/num_classes by ``label_smoothing``.
    No gradient flows into the labels."""
    _check_not_none(onehot_labels=onehot_labels, logits=logits)
    with name_scope(scope, "softmax_cross_entropy_loss", [logits, onehot_labels, weights]) as scope:
        logits = convert_to_tensor(logits)
        onehot_labels = M.cast(onehot_labels, logits.dtype)
        if not logits.shape.is_compatible_with(onehot_labels.shape):
            raise ValueError("Shapes %s and %s are incompatible" % (logits.shape, onehot_labels.shape))
        if label_smoothing > 0:
            # the number of classes, as a tensor broadcasting over the last axis
            num_classes = R.reduce_sum(array_ops.ones_like(onehot_labels), -1, keepdims=True)
            smooth_negatives = M.realdiv(convert_to_tensor(label_smoothing, dtype=logits.dtype), num_classes)
            onehot_labels = M.add(M.multiply(onehot_labels, 1.0 - label_smoothing), smooth_negatives)
        onehot_labels = array_ops.stop_gradient(onehot_labels, name="labels_stop_gradient")
        losses = nn_ops.softmax_cross_entropy_with_logits_v2(labels=onehot_labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def _squeeze_last(t):
    """``t`` without its last (size-1) dimension."""
    dims = t.shape.as_tuple()
    lead = list(dims[:-1])
    if sum(d is None for d in lead) > 1:
        raise NotImplementedError("removing the last dimension of %s needs at most one unknown dimension "
                                  "(shape %s)" % (t.name, t.shape))
    return array_ops.reshape(t, [-1 if d is None else d for d in lead])


def _remove_squeezable_dimensions(labels, logits, weights):
    """labels [..., 1] -> [...] when they have the logits' rank (TF's helper with
    expected_rank_diff=1); weights [..., 1] likewise against the labels."""
    labels, logits = convert_to_tensor(labels), convert_to_tensor(logits)
    lr, pr = labels.shape.ndims, logits.shape.ndims
    if lr is not None and pr is not None:
        if pr - lr == 0 and labels.shape.as_tuple()[-1] in (None, 1):
            labels = _squeeze_last(labels)
        elif pr - lr == 2 and logits.shape.as_tuple()[-1] in (None, 1):
            logits = _squeeze_last(logits)
    if weights is not None:
        weights = convert_to_tensor(weights)
        lr, wr = labels.shape.ndims, weights.shape.ndims
        if lr is not None and wr is not None and wr - lr == 1:
            weights = _squeeze_last(weights)
    return labels, logits, weights


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """tf.nn.sparse_softmax_cross_entropy_with_logits, weighted and reduced.
    ``labels`` [batch] (or [batch, 1]) of int32/int64 class indices."""
    _check_not_none(labels=labels, logits=logits)
    with name_scope(scope, "sparse_softmax_cross_entropy_loss", [logits, labels, weights]) as scope:
        labels, logits, weights = _remove_squeezable_dimensions(labels, logits, weights)
        losses = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


# -- collections ----------------------------------------------------------------------------

def get_losses(scope=None, loss_collection=GraphKeys.LOSSES):
    """The losses in ``loss_collection`` (filtered by name ``scope``)."""
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope=None):
    """The tensors in ``tf.GraphKeys.REGULARIZATION_LOSSES``."""
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses (a 0.0 constant when there are none)."""
    losses = get_regularization_losses(scope)
    if losses:
        return M.add_n(losses, name=name)
    return constant(0.0)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of ``get_losses()`` (and of the regularization losses).

    Raises ValueError when there is no loss at all."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    return M.add_n(losses, name=name)
