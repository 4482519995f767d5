"""Activations: Relu, Relu6, Elu, Selu, Softplus, Softsign and LeakyRelu,
their backward ops (ReluGrad, Relu6Grad, EluGrad, SeluGrad, SoftplusGrad,
SoftsignGrad, LeakyReluGrad: TF's names and argument order) and the
gradients of both (second derivatives go through the backward ops' own
gradients). ``tf.nn.sigmoid`` and ``tf.nn.tanh`` are math_ops' Sigmoid and
Tanh.

All are scalar expressions (see ops/elementwise.py), so they fuse with their
neighbours. LeakyRelu's ``alpha`` is baked into the expression: one op class
(and one kernel per dtype) per distinct alpha, registered under the type name
"LeakyRelu".
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.elementwise import FLOAT, NUMERIC, ElementwiseOp
from nbflow.ops.gradient_registry import RegisterGradient

# Nothing here is exported at the top level (TF 1.x has no tf.relu); see nbflow/nn.
__all__ = []

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _ew(type_name, expr, kinds=FLOAT, **extra):
    """Define an element-wise op class from its scalar expression."""
    attrs = {"type": type_name, "expr": expr, "kinds": kinds, "__module__": __name__}
    attrs.update(extra)
    return type(type_name, (ElementwiseOp,), attrs)


# -- activations ------------------------------------------------------------------
# NaN propagates through relu/relu6 (the `| (x != x)` keeps the loop branch-free).
Relu = _ew("Relu", "{0} if ({0} > {T}(0)) | ({0} != {0}) else {T}(0)", NUMERIC)
Relu6 = _ew("Relu6", "{T}(6) if {0} > {T}(6) else ({0} if ({0} > {T}(0)) | ({0} != {0}) else {T}(0))", NUMERIC)
Elu = _ew("Elu", "{0} if {0} > {T}(0) else np.expm1({0})")
Selu = _ew("Selu", "{T}(%r) * {0} if {0} > {T}(0) else {T}(%r) * np.expm1({0})"
           % (SELU_SCALE, SELU_SCALE * SELU_ALPHA))
# log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|.
Softplus = _ew("Softplus", "({0} if {0} > {T}(0) else {T}(0)) + np.log1p(np.exp(-abs({0})))")
Softsign = _ew("Softsign", "{0} / ({T}(1) + abs({0}))")

# -- their backward ops: (gradients, features) or (gradients, outputs), as TF -----
ReluGrad = _ew("ReluGrad", "{0} if {1} > {T}(0) else {T}(0)", NUMERIC)
Relu6Grad = _ew("Relu6Grad", "{0} if ({1} > {T}(0)) & ({1} < {T}(6)) else {T}(0)", NUMERIC)
EluGrad = _ew("EluGrad", "{0} * ({1} + {T}(1)) if {1} < {T}(0) else {0}")            # (gradients, outputs)
SeluGrad = _ew("SeluGrad", "{0} * ({1} + {T}(%r)) if {1} < {T}(0) else {0} * {T}(%r)"
               % (SELU_SCALE * SELU_ALPHA, SELU_SCALE))                                # (gradients, outputs)
SoftplusGrad = _ew("SoftplusGrad", "{0} / (np.exp(-{1}) + {T}(1))")                   # (gradients, features)
SoftsignGrad = _ew("SoftsignGrad", "{0} / (({T}(1) + abs({1})) * ({T}(1) + abs({1})))")  # (gradients, features)


# LeakyRelu / LeakyReluGrad: alpha is an attr in TF; here it is a literal of
# the expression, so each distinct alpha is its own (unregistered) class.
_LEAKY = {
    "LeakyRelu": "{0} if {0} > {T}(0) else {0} * {T}(%r)",
    "LeakyReluGrad": "{0} if {1} > {T}(0) else {0} * {T}(%r)",  # (gradients, features)
}
_leaky_classes = {}


def leaky_class(type_name, alpha):
    """The op class of LeakyRelu or LeakyReluGrad for one ``alpha``."""
    alpha = float(alpha)
    if not np.isfinite(alpha):
        raise ValueError("leaky_relu: alpha must be finite, got %r" % alpha)
    key = (type_name, alpha)
    cls = _leaky_classes.get(key)
    if cls is None:
        # Created with type None (so the registry keeps the canonical class),
        # then named: graphs print "LeakyRelu" whatever the alpha.
        cls = type("%s_alpha_%s" % (type_name, repr(alpha).replace(".", "_").replace("-", "m")), (ElementwiseOp,),
                   {"expr": _LEAKY[type_name] % alpha, "kinds": FLOAT, "alpha": alpha, "__module__": __name__})
        cls.type = type_name
        _leaky_classes[key] = cls
    return cls


# The registered classes (TF's default alpha), for lookups by type name.
LeakyRelu = _ew("LeakyRelu", _LEAKY["LeakyRelu"] % 0.2, alpha=0.2)
LeakyReluGrad = _ew("LeakyReluGrad", _LEAKY["LeakyReluGrad"] % 0.2, alpha=0.2)
_leaky_classes[("LeakyRelu", 0.2)] = LeakyRelu
_leaky_classes[("LeakyReluGrad", 0.2)] = LeakyReluGrad


def _unary(cls, features, name):
    return apply_op(cls, [convert_to_tensor(features, name="features")], name=name or cls.type)


def relu(features, name=None):
    """max(features, 0)."""
    return _unary(Relu, features, name)


def relu6(features, name=None):
    """min(max(features, 0), 6)."""
    with name_scope(name, "Relu6", [features]) as scope:
        return apply_op(Relu6, [convert_to_tensor(features, name="features")], name=scope)


def elu(features, name=None):
    """features if > 0, else exp(features) - 1."""
    return _unary(Elu, features, name)


def selu(features, name=None):
    """scale * (features if > 0 else alpha * (exp(features) - 1))."""
    return _unary(Selu, features, name)


def softplus(features, name=None):
    """log(exp(features) + 1), computed stably."""
    return _unary(Softplus, features, name)


def softsign(features, name=None):
    """features / (abs(features) + 1)."""
    return _unary(Softsign, features, name)


def leaky_relu(features, alpha=0.2, name=None):
    """features if > 0, else alpha * features. Integer inputs become float32."""
    with name_scope(name, "LeakyRelu", [features, alpha]) as scope:
        features = convert_to_tensor(features, name="features")
        if features.dtype.is_integer:
            features = M.cast(features, dtypes.float32)
        if isinstance(alpha, np.ndarray):
            alpha = alpha.item()
        if isinstance(alpha, Tensor):
            raise TypeError("leaky_relu: alpha must be a Python float (it is an attribute of LeakyRelu)")
        return apply_op(leaky_class("LeakyRelu", alpha), [features], {"alpha": float(alpha), "T": features.dtype},
                        name=scope)


def sigmoid(x, name=None):
    return M.sigmoid(x, name=name)


def tanh(x, name=None):
    return M.tanh(x, name=name)


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Relu")
def _relu_grad(op, grad):
    r = op.outputs[0]
    pool = getattr(grad, "op", None)
    if pool is not None and pool.type == "MaxPoolGrad" and pool.inputs[0] is r:
        # relu -> max_pool (a CNN's usual pair): the mask r > 0 is taken on the pooled
        # gradient instead, MaxPoolGrad(r, y, ReluGrad(g, y)) for ReluGrad(MaxPoolGrad(r, y,
        # g), r) -- equal, since the gradient of a window goes to a position p holding its
        # maximum, r[p] = y (windows whose maximum is NaN give 0) -- over 4x fewer elements
        # for 2x2 pooling, one pass less over the full-size gradient. The first MaxPoolGrad
        # is left unused (pruned from every plan).
        y, g = pool.inputs[1], pool.inputs[2]
        return apply_op(pool.op_def, [r, y, apply_op(ReluGrad, [g, y])], dict(pool.attrs), name="MaxPoolGrad")
    return apply_op(ReluGrad, [grad, r])


@RegisterGradient("Relu6")
def _relu6_grad(op, grad):
    return apply_op(Relu6Grad, [grad, op.outputs[0]])


@RegisterGradient("Elu")
def _elu_grad(op, grad):
    return apply_op(EluGrad, [grad, op.outputs[0]])


@RegisterGradient("Selu")
def _selu_grad(op, grad):
    return apply_op(SeluGrad, [grad, op.outputs[0]])


@RegisterGradient("Softplus")
def _softplus_grad(op, grad):
    return apply_op(SoftplusGrad, [grad, op.inputs[0]])


@RegisterGradient("Softsign")
def _softsign_grad(op, grad):
    return apply_op(SoftsignGrad, [grad, op.inputs[0]])


def _leaky_grad_op(alpha, grad, x):
    return apply_op(leaky_class("LeakyReluGrad", alpha), [grad, x], {"alpha": alpha, "T": x.dtype})


@RegisterGradient("LeakyRelu")
def _leaky_relu_grad(op, grad):
    return _leaky_grad_op(op.attrs["alpha"], grad, op.inputs[0])


# second derivatives: d/d(gradients) is the same backward op applied to the
# incoming gradient; d/d(features) is zero almost everywhere for piecewise-linear ones.

@RegisterGradient("ReluGrad")
def _relu_grad_grad(op, grad):
    x = op.inputs[1]
    return apply_op(ReluGrad, [grad, x]), array_ops.zeros_like(x)


@RegisterGradient("Relu6Grad")
def _relu6_grad_grad(op, grad):
    x = op.inputs[1]
    return apply_op(Relu6Grad, [grad, x]), array_ops.zeros_like(x)


@RegisterGradient("LeakyReluGrad")
def _leaky_relu_grad_grad(op, grad):
    x = op.inputs[1]
    return _leaky_grad_op(op.attrs["alpha"], grad, x), array_ops.zeros_like(x)


@RegisterGradient("EluGrad")
def _elu_grad_grad(op, grad):
    y = op.inputs[1]
    return (apply_op(EluGrad, [grad, y]),
            M.where_v2(M.less(y, 0.0), M.multiply(grad, op.inputs[0]), array_ops.zeros_like(y)))


@RegisterGradient("SeluGrad")
def _selu_grad_grad(op, grad):
    y = op.inputs[1]
    return (apply_op(SeluGrad, [grad, y]),
            M.where_v2(M.less(y, 0.0), M.multiply(grad, op.inputs[0]), array_ops.zeros_like(y)))


@RegisterGradient("SoftplusGrad")
def _softplus_grad_grad(op, grad):
    # dx = dy / (1 + exp(-x)): d/d(dy) = 1 / (1 + exp(-x)); d/dx = dy / (exp(-x) + 2 + exp(x)).
    dy, x = op.inputs
    ddy = apply_op(SoftplusGrad, [grad, x])
    d2x = M.realdiv(M.multiply(grad, dy), M.add(M.add(M.exp(M.negative(x)), 2.0), M.exp(x)))
    return ddy, d2x


@RegisterGradient("SoftsignGrad")
def _softsign_grad_grad(op, grad):
    # dx = dy / (1 + |x|)^2: d/dx = -2 dy sign(x) / (1 + |x|)^3.
    dy, x = op.inputs
    one_plus = M.add(M.abs(x), 1.0)
    d2x = M.realdiv(M.multiply(M.multiply(grad, dy), M.multiply(M.sign(x), -2.0)),
                    M.multiply(one_plus, M.multiply(one_plus, one_plus)))
    return apply_op(SoftsignGrad, [grad, x]), d2x
