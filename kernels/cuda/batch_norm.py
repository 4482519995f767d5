"""CUDA batch normalization (FusedBatchNormV3 and its gradient) over a C-contiguous
``(m, c)`` view of NHWC data (m = N * H * W rows, c channels).

Per-channel sums run in two stages, the CPU's two-pass algorithm
(kernels/cpu/nn_impl.py) spread over the device:

1. *partial sums*: a 2-D grid of ``(TX, TY)``-thread blocks. Block ``(bx, by)``
   owns the channel tile ``bx * TX + tx`` (grid-stride over tiles) and the row
   chunk ``by`` (rows ``by * TY + ty``, stepping by ``gridDim.y * TY``): a warp
   reads ``TX`` consecutive channels of one row (coalesced), each thread
   accumulates its rows in float64, then the ``TY`` partials of a channel are
   halved in a shared-memory tree and the block writes ``partial[by, j]``.
2. *finish*: one thread per channel adds its ``gridDim.y`` partials (few) and
   turns them into the statistics and per-channel coefficients.

Then one grid-stride element pass writes ``y`` (or ``dx``) from per-channel
coefficients in the input's dtype, as the CPU does. Accumulating in float64
follows the CPU (its sums are float64 workspaces), so float32 results agree
with it closely; the shared arrays are float64 whatever the input dtype, so
these are plain (not generated) kernels, specialized by numba per dtype.
"""
import math

from numba import cuda, float64

from nbflow.kernels.cuda.launch import MAX_BLOCKS, SIMULATOR

#: block shape of the partial-sum kernels: TX channels x TY rows (TY a power of two)
TX, TY = (8, 4) if SIMULATOR else (32, 8)
#: most row chunks (grid.y) of a partial-sum launch
MAX_CHUNKS = 2 if SIMULATOR else 256
#: rows a thread sums at least before another chunk is worth a block
ROWS_PER_THREAD = 2 if SIMULATOR else 16


