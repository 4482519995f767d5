"""Gradients of the nn ops, as graph ops (TF's formulas; the backward ops are
the element-wise ReluGrad, EluGrad, ... ops and BiasAddGrad in nn_ops)."""
import numpy as np

from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops as N
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import apply_op


# -- activations ----------------------------------------------------------------------

@RegisterGradient("Relu")
def _relu_grad(op, grad):
    return apply_op(N.ReluGrad, [grad, op.outputs[0]])


@RegisterGradient("Relu6")
def _relu6_grad(op, grad):
    return apply_op(N.Relu6Grad, [grad, op.outputs[0]])


@RegisterGradient("Elu")
def _elu_grad(op, grad):
    return apply_op(N.EluGrad, [grad, op.outputs[0]])


@RegisterGradient("Selu")
def _selu_grad(op, grad):
    return apply_op(N.SeluGrad, [grad, op.outputs[0]])


@RegisterGradient("Softplus")
def _softplus_grad(op, grad):
    return apply_op(N.SoftplusGrad, [grad, op.inputs[0]])


@RegisterGradient("Softsign")
def _softsign_grad(op, grad):
    return apply_op(N.SoftsignGrad, [grad, op.inputs[0]])


def _leaky_grad_op(alpha, grad, x):
    return apply_op(N.leaky_class("LeakyReluGrad", alpha), [grad, x], {"alpha": alpha, "T": x.dtype})


@RegisterGradient("LeakyRelu")
def _leaky_relu_grad(op, grad):
    return _leaky_grad_op(op.attrs["alpha"], grad, op.inputs[0])


# second derivatives: d/d(gradients) is the same backward op applied to the
# incoming gradient; d/d(features) is zero almost everywhere for piecewise-linear ones.

@RegisterGradient("ReluGrad")
def _relu_grad_grad(op, grad):
    x = op.inputs[1]
    return apply_op(N.ReluGrad, [grad, x]), array_ops.zeros_like(x)


@RegisterGradient("Relu6Grad")
def _relu6_grad_grad(op, grad):
    x = op.inputs[1]
    return apply_op(N.Relu6Grad, [grad, x]), array_ops.zeros_like(x)


@RegisterGradient("LeakyReluGrad")
def _leaky_relu_grad_grad(op, grad):
    x = op.inputs[1]
    return _leaky_grad_op(op.attrs["alpha"], grad, x), array_ops.zeros_like(x)


@RegisterGradient("EluGrad")
def _elu_grad_grad(op, grad):
    y = op.inputs[1]
    return (apply_op(N.EluGrad, [grad, y]),
            M.where_v2(M.less(y, 0.0), M.multiply(grad, op.inputs[0]), array_ops.zeros_like(y)))


@RegisterGradient("SeluGrad")
def _selu_grad_grad(op, grad):
    y = op.inputs[1]
    return (apply_op(N.SeluGrad, [grad, y]),
            M.where_v2(M.less(y, 0.0), M.multiply(grad, op.inputs[0]), array_ops.zeros_like(y)))


@RegisterGradient("SoftplusGrad")
def _softplus_grad_grad(op, grad):
    # dx = dy / (1 + exp(-x)): d/d(dy) = 1 / (1 + exp(-x)); d/dx = dy / (exp(-x) + 2 + exp(x)).
    dy, x = op.inputs
    ddy = apply_op(N.SoftplusGrad, [grad, x])
    d2x = M.realdiv(M.multiply(grad, dy), M.add(M.add(M.exp(M.negative(x)), 2.0), M.exp(x)))
    return ddy, d2x


@RegisterGradient("SoftsignGrad")
def _softsign_grad_grad(op, grad):
    # dx = dy / (1 + |x|)^2: d/dx = -2 dy sign(x) / (1 + |x|)^3.
    dy, x = op.inputs
    one_plus = M.add(M.abs(x), 1.0)
    d2x = M.realdiv(M.multiply(M.multiply(grad, dy), M.multiply(M.sign(x), -2.0)),
                    M.multiply(one_plus, M.multiply(one_plus, one_plus)))
    return apply_op(N.SoftsignGrad, [grad, x]), d2x


# -- softmax ------------------------------------------------------------------------------

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


# -- bias_add -------------------------------------------------------------------------------

@RegisterGradient("BiasAdd")
def _bias_add_grad(op, grad):
    return grad, N.bias_add_grad(grad, data_format=op.attrs["data_format"])


@RegisterGradient("BiasAddGrad")
def _bias_add_grad_grad(op, grad):
    # BiasAddGrad sums over all but the channel axis: its gradient broadcasts back.
    g = op.inputs[0]
    rank = g.shape.ndims
    if op.attrs["data_format"] == "NCHW":
        if rank is None:
            raise NotImplementedError("The gradient of BiasAddGrad (NCHW) needs the input's rank to be known ('%s')"
                                      % op.name)
        grad = array_ops.reshape(grad, [-1] + [1] * (rank - 2))
    target = g.shape.as_list() if g.shape.is_fully_defined() else array_ops.shape(g)
    return array_ops.broadcast_to(grad, target)


# -- l2_loss -----------------------------------------------------------------------------------

@RegisterGradient("L2Loss")
def _l2_loss_grad(op, grad):
    return M.multiply(op.inputs[0], grad)


# -- cross-entropies -------------------------------------------------------------------------------

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
    return t is None or t.op.type == "ZerosLike"


@RegisterGradient("SoftmaxCrossEntropyWithLogits")
def _softmax_xent_grad(op, grad_loss, grad_grad):
    logits = op.inputs[0]
    backprop = op.outputs[1]
    grad = M.multiply(_expand_last_like(grad_loss, backprop), backprop)
    if not _is_zeros(grad_grad):
        # backprop = softmax(logits) - labels depends on the logits too.
        sm = N.softmax(logits)
        grad = M.add(grad, M.multiply(
            M.subtract(grad_grad, R.reduce_sum(M.multiply(grad_grad, sm), -1, keepdims=True)), sm))
    grad_labels = M.multiply(_expand_last_like(grad_loss, backprop), M.negative(N.log_softmax(logits)))
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
