"""CPU kernels of the MPI ops (nbflow/ops/mpi_ops.py), on mpi4py's buffer calls.

mpi4py is imported when a kernel is bound (never at import: it is optional).
Buffers are C-contiguous numpy arrays handed to ``Allreduce``/``Bcast``
directly (no pickling). In a plan the flat buffer of a bucket is allocated
once; a step copies the inputs into it (scaled by 1/size when averaging) and
runs in-place Allreduces (or Bcasts) -- one per chunk of at most
``MESSAGE_BYTES``, each chunk packed just before it goes -- and returns views
of it: no allocation in steady state. Eagerly (``fresh_outputs``) each call gets a new flat buffer.
"""
import os

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


#: The largest MPI message: a bucket's flat buffer goes out in chunks of at most this many
#: bytes, each packed just before it is sent (while it is still in cache). With mpich 5.0.2
#: on one machine, 10M float32 took 46 ms as one Allreduce and 16 ms as two of 5M
#: (docs/DISTRIBUTED.md). ``NBFLOW_MPI_MESSAGE_BYTES`` overrides it (read when a kernel binds).
MESSAGE_BYTES = 16 << 20


def _message_elements(itemsize):
    nbytes = int(os.environ.get("NBFLOW_MPI_MESSAGE_BYTES", MESSAGE_BYTES))
    return max(1, nbytes // itemsize)


def _copy(dest, a):
    np.copyto(dest, a)


def _chunks(offsets, total, step):
    """Per chunk of the flat buffer ``[lo, hi)``: (lo, hi, [(input, start, stop, at), ...]),
    the pieces of the inputs (flat ``[start, stop)``) that land in it at ``at``."""
    out = []
    for lo in range(0, max(total, 1), step):
        hi = min(lo + step, total)
        pieces = []
        for i in range(len(offsets) - 1):
            a, b = max(offsets[i], lo), min(offsets[i + 1], hi)
            if a < b:
                pieces.append((i, a - offsets[i], b - offsets[i], a))
        out.append((lo, hi, pieces))
    return out


def _bind(ctx, collective, pack=_copy, direct=None):
    """The kernel: per chunk of a flat buffer, ``pack(dest, src)`` the pieces of the inputs
    that land in it, then ``collective(chunk)`` in place; return views of the buffer.
    ``direct(src, dest)``: the whole collective of a single input's chunk, reading it where
    it is (no packing pass)."""
    npd = ctx.out_np_dtype(0)
    n = len(ctx.input_shapes)
    single = n == 1
    step = _message_elements(np.dtype(npd).itemsize)
    layout = _layout(ctx)
    if layout is not None and not ctx.fresh_outputs:
        shapes, offsets, total = layout
        flat = np.empty(total, dtype=npd)
        outs = _views(flat, shapes, offsets)
        result = outs[0] if single else outs
        plan = [(flat[lo:hi], [(i, start, stop, flat[at:at + stop - start]) for i, start, stop, at in pieces])
                for lo, hi, pieces in _chunks(offsets, total, step)]
        if single and direct is not None:
            spans = [(pieces[0][1], pieces[0][2], chunk) for chunk, pieces in plan if pieces]

            def run_direct(a):
                src = a.reshape(-1)
                for start, stop, chunk in spans:
                    direct(src[start:stop], chunk)
                return result
            return run_direct

        def run(*args):
            srcs = [a.reshape(-1) for a in args]
            for chunk, pieces in plan:
                for i, start, stop, dest in pieces:
                    pack(dest, srcs[i][start:stop])
                collective(chunk)
            return result
        return run

    def run_dynamic(*args):
        shapes = [a.shape for a in args]
        offsets = np.concatenate([[0], np.cumsum([a.size for a in args])]).astype(np.int64).tolist()
        flat = np.empty(offsets[-1], dtype=npd)
        for i, a in enumerate(args):
            pack(flat[offsets[i]:offsets[i + 1]], a.reshape(-1))
        for lo in range(0, offsets[-1], step):
            collective(flat[lo:lo + step])
        outs = _views(flat, shapes, offsets)
        return outs[0] if single else outs
    return run_dynamic


def _reduction(ctx):
    """(communicator, pack): ``pack(dest, src)`` copies, or scales by 1/size when averaging
    (an error for a non-floating dtype)."""
    comm = mpi_comm.group_communicator(ctx.attrs.get("group"))
    npd = np.dtype(ctx.out_np_dtype(0))
    average = bool(ctx.attrs.get("average", True))
    if average and npd.kind != "f":
        raise ctx.run_error("%s: average=True needs a floating dtype, got %s"
                            % (ctx.op_def.type, ctx.output_dtypes[0].name))
    if not average or comm.Get_size() == 1:
        return comm, _copy
    scale, multiply = npd.type(1.0 / comm.Get_size()), np.multiply

    def pack(dest, src):
        multiply(src, scale, out=dest)
    return comm, pack


@register_kernel(M.MpiAllreduce, M.MpiAllreduceBucket)
def _allreduce(ctx):
    """Averaging scales each input by 1/size while packing it (one pass over the data, where
    a scale after the sum would be a second one; exact for power-of-two sizes) then sums in
    place; a single input summed goes straight from its array into the output buffer."""
    MPI = mpi_comm.mpi()
    comm, pack = _reduction(ctx)
    in_place, op_sum = MPI.IN_PLACE, MPI.SUM
    allreduce = comm.Allreduce
    if comm.Get_size() == 1:
        return _bind(ctx, lambda flat: None)

    def collective(chunk):
        allreduce(in_place, chunk, op_sum)
    if pack is not _copy:
        return _bind(ctx, collective, pack)

    def direct(src, dest):
        allreduce(src, dest, op_sum)
    return _bind(ctx, collective, direct=direct)


# -- the overlapped bucket: MpiAllreduceStart posts, MpiAllreduceWait completes --------------

#: id of a started bucket's flat buffer -> its requests in flight (the wait finds them through
#: the views it receives; the flat buffer lives as long as they do, so the id is unique).
_in_flight = {}


def _flat_of(view):
    return id(view.base if view.base is not None else view)


@register_kernel(M.MpiAllreduceStart)
def _allreduce_start(ctx):
    """Packs (scaled by 1/size when averaging, as ``_allreduce``: the same bits) and posts
    one in-place ``Iallreduce`` per message; never reads from the inputs after returning
    (the memory planner may reuse them at once)."""
    MPI = mpi_comm.mpi()
    comm, pack = _reduction(ctx)
    requests = []
    if comm.Get_size() == 1:
        run = _bind(ctx, lambda flat: None)
    else:
        in_place, op_sum, iallreduce = MPI.IN_PLACE, MPI.SUM, comm.Iallreduce

        def post(chunk):
            requests.append(iallreduce(in_place, chunk, op_sum))
        run = _bind(ctx, post, pack)
    single = len(ctx.input_shapes) == 1

    def start(*args):
        out = run(*args)
        _in_flight[_flat_of(out if single else out[0])] = requests[:]
        del requests[:]
        return out
    return start


@register_kernel(M.MpiAllreduceWait)
def _allreduce_wait(ctx):
    MPI = mpi_comm.mpi()
    waitall = MPI.Request.Waitall
    single = len(ctx.input_shapes) == 1

    def wait(*args):
        requests = _in_flight.pop(_flat_of(args[0]), None)
        if requests is None:
            raise ctx.run_error("MpiAllreduceWait: its inputs are not the outputs of an "
                                "MpiAllreduceStart run before it")
        if requests:
            waitall(requests)
        return args[0] if single else args
    return wait


@register_kernel(M.MpiBroadcast)
def _broadcast(ctx):
    comm = mpi_comm.group_communicator(ctx.attrs.get("group"))
    root = int(ctx.attrs.get("root", 0))
    if not 0 <= root < comm.Get_size():
        raise ctx.run_error("MpiBroadcast: root %d is not a rank of a communicator of size %d"
                            % (root, comm.Get_size()))
    bcast = comm.Bcast

    def collective(chunk):
        bcast(chunk, root)
    return _bind(ctx, collective)


# -- parameter-server segments (compiler/remote.py; the server: runtime/ps_server.py) --------

_registered = {}  # (rank, segment bytes) -> the segment's id on that ps


def _ps_request(comm, rank, header, arrays=(), buffers=None):
    """One request and its reply, under the channel's lock (one exchange at a time per
    process, so replies cannot cross between threads)."""
    with mpi_comm.ps_lock:
        comm.send(header, dest=rank, tag=mpi_comm.TAG_REQUEST)
        mpi_comm.send_arrays(comm, rank, mpi_comm.TAG_DATA, arrays)
        mpi_comm.wait_for_message(comm, rank, mpi_comm.TAG_REPLY)
        reply = comm.recv(source=rank, tag=mpi_comm.TAG_REPLY)
        if reply[0] == "error":
            raise mpi_comm.remote_error(reply, header)
        if reply[0] == "values":
            return mpi_comm.recv_arrays(comm, rank, mpi_comm.TAG_REPLY_DATA, reply[1], buffers)
        return reply[1]


@register_kernel(M.PsSegment)
def _ps_segment(ctx):
    """Each run: the inputs to the ps task, its outputs back into buffers allocated once."""
    comm = mpi_comm.ps_channel()
    rank, segment = int(ctx.attrs["rank"]), ctx.attrs["segment"]
    key = (rank, segment)
    if key not in _registered:
        _registered[key] = _ps_request(comm, rank, ("register", None, segment))
    seg_id = _registered[key]
    n_out = len(ctx.output_shapes)
    buffers = [np.empty(s.as_tuple(), dtype=ctx.out_np_dtype(i))
               if s.is_fully_defined() and not ctx.fresh_outputs and np.dtype(ctx.out_np_dtype(i)).kind in "biufc"
               else None for i, s in enumerate(ctx.output_shapes)]
    describe = mpi_comm.describe_arrays

    def run(*inputs):
        outs = _ps_request(comm, rank, ("run", seg_id, describe(inputs)), inputs, buffers)
        if n_out == 1:
            return outs[0]
        return tuple(outs) if n_out else None
    return run
