"""Matrix products (BLAS through np.dot inside @njit)."""
import numpy as np
from numba import njit


@njit(cache=True)
def matmul2d(a, b, out):
    """out = a @ b. ``a``/``b`` may be transposed views (BLAS handles the layout)."""
    np.dot(a, b, out)


@njit(cache=True)
def matmul_batched(a, b, out):
    """out[i] = a[i] @ b[i] over a leading batch axis (already broadcast)."""
    for i in range(out.shape[0]):
        np.dot(a[i], b[i], out[i])
