"""Neural-network ops (the ``tf.nn`` surface): activations and their backward
ops, softmax / log-softmax, bias_add, dropout, l2_loss, the cross-entropy
losses and in_top_k. Gradients are in ``nn_grad.py``.

Element-wise activations and their backward ops (ReluGrad, EluGrad, ...,
with TF's names and argument order) are scalar expressions (see
ops/elementwise.py), so they fuse with their neighbours. LeakyRelu's ``alpha``
is baked into the expression: one op class (and one kernel per dtype) per
distinct alpha, registered under the type name "LeakyRelu".

Softmax, LogSoftmax and the fused cross-entropies (SoftmaxCrossEntropyWithLogits,
SparseSoftmaxCrossEntropyWithLogits) have their own kernels (CPU:
nbflow/backends/cpu/nn.py) that subtract the row maximum first, so any logits
give finite results.
"""
import numbers

import numpy as np

from nbflow.framework import dtypes, errors
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops import random_ops
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.elementwise import FLOAT, NUMERIC, ElementwiseOp

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


# -- bias_add ---------------------------------------------------------------------

def _channel_axis(data_format, rank):
    return 1 if data_format.startswith("NC") else rank - 1


def _bias_checks(ctx):
    x, b = ctx.input_shapes
    fmt = ctx.attrs.get("data_format", "NHWC")
    if b.ndims is not None and b.ndims != 1:
        raise ctx.error("Shape must be rank 1 but is rank %d for 'BiasAdd' with input shapes: %s, %s"
                        % (b.ndims, x, b))
    if x.ndims is not None and x.ndims < 2:
        raise ctx.error("Shape must be at least rank 2 but is rank %d for 'BiasAdd' with input shapes: %s, %s"
                        % (x.ndims, x, b))
    if x.ndims is None:
        return x
    dims = list(x.as_tuple())
    c = _channel_axis(fmt, len(dims))
    bc = b.as_tuple()[0] if b.ndims == 1 else None
    if dims[c] is not None and bc is not None and dims[c] != bc:
        raise ctx.error("Dimensions must be equal, but are %d and %d for '%s' (op: 'BiasAdd') with input shapes: "
                        "%s, %s." % (dims[c], bc, ctx.name, x, b))
    if dims[c] is None:
        dims[c] = bc
    return TensorShape(dims)


class BiasAdd(ElementwiseOp):
    """value + bias along the channel axis (data_format NHWC: the last axis).

    NHWC is plain numpy broadcasting, so this is an element-wise op that fuses;
    NCHW uses :class:`BiasAddNCHW`."""

    type = "BiasAdd"
    expr = "{0} + {1}"
    kinds = NUMERIC

    @classmethod
    def infer(cls, ctx):
        cls.check_dtypes(ctx)
        return [(ctx.input_dtypes[0], _bias_checks(ctx))]


class BiasAddNCHW(BiasAdd):
    """BiasAdd with data_format NCHW: the bias is viewed as (C, 1, ..., 1)."""


BiasAddNCHW.type = "BiasAdd"  # set after creation: the registry keeps BiasAdd


class BiasAddGrad(Op):
    """The bias gradient: out_backprop summed over every axis but the channel one."""

    type = "BiasAddGrad"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        s = ctx.input_shapes[0]
        if s.ndims is not None and s.ndims < 2:
            raise ctx.error("Shape must be at least rank 2 but is rank %d" % s.ndims)
        if s.ndims is None:
            return [(ctx.input_dtypes[0], TensorShape([None]))]
        return [(ctx.input_dtypes[0], TensorShape([s.as_tuple()[_channel_axis(ctx.attrs["data_format"], s.ndims)]]))]


def _data_format(data_format):
    if data_format is None:
        return "NHWC"
    if isinstance(data_format, bytes):
        data_format = data_format.decode()
    if data_format.startswith("NC"):
        return "NCHW"
    if data_format.startswith("N") and data_format.endswith("C"):
        return "NHWC"
    raise ValueError("data_format must be of the form `N...C` or `NC...`")


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, the 1-D bias added along the channel axis."""
    fmt = _data_format(data_format)
    with name_scope(name, "BiasAdd", [value, bias]) as scope:
        value = convert_to_tensor(value, name="input")
        bias = convert_to_tensor(bias, dtype=value.dtype, name="bias")
        cls = BiasAddNCHW if fmt == "NCHW" else BiasAdd
        return apply_op(cls, [value, bias], {"T": value.dtype, "data_format": fmt}, name=scope)


def bias_add_grad(out_backprop, data_format="NHWC", name=None):
    out_backprop = convert_to_tensor(out_backprop)
    return apply_op(BiasAddGrad, [out_backprop], {"T": out_backprop.dtype, "data_format": _data_format(data_format)},
                    name=name or "BiasAddGrad")


# -- l2_loss ------------------------------------------------------------------------

class L2Loss(Op):
    """sum(t ** 2) / 2, a scalar."""

    type = "L2Loss"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if not dt.is_floating:
            raise TypeError("Value passed to parameter 't' of '%s' (L2Loss) has DataType %s not in list of "
                            "allowed values: float16, float32, float64" % (ctx.name, dt.name))
        return [(dt, TensorShape([]))]


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    t = convert_to_tensor(t)
    return apply_op(L2Loss, [t], {"T": t.dtype}, name=name or "L2Loss")


# -- dropout ------------------------------------------------------------------------

def _noise_shape(x, noise_shape):
    if noise_shape is None:
        return array_ops.shape(x)
    if isinstance(noise_shape, Tensor):
        return noise_shape
    try:
        ns = TensorShape(noise_shape)
    except (TypeError, ValueError):
        return noise_shape
    xd = x.shape.as_tuple()
    if xd is not None and ns.ndims == len(xd):
        return [d if n is None and d is not None else n for n, d in zip(ns.as_tuple(), xd)]
    return noise_shape


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """TF 1.x dropout: each element is zeroed with probability ``rate`` (= 1 -
    ``keep_prob``; give exactly one) and the kept ones are scaled by 1 / keep_prob."""
    if keep_prob is not None:
        if rate is not None:
            raise ValueError("Cannot specify both 'rate' and 'keep_prob'")
        try:
            rate = 1. - keep_prob
        except TypeError:
            raise ValueError("keep_prob must be a floating point number or Tensor (got %r)" % (keep_prob,)) from None
    if rate is None:
        raise ValueError("You must provide a rate to dropout.")
    with name_scope(name, "dropout", [x]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError("x has to be a floating point tensor since it's going to be scaled. Got a %s tensor "
                             "instead." % x.dtype.name)
        if isinstance(rate, numbers.Real) and not isinstance(rate, bool):
            if not (0 <= rate < 1):
                raise ValueError("rate must be a scalar tensor or a float in the range [0, 1), got %g" % rate)
            if rate == 0:
                return x
        rate = convert_to_tensor(rate, dtype=x.dtype, name="rate")
        if rate.shape.ndims not in (None, 0):
            raise ValueError("rate must be a scalar, got shape %s" % rate.shape)
        rv = constant_value(rate)
        if rv is not None and float(rv) == 0:
            return x
        ns = _noise_shape(x, noise_shape)
        random_tensor = random_ops.random_uniform(ns, seed=seed, dtype=x.dtype)
        keep_prob_t = 1 - rate
        scale = 1 / keep_prob_t
        keep_mask = random_tensor >= rate
        ret = x * scale * M.cast(keep_mask, x.dtype)
        ret.set_shape(x.shape)
        return ret


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
