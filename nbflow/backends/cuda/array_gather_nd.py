"""GPU GatherNd and ScatterNd (each the other's gradient): the kernels of
nbflow/kernels/cuda/gather_nd.py.

Out-of-range coordinates follow TF's GPU kernels (zeros in a gather, dropped
in a scatter; the CPU raises). ScatterNd's ``shape`` is read on the host (a
plan-time constant, else a small copy back per run, as TF keeps it in host
memory); duplicate coordinates add up with atomics (float32, float64, int32:
the types CUDA adds atomically in numba-cuda on every card we target).
"""
import numpy as np

from nbflow.backends.cuda.array_gather import _host_int, _kind_ok, _Outputs, zero_filler
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import gather_nd as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import array_gather_ops as G
from nbflow.ops.array_common import _fmt, _prod

#: element types CUDA adds atomically (scatters that may meet duplicates)
ATOMIC_TYPES = (np.float32, np.float64, np.int32)


def atomic_ok(op, i):
    """Input ``i`` has a type the atomic scatters add."""
    try:
        return np.dtype(op.inputs[i].dtype.as_numpy_dtype) in ATOMIC_TYPES
    except (AttributeError, TypeError):
        return False


class DimsCache:
    """Small int64 device arrays of dims, made once per distinct tuple."""

    def __init__(self, device):
        self.device, self.arrays = device, {}

    def get(self, dims):
        dims = tuple(int(d) for d in dims)
        a = self.arrays.get(dims)
        if a is None:  # an empty tuple still needs one element to be a device array
            a = self.arrays[dims] = self.device.from_host(np.array(dims or (1,), dtype=np.int64))
        return a


@register_kernel(G.GatherNd, device="GPU", accepts=lambda op: _kind_ok(op, 0) and _kind_ok(op, 1, "iu"))
def gather_nd_kernel(ctx):
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    dims_cache = DimsCache(ctx.device)

    def run(params, indices):
        p, i = tuple(params.shape), tuple(indices.shape)
        if not i:
            raise fail("indices must be at least a vector")
        depth = i[-1]
        if depth > len(p):
            raise fail("indices.shape[-1] must be <= params.rank, but saw indices shape: %s and params shape: %s"
                       % (_fmt(i), _fmt(p)))
        inner = _prod(p[depth:])
        out = outs.get(i[:-1] + p[depth:])
        total = int(out.size)
        if total:
            if not params.size:
                raise fail("Requested more than 0 entries, but params is empty.  Params shape: %s" % _fmt(p))
            blocks, threads = grid_1d(total)
            K.gather_nd[blocks, threads](flat(params), flat(indices), dims_cache.get(p[:depth]), flat(out), depth,
                                         inner, total)
        return out
    return run


@register_kernel(G.ScatterNd, device="GPU", accepts=lambda op: atomic_ok(op, 1) and _kind_ok(op, 0, "iu"))
def scatter_nd_kernel(ctx):
    fail = ctx.run_error_factory()
    outs = _Outputs(ctx)
    zero = zero_filler(ctx.out_np_dtype(0))
    dims_cache = DimsCache(ctx.device)
    known_shape = ctx.value(2)

    def run(indices, updates, shape):
        dims = tuple(int(d) for d in np.asarray(_host_int(known_shape, shape)).reshape(-1))
        i = tuple(indices.shape)
        if not i:
            raise fail("indices must be at least a vector")
        depth = i[-1]
        if depth > len(dims) or tuple(updates.shape) != i[:-1] + dims[depth:]:
            raise fail("updates has shape %s, but indices %s into shape %s need %s"
                       % (_fmt(updates.shape), _fmt(i), _fmt(dims), _fmt(i[:-1] + dims[depth:])))
        out = outs.get(dims)
        zero(out)
        total = int(updates.size)
        if total and out.size:
            blocks, threads = grid_1d(total)
            K.scatter_nd[blocks, threads](flat(updates), flat(indices), dims_cache.get(dims[:depth]), flat(out),
                                          depth, _prod(dims[depth:]), total)
        return out
    return run
