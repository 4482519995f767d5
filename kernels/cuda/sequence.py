"""CUDA sequences: Range, LinSpace (generated per dtype: the index is converted to
the output dtype and the arithmetic done in it, as the CPU), InvertPermutation.

InvertPermutation first marks every output slot -1 (``prepare``), then each
thread scatters ``out[x[i]] = i`` with an atomic exchange: an index out of
range, or a slot already taken (a duplicate), sets ``bad[0]``. The caller
copies the flag back and, if set, lets the CPU's check name the culprit.
"""
import numpy as np
from numba import cuda

from nbflow.kernels.cpu.codegen import load_generated

_TEMPLATE = '''import numpy as np
from numba import cuda

T = np.{dtype}


@cuda.jit
def range_fill(start, delta, n, out):
    """out[i] = start + T(i) * delta."""
    i = cuda.grid(1)
    while i < n:
        out[i] = start[0] + T(i) * delta[0]
        i += cuda.gridsize(1)


@cuda.jit
def linspace(start, stop, n, out):
    """out[i] = start + T(i) * ((stop - start) / T(n - 1)); the last element is stop."""
    i = cuda.grid(1)
    a = start[0]
    step = (stop[0] - a) / T(n - 1) if n > 1 else T(0)
    while i < n:
        out[i] = stop[0] if (i == n - 1 and n > 1) else a + T(i) * step
        i += cuda.gridsize(1)
'''

_modules = {}


def kernels(dtype):
    """The generated module of ``dtype`` (``range_fill``, ``linspace``)."""
    key = np.dtype(dtype).str
    mod = _modules.get(key)
    if mod is None:
        mod = _modules[key] = load_generated(_TEMPLATE.format(dtype=np.dtype(dtype).name), "cuda_seq")
    return mod


@cuda.jit
def prepare(out, n, bad):
    i = cuda.grid(1)
    if i == 0:
        bad[0] = 0
    while i < n:
        out[i] = -1
        i += cuda.gridsize(1)


@cuda.jit
def invert_permutation(x, n, out, bad):
    i = cuda.grid(1)
    while i < n:
        p = x[i]
        if p < 0 or p >= n:
            bad[0] = 1
        elif cuda.atomic.exch(out, p, i) != -1:
            bad[0] = 1
        i += cuda.gridsize(1)
