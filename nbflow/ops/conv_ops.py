"""Convolutions and pooling (NHWC): Conv2D and its backprop ops, MaxPool, AvgPool.

CPU kernels (im2col + BLAS, in cache-sized chunks): nbflow/backends/cpu/conv.py.
"""
import numpy as np

from nbflow.ops.gradient_registry import GradientNotImplemented, RegisterGradient
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops
from nbflow.ops.base import Op, apply_op, convert_to_tensor

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose", "max_pool",
           "avg_pool"]


# -- geometry -------------------------------------------------------------------

def _out_and_pad(size, k, stride, dilation, padding):
    """TF's output size and leading pad for one spatial dimension."""
    eff = (k - 1) * dilation + 1
    if padding == "VALID":
        out = (size - eff) // stride + 1 if size >= eff else 0
        return out, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2


def _four(v, name, op_name):
    if isinstance(v, int):
        return [1, v, v, 1]
    v = list(v)
    if len(v) == 1:
        return [1, v[0], v[0], 1]
    if len(v) == 2:
        return [1, v[0], v[1], 1]
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise ValueError("%s: %s in the batch and depth dimensions must be 1 (NHWC), got %s" % (op_name, name, v))
        return v
    raise ValueError("%s: %s must have 1, 2 or 4 elements, got %s" % (op_name, name, v))


def _check_format(padding, data_format, op_name):
    if data_format not in (None, "NHWC"):
        raise ValueError("%s: data_format %r is not supported by nbflow (only NHWC)" % (op_name, data_format))
    if padding not in ("SAME", "VALID"):
        raise ValueError("%s: padding must be 'SAME' or 'VALID', got %r" % (op_name, padding))


def _conv_geometry(in_dims, f_dims, attrs):
    _, sh, sw, _ = attrs["strides"]
    _, dh, dw, _ = attrs["dilations"]
    n, h, w, _ = in_dims
    kh, kw = f_dims[0], f_dims[1]
    oh, pt = _out_and_pad(h, kh, sh, dh, attrs["padding"]) if h is not None else (None, None)
    ow, pl = _out_and_pad(w, kw, sw, dw, attrs["padding"]) if w is not None else (None, None)
    return n, oh, ow, pt, pl


def _dims(shape, rank, what, name):
    d = shape.as_tuple()
    if d is None:
        return (None,) * rank
    if len(d) != rank:
        raise ValueError("%s must be %d-dimensional, got shape %s (op: '%s')" % (what, rank, shape, name))
    return d


# -- Conv2D -----------------------------------------------------------------------

def _int_dims(v):
    return tuple(int(d) for d in np.asarray(v).reshape(-1))


class Conv2D(Op):
    """input [N,H,W,C] * filter [KH,KW,C,O] -> [N,OH,OW,O], by im2col + BLAS."""

    type = "Conv2D"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        x = _dims(ctx.input_shapes[0], 4, "input", ctx.name)
        f = _dims(ctx.input_shapes[1], 4, "filter", ctx.name)
        if ctx.input_dtypes[0] is not ctx.input_dtypes[1] or not ctx.input_dtypes[0].is_floating:
            raise TypeError("Conv2D '%s' needs float input and filter of one dtype, got %s and %s"
                            % (ctx.name, ctx.input_dtypes[0].name, ctx.input_dtypes[1].name))
        if x[3] is not None and f[2] is not None and x[3] != f[2]:
            raise ctx.error("input depth (%d) must equal filter in_channels (%d)" % (x[3], f[2]))
        if f[0] is None or f[1] is None:
            return [(ctx.input_dtypes[0], TensorShape([x[0], None, None, f[3]]))]
        n, oh, ow, _, _ = _conv_geometry(x, f, ctx.attrs)
        return [(ctx.input_dtypes[0], TensorShape([n, oh, ow, f[3]]))]


class Conv2DBackpropInput(Op):
    """(input_sizes, filter, out_backprop) -> gradient w.r.t. the conv input."""

    type = "Conv2DBackpropInput"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        sizes = ctx.value(0)
        shape = TensorShape(list(_int_dims(sizes))) if sizes is not None else TensorShape([None] * 4)
        if ctx.input_dtypes[1] is not ctx.input_dtypes[2] or not ctx.input_dtypes[1].is_floating:
            raise TypeError("Conv2DBackpropInput '%s' needs float filter and out_backprop of one dtype, got %s "
                            "and %s" % (ctx.name, ctx.input_dtypes[1].name, ctx.input_dtypes[2].name))
        if sizes is not None and len(shape) != 4:
            raise ctx.error("input_sizes must have 4 elements, got %s" % (list(shape.as_tuple()),))
        return [(ctx.input_dtypes[1], shape)]


