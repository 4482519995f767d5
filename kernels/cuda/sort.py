"""CUDA kernels of top_k (TopKV2) and the last-axis gather/scatter pair behind its gradient.

Order (as the CPU's kernels/cpu/sort.py and TF's TopK): larger values first,
NaN counted as the largest, equal values by lower index first -- a strict
total order, so every element of a row has one rank. TopK gives each element
a thread that counts the row's elements ranked before it, stopping at k: an
element that reaches k is not in the top k, and one that does not writes
itself at its rank. No sorting network, no shared memory, exact ties; the
work is about k * n * log(n / k) comparisons a row on shuffled data, n * n
(a full sort, or a row already in descending order) at worst: meant for
small k and rows of up to a few thousand.
"""
from numba import cuda


@cuda.jit(device=True)
def first(a, ia, b, ib):
    """Does value ``a`` (at index ia) come before ``b`` (at ib) in descending order?"""
    if a > b:
        return True
    if a < b:
        return False
    if a == b:
        return ia < ib
    if a != a:  # NaN: the largest; NaNs keep their order
        return b == b or ia < ib
    return False


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
