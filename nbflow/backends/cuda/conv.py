"""GPU Conv2D and its two gradients (im2col + the tiled matmul), MaxPool/AvgPool and
their gradients (NHWC, float32/float64): nbflow/kernels/cuda/conv.py.

- Conv2D: ``cols[P, K] = im2col(x)``, ``out[P, O] = cols @ f[K, O]``;
- Conv2DBackpropInput: ``dcols[P, K] = dout[P, O] @ f^T``, ``dx = col2im(dcols)``;
- Conv2DBackpropFilter: ``df[K, O] = cols^T @ dout``.

The patch matrix is one device scratch buffer per op, kept across runs (it
grows if a later run needs more). Geometry (padding, output size) is the
op's own (ops/conv_ops.py), as on the CPU.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import conv as K
from nbflow.kernels.cuda import elementwise as ew
from nbflow.kernels.cuda import linalg
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import conv_ops
from nbflow.ops.conv_ops import _conv_geometry, _int_dims, _pool_geometry

_FLOATS = (np.float32, np.float64)


def _float_nhwc(op):
    fmt = op.attrs.get("data_format") or "NHWC"
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    return op.outputs[0].dtype.as_numpy_dtype in _FLOATS and fmt == "NHWC"


class _Work:
    """Device buffers of one op, by role: kept across runs, reallocated when a run needs another shape."""

    def __init__(self, device, fresh):
        self.device, self.fresh, self.bufs = device, fresh, {}

    def get(self, role, shape, dtype, scratch=False):
        if self.fresh and not scratch:
            return self.device.empty(shape, dtype)
        b = self.bufs.get(role)
        if b is None or tuple(b.shape) != tuple(shape):
            b = self.bufs[role] = self.device.empty(shape, dtype)
        return b


def _matmul(dtype, a, b, c, m, n, k, sam, sak, sbk, sbn):
    if m and n:
        blocks, threads = linalg.grid(m, n)
        linalg.get_kernel(dtype)[blocks, threads](flat(a), flat(b), flat(c), m, n, k, sam, sak, sbk, sbn)


def _zero(out, dtype, cache):
    shape = tuple(out.shape)
    launch = cache.get(shape)
    if launch is None:
        kernel, patterns = ew.get_kernel([], ["0"], [], [], [dtype], shape)
        launch = cache[shape] = ew.launcher(kernel, [], patterns, shape)
    launch((), (out,))


def _host_dims(v):
    return _int_dims(v.copy_to_host() if is_device_array(v) else v)


def _geometry(attrs, in_dims, f_dims):
    _, sh, sw, _ = attrs["strides"]
    _, dh, dw, _ = attrs["dilations"]
    n, oh, ow, pt, pl = _conv_geometry(in_dims, f_dims, attrs)
    kh, kw, c, o = f_dims
    return n, oh, ow, pt, pl, kh, kw, c, o, sh, sw, dh, dw


def _im2col(x, dims, g, cols):
    n, oh, ow, pt, pl, kh, kw, c, o, sh, sw, dh, dw = g
    total = n * oh * ow * kh * kw * c
    if total:
        blocks, threads = grid_1d(total)
        K.im2col[blocks, threads](flat(x), dims[1], dims[2], c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, flat(cols),
                                  total)


@register_kernel(conv_ops.Conv2D, device="GPU", accepts=_float_nhwc)
def conv2d_kernel(ctx):
    attrs, name, dtype = ctx.attrs, ctx.name, ctx.out_np_dtype(0)
    work = _Work(ctx.device, ctx.fresh_outputs)

    def run(x, f):
        xd, fd = tuple(x.shape), tuple(f.shape)
        g = _geometry(attrs, xd, fd)
        n, oh, ow, _, _, kh, kw, c, o = g[:9]
        if xd[3] != c:
            raise ValueError("Conv2D '%s': input depth %d does not match the filter's in_channels %d"
                             % (name, xd[3], c))
        p, k = n * oh * ow, kh * kw * c
        cols = work.get("cols", (p, k), dtype, scratch=True)
        out = work.get("out", (n, oh, ow, o), dtype)
        _im2col(x, xd, g, cols)
        _matmul(dtype, cols, f, out, p, o, k, k, 1, o, 1)
        return out
    return run


@register_kernel(conv_ops.Conv2DBackpropInput, device="GPU", accepts=_float_nhwc)
def conv2d_backprop_input_kernel(ctx):
    attrs, name, dtype = ctx.attrs, ctx.name, ctx.out_np_dtype(0)
    work, zeros = _Work(ctx.device, ctx.fresh_outputs), {}
    known = ctx.value(0)

    def run(sizes, f, dout):
        in_dims = _int_dims(known) if known is not None else _host_dims(sizes)
        fd = tuple(f.shape)
        g = _geometry(attrs, in_dims, fd)
        n, oh, ow, pt, pl, kh, kw, c, o, sh, sw, dh, dw = g
        if in_dims[3] != c or tuple(dout.shape) != (n, oh, ow, o):
            raise ValueError("Conv2DBackpropInput '%s': out_backprop has shape %s and input_sizes %s; "
                             "expected out_backprop %s and input depth %d"
                             % (name, tuple(dout.shape), list(in_dims), (n, oh, ow, o), c))
        p, k = n * oh * ow, kh * kw * c
        dcols = work.get("dcols", (p, k), dtype, scratch=True)
        dx = work.get("dx", in_dims, dtype)
        _matmul(dtype, dout, f, dcols, p, k, o, o, 1, 1, o)  # dout @ f^T: f[K, O] read transposed
        _zero(dx, dtype, zeros)
        total = p * k
        if total:
            blocks, threads = grid_1d(total)
            K.col2im_add[blocks, threads](flat(dcols), in_dims[1], in_dims[2], c, kh, kw, sh, sw, dh, dw, pt, pl,
                                          oh, ow, flat(dx), total)
        return dx
    return run


@register_kernel(conv_ops.Conv2DBackpropFilter, device="GPU", accepts=_float_nhwc)
def conv2d_backprop_filter_kernel(ctx):
    attrs, name, dtype = ctx.attrs, ctx.name, ctx.out_np_dtype(0)
    work = _Work(ctx.device, ctx.fresh_outputs)
    known = ctx.value(1)

    def run(x, sizes, dout):
        f_dims = _int_dims(known) if known is not None else _host_dims(sizes)
        xd = tuple(x.shape)
        g = _geometry(attrs, xd, f_dims)
        n, oh, ow, _, _, kh, kw, c, o = g[:9]
        if xd[3] != c or tuple(dout.shape) != (n, oh, ow, o):
            raise ValueError("Conv2DBackpropFilter '%s': input %s, filter_sizes %s and out_backprop %s do "
                             "not match (expected out_backprop %s)" % (name, xd, list(f_dims), tuple(dout.shape),
                                                                       (n, oh, ow, o)))
        p, k = n * oh * ow, kh * kw * c
        cols = work.get("cols", (p, k), dtype, scratch=True)
        df = work.get("df", f_dims, dtype)
        _im2col(x, xd, g, cols)
        _matmul(dtype, cols, dout, df, k, o, p, 1, k, o, 1)  # cols^T @ dout
        return df
    return run


def _pool_args(x_dims, attrs):
    dims, kh, kw, sh, sw, pt, pl = _pool_geometry(x_dims, attrs)
    return dims, (x_dims[1], x_dims[2], x_dims[3], kh, kw, sh, sw, pt, pl, dims[1], dims[2])


def _pool_kernel(ctx, average):
    attrs, dtype = ctx.attrs, ctx.out_np_dtype(0)
    work = _Work(ctx.device, ctx.fresh_outputs)

    def run(x):
        dims, geo = _pool_args(tuple(x.shape), attrs)
        out = work.get("out", dims, dtype)
        total = int(np.prod(dims, dtype=np.int64))
        if total:
            blocks, threads = grid_1d(total)
            K.pool[blocks, threads](flat(x), *geo, flat(out), total, average)
        return out
    return run


@register_kernel(conv_ops.MaxPool, device="GPU", accepts=_float_nhwc)
def max_pool_kernel(ctx):
    return _pool_kernel(ctx, 0)


@register_kernel(conv_ops.AvgPool, device="GPU", accepts=_float_nhwc)
def avg_pool_kernel(ctx):
    return _pool_kernel(ctx, 1)


def _pool_grad(ctx, x_dims, x, grad, work, zeros, average):
    dims, geo = _pool_args(x_dims, ctx.attrs)
    if tuple(grad.shape) != tuple(dims):
        raise ValueError("%s '%s': grad has shape %s, expected %s" % (ctx.op_def.type, ctx.name,
                                                                     tuple(grad.shape), dims))
    dtype = ctx.out_np_dtype(0)
    dx = work.get("dx", x_dims, dtype)
    _zero(dx, dtype, zeros)
    total = int(np.prod(dims, dtype=np.int64))
    if total:
        blocks, threads = grid_1d(total)
        K.pool_grad_add[blocks, threads](flat(x), flat(grad), *geo, flat(dx), total, average)
    return dx


@register_kernel(conv_ops.MaxPoolGrad, device="GPU", accepts=_float_nhwc)
def max_pool_grad_kernel(ctx):
    work, zeros = _Work(ctx.device, ctx.fresh_outputs), {}
    return lambda x, y, grad: _pool_grad(ctx, tuple(x.shape), x, grad, work, zeros, 0)


@register_kernel(conv_ops.AvgPoolGrad, device="GPU", accepts=_float_nhwc)
def avg_pool_grad_kernel(ctx):
    work, zeros = _Work(ctx.device, ctx.fresh_outputs), {}
    known = ctx.value(0)

    def run(sizes, grad):
        in_dims = _int_dims(known) if known is not None else _host_dims(sizes)
        return _pool_grad(ctx, in_dims, grad, grad, work, zeros, 1)  # x is not read when averaging
    return run
