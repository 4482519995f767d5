"""CUDA kernels of top_k (TopKV2) and the last-axis gather/scatter pair behind its gradient.

Order (as the CPU's kernels/cpu/sort.py and TF's TopK): larger values first,
NaN counted as the largest, equal values by lower index first -- a strict
total order, so every element of a row has one rank.

Rows of at most MAX_SORT elements: a bitonic sort of each row in shared
memory (one block a row, n log^2 n compare-exchanges). Longer rows: each
element gets a thread that counts the row's elements ranked before it,
stopping at k; an element that reaches k is not in the top k, one that does
not writes itself at its rank. No shared memory; about k * n * log(n / k)
comparisons a row on shuffled data, n * n at worst (k = n, or a row in
ascending order): fine for small k, slow for full sorts of long rows.
"""
from numba import cuda, int32
from numba.np.numpy_support import from_dtype

from nbflow.kernels.cpu.sort import first_descending

#: longest row sorted in shared memory (keys + int32 indices: 24 KiB for float64)
MAX_SORT = 2048


#: the CPU's order (kernels/cpu/sort.py), compiled as a device function
first = cuda.jit(device=True)(first_descending)


@cuda.jit(device=True)
def before(a, ia, b, ib):
    """``first`` with padding (index -1) after every element."""
    if ib < 0:
        return ia >= 0
    if ia < 0:
        return False
    return first(a, ia, b, ib)


_sorters = {}


def sorter(dtype, size):
    """The per-row bitonic sort kernel for rows of at most ``size`` (a power of two <= MAX_SORT)
    elements of ``dtype``: one block a row (blocks stride over the rows), the row padded to
    ``size`` in shared memory, sorted by ``before``, its first k entries written out."""
    key = (dtype, size)
    kernel = _sorters.get(key)
    if kernel is None:
        kernel = _sorters[key] = _make_sorter(from_dtype(dtype), size)
    return kernel


def _make_sorter(nb_type, size):
    @cuda.jit
    def top_k_sorted(x, values, indices, n, k, rows):
        keys = cuda.shared.array(size, nb_type)
        idx = cuda.shared.array(size, int32)
        t = cuda.threadIdx.x
        nt = cuda.blockDim.x
        r = cuda.blockIdx.x
        while r < rows:
            for e in range(t, size, nt):
                if e < n:
                    keys[e] = x[r * n + e]
                    idx[e] = e
                else:
                    keys[e] = 0
                    idx[e] = -1
            cuda.syncthreads()
            span = 2
            while span <= size:
                j = span // 2
                while j > 0:
                    for e in range(t, size, nt):
                        p = e ^ j
                        if p > e:
                            if (e & span) == 0:
                                swap = before(keys[p], idx[p], keys[e], idx[e])
                            else:
                                swap = before(keys[e], idx[e], keys[p], idx[p])
                            if swap:
                                kv = keys[e]
                                keys[e] = keys[p]
                                keys[p] = kv
                                iv = idx[e]
                                idx[e] = idx[p]
                                idx[p] = iv
                    cuda.syncthreads()
                    j //= 2
                span *= 2
            for e in range(t, k, nt):
                values[r * k + e] = keys[e]
                indices[r * k + e] = idx[e]
            cuda.syncthreads()
            r += cuda.gridDim.x
    return top_k_sorted


@cuda.jit
def top_k(x, values, indices, n, k, total):
    """For rows of length n: values/indices (rows, k) of each row's k first elements."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        c = i % n
        base = i - c
        v = x[i]
        rank = 0
        for j in range(n):
            if rank >= k:
                break
            if j != c and first(x[base + j], j, v, c):
                rank += 1
        if rank < k:
            o = (i // n) * k + rank
            values[o] = v
            indices[o] = c
        i += step


@cuda.jit
def gather_last_axis(params, indices, out, n, k, total):
    """out[r, j] = params[r, indices[r, j]] (an index outside [0, n) gives zero, as the GPU gathers)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        c = indices[i]
        if c >= 0 and c < n:
            out[i] = params[(i // k) * n + c]
        else:
            out[i] = 0
        i += step


@cuda.jit
def scatter_last_axis(indices, updates, out, n, k, total):
    """out[r, indices[r, j]] += updates[r, j] (atomically; outside [0, n) dropped); ``out`` zeroed first."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        c = indices[i]
        if c >= 0 and c < n:
            cuda.atomic.add(out, (i // k) * n + c, updates[i])
        i += step
