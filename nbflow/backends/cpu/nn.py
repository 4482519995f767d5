"""CPU kernels of the nn ops (nbflow/ops/nn_softmax_ops.py, nn_misc_ops.py) and of fused batch
normalization (nbflow/ops/nn_impl.py).

Softmax, LogSoftmax and the fused cross-entropies run row kernels
(kernels/cpu/nn.py) that subtract the row maximum first; FusedBatchNormV3 and
its gradient run two passes over the input each (kernels/cpu/nn_impl.py).
float16 is computed in float32 and rounded back.
"""
import math

import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.kernels.cpu import nn as K
from nbflow.kernels.cpu import nn_impl as BN
from nbflow.kernels.cpu.threads import threads_for
from nbflow.ops import nn_impl, nn_misc_ops, nn_softmax_ops
from nbflow.ops.nn_impl import _fmt
from nbflow.ops.nn_misc_ops import _channel_axis


def _mid_view(shape, axis):
    """(outer, n, inner) of a C-contiguous array of ``shape`` around ``axis``."""
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _softmax_kernel(x, out, view, log):
    """Softmax of the C-contiguous ``x`` into ``out`` over the middle axis of ``view``
    (outer, n, inner): contiguous rows when inner == 1, else whole inner lines."""
    outer, n, inner = view
    if inner == 1:
        K.run_rows(K.SOFTMAX, outer, n, x.reshape(outer, n), out.reshape(outer, n), log)
    else:
        K.softmax_mid(x.reshape(view), out.reshape(view), log)


def _bad_label_error(ctx, lab, bad, n):
    return ctx.op_error(
        errors.InvalidArgumentError, "Received a label value of %d which is outside the valid range of [0, %d).  "
        "Label values: %s\n\t [[node %s]]" % (lab[bad], n, " ".join(str(v) for v in lab[:100]), ctx.name))


@register_kernel(nn_softmax_ops.Softmax, fresh_outputs=True)
def _softmax(ctx):
    cls = ctx.op_def
    axis_attr = ctx.attrs.get("axis", -1)
    log = cls.log
    static = ctx.static_buffer(0)
    # The usual case -- a planned shape, the last axis, float32/64 -- has its
    # (rows, n) views made once here; run() checks the shape it is given.
    planned = rows2 = None
    if static is not None and static.ndim and static.size and static.dtype != np.float16:
        outer, n, inner = _mid_view(static.shape, axis_attr % static.ndim)
        if inner == 1:
            planned, rows2 = static.shape, (outer, n)
            out2 = static.reshape(rows2)

    def run(x):
        if x.shape == planned:
            K.run_rows(K.SOFTMAX, rows2[0], rows2[1], x.reshape(rows2), out2, log)
            return static
        if x.ndim < 1:
            raise ValueError("logits must have >= 1 dimension, got shape %s" % list(x.shape))
        out = static if static is not None else np.empty(x.shape, dtype=x.dtype)
        if x.size == 0:
            return out
        view = _mid_view(x.shape, axis_attr % x.ndim)
        if x.dtype == np.float16:
            o32 = np.empty(x.shape, dtype=np.float32)
            _softmax_kernel(x.astype(np.float32), o32, view, log)
            out[...] = o32
        else:
            _softmax_kernel(x, out, view, log)
        return out
    return run


@register_kernel(nn_misc_ops.BiasAddNCHW)
def _bias_addnchw(ctx):
    cls = ctx.op_def
    in_np = [d.as_numpy_dtype for d in ctx.input_dtypes]
    out_np = ctx.out_np_dtype(0)
    expr = cls.scalar_expr(ctx.input_dtypes, ["x0", "x1"])
    static = ctx.static_buffer(0)

    def run(x, b):
        if x.ndim < 2 or b.ndim != 1 or x.shape[1] != b.shape[0]:
            raise ValueError("Must provide as many biases as the channel dimension of the input tensor: %s vs. "
                             "%s in %s" % (list(b.shape), list(x.shape), "NCHW"))
        bb = b.reshape((b.shape[0],) + (1,) * (x.ndim - 2))
        kernel, out_shape = ew_kernels.get_kernel([], [expr], in_np, [x.shape, bb.shape], [out_np])
        out = static if static is not None else np.empty(out_shape, dtype=out_np)
        kernel(x, bb, out)
        return out
    return run


