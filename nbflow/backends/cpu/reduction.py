"""CPU kernels of the reductions and scans (nbflow/ops/reduction_ops.py; Sum: broadcast_ops.py).

A reduction runs on an (outer, mid, inner) view of its input whose mid axis
holds the reduced elements (kernels/cpu/reduce.py); reduced axes that are not
one contiguous block are moved last first. ArgMax/ArgMin and the scans use the
same view around their one axis. float16 inputs are computed in float32 and
rounded back (Numba has no float16 arithmetic on the CPU).
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import reduce as K
from nbflow.kernels.cpu import scan as S
from nbflow.kernels.cpu.threads import threads_for
from nbflow.ops import broadcast_ops, reduction_ops as R
from nbflow.ops.broadcast_ops import normalize_axes
from nbflow.ops.reduction_ops import _one_axis


def _outer_mid_inner(shape, axis):
    outer = int(np.prod(shape[:axis])) if axis else 1
    inner = int(np.prod(shape[axis + 1:])) if axis + 1 < len(shape) else 1
    return outer, shape[axis], inner


# -- per-op kernels: kernel_for(input numpy dtype) -> kernel(x (outer, mid, inner), out (outer, inner)) --

def _same(kernel):
    return lambda np_dtype: kernel


#: elements from which a float sum runs its ``*_parallel`` kernel (when Numba
#: has more than one thread). Measured with the TBB threading layer (session 12,
#: ``sum_run`` vs ``sum_flat_parallel`` on two threads, 2 cores): 1M float32 41 us
#: vs 29-41 us, 2M 84 vs 44-52 us, 4M 168 vs 83-88 us, 8M 625 vs 304-571 us. (Under
#: the workqueue layer a parallel call cost ~100 us and the threshold was 8M.)
#: See docs/ARCHITECTURE.md "Parallel fused kernels".
PARALLEL_MIN_ELEMENTS = 1 << 21
#: a run shorter than this is summed by ``sum_mid``'s plain loop (a call per row would cost more)
_MIN_RUN = 16


def _threads(size):
    """Threads for a reduction of ``size`` elements: 1 below the threshold."""
    return threads_for(size, PARALLEL_MIN_ELEMENTS)


def _float_sum(x, out):
    """Blocked float sum of (outer, r, inner) ``x`` into (outer, inner) ``out`` (kernels/cpu/reduce.py)."""
    o, r, n = x.shape
    nt = _threads(x.size)
    if n == 1:
        if r < _MIN_RUN:
            K.sum_mid(x, out)
        elif o == 1:
            v = x.reshape(r)
            out[0, 0] = K.sum_flat_parallel(v, nt) if nt > 1 and r >= 2 * K.SUM_CHUNK else K.sum_run(v)
        elif nt > 1:
            K.sum_rows_parallel(x.reshape(o, r), out.reshape(o))
        else:
            K.sum_rows(x.reshape(o, r), out.reshape(o))
    elif nt > 1 and (o > 1 or n >= 2 * 256):
        # tiles small enough that every thread gets one, at least 256 columns
        tile = n if o >= nt else min(K.TILE, max(256, -(-n // nt)))
        K.sum_cols_parallel(x, out, tile)
    else:
        K.sum_cols(x, out)


def _sum_for(np_dtype):
    return _float_sum if np_dtype.kind == "f" else K.sum_mid


def _extreme_for(np_dtype, want_max):
    if np_dtype.kind == "f":
        limit = np_dtype.type(-np.inf if want_max else np.inf)
    else:
        info = np.iinfo(np_dtype)
        limit = np_dtype.type(info.min if want_max else info.max)
    mid = K.max_mid if want_max else K.min_mid

    def extreme(x, out):
        o, r, n = x.shape
        if np_dtype.kind == "f" and n == 1 and r >= _MIN_RUN:
            K.extreme_rows(x.reshape(o, r), out.reshape(o), want_max)
        else:
            mid(x, out, limit)
    return extreme


def _max_for(np_dtype):
    return _extreme_for(np_dtype, True)


def _min_for(np_dtype):
    return _extreme_for(np_dtype, False)


def _euclidean_norm_for(np_dtype):
    def norm(x, out):
        K.sum_squares_mid(x, out)
        if np_dtype.kind == "f":
            np.sqrt(out, out=out)
        else:
            out[...] = np.sqrt(out)  # integers: the root truncated, as TF
    return norm


def _mean_for(np_dtype):
    total = _sum_for(np_dtype)

    def mean(x, out):
        total(x, out)
        n = x.shape[1]
        if np_dtype.kind == "f":
            np.divide(out, np_dtype.type(n) if n else np_dtype.type(np.nan), out=out)
        elif n:
            K.divide_trunc(out, n)  # integers round toward zero, as TF's C++ division
    return mean


def _reduce(kernel_for, x, axes, out_shape, out_np):
    """Reduce with shapes known only now (allocates)."""
    if x.dtype == np.float16:
        return _reduce(kernel_for, x.astype(np.float32), axes, out_shape, np.float32).astype(np.float16)
    rest = [i for i in range(x.ndim) if i not in axes]
    view = K.as_outer_mid_inner(x.shape, axes)
    if view is None:
        x = np.ascontiguousarray(x.transpose(rest + axes))
        view = K.as_outer_mid_inner(x.shape, list(range(len(rest), x.ndim)))
    out = np.empty(out_shape, dtype=out_np)
    kernel_for(x.dtype)(x.reshape(view), out.reshape(view[0], view[2]))
    return out


def _reduction(ctx, kernel_for):
    out_np = ctx.out_np_dtype(0)
    keep = ctx.attrs["keep_dims"]
    fixed_axes = ctx.value(1)

    def run(x, axes_value):
        axes = normalize_axes(fixed_axes if fixed_axes is not None else axes_value, x.ndim)
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keep else \
            tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return _reduce(kernel_for, x, axes, out_shape, out_np)

    get_out = ctx.buffer_source(0)
    dims = ctx.dims(0)
    if get_out is None or fixed_axes is None or dims is None or None in dims or out_np == np.float16:
        return run
    axes = normalize_axes(fixed_axes, len(dims))
    view = K.as_outer_mid_inner(dims, axes)
    in_np = np.dtype(ctx.input_dtypes[0].as_numpy_dtype)
    kernel = kernel_for(in_np)
    if view is None:
        # The axes are not one block (e.g. (0, 2)): move them last into a
        # buffer allocated once, then reduce that.
        rest = [i for i in range(len(dims)) if i not in axes]
        perm = rest + axes
        tdims = [dims[i] for i in perm]
        buf = np.empty(tdims, dtype=in_np)
        tview = K.as_outer_mid_inner(tdims, list(range(len(rest), len(dims))))
        out_view = (tview[0], tview[2])

        def run_gathered(x, axes_value):
            out = get_out()
            np.copyto(buf, x.transpose(perm))
            kernel(buf.reshape(tview), out.reshape(out_view))
            return out
        return run_gathered
    out_view = (view[0], view[2])

    def run_static(x, axes_value):
        out = get_out()
        kernel(x.reshape(view), out.reshape(out_view))
        return out

    return run_static


@register_kernel(broadcast_ops.Sum)
def _sum(ctx):
    return _reduction(ctx, _sum_for)


@register_kernel(R.Prod)
def _prod(ctx):
    return _reduction(ctx, _same(K.prod_mid))


@register_kernel(R.Max)
def _max(ctx):
    return _reduction(ctx, _max_for)


@register_kernel(R.Min)
def _min(ctx):
    return _reduction(ctx, _min_for)


@register_kernel(R.Any)
def _any(ctx):
    return _reduction(ctx, _same(K.any_mid))


@register_kernel(R.All)
def _all(ctx):
    return _reduction(ctx, _same(K.all_mid))


@register_kernel(R.EuclideanNorm)
def _euclidean_norm(ctx):
    return _reduction(ctx, _euclidean_norm_for)


@register_kernel(R.Mean)
def _mean(ctx):
    return _reduction(ctx, _mean_for)


# -- ArgMax, ArgMin ---------------------------------------------------------------------

def _arg_reduction(ctx, kernel):
    out_np = ctx.out_np_dtype(0)
    fixed = ctx.value(1)
    static_out = ctx.static_buffer(0)

    def run(x, dim):
        axis = _one_axis(fixed if fixed is not None else dim, x.ndim, "dimension")
        if x.shape[axis] == 0:
            raise ValueError("Reduction axis %d is empty in shape %s" % (axis, list(x.shape)))
        o, r, n = _outer_mid_inner(x.shape, axis)
        out = static_out if static_out is not None else \
            np.empty(x.shape[:axis] + x.shape[axis + 1:], dtype=out_np)
        if x.dtype == np.float16:
            x = x.astype(np.float32)
        kernel(x.reshape(o, r, n), out.reshape(o, n))
        return out
    return run


@register_kernel(R.ArgMax)
def _arg_max(ctx):
    return _arg_reduction(ctx, K.argmax_mid)


@register_kernel(R.ArgMin)
def _arg_min(ctx):
    return _arg_reduction(ctx, K.argmin_mid)


# -- Cumsum, Cumprod --------------------------------------------------------------------

def _scan(ctx, kernel):
    op_type = ctx.op_def.type
    fixed = ctx.value(1)
    exclusive, reverse = bool(ctx.attrs["exclusive"]), bool(ctx.attrs["reverse"])
    static_out = ctx.static_buffer(0)

    def run(x, axis_value):
        if x.ndim == 0:
            raise ValueError("%s needs an input of rank >= 1, got a scalar" % op_type)
        axis = _one_axis(fixed if fixed is not None else axis_value, x.ndim, "scan axis")
        view = _outer_mid_inner(x.shape, axis)
        out = static_out if static_out is not None else np.empty(x.shape, dtype=x.dtype)
        if x.dtype == np.float16:
            o32 = np.empty(view, dtype=np.float32)
            kernel(x.astype(np.float32).reshape(view), o32, exclusive, reverse)
            out[...] = o32.reshape(x.shape)
            return out
        kernel(x.reshape(view), out.reshape(view), exclusive, reverse)
        return out
    return run


@register_kernel(R.Cumsum)
def _cumsum(ctx):
    return _scan(ctx, S.cumsum_mid)


@register_kernel(R.Cumprod)
def _cumprod(ctx):
    return _scan(ctx, S.cumprod_mid)
