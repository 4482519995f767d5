"""CUDA matrix product: 16x16 shared-memory tiles.

``C[M, N] = op(A) @ op(B)``: each TILE x TILE block of threads computes one
tile of C, walking K one tile at a time: it stages a tile of A and one of B in
shared memory (zero-padded at the edges), waits, accumulates TILE products
per thread, waits again. Transposes are element strides (``sam, sak`` for A,
``sbk, sbn`` for B), so one kernel per dtype serves all four layouts; the
batched variant (BatchMatMulV2) adds the batch as the grid's z dimension.
(With the cuda-blas extra, MatMul and BatchMatMulV2 go through cuBLAS instead: cublas.py.)
"""
import numpy as np

from nbflow.kernels.cpu.codegen import load_generated
from nbflow.kernels.cuda.launch import TILE

_kernels = {}

_TEMPLATE = '''import numpy as np
from numba import cuda

TILE = {tile}


@cuda.jit
def kernel(a, b, c, m, n, k, sam, sak, sbk, sbn):
    ta = cuda.shared.array((TILE, TILE), dtype=np.{dtype})
    tb = cuda.shared.array((TILE, TILE), dtype=np.{dtype})
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    acc = np.{dtype}(0)
    for t in range((k + TILE - 1) // TILE):
        ka = t * TILE + tx
        if row < m and ka < k:
            ta[ty, tx] = a[row * sam + ka * sak]
        else:
            ta[ty, tx] = np.{dtype}(0)
        kb = t * TILE + ty
        if kb < k and col < n:
            tb[ty, tx] = b[kb * sbk + col * sbn]
        else:
            tb[ty, tx] = np.{dtype}(0)
        cuda.syncthreads()
        for j in range(TILE):
            acc += ta[ty, j] * tb[j, tx]
        cuda.syncthreads()
    if row < m and col < n:
        c[row * n + col] = acc
'''


def _batched(template):
    """The same tiles over a batch: block z multiplies matrices ``ia[z]`` of ``a`` and ``ib[z]``
    of ``b`` (numpy-broadcast batch dims, mapped on the host) into matrix ``z`` of ``c``."""
    return (template
            .replace("def kernel(a, b, c, m, n, k, sam, sak, sbk, sbn):",
                     "def kernel(a, b, c, m, n, k, sam, sak, sbk, sbn, ia, ib):\n"
                     "    z = cuda.blockIdx.z\n    ao = ia[z] * m * k\n    bo = ib[z] * k * n\n    co = z * m * n")
            .replace("a[row * sam + ka * sak]", "a[ao + row * sam + ka * sak]")
            .replace("b[kb * sbk + col * sbn]", "b[bo + kb * sbk + col * sbn]")
            .replace("c[row * n + col]", "c[co + row * n + col]"))


def generate_source(dtype, batched=False):
    src = _TEMPLATE.format(tile=TILE, dtype=np.dtype(dtype).name)
    return _batched(src) if batched else src


def get_kernel(dtype, batched=False):
    key = (np.dtype(dtype).str, batched)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = load_generated(generate_source(dtype, batched), "cuda_mm").kernel
    return k


def layout(a_shape, b_shape, transpose_a, transpose_b):
    """(m, n, k, sam, sak, sbk, sbn) for 2-D operands stored C-contiguous."""
    m, ka = (a_shape[1], a_shape[0]) if transpose_a else (a_shape[0], a_shape[1])
    kb, n = (b_shape[1], b_shape[0]) if transpose_b else (b_shape[0], b_shape[1])
    if ka != kb:
        raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (list(a_shape), list(b_shape)))
    sam, sak = (1, a_shape[1]) if transpose_a else (a_shape[1], 1)
    sbk, sbn = (1, b_shape[1]) if transpose_b else (b_shape[1], 1)
    return m, n, ka, sam, sak, sbk, sbn


def grid(m, n, batch=None):
    g = ((n + TILE - 1) // TILE, (m + TILE - 1) // TILE)
    return (g + (batch,) if batch is not None else g), (TILE, TILE)