#: elements from which BiasAddGrad splits its rows across Numba's threads. Measured
#: (session 13, TBB, 2 threads, float32 (rows, channels)): 2048x32 6.5 vs 7.7 us,
#: 4096x32 14.6 vs 10.9, 50176x32 150 vs 94, 1024x512 30 vs 16; in LeNet's step
#: (session 14) 12544x64 took 102 us serial, 63 us split. The twin costs ~0.7 s to
#: compile once per machine (nothing measurable to load from the cache); an MNIST
#: MLP's 128x512 gradients stay below: 256K (see training.PARALLEL_MIN_ELEMENTS).
BIAS_GRAD_PARALLEL_MIN_ELEMENTS = 1 << 18
#: padding of each thread's row of partial sums: 16 values keep two threads' rows
#: off one 64-byte cache line (without it the split ran 2x slower than one thread)
_PAD = 16


@register_kernel(nn_misc_ops.BiasAddGrad)
def _bias_add_grad(ctx):
    fmt = ctx.attrs["data_format"]
    static = ctx.static_buffer(0)
    scratch = {}  # (channels, threads, dtype) -> the kernels' scratch

    def bias_grad(g, out):
        nc = g.shape[1]
        nt = threads_for(g.size, BIAS_GRAD_PARALLEL_MIN_ELEMENTS, blocks=g.shape[0])
        key = (nc, nt, out.dtype)
        s = scratch.get(key)
        if s is None:
            scratch.clear()  # one shape at a time, as _workspace
            s = scratch[key] = (np.empty(nc, np.float64),) if nt == 1 else \
                (np.empty((nt, nc + _PAD), out.dtype), np.empty((nt, nc + _PAD), np.float64))
        if nt == 1:
            K.bias_add_grad(g, out, s[0])
        else:
            K.bias_add_grad_parallel(g, out, *s)

    def run(g):
        c = _channel_axis(fmt, g.ndim)
        view = _mid_view(g.shape, c)
        out = static if static is not None else np.empty(g.shape[c], dtype=g.dtype)
        if g.dtype == np.float16:
            o32 = np.empty(g.shape[c], dtype=np.float32)
            bias_grad(g.astype(np.float32).reshape(view), o32)
            out[...] = o32
        else:
            bias_grad(g.reshape(view), out)
        return out
    return run


@register_kernel(nn_misc_ops.L2Loss)
def _l2_loss(ctx):
    npd = ctx.out_np_dtype(0)
    acc = np.empty(1, dtype=np.float64)
    out = np.empty((), dtype=npd)

    def run(t):
        K.l2_loss(t.reshape(-1), acc)
        out[...] = acc[0]
        return out
    return run


