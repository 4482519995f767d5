"""Helpers shared by the Keras loss classes and metrics (TF 2's ``keras/utils/losses_utils.py``):
the ``Reduction`` keys, matching the ranks of labels, predictions and sample weights, and
the weighted reduction of per-example losses.

Ranks are matched with static shapes (TF also has a dynamic path for unknown ranks;
here a tensor of unknown rank is left as it is and broadcasting decides).
"""
from nbflow.framework import dtypes
from nbflow.ops import array_ops, math_ops, reduction_ops
from nbflow.ops.base import convert_to_tensor

__all__ = ["Reduction", "squeeze_or_expand_dimensions", "remove_squeezable_dimensions",
           "compute_weighted_loss", "reduce_weighted_loss"]


class Reduction:
    """How a loss reduces its per-example values (``tf.keras.losses.Reduction``).

    ``AUTO`` is ``SUM_OVER_BATCH_SIZE`` here (TF picks it per distribution strategy);
    ``NONE`` keeps the per-example losses; ``SUM`` adds them; ``SUM_OVER_BATCH_SIZE``
    divides the sum by the number of elements."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError("Invalid Reduction Key %s." % (key,))


def _last_dim_may_be_1(shape):
    dim = shape.as_list()[-1]
    return dim is None or dim == 1


def remove_squeezable_dimensions(labels, predictions, expected_rank_diff=0):
    """Drop a trailing size-1 dimension of ``labels`` or ``predictions`` when their ranks
    differ by one more (or less) than ``expected_rank_diff`` (static ranks only)."""
    p_rank, l_rank = predictions.shape.ndims, labels.shape.ndims
    if p_rank is None or l_rank is None:
        return labels, predictions
    diff = p_rank - l_rank
    if diff == expected_rank_diff + 1 and _last_dim_may_be_1(predictions.shape):
        predictions = array_ops.squeeze(predictions, [-1])
    elif diff == expected_rank_diff - 1 and _last_dim_may_be_1(labels.shape):
        labels = array_ops.squeeze(labels, [-1])
    return labels, predictions


def squeeze_or_expand_dimensions(y_pred, y_true=None, sample_weight=None):
    """Keras's rank matching: ``y_true`` [N, 1] against ``y_pred`` [N] (or the reverse) loses
    its last dimension (not when ``y_pred`` has one more dimension of size > 1: class
    scores against sparse labels); ``sample_weight`` one rank above ``y_pred`` is squeezed,
    one rank below gets a trailing dimension. Returns ``(y_pred, y_true)`` or, when
    ``sample_weight`` is given, ``(y_pred, y_true, sample_weight)``."""
    p_rank = y_pred.shape.ndims
    if y_true is not None:
        t_rank = y_true.shape.ndims
        if t_rank is not None and p_rank is not None:
            if p_rank - t_rank != 1 or y_pred.shape.as_list()[-1] == 1:
                y_true, y_pred = remove_squeezable_dimensions(y_true, y_pred)
    if sample_weight is None:
        return y_pred, y_true
    w_rank = sample_weight.shape.ndims
    if w_rank == 0 or w_rank is None:
        return y_pred, y_true, sample_weight
    p_rank = y_pred.shape.ndims
    if p_rank is not None:
        if w_rank - p_rank == 1:
            sample_weight = array_ops.squeeze(sample_weight, [-1])
        elif p_rank - w_rank == 1:
            sample_weight = array_ops.expand_dims(sample_weight, -1)
    return y_pred, y_true, sample_weight


def reduce_weighted_loss(weighted_losses, reduction="sum_over_batch_size"):
    """The weighted per-example losses reduced by ``reduction`` (AUTO: sum over batch size)."""
    if reduction == Reduction.NONE:
        return weighted_losses
    loss = reduction_ops.reduce_sum(weighted_losses)
    if reduction in (Reduction.SUM_OVER_BATCH_SIZE, Reduction.AUTO):
        count = math_ops.cast(array_ops.size(weighted_losses), loss.dtype)
        loss = math_ops.div_no_nan(loss, count)
    return loss


def compute_weighted_loss(losses, sample_weight=None, reduction="sum_over_batch_size", name=None):
    """``losses * sample_weight`` (weights matched in rank, then broadcast) reduced by
    ``reduction``. Unlike TF, which computes in float32 and casts back, the loss keeps its
    own floating dtype (a float64 model gets a float64 loss without rounding)."""
    Reduction.validate(reduction)
    losses = convert_to_tensor(losses)
    if not losses.dtype.is_floating:
        losses = math_ops.cast(losses, dtypes.float32)
    if sample_weight is None:
        return reduce_weighted_loss(losses, reduction)
    sample_weight = math_ops.cast(convert_to_tensor(sample_weight), losses.dtype)
    losses, _, sample_weight = squeeze_or_expand_dimensions(losses, None, sample_weight)
    return reduce_weighted_loss(math_ops.multiply(losses, sample_weight), reduction)
