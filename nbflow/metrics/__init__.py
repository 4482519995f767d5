"""``tf.metrics`` (TF 1.15's metrics_impl): streaming metrics.

Each metric returns ``(value, update_op)``: ``update_op`` folds a batch into
local accumulator variables (``total``, ``count``, ... in the metric's variable
scope, in LOCAL_VARIABLES and METRIC_VARIABLES, so
``tf.local_variables_initializer()`` resets them) and returns the metric so
far; ``value`` reads the accumulators without changing them. All of it is
built from existing ops, as TF builds it.

Available: mean, accuracy, mean_absolute_error, mean_squared_error,
root_mean_squared_error, true_positives, false_positives, true_negatives,
false_negatives, precision, recall. Other TF metrics raise
NotImplementedError.
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, add_to_collections, control_dependencies
from nbflow.ops import array_ops, state_ops, variable_scope
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.cond_op import cond
from nbflow.ops.variables import Variable

__all__ = [
    "mean", "accuracy", "mean_absolute_error", "mean_squared_error", "root_mean_squared_error",
    "true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall",
]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError("tf.metrics.%s is not implemented in nbflow yet (available: %s)"
                                     % (name, ", ".join(__all__)))


# -- helpers ----------------------------------------------------------------------

def metric_variable(shape, dtype, validate_shape=True, name=None):
    """A local accumulator starting at zeros: not trainable, in LOCAL_VARIABLES and METRIC_VARIABLES."""
    return Variable(lambda: array_ops.zeros(shape, dtype), trainable=False,
                    collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES],
                    validate_shape=validate_shape, name=name)


def _add_to(collections, value):
    if collections:
        add_to_collections(collections, value)


def _squeeze_last(x):
    return lambda: array_ops.squeeze(x, [-1])


def remove_squeezable_dimensions(labels, predictions, expected_rank_diff=0, name=None):
    """Squeeze a trailing 1 of ``predictions`` (or ``labels``) when its rank exceeds the
    other's by one more (one less) than ``expected_rank_diff`` (TF's confusion_matrix helper)."""
    labels = convert_to_tensor(labels)
    predictions = convert_to_tensor(predictions)
    p_rank, l_rank = predictions.shape.ndims, labels.shape.ndims
    if p_rank is not None and l_rank is not None:
        diff = p_rank - l_rank
        if diff == expected_rank_diff + 1 and predictions.shape.as_list()[-1] in (1, None):
            predictions = array_ops.squeeze(predictions, [-1])
        elif diff == expected_rank_diff - 1 and labels.shape.as_list()[-1] in (1, None):
            labels = array_ops.squeeze(labels, [-1])
        return labels, predictions
    rank_diff = array_ops.rank(predictions) - array_ops.rank(labels)
    if p_rank is None or predictions.shape.as_list()[-1] in (1, None):
        predictions = cond(M.equal(expected_rank_diff + 1, rank_diff), _squeeze_last(predictions),
                           lambda: predictions)
    if l_rank is None or labels.shape.as_list()[-1] in (1, None):
        labels = cond(M.equal(expected_rank_diff - 1, rank_diff), _squeeze_last(labels), lambda: labels)
    return labels, predictions


def _remove_squeezable_dimensions(predictions, labels, weights):
    predictions = convert_to_tensor(predictions)
    if labels is not None:
        labels, predictions = remove_squeezable_dimensions(labels, predictions)
        predictions.shape.assert_is_compatible_with(labels.shape)
    if weights is None:
        return predictions, labels, None
    weights = convert_to_tensor(weights)
    w_rank, p_rank = weights.shape.ndims, predictions.shape.ndims
    if w_rank == 0:
        return predictions, labels, weights
    if w_rank is not None and p_rank is not None:
        if w_rank - p_rank == 1:
            weights = array_ops.squeeze(weights, [-1])
        elif p_rank - w_rank == 1:
            weights = array_ops.expand_dims(weights, -1)
        return predictions, labels, weights
    w_rank_t = array_ops.rank(weights)
    rank_diff = w_rank_t - array_ops.rank(predictions)
    w = weights

    def maybe_expand():
        return cond(M.equal(rank_diff, -1), lambda: array_ops.expand_dims(w, -1), lambda: w)
    if w_rank is not None and weights.shape.as_list()[-1] not in (1, None):
        maybe_squeeze = lambda: w  # noqa: E731
    else:
        maybe_squeeze = _squeeze_last(w)
    weights = cond(M.equal(w_rank_t, 0), lambda: w,
                   lambda: cond(M.equal(rank_diff, 1), maybe_squeeze, maybe_expand))
    return predictions, labels, weights


def _broadcast_weights(weights, values):
    """``weights`` broadcast to the shape of ``values`` (TF's weights_broadcast_ops)."""
    ws, vs = weights.shape, values.shape
    if ws.is_fully_defined() and vs.is_fully_defined() and ws.as_list() == vs.as_list():
        return weights
    if ws.ndims is not None and vs.ndims is not None and ws.ndims > 0:
        if ws.ndims != vs.ndims or any(w is not None and v is not None and w not in (1, v)
                                       for w, v in zip(ws.as_list(), vs.as_list())):
            raise ValueError("weights can not be broadcast to values. values.rank=%s. weights.rank=%s. "
                             "values.shape=%s. weights.shape=%s." % (vs.ndims, ws.ndims, vs, ws))
    return M.multiply(weights, array_ops.ones_like(values), name="broadcast_weights")


# -- mean and what reduces to it -------------------------------------------------------

def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """The (weighted) mean of ``values`` over all batches: ``total / count``."""
    with variable_scope.variable_scope(name, "mean", (values, weights)):
        values = M.cast(convert_to_tensor(values), dtypes.float32)
        total = metric_variable([], dtypes.float32, name="total")
        count = metric_variable([], dtypes.float32, name="count")
        if weights is None:
            num_values = M.cast(array_ops.size(values), dtypes.float32)
        else:
            values, _, weights = _remove_squeezable_dimensions(values, None, weights)
            weights = _broadcast_weights(M.cast(weights, dtypes.float32), values)
            values = M.multiply(values, weights)
            num_values = R.reduce_sum(weights)
        update_total_op = state_ops.assign_add(total, R.reduce_sum(values))
        with control_dependencies([values]):
            update_count_op = state_ops.assign_add(count, num_values)
        mean_t = M.div_no_nan(total, M.maximum(count, 0.0), name="value")
        _add_to(metrics_collections, mean_t)
        update_op = M.div_no_nan(update_total_op, M.maximum(update_count_op, 0.0), name="update_op")
        _add_to(updates_collections, update_op)
        return mean_t, update_op


def accuracy(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """How often ``predictions`` equals ``labels``: the mean of ``equal(predictions, labels)``."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    predictions.shape.assert_is_compatible_with(labels.shape)
    if labels.dtype != predictions.dtype:
        predictions = M.cast(predictions, labels.dtype)
    is_correct = M.cast(M.equal(predictions, labels), dtypes.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def mean_absolute_error(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                        name=None):
    """The mean of ``|predictions - labels|``."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    absolute_errors = M.abs(predictions - labels)
    return mean(absolute_errors, weights, metrics_collections, updates_collections, name or "mean_absolute_error")


def mean_squared_error(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                       name=None):
    """The mean of ``(labels - predictions)**2``."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    squared_error = M.squared_difference(labels, predictions)
    return mean(squared_error, weights, metrics_collections, updates_collections, name or "mean_squared_error")


def root_mean_squared_error(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                            name=None):
    """The square root of ``mean_squared_error``."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    mse, update_mse_op = mean_squared_error(labels, predictions, weights, None, None,
                                            name or "root_mean_squared_error")
    rmse = M.sqrt(mse)
    _add_to(metrics_collections, rmse)
    update_rmse_op = M.sqrt(update_mse_op)
    _add_to(updates_collections, update_rmse_op)
    return rmse, update_rmse_op


# -- counts of a condition, precision, recall -------------------------------------------

def _count_condition(values, weights=None, metrics_collections=None, updates_collections=None):
    if values.dtype is not dtypes.bool_:
        raise TypeError("%s must be of type bool, got %s" % (values.name, values.dtype.name))
    count = metric_variable([], dtypes.float32, name="count")
    values = M.cast(values, dtypes.float32)
    if weights is not None:
        weights = M.cast(convert_to_tensor(weights), dtypes.float32)
        if weights.shape.ndims not in (None, 0, values.shape.ndims):
            raise ValueError("weights must have rank 0 or the rank of the values (%s), got rank %d"
                             % (values.shape.ndims, weights.shape.ndims))
        values = M.multiply(values, weights)
    value_tensor = array_ops.identity(count)
    _add_to(metrics_collections, value_tensor)
    update_op = state_ops.assign_add(count, R.reduce_sum(values))
    _add_to(updates_collections, update_op)
    return value_tensor, update_op


def _bool_inputs(predictions, labels, weights):
    return _remove_squeezable_dimensions(M.cast(convert_to_tensor(predictions), dtypes.bool_),
                                         M.cast(convert_to_tensor(labels), dtypes.bool_), weights)


def _condition_metric(default_name, label_value, prediction_value):
    def metric(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
        with variable_scope.variable_scope(name, default_name, (predictions, labels, weights)):
            predictions, labels, weights = _bool_inputs(predictions, labels, weights)
            is_condition = M.logical_and(M.equal(labels, label_value), M.equal(predictions, prediction_value))
            return _count_condition(is_condition, weights, metrics_collections, updates_collections)
    metric.__name__ = default_name
    metric.__doc__ = "The (weighted) number of %s: labels %s and predictions %s." % (
        default_name.replace("_", " "), label_value, prediction_value)
    return metric


true_positives = _condition_metric("true_positives", True, True)
false_positives = _condition_metric("false_positives", False, True)
true_negatives = _condition_metric("true_negatives", False, False)
false_negatives = _condition_metric("false_negatives", True, False)


def _ratio_metric(default_name, other_count):
    def metric(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
        with variable_scope.variable_scope(name, default_name, (predictions, labels, weights)):
            predictions, labels, weights = _bool_inputs(predictions, labels, weights)
            true_p, true_p_update = true_positives(labels, predictions, weights)
            other, other_update = other_count(labels, predictions, weights)

            def compute(tp, o, op_name):
                return M.where(M.greater(tp + o, 0.0), M.divide(tp, tp + o), 0.0 * tp, name=op_name)
            value = compute(true_p, other, "value")
            _add_to(metrics_collections, value)
            update_op = compute(true_p_update, other_update, "update_op")
            _add_to(updates_collections, update_op)
            return value, update_op
    metric.__name__ = default_name
    return metric


precision = _ratio_metric("precision", false_positives)
precision.__doc__ = "true_positives / (true_positives + false_positives), 0 when both are 0."
recall = _ratio_metric("recall", false_negatives)
recall.__doc__ = "true_positives / (true_positives + false_negatives), 0 when both are 0."
