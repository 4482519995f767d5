"""Two grid-stride CUDA kernels over flat device arrays, compiled lazily per argument types
(any numeric dtype): ``fill`` (zeroing workspaces and gradient rows) and ``add_into``
(summing gradients). Used by the GPU If / While kernels between sub-plan runs
(nbflow/backends/cuda/control_flow.py) and the recurrent layers (backends/cuda/rnn.py)."""
from numba import cuda


@cuda.jit
def fill(out, value, n):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < n:
        out[i] = value
        i += stride


@cuda.jit
def add_into(dst, src, n):
    """dst += src."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < n:
        dst[i] += src[i]
        i += stride
