"""Linear algebra kernels: matrix products (BLAS through np.dot inside @njit),
inverses and determinants (LAPACK through np.linalg inside @njit)."""
import numpy as np

from nbflow.kernels.jit import njit


@njit(cache=True)
def matmul2d(a, b, out):
    """out = a @ b. ``a``/``b`` may be transposed views (BLAS handles the layout)."""
    np.dot(a, b, out)


@njit(cache=True)
def batch_matmul(a, b, ia, ib, adj_a, adj_b, out):
    """out[i] = op(a[ia[i]]) @ op(b[ib[i]]), op transposing when adj_*.

    ``a`` (Ba, m, k) and ``b`` (Bb, k, n) are C-contiguous stacks of matrices;
    ``ia``/``ib`` map each output batch entry to its operands (broadcasting
    without copies). A transposed C-contiguous matrix is an F-contiguous view,
    which BLAS takes as is.
    """
    for i in range(out.shape[0]):
        x = a[ia[i]]
        y = b[ib[i]]
        if adj_a:
            if adj_b:
                np.dot(x.T, y.T, out[i])
            else:
                np.dot(x.T, y, out[i])
        else:
            if adj_b:
                np.dot(x, y.T, out[i])
            else:
                np.dot(x, y, out[i])


@njit(cache=True)
def inverse_batched(a, out, adjoint):
    """out[i] = inverse(a[i]) (of its transpose when ``adjoint``); raises on a singular matrix."""
    for i in range(a.shape[0]):
        inv = np.linalg.inv(a[i])
        if adjoint:
            out[i] = inv.T
        else:
            out[i] = inv


@njit(cache=True)
def determinant_batched(a, out):
    """out[i] = det(a[i]) (LU factorization)."""
    for i in range(a.shape[0]):
        out[i] = np.linalg.det(a[i])
