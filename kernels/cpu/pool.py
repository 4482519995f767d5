"""Pooling kernels (NHWC), destination-passing.

They loop with the channel innermost, so the work on one window is a few
contiguous vector operations over the channels. Each kernel works on a range
of images (``max_pool(x, n0, n1, ...)``: the whole batch on one thread is
``n0, n1 = 0, N``); ``max_pool_parallel(..., nt)`` runs it over ``nt`` blocks of
images across Numba's threads (whole images: the windows of the gradients add into
the input rows that neighbouring windows share). The caller picks by size
(nbflow/backends/cpu/conv.py).
"""
import numpy as np
from numba import prange

from nbflow.kernels.jit import njit


@njit(cache=True)
def max_pool(x, n0, n1, kh, kw, sh, sw, pad_top, pad_left, out):
    """out[n, i, j, c] = max of x over the window (padding excluded); NaN propagates."""
    _, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for n in range(n0, n1):
        for i in range(oh):
            y0 = max(i * sh - pad_top, 0)
            y1 = min(i * sh - pad_top + kh, h)
            for j in range(ow):
                x0 = max(j * sw - pad_left, 0)
                x1 = min(j * sw - pad_left + kw, w)
                if y0 >= y1 or x0 >= x1:
                    for ch in range(c):
                        out[n, i, j, ch] = -np.inf
                    continue
                for ch in range(c):
                    out[n, i, j, ch] = x[n, y0, x0, ch]
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        for ch in range(c):
                            v = x[n, y, xx, ch]
                            m = out[n, i, j, ch]
                            out[n, i, j, ch] = v if (v > m or v != v) else m


