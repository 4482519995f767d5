"""CUDA kernels (numba-cuda): generated element-wise kernels, reductions, matmul.

Imported only by nbflow/backends/cuda once numba-cuda is known to be present
(``import numba.cuda`` must resolve to numba-cuda's, never to numba's
built-in deprecated target).
"""
