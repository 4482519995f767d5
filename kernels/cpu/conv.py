"""Convolution and pooling kernels (NHWC), destination-passing.

Convolutions go through im2col + a matrix product: the patch matrix
``cols[n*OH*OW, KH*KW*C]`` times the filter ``[KH*KW*C, O]`` is the NHWC output.
The products are kernels/cpu/microgemm.py's register-tiled ``gemm``, not BLAS:
it reads the patches with any strides (no transposed copies) and ran 2x
OpenBLAS's speed on this machine (see that module).
The patch matrix is built a chunk of rows at a time into a small scratch buffer
(``cols``, sized by the caller, about a megabyte) so that it stays in cache
between being written and being multiplied, and so that a large batch or image
does not need a patch matrix of the whole batch. The backward passes reuse the layout:

* filter gradient: ``sum over chunks of cols_chunk^T @ dout_chunk``;
* input gradient: ``dcols_chunk = dout_chunk @ filter^T``, scattered back into
  the input gradient by ``col2im``.

Pooling: kernels/cpu/pool.py.
"""
import numpy as np
from numba import prange

from nbflow.kernels.cpu.microgemm import gemm, transpose_into
from nbflow.kernels.cpu.views import flat
from nbflow.kernels.jit import njit


# -- convolution ------------------------------------------------------------------------

@njit(cache=True)
def im2col(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols):
    """Rows r0..r1-1 of the batch's patch matrix into cols[0 : r1-r0]: for row r = (n*OH + i)*OW + j,
    cols[r - r0, (a*KW + b)*C + c] = x[n, i*sh + a*dh - pad_top, j*sw + b*dw - pad_left, c]
    (0 where that falls in the padding)."""
    _, h, w, c = x.shape
    zero = x.dtype.type(0)
    per = oh * ow
    n = r0 // per
    i = (r0 - n * per) // ow
    j = r0 - n * per - i * ow
    for row in range(r1 - r0):
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
                        cols[row, base + ch] = zero
        j += 1
        if j == ow:
            j = 0
            i += 1
            if i == oh:
                i = 0
                n += 1


@njit(cache=True)
def im2col_t(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols_t):
    """``im2col`` transposed: cols_t[k, r - r0] = cols[r - r0, k]. It is written one output row
    (OW patches) at a time along image rows, the cheap layout when C == 1."""
    _, h, w, c = x.shape
    zero = x.dtype.type(0)
    per = oh * ow
    r = r0
    while r < r1:
        n = r // per
        i = (r - n * per) // ow
        j0 = r - n * per - i * ow
        m = min(r1 - r, ow - j0)  # patches left in this output row
        col = r - r0
        for a in range(kh):
            y = i * sh + a * dh - pad_top
            for b in range(kw):
                for ch in range(c):
                    kk = (a * kw + b) * c + ch
                    if y < 0 or y >= h:
                        for t in range(m):
                            cols_t[kk, col + t] = zero
                    else:
                        for t in range(m):
                            xx = (j0 + t) * sw + b * dw - pad_left
                            cols_t[kk, col + t] = x[n, y, xx, ch] if 0 <= xx < w else zero
        r += m


@njit(cache=True)
def col2im_add(dcols, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dx):
    """The transpose of im2col, accumulated: dx[n, y, x, c] += dcols[r - r0, (a*KW + b)*C + c]
    over the patch rows r0..r1-1 that read (n, y, x)."""
    _, h, w, c = dx.shape
    per = oh * ow
    n = r0 // per
    i = (r0 - n * per) // ow
    j = r0 - n * per - i * ow
    for row in range(r1 - r0):
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
                    dx[n, y, xx, ch] += dcols[row, base + ch]
        j += 1
        if j == ow:
            j = 0
            i += 1
            if i == oh:
                i = 0
                n += 1


