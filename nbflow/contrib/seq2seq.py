"""``tf.contrib.seq2seq``: only ``sequence_loss`` (TF 1.15's contrib/seq2seq loss),
a composition of sparse softmax cross-entropy, weights and reductions. The
decoders, helpers and attention wrappers raise a clear not-implemented error.
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.nn_ops import sparse_softmax_cross_entropy_with_logits

__all__ = ["sequence_loss"]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError("tf.contrib.seq2seq.%s is not implemented in nbflow; available: sequence_loss"
                                     % name)


def _rank(t):
    return len(t.get_shape())  # raises ValueError for an unknown rank, as TF's len(TensorShape)


def sequence_loss(logits, targets, weights, average_across_timesteps=True, average_across_batch=True,
                  sum_over_timesteps=False, sum_over_batch=False, softmax_loss_function=None, name=None):
    """Weighted cross-entropy of a sequence of logits [batch, time, classes] against
    targets [batch, time]: summed or averaged (by the weights, or by the count of
    non-zero weights for the sums) over the batch and/or the time axis."""
    logits = convert_to_tensor(logits)
    targets = convert_to_tensor(targets)
    weights = convert_to_tensor(weights)
    if _rank(logits) != 3:
        raise ValueError("Logits must be a [batch_size x sequence_length x logits_size] tensor")
    if _rank(targets) != 2:
        raise ValueError("Targets must be a [batch_size x sequence_length] tensor")
    if _rank(weights) != 2:
        raise ValueError("Weights must be a [batch_size x sequence_length] tensor")
    if average_across_timesteps and sum_over_timesteps:
        raise ValueError("average_across_timesteps and sum_over_timesteps cannot be set to True at same time.")
    if average_across_batch and sum_over_batch:
        raise ValueError("average_across_batch and sum_over_batch cannot be set to True at same time.")
    with name_scope(name, "sequence_loss", [logits, targets, weights]):
        num_classes = array_ops.shape(logits)[2]
        logits_flat = array_ops.reshape(logits, [-1, num_classes])
        targets = array_ops.reshape(targets, [-1])
        if softmax_loss_function is None:
            crossent = sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits_flat)
        else:
            crossent = softmax_loss_function(labels=targets, logits=logits_flat)
        crossent *= array_ops.reshape(weights, [-1])
        if average_across_timesteps and average_across_batch:
            crossent = R.reduce_sum(crossent)
            total_size = R.reduce_sum(weights)
            crossent = M.div_no_nan(crossent, total_size)
        elif sum_over_timesteps and sum_over_batch:
            crossent = R.reduce_sum(crossent)
            total_count = M.cast(R.count_nonzero(weights), dtypes.float32)
            crossent = M.div_no_nan(crossent, total_count)
        else:
            crossent = array_ops.reshape(crossent, array_ops.shape(logits)[0:2])
            if average_across_timesteps or average_across_batch:
                reduce_axis = [0] if average_across_batch else [1]
                crossent = R.reduce_sum(crossent, axis=reduce_axis)
                total_size = R.reduce_sum(weights, axis=reduce_axis)
                crossent = M.div_no_nan(crossent, total_size)
            elif sum_over_timesteps or sum_over_batch:
                reduce_axis = [0] if sum_over_batch else [1]
                crossent = R.reduce_sum(crossent, axis=reduce_axis)
                total_count = M.cast(R.count_nonzero(weights, axis=reduce_axis), dtypes.float32)
                crossent = M.div_no_nan(crossent, total_count)
        return crossent
