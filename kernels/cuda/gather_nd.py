"""CUDA gathers and scatters by coordinates: GatherNd, ScatterNd, MirrorPad(Grad), ReverseSequence.

Grid-stride kernels on flat C-contiguous arrays; the shapes they index come
as small int64 device arrays made once per shape on the host. As TF's GPU
kernels: a GatherNd coordinate out of range gives zeros and a ScatterNd one
is dropped (the CPU raises: a check here would need a copy back each step).
ScatterNd and MirrorPadGrad add with atomics into an output the caller zeroed,
so duplicate coordinates (and mirrored elements) add up, in no fixed order.
"""
from numba import cuda


@cuda.jit
def gather_nd(params, indices, dims, out, depth, inner, total):
    """out[r, e] = params[indices[r, :depth], e]: ``dims`` the first ``depth`` dims of params,
    ``inner`` the size of one slice (params' remaining dims)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        e = i % inner
        r = i // inner
        off = 0
        inside = True
        for j in range(depth):
            v = indices[r * depth + j]
            d = dims[j]
            if v < 0 or v >= d:
                inside = False
            off = off * d + v
        if inside:
            out[i] = params[off * inner + e]
        else:
            out[i] = 0
        i += step


@cuda.jit
def scatter_nd(updates, indices, dims, out, depth, inner, total):
    """out[indices[r, :depth], e] += updates[r, e] (atomically); ``out`` zeroed by the caller."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        e = i % inner
        r = i // inner
        off = 0
        inside = True
        for j in range(depth):
            v = indices[r * depth + j]
            d = dims[j]
            if v < 0 or v >= d:
                inside = False
            off = off * d + v
        if inside:
            cuda.atomic.add(out, off * inner + e, updates[i])
        i += step


@cuda.jit(device=True)
def mirror_source(i, in_dims, before, out_dims, rank, reflect):
    """Flat index in the unpadded array of padded element ``i`` (paddings at most one mirror wide).
    ``reflect`` is 1 for REFLECT (the edge is not repeated), 0 for SYMMETRIC."""
    rem = i
    off = 0
    stride = 1
    for ax in range(rank - 1, -1, -1):
        od = out_dims[ax]
        n = in_dims[ax]
        j = rem % od - before[ax]
        rem //= od
        if j < 0:
            j = reflect - 1 - j
        elif j >= n:
            j = 2 * n - 1 - reflect - j
        off += j * stride
        stride *= n
    return off


@cuda.jit
def mirror_pad(x, in_dims, before, out_dims, out, rank, reflect, total):
    """out[i] = x[its mirror source] over the padded output."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        out[i] = x[mirror_source(i, in_dims, before, out_dims, rank, reflect)]
        i += step


@cuda.jit
def mirror_pad_grad(grad, in_dims, before, out_dims, out, rank, reflect, total):
    """out[mirror source of i] += grad[i] (atomically) over the padded gradient; ``out`` zeroed first."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        cuda.atomic.add(out, mirror_source(i, in_dims, before, out_dims, rank, reflect), grad[i])
        i += step


@cuda.jit
def reverse_sequence(x, lengths, out, batch_div, batch_mod, seq_div, seq_mod, total):
    """out = x with the first ``lengths[b]`` entries along the sequence axis of each batch entry b
    reversed. The coordinate of axis a of flat index i is ``(i // a_div) % a_mod`` (a_div: the
    product of the dims after a)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        b = (i // batch_div) % batch_mod
        t = (i // seq_div) % seq_mod
        n = lengths[b]
        src = i
        if t < n:
            src = i + (n - 1 - 2 * t) * seq_div
        out[i] = x[src]
        i += step
