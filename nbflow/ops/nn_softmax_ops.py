"""Softmax and log_softmax, the cross-entropy losses (the fused
softmax_cross_entropy_with_logits(_v2) and
sparse_softmax_cross_entropy_with_logits; sigmoid_cross_entropy_with_logits
and weighted_cross_entropy_with_logits, compositions) and in_top_k, with
their gradients.

Softmax, LogSoftmax and the fused cross-entropies (SoftmaxCrossEntropyWithLogits,
SparseSoftmaxCrossEntropyWithLogits) have their own kernels (CPU:
nbflow/backends/cpu/nn.py) that subtract the row maximum first, so any logits
give finite results.
"""
import numpy as np

from nbflow.framework import tape_state
from nbflow.framework.eager_tensor import EagerTensor
from nbflow.framework import dtypes, errors
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.ops.nn_activation_ops import relu

# Nothing here is exported at the top level; see nbflow/nn.
__all__ = []


# -- softmax / log_softmax ---------------------------------------------------------

class Softmax(Op):
    """exp(x) / sum(exp(x)) over the last axis (TF's Softmax). nbflow's attr
    ``axis`` (absent in TF graphs, which transpose instead) selects another."""

    type = "Softmax"
    #: True for LogSoftmax: the kernel writes x - log(sum(exp(x)))
    log = False
    outputs_alias_inputs = False
    pooled_outputs = True

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if dt not in (dtypes.float16, dtypes.float32, dtypes.float64):
            raise TypeError("Value passed to parameter 'logits' of '%s' (%s) has DataType %s not in list of "
                            "allowed values: float16, float32, float64" % (ctx.name, cls.type, dt.name))
        r = ctx.input_shapes[0].ndims
        if r is not None and r < 1:
            raise ctx.error("logits must have >= 1 dimension, got %s" % ctx.input_shapes[0])
        return [(dt, ctx.input_shapes[0])]


class LogSoftmax(Softmax):
    """x - log(sum(exp(x))) over the last axis (TF's LogSoftmax)."""

    type = "LogSoftmax"
    log = True


def _axis_lookup(axis, dim):
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        return dim
    return axis


def _softmax(op_cls, logits, axis, name):
    logits = convert_to_tensor(logits)
    if axis is None:
        axis = -1
    if isinstance(axis, Tensor):
        v = constant_value(axis)
        if v is None:
            raise NotImplementedError("%s: axis must be known when the graph is built (got %s)"
                                      % (op_cls.type, axis.name))
        axis = v
    axis = int(np.asarray(axis))
    ndims = logits.shape.ndims
    if axis != -1 and ndims is not None and not -ndims <= axis < ndims:
        raise errors.InvalidArgumentError(
            None, None, "Dimension (%d) must be in the range [%d, %d) where %d is the number of dimensions in "
            "the input." % (axis, -ndims, ndims, ndims))
    attrs = {"T": logits.dtype}
    if axis != -1 and not (ndims is not None and axis == ndims - 1):
        if ndims is None and axis >= 0:
            raise NotImplementedError("%s over axis %d needs the rank of the logits to be known" % (op_cls.type, axis))
        attrs["axis"] = axis - ndims if axis >= 0 else axis
    return apply_op(op_cls, [logits], attrs, name=name or op_cls.type)


def softmax(logits, axis=None, name=None, dim=None):
    """Softmax along ``axis`` (default the last; ``dim`` is TF 1.x's alias)."""
    return _softmax(Softmax, logits, _axis_lookup(axis, dim), name)


def log_softmax(logits, axis=None, name=None, dim=None):
    """Log-softmax along ``axis`` (default the last; ``dim`` is TF 1.x's alias)."""
    return _softmax(LogSoftmax, logits, _axis_lookup(axis, dim), name)


# -- cross-entropies -------------------------------------------------------------------

def _ensure_xent_args(name, sentinel, labels, logits):
    if sentinel is not None:
        raise ValueError("Only call `%s` with named arguments (labels=..., logits=..., ...)" % name)
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")


def _fmt(s):
    if s.ndims is None:
        return "?"
    return "[%s]" % ",".join("?" if d is None else str(d) for d in s.as_tuple())


