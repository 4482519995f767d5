"""CPU kernels of the MPI ops (nbflow/ops/mpi_ops.py), on mpi4py's buffer calls.

mpi4py is imported when a kernel is bound (never at import: it is optional).
Buffers are C-contiguous numpy arrays handed to ``Allreduce``/``Bcast``
directly (no pickling). In a plan the flat buffer of a bucket is allocated
once; a step copies the inputs into it, runs one in-place Allreduce (or
Bcast), scales it when averaging and returns views of it: no allocation in
steady state. Eagerly (``fresh_outputs``) each call gets a new flat buffer.
"""
import numpy as np

from nbflow.backends import mpi_comm
from nbflow.backends.registry import register_kernel
from nbflow.ops import mpi_ops as M


def _layout(ctx):
    """(shapes, offsets, total) of the inputs packed in one flat buffer, or None
    when a shape is known only at run time."""
    if not all(s.is_fully_defined() for s in ctx.input_shapes):
        return None
    shapes = [s.as_tuple() for s in ctx.input_shapes]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
    return shapes, offsets, offsets[-1]


def _views(flat, shapes, offsets):
    return tuple(flat[offsets[i]:offsets[i + 1]].reshape(s) for i, s in enumerate(shapes))


def _bind(ctx, collective):
    """The kernel: pack the inputs into a flat buffer, ``collective(flat)`` in place, return views."""
    npd = ctx.out_np_dtype(0)
    n = len(ctx.input_shapes)
    single = n == 1
    layout = _layout(ctx)
    if layout is not None and not ctx.fresh_outputs:
        shapes, offsets, total = layout
        flat = np.empty(total, dtype=npd)
        dests = [flat[offsets[i]:offsets[i + 1]] for i in range(n)]
        outs = _views(flat, shapes, offsets)
        result = outs[0] if single else outs
        copyto = np.copyto

        def run(*args):
            for d, a in zip(dests, args):
                copyto(d, a.reshape(-1))
            collective(flat)
            return result
        return run

    def run_dynamic(*args):
        shapes = [a.shape for a in args]
        offsets = np.concatenate([[0], np.cumsum([a.size for a in args])]).astype(np.int64).tolist()
        flat = np.empty(offsets[-1], dtype=npd)
        for i, a in enumerate(args):
            flat[offsets[i]:offsets[i + 1]] = a.reshape(-1)
        collective(flat)
        outs = _views(flat, shapes, offsets)
        return outs[0] if single else outs
    return run_dynamic


@register_kernel(M.MpiAllreduce, M.MpiAllreduceBucket)
def _allreduce(ctx):
    MPI = mpi_comm.mpi()
    comm = mpi_comm.communicator()
    size = comm.Get_size()
    in_place, op_sum = MPI.IN_PLACE, MPI.SUM
    average = bool(ctx.attrs.get("average", True))
    floating = np.dtype(ctx.out_np_dtype(0)).kind == "f"
    if average and not floating:
        raise ctx.run_error("%s: average=True needs a floating dtype, got %s"
                            % (ctx.op_def.type, ctx.output_dtypes[0].name))
    scale = np.dtype(ctx.out_np_dtype(0)).type(1.0 / size) if floating else None
    multiply = np.multiply
    allreduce = comm.Allreduce

    if size == 1:
        def collective(flat):
            pass
    elif average:
        def collective(flat):
            allreduce(in_place, flat, op_sum)
            multiply(flat, scale, out=flat)
    else:
        def collective(flat):
            allreduce(in_place, flat, op_sum)
    return _bind(ctx, collective)


@register_kernel(M.MpiBroadcast)
def _broadcast(ctx):
    comm = mpi_comm.communicator()
    root = int(ctx.attrs.get("root", 0))
    if not 0 <= root < comm.Get_size():
        raise ctx.run_error("MpiBroadcast: root %d is not a rank of a communicator of size %d"
                            % (root, comm.Get_size()))
    bcast = comm.Bcast

    def collective(flat):
        bcast(flat, root)
    return _bind(ctx, collective)
