"""GPU FusedBatchNormV3 and FusedBatchNormGradV3 (nbflow/kernels/cuda/batch_norm.py):
NHWC data of float32 or float64 (statistics of the same dtype), training and
inference, with the CPU kernel's outputs and checks (backends/cpu/nn.py).

Training forward: per-channel sums (partial sums per row chunk, a shared-memory
tree, then one thread per channel), the mean, the same for the squared
deviations, then the normalize pass -- five launches, no copy back. The
gradient: one pass of both sums (dy and dy * (x - mean)), the finish, the dx
pass. float16 stays on the host (``accepts``), as nbflow's NCHW is refused by
the op itself. Scratch arrays (partials, coefficients) are bound per input
shape and reused every step; outputs too, except with ``fresh_outputs``.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import batch_norm as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import nn_impl
from nbflow.ops.nn_impl import _fmt

_FLOATS = (np.float32, np.float64)


def _nhwc_float(op):
    fmt = op.attrs.get("data_format", "NHWC")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    return fmt == "NHWC" and all(t.dtype.as_numpy_dtype in _FLOATS for t in op.inputs[:2])


class _PerShape:
    """Per input shape: scratch arrays (kept) and output arrays (kept unless fresh)."""

    def __init__(self, ctx, make_scratch, out_specs):
        self.device, self.fresh, self.make_scratch, self.out_specs = ctx.device, ctx.fresh_outputs, make_scratch, \
            out_specs
        self.bound = {}

    def get(self, shape):
        b = self.bound.get(shape)
        if b is None:
            m, c = int(np.prod(shape[:3], dtype=np.int64)), shape[3]
            outs = None if self.fresh else self._outputs(shape, c)
            b = self.bound[shape] = (m, c, K.sum_grid(m, c), self.make_scratch(m, c), outs)
        m, c, grid, scratch, outs = b
        return m, c, grid, scratch, (self._outputs(shape, c) if outs is None else outs)

    def _outputs(self, shape, c):
        return [self.device.empty(spec(shape, c), dtype) for spec, dtype in self.out_specs]


def _check_vectors(fail, c, pairs, why=""):
    """The CPU kernel's checks and messages (``why``: its explanation, forward only)."""
    for v, what in pairs:
        if tuple(v.shape) != (c,):
            raise fail("%s must have the shape [%d]%s, got %s" % (what, c, why, _fmt(v.shape)))


_X = lambda shape, c: shape  # noqa: E731
_C = lambda shape, c: (c,)  # noqa: E731
_EMPTY = lambda shape, c: (0,)  # noqa: E731


@register_kernel(nn_impl.FusedBatchNormV3, device="GPU", accepts=_nhwc_float)
def fused_batch_norm_kernel(ctx):
    fail = ctx.run_error_factory()
    eps = float(ctx.attrs["epsilon"])
    training = bool(ctx.attrs["is_training"])
    t, u = ctx.out_np_dtype(0), ctx.out_np_dtype(1)
    device = ctx.device

    def scratch(m, c):
        chunks = K.sum_grid(m, c)[0][1]
        return ([device.empty((max(chunks * c, 1),), np.float64), device.empty((max(c, 1),), np.float64)]
                + [device.empty((max(c, 1),), t) for _ in range(3)])

    shapes = _PerShape(ctx, scratch, [(_X, t), (_C, u), (_C, u), (_C, u), (_C, u), (_EMPTY, u)])

    def run(x, scale, offset, mean, variance):
        if x.ndim != 4:
            raise fail("input must be 4-dimensional %s" % _fmt(x.shape))
        shape = tuple(x.shape)
        c = shape[3]
        _check_vectors(fail, c, ((scale, "scale"), (offset, "offset"))
                       + (() if training else ((mean, "mean"), (variance, "variance"))),
                       " (the channel dimension of x)")
        m, c, (blocks, threads), (partial, mean64, mu, a, b), outs = shapes.get(shape)
        y, bmean, bvar, r1, r2, _ = outs
        if c == 0:
            return tuple(outs)
        fx, fy, (cb, ct) = flat(x), flat(y), grid_1d(c)
        if training:
            chunks = blocks[1]
            K.sum_x[blocks, threads](fx, m, c, partial)
            K.finish_mean[cb, ct](partial, chunks, m, c, mean64)
            K.sum_sq_dev[blocks, threads](fx, mean64, m, c, partial)
            K.finish_train[cb, ct](partial, chunks, m, c, mean64, scale, offset, eps, bmean, bvar, r1, r2, mu, a, b)
        else:
            K.finish_infer[cb, ct](scale, offset, mean, variance, eps, c, bmean, bvar, r1, r2, mu, a, b)
        if m:
            eb, et = grid_1d(m * c)
            K.normalize[eb, et](fx, mu, a, b, m * c, c, fy)
        return tuple(outs)
    return run


@register_kernel(nn_impl.FusedBatchNormGradV3, device="GPU", accepts=_nhwc_float)
def fused_batch_norm_grad_kernel(ctx):
    fail = ctx.run_error_factory()
    eps = float(ctx.attrs["epsilon"])
    training = int(bool(ctx.attrs["is_training"]))
    t, u = ctx.out_np_dtype(0), ctx.out_np_dtype(1)
    device = ctx.device

    def scratch(m, c):
        chunks = K.sum_grid(m, c)[0][1]
        return ([device.empty((max(chunks * c, 1),), np.float64) for _ in range(2)]
                + [device.empty((max(c, 1),), t) for _ in range(4)])

    shapes = _PerShape(ctx, scratch, [(_X, t), (_C, u), (_C, u), (_EMPTY, u), (_EMPTY, u)])

    def run(dy, x, scale, mean, var, _reserve3):
        if x.ndim != 4 or tuple(dy.shape) != tuple(x.shape):
            raise fail("y_backprop %s and x %s must have one 4-dimensional shape" % (_fmt(dy.shape), _fmt(x.shape)))
        shape = tuple(x.shape)
        c = shape[3]
        _check_vectors(fail, c, ((scale, "scale"), (mean, "reserve_space_1"), (var, "reserve_space_2")))
        m, c, (blocks, threads), (p_dy, p_dyx, mu, p, q, r), outs = shapes.get(shape)
        dx, dscale, doffset = outs[:3]
        if c == 0:
            return tuple(outs)
        fdy, fx, (cb, ct) = flat(dy), flat(x), grid_1d(c)
        K.sum_grad[blocks, threads](fdy, fx, mean, m, c, p_dy, p_dyx)
        K.finish_grad[cb, ct](p_dy, p_dyx, blocks[1], m, c, scale, mean, var, eps, training, dscale, doffset,
                              mu, p, q, r)
        if m:
            eb, et = grid_1d(m * c)
            K.grad_dx[eb, et](fdy, fx, mu, p, q, r, m * c, c, training, flat(dx))
        return tuple(outs)
    return run