class SoftmaxCrossEntropyWithLogits(Op):
    """Fused softmax + cross-entropy. Inputs (features, labels) of one shape
    [..., classes]; outputs loss [...] and backprop (softmax - labels).

    TF's op takes matrices; this one also takes other ranks >= 1 (the kernel
    sees a (rows, classes) view), so no Reshape nodes are needed around it."""

    type = "SoftmaxCrossEntropyWithLogits"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        f, lab = ctx.input_shapes
        if ctx.input_dtypes[0] not in (dtypes.float16, dtypes.float32, dtypes.float64):
            raise TypeError("Value passed to parameter 'features' of '%s' (%s) has DataType %s not in list of "
                            "allowed values: float16, float32, float64" % (ctx.name, cls.type,
                                                                             ctx.input_dtypes[0].name))
        if ctx.input_dtypes[1] is not ctx.input_dtypes[0]:
            raise TypeError("Input 'labels' of '%s' (%s) has type %s that does not match type %s of argument "
                            "'features'." % (ctx.name, cls.type, ctx.input_dtypes[1].name, ctx.input_dtypes[0].name))
        if not f.is_compatible_with(lab):
            raise ctx.error("logits and labels must be the same shape, got %s and %s for '%s' (op: '%s')"
                            % (_fmt(f), _fmt(lab), ctx.name, cls.type))
        shape = f.merge_with(lab)
        if shape.ndims is not None and shape.ndims < 1:
            raise ctx.error("logits and labels must have rank >= 1, got %s" % _fmt(shape))
        loss = TensorShape(None) if shape.ndims is None else TensorShape(list(shape.as_tuple()[:-1]))
        return [(ctx.input_dtypes[0], loss), (ctx.input_dtypes[0], shape)]


class SparseSoftmaxCrossEntropyWithLogits(Op):
    """Fused softmax + cross-entropy with integer labels. Inputs (features
    [..., classes], labels [...] int32/int64); outputs loss [...] and backprop."""

    type = "SparseSoftmaxCrossEntropyWithLogits"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        f, lab = ctx.input_shapes
        if ctx.input_dtypes[0] not in (dtypes.float16, dtypes.float32, dtypes.float64):
            raise TypeError("Value passed to parameter 'features' of '%s' (%s) has DataType %s not in list of "
                            "allowed values: float16, float32, float64" % (ctx.name, cls.type,
                                                                             ctx.input_dtypes[0].name))
        if ctx.input_dtypes[1] not in (dtypes.int32, dtypes.int64):
            raise TypeError("Value passed to parameter 'labels' of '%s' (%s) has DataType %s not in list of "
                            "allowed values: int32, int64" % (ctx.name, cls.type, ctx.input_dtypes[1].name))
        if f.ndims is not None:
            if f.ndims < 1:
                raise ctx.error("Logits cannot be scalars - received shape %s." % _fmt(f))
            lead = TensorShape(list(f.as_tuple()[:-1]))
            if not lead.is_compatible_with(lab):
                raise ctx.error("labels shape %s must equal logits shape %s without its last dimension"
                                % (_fmt(lab), _fmt(f)))
            loss = lead.merge_with(lab)
            back = TensorShape(list(loss.as_tuple()) + [f.as_tuple()[-1]])
        else:
            loss = lab
            back = TensorShape(None) if lab.ndims is None else TensorShape([None] * (lab.ndims + 1))
        return [(ctx.input_dtypes[0], loss), (ctx.input_dtypes[0], back)]


def softmax_cross_entropy_with_logits_v2(labels, logits, axis=None, name=None, dim=None):
    """Cross-entropy between softmax(logits) and the distributions ``labels``
    along ``axis`` (default the last). Differentiable w.r.t. both."""
    axis = _axis_lookup(axis, dim)
    if axis is None:
        axis = -1
    with name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, name="labels")
        if not logits.dtype.is_floating:
            raise TypeError("logits of softmax_cross_entropy_with_logits must be floating point, got %s"
                            % logits.dtype.name)
        labels = M.cast(labels, logits.dtype)
        ndims = logits.shape.ndims
        if ndims is not None and not -ndims <= axis < ndims:
            raise ValueError("axis %d is out of range for logits of rank %d" % (axis, ndims))
        if axis == -1 or (ndims is not None and axis == ndims - 1):
            if not logits.shape.is_compatible_with(labels.shape) and labels.shape.ndims is not None \
                    and ndims is not None and labels.shape.ndims != ndims:
                return _xent_of_flattened(logits, labels, scope)
            cost, _ = apply_op(SoftmaxCrossEntropyWithLogits, [logits, labels], {"T": logits.dtype}, name=scope)
            return cost
        # Another axis: the same quantity from log_softmax (stable, differentiable).
        return M.negative(R.reduce_sum(M.multiply(labels, log_softmax(logits, axis=axis)), axis), name=scope)


