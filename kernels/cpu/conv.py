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
def _empty_conv(n_batch, per, k, out):
    """Zero sizes: an empty output, or a zero one (an empty sum). True when handled."""
    if per == 0 or n_batch == 0 or k == 0:
        out[...] = 0
        return True
    return False


# Each op is a ``_*_part`` computing block b of nt (whole images; rows of the patch matrix
# for a 1x1 filter), and one public kernel running the part on one thread (nt = 1) or the
# nt parts over ``prange``. One kernel and one parallel loop per op, each calling one helper:
# every caller of ``gemm`` (a parallel loop body too) links and compiles its own copy of
# gemm's code, which was most of a cold start's compile time. For the same reason the
# constant arguments are ``np.int64(...)``/``np.bool_(...)``: a bare 0 or False is a
# literal type to Numba, and every mix of literal and plain arguments compiled another
# signature of gemm (and a prange index, uint64, another of the part helpers).

@njit(cache=True)
def _conv2d_part(fn, x, f2d, b, nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d):
    """Block b of nt of ``conv2d``, with the b-th of nt equal parts of ``cols`` as scratch."""
    n_batch = x.shape[0]
    per = oh * ow
    k, o = f2d.shape
    ff, of = flat(f2d), flat(out2d)
    if _pointwise(x.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):  # the input is the patch matrix
        r0, r1 = n_batch * per * b // nt, n_batch * per * (b + 1) // nt
        gemm(fn, flat(x), r0 * k, k, np.int64(1), r1 - r0, ff, np.int64(0), o, o, of, r0 * o, o, k, np.bool_(False))
        return
    size = cols.size // nt
    mine = cols[b * size:(b + 1) * size]
    step = max(size // k, 1)
    n0, n1 = n_batch * b // nt, n_batch * (b + 1) // nt
    for r0 in range(n0 * per, n1 * per, step):
        r1 = min(r0 + step, n1 * per)
        m = r1 - r0
        if x.shape[3] == 1:  # one input channel: transposed patches are cheaper to build (see im2col_t)
            im2col_t(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, mine[:m * k].reshape(k, m))
            gemm(fn, mine, np.int64(0), np.int64(1), m, m, ff, np.int64(0), o, o, of, r0 * o, o, k, np.bool_(False))
        else:
            im2col(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, mine[:m * k].reshape(m, k))
            gemm(fn, mine, np.int64(0), k, np.int64(1), m, ff, np.int64(0), o, o, of, r0 * o, o, k, np.bool_(False))


@njit(cache=True, parallel=True)
def conv2d(fn, x, f2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d, nt):
    """out2d[n*OH*OW + i*OW + j, :] = patch(n, i, j) @ f2d, with f2d the [KH*KW*C, O] filter.

    ``cols`` is flat scratch: ``nt`` equal parts, one per block of images, each holding a
    chunk of patch rows (at least one) that is built and multiplied at a time."""
    if _empty_conv(x.shape[0], oh * ow, f2d.shape[0], out2d):
        return
    if nt > 1:
        for b in prange(nt):
            _conv2d_part(fn, x, f2d, np.int64(b), nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d)
    else:
        _conv2d_part(fn, x, f2d, np.int64(0), nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, out2d)


@njit(cache=True)
def _filter_grad_part(fn, x, dout2d, b, nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, df):
    """df (flat [KH*KW*C, O]) = the filter gradient of block b of nt (0 if it is empty):
    chunks of cols^T @ dout, each added in (float32 sums, as BLAS's)."""
    n_batch = x.shape[0]
    per = oh * ow
    o = dout2d.shape[1]
    k = df.size // o
    gf = flat(dout2d)
    if _pointwise(x.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
        r0, r1 = n_batch * per * b // nt, n_batch * per * (b + 1) // nt
        gemm(fn, flat(x), r0 * k, np.int64(1), k, k, gf, r0 * o, o, o, df, np.int64(0), o, r1 - r0, np.bool_(False))
        return
    n0, n1 = n_batch * b // nt, n_batch * (b + 1) // nt
    if n1 <= n0:
        df[:] = 0
        return
    size = cols.size // nt
    mine = cols[b * size:(b + 1) * size]
    step = max(size // k, 1)
    for r0 in range(n0 * per, n1 * per, step):
        r1 = min(r0 + step, n1 * per)
        m = r1 - r0
        first = r0 == n0 * per
        if x.shape[3] == 1:  # one input channel: transposed patches (see conv2d)
            im2col_t(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, mine[:m * k].reshape(k, m))
            gemm(fn, mine, np.int64(0), m, np.int64(1), k, gf, r0 * o, o, o, df, np.int64(0), o, m, not first)
        else:
            im2col(x, r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, mine[:m * k].reshape(m, k))
            gemm(fn, mine, np.int64(0), np.int64(1), k, k, gf, r0 * o, o, o, df, np.int64(0), o, m, not first)


@njit(cache=True, parallel=True)
def conv2d_backprop_filter(fn, x, dout2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, parts, df2d, nt):
    """df2d[KH*KW*C, O] = sum over patch rows r of patch(r)^T dout2d[r]. Over nt blocks:
    block 0 sums into df2d, block b > 0 into ``parts`` (flat, (nt - 1) filters), added in
    at the end."""
    k, o = df2d.shape
    if _empty_conv(x.shape[0], oh * ow, k, df2d):
        return
    df = flat(df2d)
    if nt > 1:
        for b in prange(nt):
            dst = df if b == 0 else parts[(b - 1) * k * o:b * k * o]
            _filter_grad_part(fn, x, dout2d, np.int64(b), nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols,
                              dst)
        for b in range(1, nt):
            part = parts[(b - 1) * k * o:b * k * o]
            for e in range(k * o):
                df[e] += part[e]
    else:
        _filter_grad_part(fn, x, dout2d, np.int64(0), nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, cols, df)


@njit(cache=True)
def _input_grad_part(fn, dout2d, ftf, k, b, nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, dx):
    """Block b of nt of ``conv2d_backprop_input`` (``ftf`` is f2d^T, flat): dx of its images
    = col2im(dout2d @ f2d^T)."""
    n_batch = dx.shape[0]
    per = oh * ow
    o = dout2d.shape[1]
    gf = flat(dout2d)
    if _pointwise(dx.shape, kh, kw, sh, sw, pad_top, pad_left, oh, ow):
        r0, r1 = n_batch * per * b // nt, n_batch * per * (b + 1) // nt
        gemm(fn, gf, r0 * o, o, np.int64(1), r1 - r0, ftf, np.int64(0), k, k, flat(dx), r0 * k, k, o, np.bool_(False))
        return
    n0, n1 = n_batch * b // nt, n_batch * (b + 1) // nt
    dx[n0:n1] = 0
    size = dcols.size // nt
    mine = dcols[b * size:(b + 1) * size]
    step = max(size // k, 1)
    for r0 in range(n0 * per, n1 * per, step):
        r1 = min(r0 + step, n1 * per)
        m = r1 - r0
        gemm(fn, gf, r0 * o, o, np.int64(1), m, ftf, np.int64(0), k, k, mine, np.int64(0), k, o, np.bool_(False))
        col2im_add(mine[:m * k].reshape(m, k), r0, r1, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dx)


@njit(cache=True, parallel=True)
def conv2d_backprop_input(fn, dout2d, f2d, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, ft, dx, nt):
    """dx = col2im(dout2d @ f2d^T), a chunk of patch rows at a time, over nt blocks of whole
    images (whole: col2im adds into the input rows that neighbouring patches share).
    ``dcols``: flat scratch in nt parts; ``ft``: [O, KH*KW*C] scratch for f2d^T, whose rows
    the product reads in vectors."""
    k, o = f2d.shape
    if _empty_conv(dx.shape[0], oh * ow, k, dx):
        return
    ftf = transpose_into(f2d, ft)
    if nt > 1:
        for b in prange(nt):
            _input_grad_part(fn, dout2d, ftf, k, np.int64(b), nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow,
                             dcols, dx)
    else:
        _input_grad_part(fn, dout2d, ftf, k, np.int64(0), nt, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, dcols, dx)