class Conv2DBackpropFilter(Op):
    """(input, filter_sizes, out_backprop) -> gradient w.r.t. the filter."""

    type = "Conv2DBackpropFilter"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        sizes = ctx.value(1)
        shape = TensorShape(list(_int_dims(sizes))) if sizes is not None else TensorShape([None] * 4)
        if ctx.input_dtypes[0] is not ctx.input_dtypes[2] or not ctx.input_dtypes[0].is_floating:
            raise TypeError("Conv2DBackpropFilter '%s' needs float input and out_backprop of one dtype, got %s "
                            "and %s" % (ctx.name, ctx.input_dtypes[0].name, ctx.input_dtypes[2].name))
        if sizes is not None and len(shape) != 4:
            raise ctx.error("filter_sizes must have 4 elements, got %s" % (list(shape.as_tuple()),))
        return [(ctx.input_dtypes[0], shape)]


def _conv_attrs(strides, padding, data_format, dilations, name):
    _check_format(padding, data_format, name)
    return {"strides": _four(strides, "strides", name), "padding": padding, "data_format": "NHWC",
            "dilations": _four(dilations if dilations is not None else 1, "dilations", name)}


def _like(value, dtype):
    """A Tensor as it is (a dtype mismatch is the op's TypeError, as in TF); other values converted to dtype."""
    return value if isinstance(value, Tensor) else convert_to_tensor(value, dtype=dtype)


def conv2d(input=None, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True, data_format="NHWC",
           dilations=None, name=None, filters=None):
    """``tf.nn.conv2d`` (NHWC)."""
    filter = filters if filter is None else filter
    if input is None or filter is None or strides is None or padding is None:
        raise TypeError("conv2d() needs input, filter, strides and padding")
    attrs = _conv_attrs(strides, padding, data_format, dilations, "Conv2D")
    if attrs["dilations"] != [1, 1, 1, 1] and attrs["strides"] != [1, 1, 1, 1]:
        raise ValueError("conv2d: strides > 1 together with dilations > 1 is not supported (as in TF)")
    x = convert_to_tensor(input)
    f = _like(filter, x.dtype)
    return apply_op(Conv2D, [x, f], attrs, name=name or "Conv2D")


def conv2d_backprop_input(input_sizes, filter=None, out_backprop=None, strides=None, padding=None,
                          use_cudnn_on_gpu=True, data_format="NHWC", dilations=None, name=None, filters=None):
    filter = filters if filter is None else filter
    attrs = _conv_attrs(strides, padding, data_format, dilations, "Conv2DBackpropInput")
    sizes = input_sizes if hasattr(input_sizes, "op") else \
        convert_to_tensor(np.asarray(input_sizes, dtype=np.int32))
    f = convert_to_tensor(filter)
    return apply_op(Conv2DBackpropInput, [sizes, f, _like(out_backprop, f.dtype)], attrs,
                    name=name or "Conv2DBackpropInput")


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, use_cudnn_on_gpu=True,
                           data_format="NHWC", dilations=None, name=None):
    attrs = _conv_attrs(strides, padding, data_format, dilations, "Conv2DBackpropFilter")
    x = convert_to_tensor(input)
    sizes = filter_sizes if hasattr(filter_sizes, "op") else \
        convert_to_tensor(np.asarray(filter_sizes, dtype=np.int32))
    return apply_op(Conv2DBackpropFilter, [x, sizes, _like(out_backprop, x.dtype)], attrs,
                    name=name or "Conv2DBackpropFilter")


def conv2d_transpose(value=None, filter=None, output_shape=None, strides=None, padding="SAME",
                     data_format="NHWC", name=None, input=None, filters=None, dilations=None):
    """``tf.nn.conv2d_transpose``: the gradient of conv2d w.r.t. its input."""
    value = input if value is None else value
    filter = filters if filter is None else filter
    return conv2d_backprop_input(output_shape, filter, value, strides, padding, data_format=data_format,
                                 dilations=dilations, name=name or "conv2d_transpose")


def _shape_of(t):
    return list(t.shape.as_tuple()) if t.shape.is_fully_defined() else array_ops.shape(t)


def _same_attrs(op):
    return dict(strides=op.attrs["strides"], padding=op.attrs["padding"], dilations=op.attrs["dilations"])


