"""The rest of the ``tf.nn`` ops: bias_add (BiasAdd, with its NCHW form, and
its gradient op BiasAddGrad), l2_loss (L2Loss) and dropout, with their
gradients.

NHWC BiasAdd is element-wise (it fuses with its neighbours); BiasAddNCHW,
BiasAddGrad and L2Loss have their own kernels (CPU: nbflow/backends/cpu/nn.py).
"""
import numbers

from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops import random_ops
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.elementwise import NUMERIC, ElementwiseOp
from nbflow.ops.gradient_registry import RegisterGradient

# Nothing here is exported at the top level; see nbflow/nn.
__all__ = []


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


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("BiasAdd")
def _bias_add_grad(op, grad):
    return grad, bias_add_grad(grad, data_format=op.attrs["data_format"])


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


@RegisterGradient("L2Loss")
def _l2_loss_grad(op, grad):
    return M.multiply(op.inputs[0], grad)
