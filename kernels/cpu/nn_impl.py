"""Batch-normalization kernels (FusedBatchNormV3 and FusedBatchNormGradV3).

Every kernel sees the input as a C-contiguous ``(rows, channels)`` matrix:
an NHWC tensor is a reshape away from it (rows = N * H * W). Loops run over
rows outside and channels inside, so the inner loop is contiguous and
vectorizes across channels.

Per-channel sums are accumulated in float64 workspaces the caller allocates
once, and the two-pass variance (mean first, then the squared deviations)
keeps float32 inputs accurate. The per-element passes use per-channel
coefficients of the input's dtype, so float32 data is computed in float32 and
vectorizes. Every workspace is its own array: rows of one shared array would
look aliased to LLVM and stop the loops vectorizing (2.5x slower measured).

The ``*_parallel`` twins split the rows into one block per thread: each pass
over the data runs on every thread, the per-channel sums in per-thread
float64 rows (padded apart, so that two threads never write one cache line)
added after the pass. The row-range helpers below are the loops both share.
"""
import numpy as np
from numba import prange

from nbflow.kernels.jit import njit


@njit(cache=True)
def _col_sums(x, lo, hi, s):
    """s[j] = sum of x[lo:hi, j] (float64)."""
    for j in range(x.shape[1]):
        s[j] = 0.0
    for i in range(lo, hi):
        for j in range(x.shape[1]):
            s[j] += x[i, j]


@njit(cache=True)
def _col_sq_devs(x, lo, hi, mean, q):
    """q[j] = sum of (x[lo:hi, j] - mean[j])^2 (float64)."""
    for j in range(x.shape[1]):
        q[j] = 0.0
    for i in range(lo, hi):
        for j in range(x.shape[1]):
            d = x[i, j] - mean[j]
            q[j] += d * d


@njit(cache=True)
def _affine(x, lo, hi, mu, a, b, y):
    """y[lo:hi] = (x[lo:hi] - mu) * a + b, per channel."""
    for i in range(lo, hi):
        for j in range(x.shape[1]):
            y[i, j] = (x[i, j] - mu[j]) * a[j] + b[j]


@njit(cache=True)
def _add_rows(parts, c):
    """parts[0, :c] += parts[t, :c] for every other row t (the threads' partial sums)."""
    for t in range(1, parts.shape[0]):
        for j in range(c):
            parts[0, j] += parts[t, j]


@njit(cache=True)
def _rows(m, nt, t):
    return m * t // nt, m * (t + 1) // nt


@njit(cache=True)
def _train_coefficients(m, scale, offset, eps, s, q, mean, var, var_unbiased, mu, a, b):
    """From the column sums ``s`` (made the mean here) and squared deviations ``q``."""
    adjust = m / (m - 1.0) if m > 1 else 1.0
    for j in range(scale.shape[0]):
        v = q[j] / m if m > 0 else np.nan
        mean[j] = s[j]
        var[j] = v
        var_unbiased[j] = v * adjust
        mu[j] = s[j]
        a[j] = scale[j] / np.sqrt(v + eps)
        b[j] = offset[j]


@njit(cache=True)
def _mean(m, s, c):
    for j in range(c):
        s[j] = s[j] / m if m > 0 else np.nan


@njit(cache=True)
def batch_norm_train(x, scale, offset, eps, y, mean, var, var_unbiased, s, q, mu, a, b):
    """Normalize with the batch's statistics.

    x, y: (m, c); scale, offset: (c,); outputs mean, var (biased, used to
    normalize) and var_unbiased (times m / (m - 1), TF's batch_variance; m=1
    gives the biased value); workspaces s, q: float64 (c,); mu, a, b: x's dtype (c,)."""
    m, c = x.shape
    _col_sums(x, 0, m, s)
    _mean(m, s, c)
    _col_sq_devs(x, 0, m, s, q)
    _train_coefficients(m, scale, offset, eps, s, q, mean, var, var_unbiased, mu, a, b)
    _affine(x, 0, m, mu, a, b, y)


@njit(cache=True, parallel=True)
def batch_norm_train_parallel(x, scale, offset, eps, y, mean, var, var_unbiased, s, q, mu, a, b):
    """batch_norm_train on ``s.shape[0]`` threads; s, q: float64 (threads, c + padding)."""
    m, c = x.shape
    nt = s.shape[0]
    for t in prange(nt):
        lo, hi = _rows(m, nt, t)
        _col_sums(x, lo, hi, s[t, :c])
    _add_rows(s, c)
    _mean(m, s[0], c)
    for t in prange(nt):
        lo, hi = _rows(m, nt, t)
        _col_sq_devs(x, lo, hi, s[0, :c], q[t, :c])
    _add_rows(q, c)
    _train_coefficients(m, scale, offset, eps, s[0], q[0], mean, var, var_unbiased, mu, a, b)
    for t in prange(nt):
        lo, hi = _rows(m, nt, t)
        _affine(x, lo, hi, mu, a, b, y)


