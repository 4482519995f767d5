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
"""
import numpy as np

from nbflow.kernels.jit import njit


@njit(cache=True)
def batch_norm_train(x, scale, offset, eps, y, mean, var, var_unbiased, s, q, mu, a, b):
    """Normalize with the batch's statistics.

    x, y: (m, c); scale, offset: (c,); outputs mean, var (biased, used to
    normalize) and var_unbiased (times m / (m - 1), TF's batch_variance; m=1
    gives the biased value); workspaces s, q: float64 (c,); mu, a, b: x's dtype (c,)."""
    m, c = x.shape
    for j in range(c):
        s[j] = 0.0
        q[j] = 0.0
    for i in range(m):
        for j in range(c):
            s[j] += x[i, j]
    for j in range(c):
        s[j] = s[j] / m if m > 0 else np.nan
    for i in range(m):
        for j in range(c):
            d = x[i, j] - s[j]
            q[j] += d * d
    adjust = m / (m - 1.0) if m > 1 else 1.0
    for j in range(c):
        v = q[j] / m if m > 0 else np.nan
        mean[j] = s[j]
        var[j] = v
        var_unbiased[j] = v * adjust
        mu[j] = s[j]
        a[j] = scale[j] / np.sqrt(v + eps)
        b[j] = offset[j]
    for i in range(m):
        for j in range(c):
            y[i, j] = (x[i, j] - mu[j]) * a[j] + b[j]


@njit(cache=True)
def batch_norm_infer(x, scale, offset, mean, var, eps, y, mu, a, b):
    """Normalize with given statistics: y = (x - mean) * scale / sqrt(var + eps) + offset.
    Workspaces mu, a, b: x's dtype (c,)."""
    m, c = x.shape
    for j in range(c):
        mu[j] = mean[j]
        a[j] = scale[j] / np.sqrt(var[j] + eps)
        b[j] = offset[j]
    for i in range(m):
        for j in range(c):
            y[i, j] = (x[i, j] - mu[j]) * a[j] + b[j]


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
    m, c = x.shape
    for j in range(c):
        sdy[j] = 0.0
        sdyx[j] = 0.0
    for i in range(m):
        for j in range(c):
            g = dy[i, j]
            sdy[j] += g
            sdyx[j] += g * (x[i, j] - mean[j])
    mm = m if m > 0 else 1
    for j in range(c):
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
    if training:
        for i in range(m):
            for j in range(c):
                dx[i, j] = p[j] * dy[i, j] + q[j] * (x[i, j] - mu[j]) + r[j]
    else:
        for i in range(m):
            for j in range(c):
                dx[i, j] = p[j] * dy[i, j]