def _xent_of_flattened(logits, labels, scope):
    """TF flattens logits and labels to matrices [-1, classes] before its op, so labels of
    another rank with the same rows (``[[y_one_hot]]``: [1, N, C] against [N, C]) are accepted;
    the cost takes the shape of the logits less the last axis."""
    classes = logits.shape.as_list()[-1]
    if classes is None:
        classes = array_ops.shape(logits)[-1]
    flat_logits = array_ops.reshape(logits, [-1, classes])
    flat_labels = array_ops.reshape(labels, [-1, classes])
    cost, _ = apply_op(SoftmaxCrossEntropyWithLogits, [flat_logits, flat_labels], {"T": logits.dtype})
    if logits.shape.ndims == 2:
        return array_ops.identity(cost, name=scope)
    return array_ops.reshape(cost, array_ops.shape(logits)[:-1], name=scope)


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """TF 1.x's version: as ``_v2``, but no gradient flows into ``labels``."""
    _ensure_xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    if axis is not None:
        if dim is not None and dim != -1:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        dim = axis
    with name_scope(name, "softmax_cross_entropy_with_logits_sg", [logits, labels]) as scope:
        labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
        return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=dim, name=scope)


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Cross-entropy between softmax(logits) and integer class ``labels`` (one
    per row; logits [..., classes], labels [...]). A label outside [0, classes)
    is an InvalidArgumentError when the graph runs."""
    _ensure_xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]):
        labels = convert_to_tensor(labels)
        logits = convert_to_tensor(logits)
        ls, fs = labels.shape, logits.shape
        if fs.ndims == 0:
            raise ValueError("Logits cannot be scalars - received shape %s." % fs)
        if fs.ndims is not None and ls.ndims is not None and ls.ndims != fs.ndims - 1:
            raise ValueError("Rank mismatch: Rank of labels (received %s) should equal rank of logits minus 1 "
                             "(received %s)." % (ls.ndims, fs.ndims))
        if fs.ndims is not None and ls.is_fully_defined() and TensorShape(list(fs.as_tuple()[:-1])).is_fully_defined() \
                and ls.as_tuple() != fs.as_tuple()[:-1]:
            raise ValueError("Shape mismatch: The shape of labels (received %s) should equal the shape of logits "
                             "except for the last dimension (received %s)." % (ls, fs))
        cost, _ = apply_op(SparseSoftmaxCrossEntropyWithLogits, [logits, labels],
                           {"T": logits.dtype, "Tlabels": labels.dtype},
                           name=name or "SparseSoftmaxCrossEntropyWithLogits")
        return cost


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Element-wise logistic loss, computed stably as
    max(x, 0) - x * z + log(1 + exp(-|x|)) for logits x and labels z."""
    _ensure_xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, name="labels")
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError("logits and labels must have the same shape (%s vs %s)" % (logits.shape, labels.shape))
        if labels.dtype is not logits.dtype:
            raise TypeError("labels (%s) and logits (%s) of sigmoid_cross_entropy_with_logits must have one dtype"
                            % (labels.dtype.name, logits.dtype.name))
        zeros = array_ops.zeros_like(logits, dtype=logits.dtype)
        cond = M.greater_equal(logits, zeros)
        relu_logits = M.where_v2(cond, logits, zeros)
        neg_abs_logits = M.where_v2(cond, M.negative(logits), logits)
        return M.add(M.subtract(relu_logits, M.multiply(logits, labels)), M.log1p(M.exp(neg_abs_logits)), name=scope)