@njit(cache=True)
def batch_norm_infer(x, scale, offset, mean, var, eps, y, mu, a, b):
    """Normalize with given statistics: y = (x - mean) * scale / sqrt(var + eps) + offset.
    Workspaces mu, a, b: x's dtype (c,)."""
    m, c = x.shape
    for j in range(c):
        mu[j] = mean[j]
        a[j] = scale[j] / np.sqrt(var[j] + eps)
        b[j] = offset[j]
    _affine(x, 0, m, mu, a, b, y)


@njit(cache=True, parallel=True)
def batch_norm_infer_parallel(nt, x, scale, offset, mean, var, eps, y, mu, a, b):
    """batch_norm_infer with the rows split across ``nt`` threads."""
    m, c = x.shape
    for j in range(c):
        mu[j] = mean[j]
        a[j] = scale[j] / np.sqrt(var[j] + eps)
        b[j] = offset[j]
    for t in prange(nt):
        lo, hi = _rows(m, nt, t)
        _affine(x, lo, hi, mu, a, b, y)


@njit(cache=True)
def _grad_sums(dy, x, mean, lo, hi, sdy, sdyx):
    """sdy[j] = sum of dy, sdyx[j] = sum of dy * (x - mean) over rows lo:hi (float64)."""
    for j in range(x.shape[1]):
        sdy[j] = 0.0
        sdyx[j] = 0.0
    for i in range(lo, hi):
        for j in range(x.shape[1]):
            g = dy[i, j]
            sdy[j] += g
            sdyx[j] += g * (x[i, j] - mean[j])


@njit(cache=True)
def _grad_coefficients(m, scale, mean, var, eps, training, sdy, sdyx, dscale, doffset, mu, p, q, r):
    mm = m if m > 0 else 1
    for j in range(scale.shape[0]):
        inv = 1.0 / np.sqrt(var[j] + eps)
        doffset[j] = sdy[j]
        dscale[j] = sdyx[j] * inv
        k = scale[j] * inv
        mu[j] = mean[j]
        p[j] = k
        if training:
            # dx = k * dy - (k * inv^2 * sdyx / m) * (x - mean) - k * sdy / m
            q[j] = -k * inv * inv * sdyx[j] / mm
            r[j] = -k * sdy[j] / mm


@njit(cache=True)
def _grad_dx(dy, x, lo, hi, training, mu, p, q, r, dx):
    if training:
        for i in range(lo, hi):
            for j in range(x.shape[1]):
                dx[i, j] = p[j] * dy[i, j] + q[j] * (x[i, j] - mu[j]) + r[j]
    else:
        for i in range(lo, hi):
            for j in range(x.shape[1]):
                dx[i, j] = p[j] * dy[i, j]


@njit(cache=True)
def batch_norm_grad(dy, x, scale, mean, var, eps, training, dx, dscale, doffset, sdy, sdyx, mu, p, q, r):
    """Gradients of batch normalization w.r.t. x, scale and offset.

    ``mean``/``var`` are the statistics the forward pass normalized with (the
    batch's biased ones when ``training``). With inv = 1 / sqrt(var + eps) and
    xhat = (x - mean) * inv:
      doffset = sum(dy), dscale = sum(dy * xhat) (sums over rows);
      training: dx = scale * inv * (dy - doffset / m - xhat * dscale / m)
      else:     dx = scale * inv * dy.
    Workspaces sdy, sdyx: float64 (c,); mu, p, q, r: x's dtype (c,)."""
    m = x.shape[0]
    _grad_sums(dy, x, mean, 0, m, sdy, sdyx)
    _grad_coefficients(m, scale, mean, var, eps, training, sdy, sdyx, dscale, doffset, mu, p, q, r)
    _grad_dx(dy, x, 0, m, training, mu, p, q, r, dx)


@njit(cache=True, parallel=True)
def batch_norm_grad_parallel(dy, x, scale, mean, var, eps, training, dx, dscale, doffset, sdy, sdyx, mu, p, q, r):
    """batch_norm_grad on ``sdy.shape[0]`` threads; sdy, sdyx: float64 (threads, c + padding)."""
    m, c = x.shape
    nt = sdy.shape[0]
    for t in prange(nt):
        lo, hi = _rows(m, nt, t)
        _grad_sums(dy, x, mean, lo, hi, sdy[t, :c], sdyx[t, :c])
    _add_rows(sdy, c)
    _add_rows(sdyx, c)
    _grad_coefficients(m, scale, mean, var, eps, training, sdy[0], sdyx[0], dscale, doffset, mu, p, q, r)
    for t in prange(nt):
        lo, hi = _rows(m, nt, t)
        _grad_dx(dy, x, lo, hi, training, mu, p, q, r, dx)
