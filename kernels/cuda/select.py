"""CUDA kernels of the ops whose output size depends on the data: Where and Unique.

Both compact the elements that a flag marks, keeping their order, in chunks:
``flags`` marks the elements (non-zero ones; first occurrences), each thread
counts the marks of one contiguous chunk (``chunk_counts``), the host turns
the counts into each chunk's first output row (a prefix sum: the one sync, it
also sizes the output), and each thread writes its chunk's marked elements
from there, in order (``where_write``, ``unique_write``).

Unique finds first occurrences by comparison with every earlier element
(NaN equals nothing, so every NaN is its own value, as the CPU's): n * n / 2
comparisons at worst (all distinct), meant for vectors of up to some
thousands of elements.
"""
from numba import cuda


@cuda.jit
def nonzero_flags(x, flags, total):
    """flags[i] = x[i] is true (non-zero; NaN is true)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        flags[i] = 1 if x[i] != 0 else 0
        i += step


@cuda.jit
def first_occurrence(x, first, flags, total):
    """first[i] = the lowest j with x[j] == x[i]; flags[i] = that is i itself."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        v = x[i]
        f = i
        for j in range(i):
            if x[j] == v:
                f = j
                break
        first[i] = f
        flags[i] = 1 if f == i else 0
        i += step


@cuda.jit
def chunk_counts(flags, counts, chunk, chunks, total):
    """counts[c] = the number of marked elements in chunk c (elements [c * chunk, (c + 1) * chunk))."""
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < chunks:
        s = 0
        for i in range(c * chunk, min((c + 1) * chunk, total)):
            s += flags[i]
        counts[c] = s
        c += step


@cuda.jit
def where_write(flags, starts, dims, out, rank, chunk, chunks, total):
    """The row-major coordinates (int64, ``rank`` each) of chunk c's marked elements, from row starts[c]."""
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < chunks:
        row = starts[c]
        for i in range(c * chunk, min((c + 1) * chunk, total)):
            if flags[i]:
                rem = i
                for ax in range(rank - 1, -1, -1):
                    out[row * rank + ax] = rem % dims[ax]
                    rem //= dims[ax]
                row += 1
        c += step


@cuda.jit
def unique_write(x, flags, starts, y, position, chunk, chunks, total):
    """y[p] = the p-th first occurrence of chunk order; position[i] = p for a first occurrence i."""
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < chunks:
        p = starts[c]
        for i in range(c * chunk, min((c + 1) * chunk, total)):
            if flags[i]:
                y[p] = x[i]
                position[i] = p
                p += 1
        c += step


@cuda.jit
def unique_index(first, position, idx, total):
    """idx[i] = the position in y of x[i]'s value (that of its first occurrence)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        idx[i] = position[first[i]]
        i += step
