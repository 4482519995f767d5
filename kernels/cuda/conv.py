"""CUDA convolution helpers and pooling (the CPU's are kernels/cpu/conv.py).

Conv2D and its gradients are im2col + the tiled matmul (kernels/cuda/linalg.py):
``im2col`` writes the patch matrix ``cols[P, K]`` (P = N*OH*OW patches, K =
KH*KW*C, zeros in the padding), and ``col2im_add`` is its transpose,
accumulated with atomics into a zeroed ``dx``. Pooling: one thread per output
element (NHWC, flat indices); the gradients add into a zeroed ``dx`` with
atomics (MaxPoolGrad: to the window's first maximum, as TF; AvgPoolGrad:
``grad / count`` over the valid elements, as the CPU). float32 and float64.
"""
import math

from numba import cuda


@cuda.jit
def im2col(x, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cols, total):
    """cols[r, (a*KW + b)*C + ch] = x[n, i*sh + a*dh - pt, j*sw + b*dw - pl, ch], r = (n*OH + i)*OW + j."""
    k = kh * kw * c
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < total:
        row = t // k
        kk = t % k
        j = row % ow
        r = row // ow
        i = r % oh
        n = r // oh
        ch = kk % c
        b = (kk // c) % kw
        a = kk // (c * kw)
        y = i * sh + a * dh - pt
        xx = j * sw + b * dw - pl
        if y >= 0 and y < h and xx >= 0 and xx < w:
            cols[t] = x[((n * h + y) * w + xx) * c + ch]
        else:
            cols[t] = 0
        t += step


@cuda.jit
def col2im_add(dcols, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, dx, total):
    """The transpose of im2col, accumulated: dx[n, y, x, ch] += dcols[r, kk] (atomics)."""
    k = kh * kw * c
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < total:
        row = t // k
        kk = t % k
        j = row % ow
        r = row // ow
        i = r % oh
        n = r // oh
        ch = kk % c
        b = (kk // c) % kw
        a = kk // (c * kw)
        y = i * sh + a * dh - pt
        xx = j * sw + b * dw - pl
        if y >= 0 and y < h and xx >= 0 and xx < w:
            cuda.atomic.add(dx, ((n * h + y) * w + xx) * c + ch, dcols[t])
        t += step


@cuda.jit
def pool(x, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow, out, total, average):
    """Max (NaN propagates; -inf for an empty window) or average over the valid elements."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < total:
        ch = t % c
        r = t // c
        j = r % ow
        r = r // ow
        i = r % oh
        n = r // oh
        y0 = max(i * sh - pt, 0)
        y1 = min(i * sh - pt + kh, h)
        x0 = max(j * sw - pl, 0)
        x1 = min(j * sw - pl + kw, w)
        if average:
            acc = x[0] * 0
            for y in range(y0, y1):
                for xx in range(x0, x1):
                    acc += x[((n * h + y) * w + xx) * c + ch]
            count = (y1 - y0) * (x1 - x0)
            out[t] = acc / count if count > 0 else acc
        elif y0 >= y1 or x0 >= x1:
            out[t] = -math.inf
        else:
            m = x[((n * h + y0) * w + x0) * c + ch]
            for y in range(y0, y1):
                for xx in range(x0, x1):
                    v = x[((n * h + y) * w + xx) * c + ch]
                    if v > m or v != v:
                        m = v
            out[t] = m
        t += step


@cuda.jit
def pool_grad_add(x, grad, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow, dx, total, average):
    """Each output's gradient into a zeroed dx: to the window's first maximum, or spread evenly."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    while t < total:
        ch = t % c
        r = t // c
        j = r % ow
        r = r // ow
        i = r % oh
        n = r // oh
        y0 = max(i * sh - pt, 0)
        y1 = min(i * sh - pt + kh, h)
        x0 = max(j * sw - pl, 0)
        x1 = min(j * sw - pl + kw, w)
        g = grad[t]
        if y0 < y1 and x0 < x1:
            if average:
                g = g / ((y1 - y0) * (x1 - x0))
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        cuda.atomic.add(dx, ((n * h + y) * w + xx) * c + ch, g)
            else:
                best = x[((n * h + y0) * w + x0) * c + ch]
                arg = ((n * h + y0) * w + x0) * c + ch
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        p = ((n * h + y) * w + xx) * c + ch
                        if x[p] > best:
                            best = x[p]
                            arg = p
                cuda.atomic.add(dx, arg, g)
        t += step
