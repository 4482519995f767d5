"""CPU kernels of the convolution and pooling ops (nbflow/ops/conv_ops.py).

Conv2D and its backprop ops build the patch matrix (im2col) and multiply it
with kernels/cpu/microgemm.py's tiled product in chunks (kernels/cpu/conv.py),
through a scratch buffer kept across runs, their images split across Numba's
threads from PARALLEL_MIN_MACS; pooling (kernels/cpu/pool.py) likewise from
POOL_PARALLEL_MIN_ELEMENTS. float16 is stored, not computed: the kernels run
in float32.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import conv as K
from nbflow.kernels.cpu import microgemm as G
from nbflow.kernels.cpu import pool as P
from nbflow.kernels.cpu.threads import parallel_threads, threads_for
from nbflow.ops import conv_ops
from nbflow.ops.conv_ops import _conv_geometry, _int_dims, _pool_geometry

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


#: multiply-adds (N*OH*OW * KH*KW*C * O) from which a convolution splits its images across
#: Numba's threads: MatMul's threshold (nbflow/backends/cpu/linalg.py, measured there).
#: See _threads.
PARALLEL_MIN_MACS = 1 << 24


#: patch-matrix plus output elements (N*OH*OW * (KH*KW*C + O)) from which a convolution
#: splits even below PARALLEL_MIN_MACS: in a narrow convolution building the patches and
#: writing the output, not the multiply-adds, take the time -- LeNet's first layer
#: (3x3 filters on one channel, 32 outputs: 14.5M multiply-adds, 2M elements) took 1.0 ms
#: forward and 1.1 ms for the filter gradient on one thread, serial under the MAC rule.
PARALLEL_MIN_ELEMENTS = 1 << 20


def _threads(n, per, k, o):
    """Threads for a convolution: 1 with a single image (the blocks are whole images) or
    below both PARALLEL_MIN_MACS and PARALLEL_MIN_ELEMENTS, else Numba's thread count
    (ConfigProto's, or all cores)."""
    if n is None or (n * per * k * o < PARALLEL_MIN_MACS and n * per * (k + o) < PARALLEL_MIN_ELEMENTS):
        return 1
    return parallel_threads(blocks=n)


#: elements (of the larger of input and output) from which pooling splits its images across
#: Numba's threads. See _pool_threads.
POOL_PARALLEL_MIN_ELEMENTS = 1 << 18


def _pool_threads(n, size):
    """Threads for a pooling kernel: 1 below POOL_PARALLEL_MIN_ELEMENTS or with one image."""
    return threads_for(size, POOL_PARALLEL_MIN_ELEMENTS, blocks=n)


def _compute_dtype(npd):
    """float16 is stored, not computed: kernels run in float32 (as MatMul)."""
    return np.dtype(np.float32) if npd == np.float16 else np.dtype(npd)


def _as(a, dtype):
    """``a`` in the compute dtype, C-contiguous (the kernels view their operands flat)."""
    return np.ascontiguousarray(a) if a.dtype == dtype else np.ascontiguousarray(a, dtype=dtype)


def _known(dims):
    return dims is not None and None not in dims


@register_kernel(conv_ops.Conv2D)
def _conv2d(ctx):
    attrs = ctx.attrs
    _, sh, sw, _ = attrs["strides"]
    _, dh, dw, _ = attrs["dilations"]
    npd = np.dtype(ctx.out_np_dtype(0))
    cd = _compute_dtype(npd)
    gemm_fn = G.gemm_address(cd)
    out_static = ctx.static_buffer(0) if cd == npd else None
    cols = _Scratch(cd)
    xd, fd = ctx.dims(0), ctx.dims(1)
    if _known(xd) and _known(fd):
        n, oh, ow, _, _ = _conv_geometry(xd, fd, attrs)
        k = fd[0] * fd[1] * fd[2]
        cols.get(_threads(n, oh * ow, k, fd[3]) * _cols_size(n, oh * ow, k, cd.itemsize))
    name = ctx.name

    def run(x, f):
        n, oh, ow, pt, pl = _conv_geometry(x.shape, f.shape, attrs)
        kh, kw, c, o = f.shape
        if x.shape[3] != c:
            raise ValueError("Conv2D '%s': input depth %d does not match the filter's in_channels %d"
                             % (name, x.shape[3], c))
        out = out_static if out_static is not None else np.empty((n, oh, ow, o), dtype=cd)
        k = kh * kw * c
        nt = _threads(n, oh * ow, k, o)
        args = (_as(x, cd), _as(f, cd).reshape(k, o), kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
                cols.get(nt * _cols_size(n, oh * ow, k, cd.itemsize)), out.reshape(n * oh * ow, o))
        K.conv2d(gemm_fn, *args, nt)
        return out if cd == npd else out.astype(npd)
    return run


@register_kernel(conv_ops.Conv2DBackpropInput)
def _conv2d_backprop_input(ctx):
    attrs = ctx.attrs
    _, sh, sw, _ = attrs["strides"]
    _, dh, dw, _ = attrs["dilations"]
    npd = np.dtype(ctx.out_np_dtype(0))
    cd = _compute_dtype(npd)
    gemm_fn = G.gemm_address(cd)
    dx_static = ctx.static_buffer(0) if cd == npd else None
    dcols, ft = _Scratch(cd), _Scratch(cd)
    sizes_v, fd = ctx.value(0), ctx.dims(1)
    if sizes_v is not None and _known(fd):
        in_dims = _int_dims(sizes_v)
        n, oh, ow, _, _ = _conv_geometry(in_dims, fd, attrs)
        k = fd[0] * fd[1] * fd[2]
        dcols.get(_threads(n, oh * ow, k, fd[3]) * _cols_size(n, oh * ow, k, cd.itemsize))
        ft.get(k * fd[3])
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
        nt = _threads(n, oh * ow, k, o)
        args = (_as(dout, cd).reshape(n * oh * ow, o), _as(f, cd).reshape(k, o), kh, kw, sh, sw, dh, dw, pt, pl,
                oh, ow, dcols.get(nt * _cols_size(n, oh * ow, k, cd.itemsize)), ft.get(k * o), dx)
        K.conv2d_backprop_input(gemm_fn, *args, nt)
        return dx if cd == npd else dx.astype(npd)
    return run


@register_kernel(conv_ops.Conv2DBackpropFilter)
def _conv2d_backprop_filter(ctx):
    attrs = ctx.attrs
    _, sh, sw, _ = attrs["strides"]
    _, dh, dw, _ = attrs["dilations"]
    npd = np.dtype(ctx.out_np_dtype(0))
    cd = _compute_dtype(npd)
    gemm_fn = G.gemm_address(cd)
    df_static = ctx.static_buffer(0) if cd == npd else None
    cols, parts = _Scratch(cd), _Scratch(cd)
    xd, sizes_v = ctx.dims(0), ctx.value(1)
    if sizes_v is not None and _known(xd):
        fd = _int_dims(sizes_v)
        n, oh, ow, _, _ = _conv_geometry(xd, fd, attrs)
        k = fd[0] * fd[1] * fd[2]
        nt = _threads(n, oh * ow, k, fd[3])
        cols.get(nt * _cols_size(n, oh * ow, k, cd.itemsize))
        parts.get((nt - 1) * k * fd[3])
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
        nt = _threads(n, oh * ow, k, o)
        x2, dout2 = _as(x, cd), _as(dout, cd).reshape(n * oh * ow, o)
        cols_buf = cols.get(nt * _cols_size(n, oh * ow, k, cd.itemsize))
        K.conv2d_backprop_filter(gemm_fn, x2, dout2, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cols_buf,
                                 parts.get((nt - 1) * k * o), df.reshape(k, o), nt)
        return df if cd == npd else df.astype(npd)
    return run


def _plan_pool(ctx, kernel, parallel_kernel, kernels_2x2=None):
    """The pooling kernel (``kernel(x, 0, N, ...)``: the batch on one thread); ``kernels_2x2``:
    (serial, parallel) kernels for 2x2 windows of stride 2 that tile the input exactly
    (kernels/cpu/pool.py), used when they apply."""
    attrs = ctx.attrs
    npd = np.dtype(ctx.out_np_dtype(0))
    cd = _compute_dtype(npd)
    out_static = ctx.static_buffer(0) if cd == npd else None

    def run(x):
        dims, kh, kw, sh, sw, pt, pl = _pool_geometry(x.shape, attrs)
        out = out_static if out_static is not None else np.empty(dims, dtype=cd)
        nt = _pool_threads(x.shape[0], x.size)
        xc = _as(x, cd)
        if kernels_2x2 is not None and P.tiles_2x2(x.shape, kh, kw, sh, sw, pt, pl):
            if nt > 1:
                kernels_2x2[1](xc, out, nt)
            else:
                kernels_2x2[0](xc, 0, x.shape[0], out)
        elif nt > 1:
            parallel_kernel(xc, kh, kw, sh, sw, pt, pl, out, nt)
        else:
            kernel(xc, 0, x.shape[0], kh, kw, sh, sw, pt, pl, out)
        return out if cd == npd else out.astype(npd)
    return run


@register_kernel(conv_ops.MaxPool)
def _max_pool(ctx):
    return _plan_pool(ctx, P.max_pool, P.max_pool_parallel, (P.max_pool_2x2, P.max_pool_2x2_parallel))


@register_kernel(conv_ops.AvgPool)
def _avg_pool(ctx):
    return _plan_pool(ctx, P.avg_pool, P.avg_pool_parallel)


@register_kernel(conv_ops.MaxPoolGrad)
def _max_pool_grad(ctx):
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
        nt = _pool_threads(x.shape[0], x.size)
        if nt > 1:
            P.max_pool_grad_parallel(_as(x, cd), _as(grad, cd), kh, kw, sh, sw, pt, pl, dx, nt)
        else:
            P.max_pool_grad(_as(x, cd), _as(grad, cd), 0, x.shape[0], kh, kw, sh, sw, pt, pl, dx)
        return dx if cd == npd else dx.astype(npd)
    return run


@register_kernel(conv_ops.AvgPoolGrad)
def _avg_pool_grad(ctx):
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
        nt = _pool_threads(dx.shape[0], dx.size)
        if nt > 1:
            P.avg_pool_grad_parallel(_as(grad, cd), kh, kw, sh, sw, pt, pl, dx, nt)
        else:
            P.avg_pool_grad(_as(grad, cd), 0, dx.shape[0], kh, kw, sh, sw, pt, pl, dx)
        return dx if cd == npd else dx.astype(npd)
    return run

