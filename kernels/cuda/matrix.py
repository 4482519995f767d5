"""CUDA kernels of batched small square matrices: MatrixInverse and MatrixDeterminant.

One thread block a matrix (blocks stride over the batch), working in global
memory: a scratch copy ``work`` (batch, n, n) of the input, a column of
elimination factors ``fac`` (batch, n). Each column step picks the pivot (the
largest magnitude at or below the diagonal: partial pivoting, as LAPACK's
getrf) on thread 0, then the block's threads swap, scale and eliminate rows
in parallel between barriers. The inverse is Gauss-Jordan on [A | I]; an
exactly zero pivot marks the matrix singular (``bad[m] = 1``, what LAPACK
reports too). The determinant is the product of the LU pivots, its sign
flipped per row swap; a zero pivot gives 0.
"""
from numba import cuda, int64


@cuda.jit
def inverse(a, work, fac, out, bad, n, batch, adjoint):
    """out[m] = inverse(a[m]) (its transpose when ``adjoint``), for flat (batch, n, n) arrays."""
    shared = cuda.shared.array(2, int64)  # [pivot row, singular]
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    nn = n * n
    m = cuda.blockIdx.x
    while m < batch:
        base = m * nn
        for e in range(t, nn, nt):
            work[base + e] = a[base + e]
            out[base + e] = 1 if e // n == e % n else 0
        if t == 0:
            shared[1] = 0
        cuda.syncthreads()
        for c in range(n):
            if t == 0:
                p = c
                best = abs(work[base + c * n + c])
                for r in range(c + 1, n):
                    v = abs(work[base + r * n + c])
                    if v > best:
                        best = v
                        p = r
                shared[0] = p
                if best == 0:
                    shared[1] = 1
            cuda.syncthreads()
            if shared[1] != 0:
                break
            p = shared[0]
            if p != c:
                for j in range(t, n, nt):
                    w = work[base + c * n + j]
                    work[base + c * n + j] = work[base + p * n + j]
                    work[base + p * n + j] = w
                    w = out[base + c * n + j]
                    out[base + c * n + j] = out[base + p * n + j]
                    out[base + p * n + j] = w
            cuda.syncthreads()
            pivot = work[base + c * n + c]
            for r in range(t, n, nt):
                fac[m * n + r] = work[base + r * n + c]
            cuda.syncthreads()
            for j in range(t, n, nt):  # row c divided by its pivot
                work[base + c * n + j] /= pivot
                out[base + c * n + j] /= pivot
            cuda.syncthreads()
            for e in range(t, nn, nt):  # every other row loses fac[r] times row c
                r = e // n
                if r != c:
                    j = e % n
                    f = fac[m * n + r]
                    work[base + e] -= f * work[base + c * n + j]
                    out[base + e] -= f * out[base + c * n + j]
            cuda.syncthreads()
        if t == 0:
            bad[m] = shared[1]
        if adjoint and shared[1] == 0:
            for e in range(t, nn, nt):
                i = e // n
                j = e % n
                if i < j:
                    w = out[base + e]
                    out[base + e] = out[base + j * n + i]
                    out[base + j * n + i] = w
        cuda.syncthreads()
        m += cuda.gridDim.x


@cuda.jit
def determinant(a, work, fac, out, n, batch):
    """out[m] = det(a[m]) for a flat (batch, n, n) array (n >= 1)."""
    shared = cuda.shared.array(2, int64)  # [pivot row, sign: +1 / -1, 0 once a pivot is zero]
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    nn = n * n
    m = cuda.blockIdx.x
    while m < batch:
        base = m * nn
        for e in range(t, nn, nt):
            work[base + e] = a[base + e]
        if t == 0:
            shared[1] = 1
        cuda.syncthreads()
        for c in range(n):
            if t == 0:
                p = c
                best = abs(work[base + c * n + c])
                for r in range(c + 1, n):
                    v = abs(work[base + r * n + c])
                    if v > best:
                        best = v
                        p = r
                shared[0] = p
                if best == 0:
                    shared[1] = 0
                elif p != c:
                    shared[1] = -shared[1]
            cuda.syncthreads()
            if shared[1] == 0:
                break
            p = shared[0]
            if p != c:
                for j in range(t, n, nt):
                    w = work[base + c * n + j]
                    work[base + c * n + j] = work[base + p * n + j]
                    work[base + p * n + j] = w
            cuda.syncthreads()
            pivot = work[base + c * n + c]
            for r in range(c + 1 + t, n, nt):
                fac[m * n + r] = work[base + r * n + c] / pivot
            cuda.syncthreads()
            w = n - c - 1  # the trailing block: rows and columns after c
            for e in range(t, w * w, nt):
                r = c + 1 + e // w
                j = c + 1 + e % w
                work[base + r * n + j] -= fac[m * n + r] * work[base + c * n + j]
            cuda.syncthreads()
        if t == 0:
            d = 1.0 * shared[1]  # the product in float64
            if shared[1] != 0:
                for c in range(n):
                    d *= work[base + c * n + c]
            out[m] = d
        cuda.syncthreads()
        m += cuda.gridDim.x
