"""Convolutions and pooling (NHWC): Conv2D and its backprop ops, MaxPool, AvgPool."""
import numpy as np

from nbflow.autodiff.gradients import RegisterGradient
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.kernels.cpu import conv as K
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

#: The patch matrix is built and multiplied this many bytes at a time: small
#: enough to stay in cache between im2col and the matrix product, ...
_CHUNK_BYTES = 1 << 20
#: ... but at least this many patch rows, so that BLAS still runs at full speed
#: when a patch row is long (many input channels).
_MIN_CHUNK_ROWS = 256


class _Scratch:
    """A flat work buffer kept across runs (allocated at plan time when the
    shapes are known, else on the first run; it grows if a later run needs more)."""

    __slots__ = ("buf", "dtype")

    def __init__(self, dtype):
        self.buf = None
        self.dtype = dtype

    def get(self, size):
        if self.buf is None or self.buf.size < size:
            self.buf = np.empty(max(size, 1), dtype=self.dtype)
        return self.buf


def _cols_size(n, per, k, itemsize):
    """Scratch elements for one chunk of patch rows (``n`` images of ``per`` patches of ``k`` values)."""
    rows = max(_CHUNK_BYTES // max(k * itemsize, 1), _MIN_CHUNK_ROWS)
    if n is not None:
        rows = min(rows, max(n * per, 1))
    return rows * k


def _compute_dtype(npd):
    """float16 is stored, not computed: kernels run in float32 (as MatMul)."""
    return np.dtype(np.float32) if npd == np.float16 else np.dtype(npd)


def _as(a, dtype):
    return a if a.dtype == dtype else a.astype(dtype)


def _known(dims):
    return dims is not None and None not in dims


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

    @classmethod
    def plan(cls, ctx):
        attrs = ctx.attrs
        _, sh, sw, _ = attrs["strides"]
        _, dh, dw, _ = attrs["dilations"]
        npd = np.dtype(ctx.out_np_dtype(0))
        cd = _compute_dtype(npd)
        out_static = ctx.static_buffer(0) if cd == npd else None
        cols = _Scratch(cd)
        xd, fd = ctx.dims(0), ctx.dims(1)
        if _known(xd) and _known(fd):
            n, oh, ow, _, _ = _conv_geometry(xd, fd, attrs)
            cols.get(_cols_size(n, oh * ow, fd[0] * fd[1] * fd[2], cd.itemsize))
        name = ctx.name

        def run(x, f):
            n, oh, ow, pt, pl = _conv_geometry(x.shape, f.shape, attrs)
            kh, kw, c, o = f.shape
            if x.shape[3] != c:
                raise ValueError("Conv2D '%s': input depth %d does not match the filter's in_channels %d"
                                 % (name, x.shape[3], c))
            out = out_static if out_static is not None else np.empty((n, oh, ow, o), dtype=cd)
            k = kh * kw * c
            K.conv2d(_as(x, cd), _as(f, cd).reshape(k, o), kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
                     cols.get(_cols_size(n, oh * ow, k, cd.itemsize)), out.reshape(n * oh * ow, o))
            return out if cd == npd else out.astype(npd)
        return run


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

    @classmethod
    def plan(cls, ctx):
        attrs = ctx.attrs
        _, sh, sw, _ = attrs["strides"]
        _, dh, dw, _ = attrs["dilations"]
        npd = np.dtype(ctx.out_np_dtype(0))
        cd = _compute_dtype(npd)
        dx_static = ctx.static_buffer(0) if cd == npd else None
        dcols = _Scratch(cd)
        sizes_v, fd = ctx.value(0), ctx.dims(1)
        if sizes_v is not None and _known(fd):
            in_dims = _int_dims(sizes_v)
            n, oh, ow, _, _ = _conv_geometry(in_dims, fd, attrs)
            dcols.get(_cols_size(n, oh * ow, fd[0] * fd[1] * fd[2], cd.itemsize))
        name = ctx.name

        def run(sizes, f, dout):
            in_dims = _int_dims(sizes)
            n, oh, ow, pt, pl = _conv_geometry(in_dims, f.shape, attrs)
            kh, kw, c, o = f.shape
            if in_dims[3] != c or dout.shape != (n, oh, ow, o):
                raise ValueError("Conv2DBackpropInput '%s': out_backprop has shape %s and input_sizes %s; "
                                 "expected out_backprop %s and input depth %d"
                                 % (name, dout.shape, list(in_dims), (n, oh, ow, o), c))
            dx = dx_static if dx_static is not None else np.empty(in_dims, dtype=cd)
            k = kh * kw * c
            K.conv2d_backprop_input(_as(dout, cd).reshape(n * oh * ow, o), _as(f, cd).reshape(k, o),
                                    kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
                                    dcols.get(_cols_size(n, oh * ow, k, cd.itemsize)), dx)
            return dx if cd == npd else dx.astype(npd)
        return run


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

    @classmethod
    def plan(cls, ctx):
        attrs = ctx.attrs
        _, sh, sw, _ = attrs["strides"]
        _, dh, dw, _ = attrs["dilations"]
        npd = np.dtype(ctx.out_np_dtype(0))
        cd = _compute_dtype(npd)
        df_static = ctx.static_buffer(0) if cd == npd else None
        cols, tmp = _Scratch(cd), _Scratch(cd)
        xd, sizes_v = ctx.dims(0), ctx.value(1)
        if sizes_v is not None and _known(xd):
            fd = _int_dims(sizes_v)
            n, oh, ow, _, _ = _conv_geometry(xd, fd, attrs)
            cols.get(_cols_size(n, oh * ow, fd[0] * fd[1] * fd[2], cd.itemsize))
            tmp.get(fd[0] * fd[1] * fd[2] * fd[3])
        name = ctx.name

        def run(x, sizes, dout):
            f_dims = _int_dims(sizes)
            n, oh, ow, pt, pl = _conv_geometry(x.shape, f_dims, attrs)
            kh, kw, c, o = f_dims
            if x.shape[3] != c or dout.shape != (n, oh, ow, o):
                raise ValueError("Conv2DBackpropFilter '%s': input %s, filter_sizes %s and out_backprop %s do "
                                 "not match (expected out_backprop %s)"
                                 % (name, x.shape, list(f_dims), dout.shape, (n, oh, ow, o)))
            df = df_static if df_static is not None else np.empty(f_dims, dtype=cd)
            k = kh * kw * c
            K.conv2d_backprop_filter(_as(x, cd), _as(dout, cd).reshape(n * oh * ow, o), kh, kw, sh, sw, dh, dw,
                                     pt, pl, oh, ow, cols.get(_cols_size(n, oh * ow, k, cd.itemsize)),
                                     tmp.get(k * o)[:k * o].reshape(k, o), df.reshape(k, o))
            return df if cd == npd else df.astype(npd)
        return run


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
    return (conv2d_backprop_input(_shape_of(x), f, grad, **a),
            conv2d_backprop_filter(x, _shape_of(f), grad, **a))


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

    @classmethod
    def plan(cls, ctx):
        return _plan_pool(ctx, K.max_pool)


class AvgPool(_Pool):
    type = "AvgPool"

    @classmethod
    def plan(cls, ctx):
        return _plan_pool(ctx, K.avg_pool)


def _plan_pool(ctx, kernel):
    attrs = ctx.attrs
    npd = np.dtype(ctx.out_np_dtype(0))
    cd = _compute_dtype(npd)
    out_static = ctx.static_buffer(0) if cd == npd else None

    def run(x):
        dims, kh, kw, sh, sw, pt, pl = _pool_geometry(x.shape, attrs)
        out = out_static if out_static is not None else np.empty(dims, dtype=cd)
        kernel(_as(x, cd), kh, kw, sh, sw, pt, pl, out)
        return out if cd == npd else out.astype(npd)
    return run


class MaxPoolGrad(Op):
    """(orig_input, orig_output, grad) -> gradient w.r.t. orig_input."""

    type = "MaxPoolGrad"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def plan(cls, ctx):
        attrs = ctx.attrs
        npd = np.dtype(ctx.out_np_dtype(0))
        cd = _compute_dtype(npd)
        out_static = ctx.static_buffer(0) if cd == npd else None
        name = ctx.name

        def run(x, y, grad):
            dims, kh, kw, sh, sw, pt, pl = _pool_geometry(x.shape, attrs)
            if grad.shape != dims:
                raise ValueError("MaxPoolGrad '%s': grad has shape %s, expected %s" % (name, grad.shape, dims))
            dx = out_static if out_static is not None else np.empty(x.shape, dtype=cd)
            K.max_pool_grad(_as(x, cd), _as(grad, cd), kh, kw, sh, sw, pt, pl, dx)
            return dx if cd == npd else dx.astype(npd)
        return run


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

    @classmethod
    def plan(cls, ctx):
        attrs = ctx.attrs
        npd = np.dtype(ctx.out_np_dtype(0))
        cd = _compute_dtype(npd)
        out_static = ctx.static_buffer(0) if cd == npd else None
        name = ctx.name

        def run(sizes, grad):
            in_dims = _int_dims(sizes)
            dims, kh, kw, sh, sw, pt, pl = _pool_geometry(in_dims, attrs)
            if grad.shape != dims:
                raise ValueError("AvgPoolGrad '%s': grad has shape %s, expected %s" % (name, grad.shape, dims))
            dx = out_static if out_static is not None else np.empty(in_dims, dtype=cd)
            K.avg_pool_grad(_as(grad, cd), kh, kw, sh, sw, pt, pl, dx)
            return dx if cd == npd else dx.astype(npd)
        return run


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
