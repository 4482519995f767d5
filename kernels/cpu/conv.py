"""Convolution and pooling kernels (NHWC), destination-passing.

Convolutions go through im2col + one BLAS matrix product: the patch matrix
``cols[n*OH*OW, KH*KW*C]`` times the filter ``[KH*KW*C, O]`` is the NHWC output.
The backward passes reuse the same layout: ``col2im`` scatters patch gradients
back into the input gradient.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols):
    """cols[(n*OH + i)*OW + j, (a*KW + b)*C + c] = x[n, i*sh + a*dh - pad_top, j*sw + b*dw - pad_left, c]
    (0 where that falls in the padding)."""
    n_batch, h, w, c = x.shape
    for n in range(n_batch):
        for i in range(oh):
            for j in range(ow):
                row = (n * oh + i) * ow + j
                for a in range(kh):
                    y = i * sh + a * dh - pad_top
                    for b in range(kw):
                        xx = j * sw + b * dw - pad_left
                        base = (a * kw + b) * c
                        if 0 <= y < h and 0 <= xx < w:
                            for ch in range(c):
                                cols[row, base + ch] = x[n, y, xx, ch]
                        else:
                            for ch in range(c):
                                cols[row, base + ch] = 0


@njit(cache=True)
def col2im(cols, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dx):
    """dx = 0; dx[n, y, x, c] += cols[row, (a*KW + b)*C + c] over every patch touching it."""
    n_batch, h, w, c = dx.shape
    dx[...] = 0
    for n in range(n_batch):
        for i in range(oh):
            for j in range(ow):
                row = (n * oh + i) * ow + j
                for a in range(kh):
                    y = i * sh + a * dh - pad_top
                    if y < 0 or y >= h:
                        continue
                    for b in range(kw):
                        xx = j * sw + b * dw - pad_left
                        if xx < 0 or xx >= w:
                            continue
                        base = (a * kw + b) * c
                        for ch in range(c):
                            dx[n, y, xx, ch] += cols[row, base + ch]


@njit(cache=True)
def matmul(a, b, out):
    np.dot(a, b, out)


@njit(cache=True)
def max_pool(x, kh, kw, sh, sw, pad_top, pad_left, out):
    n_batch, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for n in range(n_batch):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    m = -np.inf
                    for a in range(kh):
                        y = i * sh + a - pad_top
                        if y < 0 or y >= h:
                            continue
                        for b in range(kw):
                            xx = j * sw + b - pad_left
                            if 0 <= xx < w:
                                v = x[n, y, xx, ch]
                                if v > m or v != v:
                                    m = v
                    out[n, i, j, ch] = m


@njit(cache=True)
def max_pool_grad(x, grad, kh, kw, sh, sw, pad_top, pad_left, dx):
    """The gradient of each window goes to its (first) maximum, as TF's MaxPoolGrad."""
    n_batch, h, w, c = x.shape
    _, oh, ow, _ = grad.shape
    dx[...] = 0
    for n in range(n_batch):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    m = -np.inf
                    by = -1
                    bx = -1
                    for a in range(kh):
                        y = i * sh + a - pad_top
                        if y < 0 or y >= h:
                            continue
                        for b in range(kw):
                            xx = j * sw + b - pad_left
                            if 0 <= xx < w:
                                v = x[n, y, xx, ch]
                                if by < 0 or v > m:
                                    m = v
                                    by = y
                                    bx = xx
                    if by >= 0:
                        dx[n, by, bx, ch] += grad[n, i, j, ch]


@njit(cache=True)
def avg_pool(x, kh, kw, sh, sw, pad_top, pad_left, out):
    """Average over the window's valid (unpadded) elements, as TF."""
    n_batch, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for n in range(n_batch):
        for i in range(oh):
            for j in range(ow):
                y0 = max(i * sh - pad_top, 0)
                y1 = min(i * sh - pad_top + kh, h)
                x0 = max(j * sw - pad_left, 0)
                x1 = min(j * sw - pad_left + kw, w)
                count = (y1 - y0) * (x1 - x0)
                for ch in range(c):
                    s = out.dtype.type(0)
                    for y in range(y0, y1):
                        for xx in range(x0, x1):
                            s += x[n, y, xx, ch]
                    out[n, i, j, ch] = s / count


@njit(cache=True)
def avg_pool_grad(grad, kh, kw, sh, sw, pad_top, pad_left, dx):
    n_batch, h, w, c = dx.shape
    _, oh, ow, _ = grad.shape
    dx[...] = 0
    for n in range(n_batch):
        for i in range(oh):
            for j in range(ow):
                y0 = max(i * sh - pad_top, 0)
                y1 = min(i * sh - pad_top + kh, h)
                x0 = max(j * sw - pad_left, 0)
                x1 = min(j * sw - pad_left + kw, w)
                count = (y1 - y0) * (x1 - x0)
                for ch in range(c):
                    g = grad[n, i, j, ch] / count
                    for y in range(y0, y1):
                        for xx in range(x0, x1):
                            dx[n, y, xx, ch] += g
