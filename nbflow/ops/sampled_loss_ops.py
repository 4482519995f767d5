"""``tf.nn.nce_loss`` and ``tf.nn.sampled_softmax_loss`` (TF 1.15's nn_impl),
composed from existing ops.

Both score the true classes and ``num_sampled`` sampled classes (one sample
shared by the whole batch) with rows of ``weights`` and entries of ``biases``
(looked up with ``embedding_lookup``, so a table split into a list follows
``partition_strategy``), subtract log Q (the sampler's expected counts) and
apply a sigmoid (NCE) or softmax cross-entropy over the [batch_size, num_true
+ num_sampled] logits, whose first ``num_true`` columns are the true classes
(each with label 1 / num_true).

``remove_accidental_hits`` adds -FLT_MAX to the logit of a sampled class that
equals one of the row's true classes (``compute_accidental_hits``; TF adds a
``sparse_to_dense`` of the hits, nbflow an element-wise select on a
``scatter_nd`` count of them -- the same values, duplicates included).

Differences from TF: the row sums are ``reduce_sum`` (TF multiplies by a ones
column), and when ``inputs`` is float64 the float32 expected counts are cast
to float64 before their log is taken (TF's graph would fail with a dtype
mismatch there).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.candidate_sampling_ops import compute_accidental_hits, log_uniform_candidate_sampler
from nbflow.ops.embedding_ops import embedding_lookup
from nbflow.ops.linalg_ops import matmul

__all__ = []  # tf.nn.nce_loss, tf.nn.sampled_softmax_loss (see nbflow/nn)

_FLT_MAX = float(np.finfo(np.float32).max)


def _check_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("%s must be a Python int, got %r" % (what, value))
    return int(value)


def _as(t, dtype):
    return t if t.dtype is dtype else M.cast(t, dtype)


def _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
                            sampled_values=None, subtract_log_q=True, remove_accidental_hits=False,
                            partition_strategy="mod", name=None, seed=None):
    """(out_logits, out_labels), each [batch_size, num_true + num_sampled]."""
    if hasattr(weights, "_get_variable_list"):  # a PartitionedVariable
        weights = list(weights)
    if not isinstance(weights, (list, tuple)):
        weights = [weights]
    weights = list(weights)
    num_true = _check_int(num_true, "num_true")
    num_sampled = _check_int(num_sampled, "num_sampled")
    values = [w for w in weights + [biases, inputs, labels] if isinstance(w, Tensor)]
    with name_scope(name, "compute_sampled_logits", values):
        inputs = convert_to_tensor(inputs, name="inputs")
        if not inputs.dtype.is_floating:
            raise TypeError("inputs must be a floating point tensor, got %s" % inputs.dtype.name)
        labels = convert_to_tensor(labels, name="labels")
        if not labels.dtype.is_integer:
            raise TypeError("labels must be an integer tensor, got %s" % labels.dtype.name)
        if labels.dtype is not dtypes.int64:
            labels = M.cast(labels, dtypes.int64)
        ls = labels.shape
        if ls.ndims is not None and ls.ndims != 2:
            raise ValueError("labels must have shape [batch_size, num_true], got %s" % ls)
        if ls.ndims == 2 and ls.as_tuple()[1] is not None and ls.as_tuple()[1] != num_true:
            raise ValueError("labels has %d columns but num_true is %d" % (ls.as_tuple()[1], num_true))
        labels_flat = A.reshape(labels, [-1])

        if sampled_values is None:
            sampled_values = log_uniform_candidate_sampler(true_classes=labels, num_true=num_true,
                                                           num_sampled=num_sampled, unique=True,
                                                           range_max=num_classes, seed=seed)
        if len(sampled_values) != 3:
            raise ValueError("sampled_values must be (sampled_candidates, true_expected_count, "
                             "sampled_expected_count), got %d values" % len(sampled_values))
        sampled, true_expected_count, sampled_expected_count = (
            A.stop_gradient(convert_to_tensor(s)) for s in sampled_values)
        sampled = M.cast(sampled, dtypes.int64) if sampled.dtype is not dtypes.int64 else sampled

        all_ids = A.concat([labels_flat, sampled], 0)
        all_w = embedding_lookup(weights, all_ids, partition_strategy=partition_strategy)
        if all_w.dtype is not inputs.dtype:
            all_w = M.cast(all_w, inputs.dtype)
        n_true = A.shape(labels_flat)[0]
        true_w = A.slice(all_w, [0, 0], A.stack([n_true, -1]))
        sampled_w = A.slice(all_w, A.stack([n_true, 0]), [-1, -1])
        # [batch_size, dim] x [num_sampled, dim]^T -> [batch_size, num_sampled]
        sampled_logits = matmul(inputs, sampled_w, transpose_b=True)

        all_b = embedding_lookup(biases, all_ids, partition_strategy=partition_strategy)
        if all_b.dtype is not inputs.dtype:
            all_b = M.cast(all_b, inputs.dtype)
        true_b = A.slice(all_b, [0], A.reshape(n_true, [1]))
        sampled_b = A.slice(all_b, A.reshape(n_true, [1]), [-1])

        # row-wise dots of each example with its num_true true rows: [batch_size, num_true]
        dim = A.shape(true_w)[1:2]
        true_w3 = A.reshape(true_w, A.concat([np.array([-1, num_true], dtype=np.int32), dim], 0))
        true_logits = R.reduce_sum(M.multiply(A.expand_dims(inputs, 1), true_w3), axis=2)
        true_logits += A.reshape(true_b, [-1, num_true])
        sampled_logits += sampled_b

        if remove_accidental_hits:
            acc_indices, acc_ids, acc_weights = compute_accidental_hits(labels, sampled, num_true=num_true)
            sparse_indices = A.concat([A.reshape(acc_indices, [-1, 1]),
                                       A.reshape(M.cast(acc_ids, dtypes.int32), [-1, 1])], 1, "sparse_indices")
            logits_shape = A.concat([A.shape(labels)[:1], np.array([num_sampled], dtype=np.int32)], 0)
            hits = A.scatter_nd(sparse_indices, A.ones_like(acc_weights), logits_shape)
            # every hit's weight is -FLT_MAX: select it wherever a hit landed (duplicates set it once)
            removal = M.where_v2(M.greater(hits, 0), M.cast(-_FLT_MAX, sampled_logits.dtype),
                                 M.cast(0, sampled_logits.dtype))
            sampled_logits += removal

        if subtract_log_q:
            # subtract log Q(c), the prior probability that c is in the sample
            true_logits -= M.log(_as(true_expected_count, true_logits.dtype))
            sampled_logits -= M.log(_as(sampled_expected_count, sampled_logits.dtype))

        out_logits = A.concat([true_logits, sampled_logits], 1)
        # each of the num_true true classes gets 1 / num_true: the labels of a row sum to 1
        out_labels = A.concat([A.ones_like(true_logits) / num_true, A.zeros_like(sampled_logits)], 1)
        return out_logits, out_labels


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
             remove_accidental_hits=False, partition_strategy="mod", name="nce_loss"):
    """``tf.nn.nce_loss``: the noise-contrastive estimation loss per example, [batch_size].

    ``weights`` [num_classes, dim] (or a list of its pieces), ``biases``
    [num_classes], ``labels`` int [batch_size, num_true], ``inputs`` [batch_size,
    dim]. Negative classes come from ``sampled_values`` or, by default, from
    ``log_uniform_candidate_sampler(unique=True)`` -- so classes should be sorted
    by decreasing frequency. The loss is the sum over the row of sigmoid
    cross-entropies of the logits (minus log Q)."""
    logits, labels = _compute_sampled_logits(
        weights=weights, biases=biases, labels=labels, inputs=inputs, num_sampled=num_sampled,
        num_classes=num_classes, num_true=num_true, sampled_values=sampled_values, subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits, partition_strategy=partition_strategy, name=name)
    sampled_losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="sampled_losses")
    # [batch_size, num_true + num_sampled] -> [batch_size]
    return R.reduce_sum(sampled_losses, axis=1)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
                         sampled_values=None, remove_accidental_hits=True, partition_strategy="mod",
                         name="sampled_softmax_loss", seed=None):
    """``tf.nn.sampled_softmax_loss``: the softmax cross-entropy over the true and
    sampled classes, [batch_size] -- a fast training-time stand-in for the full
    softmax loss. Arguments as ``nce_loss``; accidental hits are removed by
    default; ``seed`` seeds the default sampler."""
    logits, labels = _compute_sampled_logits(
        weights=weights, biases=biases, labels=labels, inputs=inputs, num_sampled=num_sampled,
        num_classes=num_classes, num_true=num_true, sampled_values=sampled_values, subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits, partition_strategy=partition_strategy, name=name, seed=seed)
    labels = A.stop_gradient(labels, name="labels_stop_gradient")
    return nn_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
