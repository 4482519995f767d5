"""Normalization in ``tf.nn``: moments, batch_normalization (and the deprecated
batch_norm_with_global_normalization), fused_batch_norm, l2_normalize.

``moments``, ``batch_normalization`` and ``l2_normalize`` are compositions of
ordinary ops, built as TF builds them (so they differentiate through the
existing gradients and their element-wise parts fuse in the planner).
``fused_batch_norm`` is one op, ``FusedBatchNormV3``, with its own backward
op ``FusedBatchNormGradV3`` (CPU kernels: nbflow/backends/cpu/nn.py): two passes
over the input forward, two backward.

FusedBatchNormV3 here takes NHWC input of rank 4 (as TF's op; NCHW raises).
Its dtypes are TF's (x float16/float32 with float32 statistics) plus float64
with float64 statistics, which TF lacks (useful for gradient checks).
"""
import numbers

import numpy as np

from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor

__all__ = []  # tf.nn.* (see nbflow/nn)


def _deprecated_lookup(new_name, new_value, old_name, old_value):
    if old_value is not None:
        if new_value is not None:
            raise ValueError("Cannot specify both '%s' and '%s'" % (old_name, new_name))
        return old_value
    return new_value


# -- moments ---------------------------------------------------------------------------

def _axes_list(axes, what):
    if isinstance(axes, Tensor):
        v = constant_value(axes)
        if v is None:
            raise NotImplementedError("%s: axes must be known when the graph is built (got the tensor %s)"
                                      % (what, axes.name))
        axes = v
    if isinstance(axes, (numbers.Integral, np.integer)):
        return [int(axes)]
    arr = np.asarray(axes)
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError("%s: axes must be integers, got %r" % (what, axes))
    return [int(a) for a in arr.reshape(-1)]


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """``tf.nn.moments``: (mean, variance) of ``x`` over ``axes``.

    The variance is the biased (population) one, mean((x - mean)**2), computed
    with the mean behind a stop_gradient as TF does (its gradient through the
    mean is zero anyway). ``shift`` is accepted and unused, as in TF 1.15.
    float16 inputs are reduced in float32 and the results cast back."""
    keep_dims = _deprecated_lookup("keepdims", keepdims, "keep_dims", keep_dims)
    if keep_dims is None:
        keep_dims = False
    with name_scope(name, "moments", [x, axes]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise TypeError("moments: x must be a floating-point tensor, got %s" % x.dtype.name)
        axes = _axes_list(axes, "moments")
        rank = x.shape.ndims
        if rank is not None:
            for a in axes:
                if not -rank <= a < rank:
                    raise ValueError("moments: axis %d is out of range for x of rank %d" % (a, rank))
        y = M.cast(x, dtypes.float32) if x.dtype is dtypes.float16 else x
        mean = R.reduce_mean(y, axes, keepdims=True, name="mean")
        variance = R.reduce_mean(M.squared_difference(y, A.stop_gradient(mean)), axes, keepdims=True,
                                 name="variance")
        if not keep_dims:
            if rank is None and any(a < 0 for a in axes):
                raise NotImplementedError("moments: negative axes with keep_dims=False need x of known rank")
            mean = A.squeeze(mean, axes)
            variance = A.squeeze(variance, axes)
        if x.dtype is dtypes.float16:
            return M.cast(mean, dtypes.float16), M.cast(variance, dtypes.float16)
        return mean, variance


# -- batch_normalization --------------------------------------------------------------

def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``tf.nn.batch_normalization``: (x - mean) * scale / sqrt(variance + eps) + offset,
    arranged as TF arranges it: ``x * inv + (offset - mean * inv)`` with
    ``inv = rsqrt(variance + eps) * scale``. ``offset`` and ``scale`` may be None;
    every argument broadcasts against ``x``."""
    with name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise TypeError("batch_normalization: x must be a floating-point tensor, got %s" % x.dtype.name)
        mean = _stat(mean, x, "mean")
        variance = _stat(variance, x, "variance")
        inv = M.rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * _stat(scale, x, "scale", inv.dtype)
        if offset is not None:
            shift = _stat(offset, x, "offset", inv.dtype) - mean * inv
        else:
            shift = -mean * inv
        return x * M.cast(inv, x.dtype) + M.cast(shift, x.dtype)


def _deprecated_argument_lookup(new_name, new_value, old_name, old_value):
    if old_value is not None:
        if new_value is not None:
            raise ValueError("Cannot specify both '%s' and '%s'" % (old_name, new_name))
        return old_value
    return new_value


def batch_norm_with_global_normalization(t=None, m=None, v=None, beta=None, gamma=None, variance_epsilon=None,
                                         scale_after_normalization=None, name=None, input=None, mean=None,
                                         variance=None):
    """``tf.nn.batch_norm_with_global_normalization`` (deprecated in TF 1.x):
    ``batch_normalization(t, m, v, beta, gamma if scale_after_normalization else
    None, variance_epsilon)``. ``input``/``mean``/``variance`` are the new names
    of ``t``/``m``/``v``."""
    t = _deprecated_argument_lookup("input", input, "t", t)
    m = _deprecated_argument_lookup("mean", mean, "m", m)
    v = _deprecated_argument_lookup("variance", variance, "v", v)
    return batch_normalization(t, m, v, beta, gamma if scale_after_normalization else None, variance_epsilon, name)


def _stat(v, x, what, dtype=None):
    """A statistic/parameter as a tensor: Python values take x's dtype; tensors keep theirs."""
    if isinstance(v, Tensor) or hasattr(v, "_as_graph_element"):
        t = convert_to_tensor(v)
    else:
        t = convert_to_tensor(v, dtype=dtype or x.dtype, name=what)
    if not t.dtype.is_floating:
        raise TypeError("batch_normalization: %s must be floating point, got %s" % (what, t.dtype.name))
    return t


# -- l2_normalize ---------------------------------------------------------------------

def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """``tf.nn.l2_normalize``: x / sqrt(max(sum(x**2, axis), epsilon)); ``axis``
    None normalizes over every axis (``dim`` is the deprecated spelling)."""
    axis = _deprecated_lookup("axis", axis, "dim", dim)
    with name_scope(name, "l2_normalize", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise TypeError("l2_normalize: x must be a floating-point tensor, got %s" % x.dtype.name)
        square_sum = R.reduce_sum(M.square(x), axis, keepdims=True)
        x_inv_norm = M.rsqrt(M.maximum(square_sum, M.cast(epsilon, x.dtype) if isinstance(epsilon, Tensor)
                                       else convert_to_tensor(epsilon, dtype=x.dtype)))
        return M.multiply(x, x_inv_norm, name=scope)


# -- FusedBatchNormV3 -----------------------------------------------------------------

_T = (dtypes.float16, dtypes.float32, dtypes.float64)


def _param_dtype(t):
    return dtypes.float64 if t is dtypes.float64 else dtypes.float32


def _check_format(data_format, what):
    if isinstance(data_format, bytes):
        data_format = data_format.decode()
    if data_format == "NCHW":
        raise NotImplementedError("%s: data_format NCHW is not supported by nbflow (only NHWC)" % what)
    if data_format != "NHWC":
        raise ValueError("%s: data_format must be 'NHWC' (or 'NCHW', unsupported), got %r" % (what, data_format))
    return data_format


def _fmt(dims):
    return "[%s]" % ",".join("?" if d is None else str(d) for d in dims)


def _vector_dims(ctx, i, what, channels):
    """Check input i is a vector (of ``channels`` when known); return its length."""
    d = ctx.dims(i)
    if d is None:
        return channels
    if len(d) != 1:
        raise ctx.error("Shape must be rank 1 but is rank %d for %s %s" % (len(d), what, _fmt(d)))
    if d[0] is not None and channels is not None and d[0] != channels:
        raise ctx.error("%s must have %d elements (the channel dimension of x), got %s" % (what, channels, _fmt(d)))
    return channels if channels is not None else d[0]


class FusedBatchNormV3(Op):
    """(x, scale, offset, mean, variance) -> (y, batch_mean, batch_variance,
    reserve_space_1, reserve_space_2, reserve_space_3).

    Training: normalizes with the batch's mean and biased variance;
    batch_variance is the unbiased one (n / (n - 1), as TF) and the reserve
    spaces hold the mean and biased variance for the gradient. Inference:
    normalizes with the given mean and variance (passed through as outputs)."""

    type = "FusedBatchNormV3"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        t = ctx.input_dtypes[0]
        if t not in _T:
            raise TypeError("Value passed to parameter 'x' of '%s' (FusedBatchNormV3) has DataType %s not in list "
                            "of allowed values: float16, float32, float64" % (ctx.name, t.name))
        u = _param_dtype(t)
        for i, what in enumerate(("scale", "offset", "mean", "variance"), 1):
            if ctx.input_dtypes[i] is not u:
                raise TypeError("Input '%s' of '%s' (FusedBatchNormV3) has type %s that does not match the "
                                "expected %s (for x of %s)" % (what, ctx.name, ctx.input_dtypes[i].name, u.name,
                                                               t.name))
        x = ctx.dims(0)
        if x is not None and len(x) != 4:
            raise ctx.error("input must be 4-dimensional, got shape %s" % _fmt(x))
        c = x[3] if x is not None else None
        c = _vector_dims(ctx, 1, "scale", c)
        c = _vector_dims(ctx, 2, "offset", c)
        if not ctx.attrs["is_training"]:
            c = _vector_dims(ctx, 3, "mean", c)
            c = _vector_dims(ctx, 4, "variance", c)
        xs = ctx.input_shapes[0] if x is None else TensorShape([x[0], x[1], x[2], c])
        vec = TensorShape([c])
        return [(t, xs), (u, vec), (u, vec), (u, vec), (u, vec), (u, TensorShape([0]))]


class FusedBatchNormGradV3(Op):
    """(y_backprop, x, scale, reserve_space_1, reserve_space_2, reserve_space_3)
    -> (x_backprop, scale_backprop, offset_backprop, reserve_space_4, reserve_space_5)."""

    type = "FusedBatchNormGradV3"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        t = ctx.input_dtypes[0]
        if t not in _T or ctx.input_dtypes[1] is not t:
            raise TypeError("FusedBatchNormGradV3 '%s': y_backprop and x must have one float dtype, got %s and %s"
                            % (ctx.name, t.name, ctx.input_dtypes[1].name))
        u = _param_dtype(t)
        x = ctx.input_shapes[1].merge_with(ctx.input_shapes[0])
        c = x.as_tuple()[3] if x.ndims == 4 else None
        if x.ndims is not None and x.ndims != 4:
            raise ctx.error("input must be 4-dimensional, got shape %s" % x)
        for i, what in ((2, "scale"), (3, "reserve_space_1"), (4, "reserve_space_2")):
            c = _vector_dims(ctx, i, what, c)
        vec = TensorShape([c])
        return [(t, x), (u, vec), (u, vec), (u, TensorShape([0])), (u, TensorShape([0]))]


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=0.001, data_format="NHWC",
                     is_training=True, name=None):
    """``tf.nn.fused_batch_norm``: (y, batch_mean, batch_variance) of batch
    normalization over N, H, W of NHWC ``x``.

    Training: the batch's statistics (batch_variance is the unbiased one, as
    TF; ``mean``/``variance`` are ignored). Inference (``is_training=False``):
    ``mean`` and ``variance`` are required and returned as given. ``epsilon``
    is raised to at least 1.001e-5, as TF does."""
    data_format = _check_format(data_format, "fused_batch_norm")
    x = convert_to_tensor(x, name="input")
    u = _param_dtype(x.dtype) if x.dtype in _T else dtypes.float32
    scale = convert_to_tensor(scale, dtype=None if isinstance(scale, Tensor) else u, name="scale")
    offset = convert_to_tensor(offset, dtype=None if isinstance(offset, Tensor) else u, name="offset")
    if not is_training and (mean is None or variance is None):
        raise ValueError("fused_batch_norm: mean and variance are required when is_training is False")
    mean = convert_to_tensor(np.zeros(0, u.as_numpy_dtype) if mean is None else mean,
                             dtype=None if isinstance(mean, Tensor) else u)
    variance = convert_to_tensor(np.zeros(0, u.as_numpy_dtype) if variance is None else variance,
                                 dtype=None if isinstance(variance, Tensor) else u)
    min_epsilon = 1.001e-5
    epsilon = float(epsilon) if float(epsilon) > min_epsilon else min_epsilon
    y, batch_mean, batch_var, _, _, _ = apply_op(
        FusedBatchNormV3, [x, scale, offset, mean, variance],
        {"T": x.dtype, "U": u, "epsilon": epsilon, "data_format": data_format, "is_training": bool(is_training)},
        name=name or "FusedBatchNormV3")
    return y, batch_mean, batch_var


@RegisterGradient("FusedBatchNormV3")
def _fused_batch_norm_grad(op, *grads):
    """Only y's gradient flows (as TF): batch_mean/batch_variance are statistics
    for moving averages; mean/variance inputs get no gradient."""
    x, scale = op.inputs[0], op.inputs[1]
    attrs = {k: op.attrs[k] for k in ("T", "U", "epsilon", "data_format", "is_training")}
    dx, dscale, doffset, _, _ = apply_op(
        FusedBatchNormGradV3, [grads[0], x, scale, op.outputs[3], op.outputs[4], op.outputs[5]], attrs,
        name="FusedBatchNormGradV3")
    return dx, dscale, doffset, None, None


@RegisterGradient("FusedBatchNormGradV3")
def _fused_batch_norm_grad_grad(op, *grads):
    raise NotImplementedError("Second derivatives through tf.nn.fused_batch_norm (FusedBatchNormGradV3 '%s') are "
                              "not supported by nbflow; use tf.nn.moments + tf.nn.batch_normalization" % op.name)