@njit(cache=True)
def max_pool_grad(x, grad, n0, n1, kh, kw, sh, sw, pad_top, pad_left, dx):
    """The gradient of each window goes to its first maximum, as TF's MaxPoolGrad."""
    _, h, w, c = x.shape
    _, oh, ow, _ = grad.shape
    best = np.empty(c, dtype=x.dtype)
    arg = np.empty(c, dtype=np.int32)
    # Windows that do not overlap are written, not accumulated; if they also leave no gaps
    # (2x2 windows, stride 2, even sizes), every dx element is written once and nothing is zeroed.
    disjoint = kh <= sh and kw <= sw
    tiles = kh == sh and kw == sw and oh * sh - pad_top >= h and ow * sw - pad_left >= w
    if not tiles:
        dx[n0:n1] = 0
    zero = dx.dtype.type(0)
    for n in range(n0, n1):
        for i in range(oh):
            y0 = max(i * sh - pad_top, 0)
            y1 = min(i * sh - pad_top + kh, h)
            for j in range(ow):
                x0 = max(j * sw - pad_left, 0)
                x1 = min(j * sw - pad_left + kw, w)
                if y0 >= y1 or x0 >= x1:
                    continue
                p0 = np.int32(y0 * w + x0)
                for ch in range(c):
                    best[ch] = x[n, y0, x0, ch]
                    arg[ch] = p0
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        p = np.int32(y * w + xx)
                        for ch in range(c):  # branch-free, so that it vectorizes
                            v = x[n, y, xx, ch]
                            b = best[ch]
                            up = v > b
                            best[ch] = v if up else b
                            arg[ch] = p if up else arg[ch]
                if disjoint:
                    for y in range(y0, y1):
                        for xx in range(x0, x1):
                            p = y * w + xx
                            for ch in range(c):
                                dx[n, y, xx, ch] = grad[n, i, j, ch] if arg[ch] == p else zero
                else:
                    for ch in range(c):
                        p = arg[ch]
                        dx[n, p // w, p % w, ch] += grad[n, i, j, ch]


# -- 2x2 windows, stride 2, tiling the input exactly: the usual pooling of a CNN ------------
# The forward pass with a window's four values in registers (the general kernel keeps its
# running maximum in memory): LeNet's 64x28x28x32 input pooled in 113 vs 263 us with the
# data in cache, 593 vs 688 us from memory. Same comparisons in the same order, so the
# same results (NaN included). (The gradient written the same way measured no faster:
# from memory both take ~1.4 ms, and the general one vectorizes better in cache.)

@njit(cache=True)
def max_pool_2x2(x, n0, n1, out):
    _, oh, ow, c = out.shape
    for n in range(n0, n1):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    m = x[n, 2 * i, 2 * j, ch]
                    v = x[n, 2 * i, 2 * j + 1, ch]
                    m = v if (v > m or v != v) else m
                    v = x[n, 2 * i + 1, 2 * j, ch]
                    m = v if (v > m or v != v) else m
                    v = x[n, 2 * i + 1, 2 * j + 1, ch]
                    out[n, i, j, ch] = v if (v > m or v != v) else m


def tiles_2x2(in_shape, kh, kw, sh, sw, pad_top, pad_left):
    """Whether a pooling is the 2x2, stride-2 one that tiles ``in_shape`` (NHWC) exactly."""
    return (kh == kw == sh == sw == 2 and pad_top == 0 and pad_left == 0
            and in_shape[1] % 2 == 0 and in_shape[2] % 2 == 0)


@njit(cache=True, parallel=True)
def max_pool_2x2_parallel(x, out, nt):
    n = x.shape[0]
    for b in prange(nt):
        max_pool_2x2(x, n * b // nt, n * (b + 1) // nt, out)


@njit(cache=True)
def avg_pool(x, n0, n1, kh, kw, sh, sw, pad_top, pad_left, out):
    """Average over the window's valid (unpadded) elements, as TF."""
    _, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    zero = out.dtype.type(0)
    for n in range(n0, n1):
        for i in range(oh):
            y0 = max(i * sh - pad_top, 0)
            y1 = min(i * sh - pad_top + kh, h)
            for j in range(ow):
                x0 = max(j * sw - pad_left, 0)
                x1 = min(j * sw - pad_left + kw, w)
                count = (y1 - y0) * (x1 - x0)
                for ch in range(c):
                    out[n, i, j, ch] = zero
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        for ch in range(c):
                            out[n, i, j, ch] += x[n, y, xx, ch]
                if count > 0:
                    cnt = out.dtype.type(count)
                    for ch in range(c):
                        out[n, i, j, ch] /= cnt


@njit(cache=True)
def avg_pool_grad(grad, n0, n1, kh, kw, sh, sw, pad_top, pad_left, dx):
    _, h, w, c = dx.shape
    _, oh, ow, _ = grad.shape
    dx[n0:n1] = 0
    for n in range(n0, n1):
        for i in range(oh):
            y0 = max(i * sh - pad_top, 0)
            y1 = min(i * sh - pad_top + kh, h)
            for j in range(ow):
                x0 = max(j * sw - pad_left, 0)
                x1 = min(j * sw - pad_left + kw, w)
                count = (y1 - y0) * (x1 - x0)
                if count == 0:
                    continue
                cnt = dx.dtype.type(count)
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        for ch in range(c):
                            dx[n, y, xx, ch] += grad[n, i, j, ch] / cnt


# -- the batch on one thread, or split across Numba's threads ----------------------------

@njit(cache=True, parallel=True)
def max_pool_parallel(x, kh, kw, sh, sw, pad_top, pad_left, out, nt):
    n = x.shape[0]
    for b in prange(nt):
        max_pool(x, n * b // nt, n * (b + 1) // nt, kh, kw, sh, sw, pad_top, pad_left, out)


@njit(cache=True, parallel=True)
def max_pool_grad_parallel(x, grad, kh, kw, sh, sw, pad_top, pad_left, dx, nt):
    n = x.shape[0]
    for b in prange(nt):
        max_pool_grad(x, grad, n * b // nt, n * (b + 1) // nt, kh, kw, sh, sw, pad_top, pad_left, dx)


@njit(cache=True, parallel=True)
def avg_pool_parallel(x, kh, kw, sh, sw, pad_top, pad_left, out, nt):
    n = x.shape[0]
    for b in prange(nt):
        avg_pool(x, n * b // nt, n * (b + 1) // nt, kh, kw, sh, sw, pad_top, pad_left, out)


@njit(cache=True, parallel=True)
def avg_pool_grad_parallel(grad, kh, kw, sh, sw, pad_top, pad_left, dx, nt):
    n = dx.shape[0]
    for b in prange(nt):
        avg_pool_grad(grad, n * b // nt, n * (b + 1) // nt, kh, kw, sh, sw, pad_top, pad_left, dx)