@register_kernel(nn_softmax_ops.SoftmaxCrossEntropyWithLogits)
def _softmax_cross_entropy_with_logits(ctx):
    s_loss, s_back = ctx.static_buffer(0), ctx.static_buffer(1)
    planned = s_back.shape if s_back is not None and s_back.size and s_back.dtype != np.float16 else None
    if planned is not None:  # the kernel's (rows, classes) views of the outputs, made once
        rows2 = (s_back.size // planned[-1], planned[-1])
        loss2, back2 = s_loss.reshape(rows2[0]), s_back.reshape(rows2)

    def run(logits, labels):
        if logits.shape == planned and labels.shape == planned:
            K.run_rows(K.SOFTMAX_XENT, rows2[0], rows2[1], logits.reshape(rows2),
                       labels.reshape(rows2), loss2, back2)
            return s_loss, s_back
        if logits.shape != labels.shape:
            raise ValueError("logits and labels must be the same shape, got %s and %s"
                             % (list(logits.shape), list(labels.shape)))
        if logits.ndim < 1:
            raise ValueError("logits and labels must have rank >= 1, got a scalar")
        loss = s_loss if s_loss is not None else np.empty(logits.shape[:-1], dtype=logits.dtype)
        back = s_back if s_back is not None else np.empty(logits.shape, dtype=logits.dtype)
        n = logits.shape[-1]
        rows = logits.size // n if n else int(np.prod(logits.shape[:-1]))
        if n == 0:
            loss[...] = 0
            return loss, back
        if logits.dtype == np.float16:
            l32, b32 = np.empty(rows, np.float32), np.empty((rows, n), np.float32)
            K.run_rows(K.SOFTMAX_XENT, rows, n,
                       logits.astype(np.float32).reshape(rows, n), labels.astype(np.float32).reshape(rows, n),
                       l32, b32)
            loss[...] = l32.reshape(loss.shape)
            back[...] = b32.reshape(back.shape)
        else:
            K.run_rows(K.SOFTMAX_XENT, rows, n, logits.reshape(rows, n),
                       labels.reshape(rows, n), loss.reshape(rows), back.reshape(rows, n))
        return loss, back
    return run


@register_kernel(nn_softmax_ops.SparseSoftmaxCrossEntropyWithLogits)
def _sparse_softmax_cross_entropy_with_logits(ctx):
    s_loss, s_back = ctx.static_buffer(0), ctx.static_buffer(1)
    planned = s_back.shape if s_back is not None and s_back.dtype != np.float16 else None
    if planned is not None:  # the kernel's (rows, classes) views of the outputs, made once
        p_rows, p_n = s_loss.size, planned[-1]
        loss1, back2 = s_loss.reshape(p_rows), s_back.reshape(p_rows, p_n)

    # Only the losses are used (evaluation, a fetched loss): wide rows skip the gradient
    # (its 4 bytes a logit written and a scaling pass; 1024x1000: see docs/BENCHMARKS.md)
    loss_only = 1 not in ctx.used_outputs
    scratches = {}

    def run(logits, labels):
        n = logits.shape[-1] if logits.ndim else 0
        if loss_only and n >= K.WIDE and logits.dtype in (np.float32, np.float64) \
                and logits.shape[:-1] == labels.shape:
            rows = labels.size
            loss = s_loss if s_loss is not None else np.empty(labels.shape, dtype=logits.dtype)
            bad = K.run_sparse_xent_loss(np.ascontiguousarray(logits).reshape(rows, n), labels.reshape(rows),
                                         loss.reshape(rows), scratches)
            if bad >= 0:
                raise _bad_label_error(ctx, labels.reshape(rows), bad, n)
            # the unused gradient output: a buffer nobody reads (not computed)
            return loss, s_back if s_back is not None else np.empty(logits.shape, logits.dtype)
        if logits.shape == planned and labels.shape == planned[:-1]:
            bad = K.run_rows(K.SPARSE_SOFTMAX_XENT, p_rows, p_n,
                             logits.reshape(p_rows, p_n), labels.reshape(p_rows), loss1, back2)
            if bad >= 0:
                raise _bad_label_error(ctx, labels.reshape(p_rows), bad, p_n)
            return s_loss, s_back
        if logits.ndim < 1 or logits.shape[:-1] != labels.shape:
            raise ValueError("labels shape %s must equal logits shape %s without its last dimension"
                             % (list(labels.shape), list(logits.shape)))
        loss = s_loss if s_loss is not None else np.empty(labels.shape, dtype=logits.dtype)
        back = s_back if s_back is not None else np.empty(logits.shape, dtype=logits.dtype)
        n = logits.shape[-1]
        rows = labels.size
        lab = labels.reshape(rows)
        if logits.dtype == np.float16:
            l32, b32 = np.empty(rows, np.float32), np.empty((rows, n), np.float32)
            bad = K.run_rows(K.SPARSE_SOFTMAX_XENT, rows, n,
                             logits.astype(np.float32).reshape(rows, n), lab, l32, b32)
            if bad < 0:
                loss[...] = l32.reshape(loss.shape)
                back[...] = b32.reshape(back.shape)
        else:
            bad = K.run_rows(K.SPARSE_SOFTMAX_XENT, rows, n,
                             logits.reshape(rows, n), lab, loss.reshape(rows), back.reshape(rows, n))
        if bad >= 0:
            raise _bad_label_error(ctx, lab, bad, n)
        return loss, back
    return run


@register_kernel(nn_softmax_ops.InTopKV2)
def _in_topkv2(ctx):
    static = ctx.static_buffer(0)

    def run(pred, targets, k):
        if pred.ndim != 2 or targets.ndim != 1 or pred.shape[0] != targets.shape[0]:
            raise ValueError("First dimension of predictions %s must match length of targets %s"
                             % (list(pred.shape), list(targets.shape)))
        out = static if static is not None else np.empty(targets.shape, dtype=np.bool_)
        K.in_top_k(pred, targets, int(k), out)
        return out
    return run


# -- FusedBatchNormV3 and its gradient ---------------------------------------------------

#: elements from which batch normalization and its gradient split their rows across
#: Numba's threads. Measured (session 13, TBB, 2 threads, float32 (rows, channels),
#: serial vs split, training forward / gradient): 1024x16 9.5 vs 14.1 / 8.1 vs 11.2 us,
#: 4096x32 48 vs 32 / 52 vs 33, 50176x32 552 vs 315 / 623 vs 393, 2048x512 257 vs 136 / 375 vs 167.
#: The two twins cost ~1.5 s each to compile cold; from 1M elements they save ~300 us a
#: step (see training.PARALLEL_MIN_ELEMENTS).
BN_PARALLEL_MIN_ELEMENTS = 1 << 20


def _bn_threads(m, c):
    """Threads for an (m, c) batch normalization: 1 below BN_PARALLEL_MIN_ELEMENTS."""
    return threads_for(m * c, BN_PARALLEL_MIN_ELEMENTS, blocks=m)


def _workspace(n64, n_dtype, dtype):
    """get(c, nt) -> n64 float64 workspaces then n_dtype vectors of ``dtype``, each its
    own array (kept for the next step while c and nt stay the same). With nt > 1 the
    float64 ones are (nt, c + _PAD): a row of partial sums per thread."""
    cache = {}

    def get(c, nt):
        ws = cache.get((c, nt))
        if ws is None:
            cache.clear()
            shape = c if nt == 1 else (nt, c + _PAD)
            ws = cache[(c, nt)] = [np.empty(shape, np.float64) for _ in range(n64)] + \
                [np.empty(c, dtype) for _ in range(n_dtype)]
        return ws
    return get


@register_kernel(nn_impl.FusedBatchNormV3)
def _fused_batch_normv3(ctx):
    fail = ctx.run_error_factory()
    eps = float(ctx.attrs["epsilon"])
    training = bool(ctx.attrs["is_training"])
    statics = [ctx.static_buffer(i) for i in range(5)]
    t_np = ctx.out_np_dtype(0)
    u_np = ctx.out_np_dtype(1)
    c_np = np.float32 if t_np == np.float16 else t_np
    reserve3 = np.empty(0, dtype=u_np)
    workspace = _workspace(2, 3, c_np)

    def buf(i, shape, dtype):
        s = statics[i]
        return s if s is not None and s.shape == shape else np.empty(shape, dtype=dtype)

    def run(x, scale, offset, mean, variance):
        if x.ndim != 4:
            raise fail("input must be 4-dimensional %s" % _fmt(x.shape))
        c = x.shape[3]
        for v, what in ((scale, "scale"), (offset, "offset")) + \
                (() if training else ((mean, "mean"), (variance, "variance"))):
            if v.shape != (c,):
                raise fail("%s must have the shape [%d] (the channel dimension of x), got %s"
                           % (what, c, _fmt(v.shape)))
        m = x.size // c if c else 0
        y = buf(0, x.shape, t_np)
        x2 = x.reshape(m, c)
        if t_np == np.float16:
            x2 = x2.astype(np.float32)
            y2 = np.empty((m, c), dtype=np.float32)
        else:
            y2 = y.reshape(m, c)
        bmean, bvar, r1, r2 = (buf(i, (c,), u_np) for i in range(1, 5))
        nt = _bn_threads(m, c)
        s, q, mu, a, b = workspace(c, nt if training else 1)
        if training:
            train = BN.batch_norm_train if nt == 1 else BN.batch_norm_train_parallel
            train(x2, scale, offset, eps, y2, r1, r2, bvar, s, q, mu, a, b)
            bmean[...] = r1
        elif nt == 1:
            BN.batch_norm_infer(x2, scale, offset, mean, variance, eps, y2, mu, a, b)
        else:
            BN.batch_norm_infer_parallel(nt, x2, scale, offset, mean, variance, eps, y2, mu, a, b)
        if not training:
            bmean[...] = mean
            bvar[...] = variance
            r1[...] = mean
            r2[...] = variance
        if t_np == np.float16:
            y[...] = y2.reshape(x.shape)
        return y, bmean, bvar, r1, r2, reserve3
    return run


@register_kernel(nn_impl.FusedBatchNormGradV3)
def _fused_batch_norm_gradv3(ctx):
    fail = ctx.run_error_factory()
    eps = float(ctx.attrs["epsilon"])
    training = bool(ctx.attrs["is_training"])
    statics = [ctx.static_buffer(i) for i in range(3)]
    t_np = ctx.out_np_dtype(0)
    u_np = ctx.out_np_dtype(1)
    c_np = np.float32 if t_np == np.float16 else t_np
    empty = np.empty(0, dtype=u_np)
    workspace = _workspace(2, 4, c_np)

    def buf(i, shape, dtype):
        s = statics[i]
        return s if s is not None and s.shape == shape else np.empty(shape, dtype=dtype)

    def run(dy, x, scale, mean, var, _reserve3):
        if x.ndim != 4 or dy.shape != x.shape:
            raise fail("y_backprop %s and x %s must have one 4-dimensional shape"
                       % (_fmt(dy.shape), _fmt(x.shape)))
        c = x.shape[3]
        for v, what in ((scale, "scale"), (mean, "reserve_space_1"), (var, "reserve_space_2")):
            if v.shape != (c,):
                raise fail("%s must have the shape [%d], got %s" % (what, c, _fmt(v.shape)))
        m = x.size // c if c else 0
        dx = buf(0, x.shape, t_np)
        dscale = buf(1, (c,), u_np)
        doffset = buf(2, (c,), u_np)
        x2, dy2 = x.reshape(m, c), dy.reshape(m, c)
        if t_np == np.float16:
            x2, dy2 = x2.astype(np.float32), dy2.astype(np.float32)
            dx2 = np.empty((m, c), dtype=np.float32)
        else:
            dx2 = dx.reshape(m, c)
        nt = _bn_threads(m, c)
        grad = BN.batch_norm_grad if nt == 1 else BN.batch_norm_grad_parallel
        grad(dy2, x2, scale, mean, var, eps, training, dx2, dscale, doffset, *workspace(c, nt))
        if t_np == np.float16:
            dx[...] = dx2.reshape(x.shape)
        return dx, dscale, doffset, empty, empty
    return run

