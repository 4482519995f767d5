"""GPU Where (coordinates of the true elements) and Unique: the kernels of
nbflow/kernels/cuda/select.py.

Their output size depends on the data: each run marks the elements, counts
the marks per chunk on the device, then copies those counts to the host --
one sync per run, as TF's GPU Where and Unique also wait for their count --
to size the output and give each chunk its first row, and fills the output
on the device. Outputs as TF's: Where's int64 coordinates in row-major order,
Unique's values in order of first occurrence with each element's index.
"""
import numpy as np

from nbflow.backends.cuda.array_gather import _kind_ok
from nbflow.backends.cuda.array_gather_nd import DimsCache
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import select as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import sort_ops
from nbflow.ops.math_select_ops import Where

#: at most this many chunks (and counts copied back); at least 32 elements a chunk
MAX_CHUNKS = 4096


class Compaction:
    """Per element count n: the scratch arrays (kept across runs in a plan), the chunking,
    and ``starts(flags)``: each chunk's first output row on the device, and the total."""

    def __init__(self, device, fresh):
        self.device, self.fresh, self.scratch = device, fresh, {}

    def buffers(self, n, names):
        got = None if self.fresh else self.scratch.get(n)
        if got is None:
            chunks = min(-(-n // 32), MAX_CHUNKS)
            got = {"chunks": chunks, "chunk": -(-n // chunks), "flags": self.device.empty((n,), np.int32),
                   "counts": self.device.empty((chunks,), np.int64)}
            got.update((name, self.device.empty((n,), np.int64)) for name in names)
            if not self.fresh:
                self.scratch[n] = got
        return got

    def starts(self, b, n):
        blocks, threads = grid_1d(b["chunks"])
        K.chunk_counts[blocks, threads](b["flags"], b["counts"], b["chunk"], b["chunks"], n)
        counts = b["counts"].copy_to_host()  # the sync: the output's size
        starts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        return self.device.from_host(starts), int(counts.sum())


@register_kernel(Where, device="GPU", accepts=lambda op: _kind_ok(op, 0))
def where_kernel(ctx):
    device = ctx.device
    compaction = Compaction(device, ctx.fresh_outputs)
    dims_cache = DimsCache(device)

    def run(x):
        n, rank = int(x.size), x.ndim
        if not n:
            return device.empty((0, rank), np.int64)
        b = compaction.buffers(n, ())
        blocks, threads = grid_1d(n)
        K.nonzero_flags[blocks, threads](flat(x), b["flags"], n)
        starts, count = compaction.starts(b, n)
        out = device.empty((count, rank), np.int64)
        if count and rank:
            blocks, threads = grid_1d(b["chunks"])
            K.where_write[blocks, threads](b["flags"], starts, dims_cache.get(x.shape), flat(out), rank, b["chunk"],
                                           b["chunks"], n)
        return out
    return run


@register_kernel(sort_ops.Unique, device="GPU", accepts=lambda op: _kind_ok(op, 0))
def unique_kernel(ctx):
    device = ctx.device
    fail = ctx.run_error_factory()
    compaction = Compaction(device, ctx.fresh_outputs)
    dtype, idx_dtype = ctx.out_np_dtype(0), ctx.out_np_dtype(1)

    def run(x):
        if x.ndim != 1:
            raise fail("unique expects a 1D vector, got shape %s" % (list(x.shape),))
        n = int(x.size)
        idx = device.empty((n,), idx_dtype)
        if not n:
            return device.empty((0,), dtype), idx
        b = compaction.buffers(n, ("first", "position"))
        blocks, threads = grid_1d(n)
        K.first_occurrence[blocks, threads](x, b["first"], b["flags"], n)
        starts, count = compaction.starts(b, n)
        y = device.empty((count,), dtype)
        chunk_blocks, chunk_threads = grid_1d(b["chunks"])
        K.unique_write[chunk_blocks, chunk_threads](x, b["flags"], starts, y, b["position"], b["chunk"],
                                                    b["chunks"], n)
        K.unique_index[blocks, threads](b["first"], b["position"], idx, n)
        return y, idx
    return run