@njit(cache=True)
def _pointwise(in_shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
    """A 1x1 filter, stride 1, no padding: the patch matrix is the input itself."""
    return (kh == 1 and kw == 1 and sh == 1 and sw == 1 and pad_top == 0 and pad_left == 0
            and oh == in_shape[1] and ow == in_shape[2])


@njit(cache=True)
def _conv2d_images(x, f2d, n0, n1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d):
    """``conv2d`` of images n0..n1-1, ``cols.size // (KH*KW*C)`` patch rows at a time."""
    per = oh * ow
    k, o = f2d.shape
    ff, of = flat(f2d), flat(out2d)
    step = max(cols.size // k, 1)
    for r0 in range(n0 * per, n1 * per, step):
        r1 = min(r0 + step, n1 * per)
        m = r1 - r0
        if x.shape[3] == 1:  # one input channel: transposed patches are cheaper to build (see im2col_t)
            im2col_t(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols[:m * k].reshape(k, m))
            gemm(cols, 0, 1, m, m, ff, 0, o, o, of, r0 * o, o, k, False)
        else:
            im2col(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols[:m * k].reshape(m, k))
            gemm(cols, 0, k, 1, m, ff, 0, o, o, of, r0 * o, o, k, False)


@njit(cache=True)
def _empty_conv(n_batch, per, k, out):
    """Zero sizes: an empty output, or a zero one (an empty sum). True when handled."""
    if per == 0 or n_batch == 0 or k == 0:
        out[...] = 0
        return True
    return False


@njit(cache=True)
def conv2d(x, f2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d):
    """out2d[n*OH*OW + i*OW + j, :] = patch(n, i, j) @ f2d, with f2d the [KH*KW*C, O] filter.

    ``cols`` is flat scratch for a chunk of patch rows (at least one); the patch
    matrix is built and multiplied ``cols.size // (KH*KW*C)`` rows at a time."""
    n_batch = x.shape[0]
    k, o = f2d.shape
    if _empty_conv(n_batch, oh * ow, k, out2d):
        return
    if _pointwise(x.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):  # the input is the patch matrix
        gemm(flat(x), 0, k, 1, n_batch * oh * ow, flat(f2d), 0, o, o, flat(out2d), 0, o, k, False)
        return
    _conv2d_images(x, f2d, 0, n_batch, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d)


@njit(cache=True, parallel=True)
def conv2d_parallel(x, f2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d, nt):
    """``conv2d`` with the images split into ``nt`` blocks across Numba's threads; block b
    uses the b-th of ``nt`` equal parts of ``cols``."""
    n_batch = x.shape[0]
    k, o = f2d.shape
    if _empty_conv(n_batch, oh * ow, k, out2d):
        return
    total = n_batch * oh * ow
    if _pointwise(x.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
        xf, ff, of = flat(x), flat(f2d), flat(out2d)
        for b in prange(nt):
            r0, r1 = total * b // nt, total * (b + 1) // nt
            gemm(xf, r0 * k, k, 1, r1 - r0, ff, 0, o, o, of, r0 * o, o, k, False)
        return
    size = cols.size // nt
    for b in prange(nt):
        _conv2d_images(x, f2d, n_batch * b // nt, n_batch * (b + 1) // nt, kh, kw, sh, sw, dh, dw,
                       pad_top, pad_left, oh, ow, cols[b * size:(b + 1) * size], out2d)


@njit(cache=True)
def _filter_grad_images(x, dout2d, n0, n1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, df):
    """df (flat [KH*KW*C, O]) = the filter gradient of images n0..n1-1 (0 if none):
    chunks of cols^T @ dout, each added in (float32 sums, as BLAS's)."""
    per = oh * ow
    o = dout2d.shape[1]
    k = df.size // o
    gf = flat(dout2d)
    if n1 <= n0:
        df[:] = 0
        return
    step = max(cols.size // k, 1)
    for r0 in range(n0 * per, n1 * per, step):
        r1 = min(r0 + step, n1 * per)
        m = r1 - r0
        first = r0 == n0 * per
        if x.shape[3] == 1:  # one input channel: transposed patches (see conv2d)
            im2col_t(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols[:m * k].reshape(k, m))
            gemm(cols, 0, m, 1, k, gf, r0 * o, o, o, df, 0, o, m, not first)
        else:
            im2col(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols[:m * k].reshape(m, k))
            gemm(cols, 0, 1, k, k, gf, r0 * o, o, o, df, 0, o, m, not first)


@njit(cache=True)
def conv2d_backprop_filter(x, dout2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, df2d):
    """df2d[KH*KW*C, O] = sum over patch rows r of patch(r)^T dout2d[r]."""
    n_batch = x.shape[0]
    k, o = df2d.shape
    if _empty_conv(n_batch, oh * ow, k, df2d):
        return
    if _pointwise(x.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
        gemm(flat(x), 0, 1, k, k, flat(dout2d), 0, o, o, flat(df2d), 0, o, n_batch * oh * ow, False)
        return
    _filter_grad_images(x, dout2d, 0, n_batch, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, flat(df2d))


@njit(cache=True, parallel=True)
def conv2d_backprop_filter_parallel(x, dout2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, parts,
                                    df2d, nt):
    """``conv2d_backprop_filter`` over ``nt`` blocks of images across Numba's threads: block 0
    sums into df2d, block b > 0 into ``parts`` (flat, (nt - 1) filters), added in at the end."""
    n_batch = x.shape[0]
    k, o = df2d.shape
    if _empty_conv(n_batch, oh * ow, k, df2d):
        return
    df = flat(df2d)
    total = n_batch * oh * ow
    pointwise = _pointwise(x.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow)
    size = cols.size // nt
    for b in prange(nt):
        dst = df if b == 0 else parts[(b - 1) * k * o:b * k * o]
        if pointwise:
            r0, r1 = total * b // nt, total * (b + 1) // nt
            gemm(flat(x), r0 * k, 1, k, k, flat(dout2d), r0 * o, o, o, dst, 0, o, r1 - r0, False)
        else:
            _filter_grad_images(x, dout2d, n_batch * b // nt, n_batch * (b + 1) // nt, kh, kw, sh, sw, dh, dw,
                                pad_top, pad_left, oh, ow, cols[b * size:(b + 1) * size], dst)
    for b in range(1, nt):
        part = parts[(b - 1) * k * o:b * k * o]
        for e in range(k * o):
            df[e] += part[e]


@njit(cache=True)
def _input_grad_images(dout2d, ftf, k, n0, n1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, dx):
    """dx[n0:n1] = col2im(dout2d @ f2d^T) of images n0..n1-1 (``ftf`` is f2d^T, flat)."""
    per = oh * ow
    o = dout2d.shape[1]
    gf = flat(dout2d)
    dx[n0:n1] = 0
    step = max(dcols.size // k, 1)
    for r0 in range(n0 * per, n1 * per, step):
        r1 = min(r0 + step, n1 * per)
        m = r1 - r0
        gemm(gf, r0 * o, o, 1, m, ftf, 0, k, k, dcols, 0, k, o, False)
        col2im_add(dcols[:m * k].reshape(m, k), r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dx)


@njit(cache=True)
def conv2d_backprop_input(dout2d, f2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, ft, dx):
    """dx = col2im(dout2d @ f2d^T), a chunk of patch rows at a time (``dcols`` is flat
    scratch; ``ft`` holds [O, KH*KW*C] scratch for f2d^T, whose rows the product reads in vectors)."""
    n_batch = dx.shape[0]
    k, o = f2d.shape
    if _empty_conv(n_batch, oh * ow, k, dx):
        return
    ftf = transpose_into(f2d, ft)
    if _pointwise(dx.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
        gemm(flat(dout2d), 0, o, 1, n_batch * oh * ow, ftf, 0, k, k, flat(dx), 0, k, o, False)
        return
    _input_grad_images(dout2d, ftf, k, 0, n_batch, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, dx)


@njit(cache=True, parallel=True)
def conv2d_backprop_input_parallel(dout2d, f2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, ft, dx,
                                   nt):
    """``conv2d_backprop_input`` over ``nt`` blocks of whole images across Numba's threads
    (whole images: col2im adds into the input rows that neighbouring patches share)."""
    n_batch = dx.shape[0]
    k, o = f2d.shape
    if _empty_conv(n_batch, oh * ow, k, dx):
        return
    ftf = transpose_into(f2d, ft)
    total = n_batch * oh * ow
    if _pointwise(dx.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
        gf, xf = flat(dout2d), flat(dx)
        for b in prange(nt):
            r0, r1 = total * b // nt, total * (b + 1) // nt
            gemm(gf, r0 * o, o, 1, r1 - r0, ftf, 0, k, k, xf, r0 * k, k, o, False)
        return
    size = dcols.size // nt
    for b in prange(nt):
        _input_grad_images(dout2d, ftf, k, n_batch * b // nt, n_batch * (b + 1) // nt, kh, kw, sh, sw, dh, dw,
                           pad_top, pad_left, oh, ow, dcols[b * size:(b + 1) * size], dx)