def weighted_cross_entropy_with_logits(targets=None, logits=None, pos_weight=None, name=None, labels=None):
    """Sigmoid cross-entropy with the positive term weighted by ``pos_weight``."""
    if labels is not None:
        if targets is not None:
            raise ValueError("Cannot specify both 'labels' and 'targets'")
        targets = labels
    if targets is None or logits is None or pos_weight is None:
        raise ValueError("targets (labels), logits and pos_weight must all be given")
    with name_scope(name, "logistic_loss", [logits, targets]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        targets = convert_to_tensor(targets, name="targets")
        if not logits.shape.is_compatible_with(targets.shape):
            raise ValueError("logits and targets must have the same shape (%s vs %s)" % (logits.shape, targets.shape))
        log_weight = 1 + (pos_weight - 1) * targets
        softplus_neg = M.add(M.log1p(M.exp(M.negative(M.abs(logits)))), relu(M.negative(logits)))
        return M.add(M.multiply(1 - targets, logits), M.multiply(log_weight, softplus_neg), name=scope)


# -- in_top_k --------------------------------------------------------------------------

class InTopKV2(Op):
    """Whether targets[i] is among the top k predictions of row i (bool [batch])."""

    type = "InTopKV2"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        p, t, k = ctx.input_shapes
        if ctx.input_dtypes[0] is not dtypes.float32:
            raise TypeError("Value passed to parameter 'predictions' of '%s' (InTopKV2) has DataType %s not in "
                            "list of allowed values: float32" % (ctx.name, ctx.input_dtypes[0].name))
        if ctx.input_dtypes[1] not in (dtypes.int32, dtypes.int64):
            raise TypeError("Value passed to parameter 'targets' of '%s' (InTopKV2) has DataType %s not in list of "
                            "allowed values: int32, int64" % (ctx.name, ctx.input_dtypes[1].name))
        if p.ndims is not None and p.ndims != 2:
            raise ctx.error("Shape must be rank 2 but is rank %d for 'InTopKV2' (predictions)" % p.ndims)
        if t.ndims is not None and t.ndims != 1:
            raise ctx.error("Shape must be rank 1 but is rank %d for 'InTopKV2' (targets)" % t.ndims)
        if k.ndims is not None and k.ndims != 0:
            raise ctx.error("Shape must be rank 0 but is rank %d for 'InTopKV2' (k)" % k.ndims)
        batch = TensorShape([p.as_tuple()[0] if p.ndims is not None else None])
        if not batch.is_compatible_with(t):
            raise ctx.error("First dimension of predictions %s must match length of targets %s" % (_fmt(p), _fmt(t)))
        return [(dtypes.bool_, batch.merge_with(t))]


def in_top_k(predictions, targets, k, name=None):
    """Whether each target is in the top ``k`` predictions of its row (ties
    count for the target; a non-finite row or out-of-range target gives False)."""
    with name_scope(name, "in_top_k"):
        predictions = convert_to_tensor(predictions)
        targets = convert_to_tensor(targets)
        k = convert_to_tensor(k, dtype=targets.dtype) if not isinstance(k, Tensor) else k
        return apply_op(InTopKV2, [predictions, targets, k], {"T": targets.dtype}, name=name or "InTopKV2")


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Softmax")
def _softmax_grad(op, grad):
    # (grad - sum(grad * softmax)) * softmax, along the softmax axis
    axis = op.attrs.get("axis", -1)
    y = op.outputs[0]
    return M.multiply(M.subtract(grad, R.reduce_sum(M.multiply(grad, y), axis, keepdims=True)), y)


@RegisterGradient("LogSoftmax")
def _log_softmax_grad(op, grad):
    # grad - sum(grad) * softmax
    axis = op.attrs.get("axis", -1)
    return M.subtract(grad, M.multiply(R.reduce_sum(grad, axis, keepdims=True), M.exp(op.outputs[0])))


def _expand_last_like(vec, mat):
    """``vec`` (shape mat.shape[:-1]) with a trailing dimension of 1, to broadcast against ``mat``."""
    if vec.shape.is_fully_defined():
        return array_ops.reshape(vec, vec.shape.as_list() + [1])
    rank = mat.shape.ndims
    if rank is None:
        # vec has mat's shape less the last axis: a trailing axis of 1 (TF's _BroadcastMul)
        return array_ops.expand_dims(vec, -1)
    # shape(mat) with its last entry replaced by 1 (folded at plan time)
    keep = np.ones(rank, dtype=np.int32)
    keep[-1] = 0
    target = M.add(M.multiply(array_ops.shape(mat), keep), np.int32(1) - keep)
    return array_ops.reshape(vec, target)


def _is_zeros(t):
    """The gradient tf.gradients supplies for an unused output (TF's _is_zeros_tensor)."""
    if isinstance(t, EagerTensor):
        return id(t) in tape_state.zero_fills  # the zeros a GradientTape passed for an unused output
    return t is None or t.op.type == "ZerosLike"


@RegisterGradient("SoftmaxCrossEntropyWithLogits")
def _softmax_xent_grad(op, grad_loss, grad_grad):
    logits = op.inputs[0]
    backprop = op.outputs[1]
    grad = M.multiply(_expand_last_like(grad_loss, backprop), backprop)
    if not _is_zeros(grad_grad):
        # backprop = softmax(logits) - labels depends on the logits too.
        sm = softmax(logits)
        grad = M.add(grad, M.multiply(
            M.subtract(grad_grad, R.reduce_sum(M.multiply(grad_grad, sm), -1, keepdims=True)), sm))
    grad_labels = M.multiply(_expand_last_like(grad_loss, backprop), M.negative(log_softmax(logits)))
    return grad, grad_labels


@RegisterGradient("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_softmax_xent_grad(op, grad_loss, grad_grad):
    if not _is_zeros(grad_grad):
        raise LookupError(
            "Currently there is no way to take the second derivative of sparse_softmax_cross_entropy_with_logits "
            "due to the fused implementation's interaction with tf.gradients() (op '%s')" % op.name)
    backprop = op.outputs[1]
    return M.multiply(_expand_last_like(grad_loss, backprop), backprop), None


NotDifferentiable("InTopKV2")