def sum_grid(m, c):
    """(blocks, chunks): the partial-sum grid for ``m`` rows of ``c`` channels."""
    tiles = max(1, (c + TX - 1) // TX)
    chunks = max(1, min(MAX_CHUNKS, (m + TY * ROWS_PER_THREAD - 1) // (TY * ROWS_PER_THREAD)))
    blocks_x = max(1, min(tiles, MAX_BLOCKS // chunks if SIMULATOR else MAX_BLOCKS))
    return (blocks_x, chunks), (TX, TY)


@cuda.jit(device=True)
def _tree_rows(buf, tx, ty):
    """Halve ``buf[:, tx]`` over its TY rows into ``buf[0, tx]`` (every thread calls it)."""
    cuda.syncthreads()
    s = TY // 2
    while s > 0:
        if ty < s:
            buf[ty, tx] += buf[ty + s, tx]
        cuda.syncthreads()
        s = s // 2


@cuda.jit
def sum_x(x, m, c, partial):
    """partial[by, j] = sum over chunk by's rows of x[i, j]."""
    buf = cuda.shared.array((TY, TX), dtype=float64)
    tx, ty, by, chunks = cuda.threadIdx.x, cuda.threadIdx.y, cuda.blockIdx.y, cuda.gridDim.y
    j0 = cuda.blockIdx.x * TX
    while j0 < c:
        j = j0 + tx
        acc = 0.0
        if j < c:
            i = by * TY + ty
            while i < m:
                acc += x[i * c + j]
                i += chunks * TY
        buf[ty, tx] = acc
        _tree_rows(buf, tx, ty)
        if ty == 0 and j < c:
            partial[by * c + j] = buf[0, tx]
        cuda.syncthreads()
        j0 += cuda.gridDim.x * TX


@cuda.jit
def sum_sq_dev(x, mean, m, c, partial):
    """partial[by, j] = sum over chunk by's rows of (x[i, j] - mean[j]) ** 2 (mean: float64)."""
    buf = cuda.shared.array((TY, TX), dtype=float64)
    tx, ty, by, chunks = cuda.threadIdx.x, cuda.threadIdx.y, cuda.blockIdx.y, cuda.gridDim.y
    j0 = cuda.blockIdx.x * TX
    while j0 < c:
        j = j0 + tx
        acc = 0.0
        if j < c:
            mu = mean[j]
            i = by * TY + ty
            while i < m:
                d = x[i * c + j] - mu
                acc += d * d
                i += chunks * TY
        buf[ty, tx] = acc
        _tree_rows(buf, tx, ty)
        if ty == 0 and j < c:
            partial[by * c + j] = buf[0, tx]
        cuda.syncthreads()
        j0 += cuda.gridDim.x * TX


@cuda.jit
def sum_grad(dy, x, mean, m, c, partial_dy, partial_dyx):
    """The gradient's sums per chunk: sum dy and sum dy * (x - mean) (mean: the statistics' dtype)."""
    buf = cuda.shared.array((TY, TX), dtype=float64)
    buf2 = cuda.shared.array((TY, TX), dtype=float64)
    tx, ty, by, chunks = cuda.threadIdx.x, cuda.threadIdx.y, cuda.blockIdx.y, cuda.gridDim.y
    j0 = cuda.blockIdx.x * TX
    while j0 < c:
        j = j0 + tx
        acc = 0.0
        acc2 = 0.0
        if j < c:
            mu = mean[j]
            i = by * TY + ty
            while i < m:
                g = dy[i * c + j]
                acc += g
                acc2 += g * (x[i * c + j] - mu)
                i += chunks * TY
        buf[ty, tx] = acc
        buf2[ty, tx] = acc2
        _tree_rows(buf, tx, ty)
        _tree_rows(buf2, tx, ty)
        if ty == 0 and j < c:
            partial_dy[by * c + j] = buf[0, tx]
            partial_dyx[by * c + j] = buf2[0, tx]
        cuda.syncthreads()
        j0 += cuda.gridDim.x * TX


@cuda.jit(device=True)
def _chunk_total(partial, chunks, c, j):
    s = 0.0
    for k in range(chunks):
        s += partial[k * c + j]
    return s


@cuda.jit
def finish_mean(partial, chunks, m, c, mean64):
    """mean64[j] = the batch mean (NaN for an empty batch, as the CPU)."""
    j = cuda.grid(1)
    while j < c:
        s = _chunk_total(partial, chunks, c, j)
        mean64[j] = s / m if m > 0 else math.nan
        j += cuda.gridsize(1)


@cuda.jit
def finish_train(partial, chunks, m, c, mean64, scale, offset, eps, bmean, bvar, r1, r2, mu, a, b):
    """The training statistics (bvar: unbiased; r2: biased, used to normalize) and the
    normalize pass's coefficients y = (x - mu) * a + b."""
    j = cuda.grid(1)
    adjust = m / (m - 1.0) if m > 1 else 1.0
    while j < c:
        q = _chunk_total(partial, chunks, c, j)
        v = q / m if m > 0 else math.nan
        s = mean64[j]
        bmean[j] = s
        r1[j] = s
        r2[j] = v
        bvar[j] = v * adjust
        mu[j] = s
        a[j] = scale[j] / math.sqrt(v + eps)
        b[j] = offset[j]
        j += cuda.gridsize(1)


@cuda.jit
def finish_infer(scale, offset, mean, var, eps, c, bmean, bvar, r1, r2, mu, a, b):
    """Inference: the given statistics pass through; coefficients from them."""
    j = cuda.grid(1)
    while j < c:
        bmean[j] = mean[j]
        r1[j] = mean[j]
        bvar[j] = var[j]
        r2[j] = var[j]
        mu[j] = mean[j]
        a[j] = scale[j] / math.sqrt(var[j] + eps)
        b[j] = offset[j]
        j += cuda.gridsize(1)


@cuda.jit
def normalize(x, mu, a, b, n, c, y):
    """y = (x - mu[j]) * a[j] + b[j] over the flat (m, c) data (n = m * c)."""
    k = cuda.grid(1)
    while k < n:
        j = k % c
        y[k] = (x[k] - mu[j]) * a[j] + b[j]
        k += cuda.gridsize(1)


@cuda.jit
def finish_grad(partial_dy, partial_dyx, chunks, m, c, scale, mean, var, eps, training,
                dscale, doffset, mu, p, q, r):
    """dscale, doffset and the dx pass's coefficients (the CPU's formulas):
    dx = p * dy + q * (x - mu) + r when training, else p * dy."""
    j = cuda.grid(1)
    mm = m if m > 0 else 1
    while j < c:
        sdy = _chunk_total(partial_dy, chunks, c, j)
        sdyx = _chunk_total(partial_dyx, chunks, c, j)
        inv = 1.0 / math.sqrt(var[j] + eps)
        doffset[j] = sdy
        dscale[j] = sdyx * inv
        k = scale[j] * inv
        mu[j] = mean[j]
        p[j] = k
        if training:
            q[j] = -k * inv * inv * sdyx / mm
            r[j] = -k * sdy / mm
        j += cuda.gridsize(1)


@cuda.jit
def grad_dx(dy, x, mu, p, q, r, n, c, training, dx):
    k = cuda.grid(1)
    while k < n:
        j = k % c
        if training:
            dx[k] = p[j] * dy[k] + q[j] * (x[k] - mu[j]) + r[j]
        else:
            dx[k] = p[j] * dy[k]
        k += cuda.gridsize(1)

