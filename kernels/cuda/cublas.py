"""Row-major matrix products through column-major cuBLAS (nvmath-python's raw bindings).

cuBLAS is column-major; nbflow's arrays are row-major (C-contiguous). A row-major
``C[m, n]`` read as column-major is ``C^T`` (n x m, leading dimension n), and
``C^T = op(B)^T op(A)^T``: so one column-major GEMM with the operands swapped
computes it, with no transpose copies:

- A' = the buffer of B: read column-major it is ``B_stored^T`` (leading dimension
  ``b_shape[1]``); ``op(B)^T`` is that view when B is not transposed (N), its
  transpose when it is (T);
- B' = the buffer of A, likewise with ``a_shape[1]`` and transpose_a;
- m' = n, n' = m, k' = k, ldc = n.

The bindings object is passed in (``nvmath.bindings.cublas``, or a fake in the
CPU tests): its ``sgemm``/``dgemm`` and ``*_strided_batched`` take a handle, ints
and raw pointers (``intptr_t``), alpha/beta as host pointers (the default
``PointerMode.HOST``). Nothing here imports nbflow or CUDA.
"""
import collections

import numpy as np

#: cublasOperation_t values (nvmath.bindings.cublas.Operation.N / .T)
OP_N, OP_T = 0, 1

#: one column-major GEMM call: C'(m x n, ldc) = op_a(A')(m x k) @ op_b(B')(k x n), with A' the
#: buffer of the row-major product's *second* operand and B' that of its first
GemmArgs = collections.namedtuple("GemmArgs", "transa transb m n k lda ldb ldc")


def gemm_args(a_shape, b_shape, transpose_a, transpose_b):
    """The column-major call computing row-major ``op(A) @ op(B)`` (2-D, C-contiguous operands)."""
    m, ka = (a_shape[1], a_shape[0]) if transpose_a else (a_shape[0], a_shape[1])
    kb, n = (b_shape[1], b_shape[0]) if transpose_b else (b_shape[0], b_shape[1])
    if ka != kb:
        raise ValueError("Matrix size-incompatible: In[0]: %s, In[1]: %s" % (list(a_shape), list(b_shape)))
    # leading dimensions are the stored rows' lengths; cuBLAS wants at least 1 (and >= rows of the view)
    return GemmArgs(OP_T if transpose_b else OP_N, OP_T if transpose_a else OP_N, int(n), int(m), int(ka),
                    max(1, int(b_shape[1])), max(1, int(a_shape[1])), max(1, int(n)))


def batch_strides(x_batch, y_batch, batch, x_matrix, y_matrix, out_matrix):
    """Element strides (of A' = y, B' = x, C) between consecutive matrices of a strided batched
    GEMM over the broadcast ``batch``; None when the broadcast is not a stride (an operand whose
    batch dims are neither the whole batch nor all 1: e.g. [2, 1] against [1, 3])."""
    def stride(dims, size):
        if int(np.prod(dims, dtype=np.int64)) == 1:
            return 0  # one matrix for every batch entry
        if tuple(dims) == tuple(batch):
            return size
        return None
    sy, sx = stride(y_batch, y_matrix), stride(x_batch, x_matrix)
    if sy is None or sx is None:
        return None
    return sy, sx, out_matrix


def device_pointer(a):
    """A device array's address (its ``__cuda_array_interface__``)."""
    return a.__cuda_array_interface__["data"][0]


class Gemm:
    """``run(a, b, c, args)``: one cuBLAS GEMM of row-major ``a``, ``b`` into ``c`` (``gemm_args``'s
    call); ``run_batched(a, b, c, args, strides, count)`` a strided batched one. ``handle()``
    gives the cuBLAS handle to use (one per device and stream: the caller's choice)."""

    def __init__(self, bindings, dtype, handle, pointer=None):
        dtype = np.dtype(dtype)
        prefix = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(dtype)
        if prefix is None:
            raise TypeError("cuBLAS GEMM: %s is not supported (float32 and float64 are)" % dtype)
        self._gemm = getattr(bindings, prefix + "gemm")
        self._batched = getattr(bindings, prefix + "gemm_strided_batched")
        self._handle, self._pointer = handle, pointer or device_pointer
        # alpha = 1, beta = 0 as host scalars of the product's type, alive as long as this object
        self._alpha, self._beta = np.ones(1, dtype), np.zeros(1, dtype)
        self._alpha_p, self._beta_p = self._alpha.ctypes.data, self._beta.ctypes.data

    def run(self, a, b, c, g):
        p = self._pointer
        self._gemm(self._handle(), g.transa, g.transb, g.m, g.n, g.k, self._alpha_p, p(b), g.lda, p(a), g.ldb,
                   self._beta_p, p(c), g.ldc)

    def run_batched(self, a, b, c, g, strides, count):
        p = self._pointer
        sy, sx, sc = strides
        self._batched(self._handle(), g.transa, g.transb, g.m, g.n, g.k, self._alpha_p, p(b), g.lda, sy,
                      p(a), g.ldb, sx, self._beta_p, p(c), g.ldc, sc, count)
