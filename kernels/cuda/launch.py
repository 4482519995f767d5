"""Launch configuration shared by the CUDA kernels, and flat views of device arrays.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) every thread is a
Python thread and every barrier a rendezvous: its cost grows with threads and
blocks, not data, so kernels launch 32-thread blocks and at most a few of
them there (grid-stride loops cover the rest). On a GPU: 256 threads a block.
"""
from numba import config

SIMULATOR = bool(config.ENABLE_CUDASIM)
#: threads per block of 1-D kernels (element-wise, reductions); a power of two
THREADS = 32 if SIMULATOR else 256
#: most blocks a grid-stride kernel launches
MAX_BLOCKS = 4 if SIMULATOR else 8192
#: matmul tile edge (blocks are TILE x TILE threads)
TILE = 16


def grid_1d(n):
    """(blocks, threads) for a grid-stride loop over ``n`` items."""
    return max(1, min((n + THREADS - 1) // THREADS, MAX_BLOCKS)), THREADS


def flat(a):
    """A 1-D view of a C-contiguous device array (0-d arrays become one element)."""
    if a.ndim == 1:
        return a
    return a.reshape(a.size if a.size else 0)
