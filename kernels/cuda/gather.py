"""CUDA gathers and scatters: GatherV2, UnsortedSegmentSum, OneHot.

Grid-stride kernels over the output (gather, one-hot) or the data
(segment sum), on flat C-contiguous arrays viewed as (outer, n, inner). As
TF's GPU kernels: a gather index outside ``[0, n)`` gives zeros, a segment id
outside ``[0, segments)`` is dropped (the CPU raises InvalidArgumentError for
both: a check here would need a copy back and a wait every step). The segment
sum adds with atomics into an output zeroed first (float32, float64, int32).
"""
from numba import cuda


@cuda.jit
def gather(params, indices, out, n, m, inner, total):
    """out[o, j, k] = params[o, indices[j], k] for an (outer, m, inner) output."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        k = i % inner
        r = i // inner
        j = r % m
        o = r // m
        idx = indices[j]
        if idx >= 0 and idx < n:
            out[i] = params[(o * n + idx) * inner + k]
        else:
            out[i] = 0
        i += step


@cuda.jit
def segment_sum(data, ids, out, segments, inner, total):
    """out[ids[r], k] += data[r, k] (atomically); ``out`` is zeroed by the caller."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        s = ids[i // inner]
        if s >= 0 and s < segments:
            cuda.atomic.add(out, s * inner + i % inner, data[i])
        i += step


@cuda.jit
def one_hot(indices, on, off, out, depth, inner, total):
    """out[o, d, k] = on if indices[o, k] == d else off, for an (outer, depth, inner) output."""
    on_v = on[0]
    off_v = off[0]
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        k = i % inner
        r = i // inner
        d = r % depth
        o = r // depth
        out[i] = on_v if indices[o * inner + k] == d else off_v
        i += step