@RegisterGradient("Conv2D")
def _conv2d_grad(op, grad):
    x, f = op.inputs
    a = _same_attrs(op)
    skip = getattr(op, "skip_input_indices", ())  # set by a GradientTape (eager): see linalg_ops
    return (None if 0 in skip else conv2d_backprop_input(_shape_of(x), f, grad, **a),
            None if 1 in skip else conv2d_backprop_filter(x, _shape_of(f), grad, **a))


@RegisterGradient("Conv2DBackpropInput")
def _conv2d_backprop_input_grad(op, grad):
    _, f, dout = op.inputs
    a = _same_attrs(op)
    return None, conv2d_backprop_filter(grad, _shape_of(f), dout, **a), conv2d(grad, f, **a)


@RegisterGradient("Conv2DBackpropFilter")
def _conv2d_backprop_filter_grad(op, grad):
    x, _, dout = op.inputs
    a = _same_attrs(op)
    return conv2d_backprop_input(_shape_of(x), grad, dout, **a), None, conv2d(x, grad, **a)


# -- pooling ------------------------------------------------------------------------

def _pool_geometry(in_dims, attrs):
    _, kh, kw, _ = attrs["ksize"]
    _, sh, sw, _ = attrs["strides"]
    n, h, w, c = in_dims
    oh, pt = _out_and_pad(h, kh, sh, 1, attrs["padding"]) if h is not None else (None, 0)
    ow, pl = _out_and_pad(w, kw, sw, 1, attrs["padding"]) if w is not None else (None, 0)
    return (n, oh, ow, c), kh, kw, sh, sw, pt, pl


class _Pool(Op):
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        x = _dims(ctx.input_shapes[0], 4, "input", ctx.name)
        if not ctx.input_dtypes[0].is_floating:
            raise TypeError("%s '%s' needs a float input, got %s" % (cls.type, ctx.name, ctx.input_dtypes[0].name))
        out, *_ = _pool_geometry(x, ctx.attrs)
        return [(ctx.input_dtypes[0], TensorShape(out))]


class MaxPool(_Pool):
    type = "MaxPool"


class AvgPool(_Pool):
    type = "AvgPool"


class MaxPoolGrad(Op):
    """(orig_input, orig_output, grad) -> gradient w.r.t. orig_input."""

    type = "MaxPoolGrad"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


class AvgPoolGrad(Op):
    """(orig_input_shape, grad) -> gradient w.r.t. the pooled input."""

    type = "AvgPoolGrad"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        sizes = ctx.value(0)
        shape = TensorShape(list(_int_dims(sizes))) if sizes is not None else TensorShape([None] * 4)
        return [(ctx.input_dtypes[1], shape)]


def _pool(cls, value, ksize, strides, padding, data_format, name):
    _check_format(padding, data_format, cls.type)
    attrs = {"ksize": _four(ksize, "ksize", cls.type), "strides": _four(strides, "strides", cls.type),
             "padding": padding, "data_format": "NHWC"}
    return apply_op(cls, [convert_to_tensor(value)], attrs, name=name or cls.type)


def max_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC", name=None, input=None):
    """``tf.nn.max_pool`` (NHWC)."""
    return _pool(MaxPool, input if value is None else value, ksize, strides, padding, data_format, name)


def avg_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC", name=None, input=None):
    """``tf.nn.avg_pool`` (NHWC)."""
    return _pool(AvgPool, input if value is None else value, ksize, strides, padding, data_format, name)


@RegisterGradient("MaxPool")
def _max_pool_grad(op, grad):
    return apply_op(MaxPoolGrad, [op.inputs[0], op.outputs[0], grad], dict(op.attrs), name="MaxPoolGrad")


@RegisterGradient("AvgPool")
def _avg_pool_grad(op, grad):
    x = op.inputs[0]
    sizes = convert_to_tensor(np.asarray(x.shape.as_list(), dtype=np.int32)) if x.shape.is_fully_defined() \
        else array_ops.shape(x)
    return apply_op(AvgPoolGrad, [sizes, grad], dict(op.attrs), name="AvgPoolGrad")


@RegisterGradient("AvgPoolGrad")
def _avg_pool_grad_grad(op, grad):
    # AvgPoolGrad is linear in its gradient input: its own gradient is the average pool.
    return None, apply_op(AvgPool, [grad], dict(op.attrs), name="AvgPool")


GradientNotImplemented("MaxPoolGrad", "nbflow does not support second derivatives through max_pool")
