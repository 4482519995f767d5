"""The MPI communicator the MPI kernels use (backends/cpu/mpi.py).

mpi4py is optional (``pip install nbflow[mpi]``): nothing imports it until an
MPI op is bound or ``nbflow.distribute`` asks for the rank, so nbflow imports
and runs without it. The communicator is ``MPI.COMM_WORLD`` unless
``set_communicator`` (``nbflow.distribute.set_communicator``) gave another.
"""
import os
import threading
import time

import numpy as np

_state = {"comm": None, "MPI": None}

INSTALL_HINT = ("nbflow.distribute needs mpi4py and an MPI library: pip install nbflow[mpi] "
                "(mpi4py==4.1.2 and mpich==5.0.2), then launch with "
                "`mpiexec -n N python -m mpi4py prog.py`")


def mpi():
    """The ``mpi4py.MPI`` module; ImportError naming ``pip install nbflow[mpi]`` without it."""
    if _state["MPI"] is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError("%s (%s)" % (INSTALL_HINT, e)) from e
        _state["MPI"] = MPI
    return _state["MPI"]


def communicator():
    """The communicator of the MPI ops (``MPI.COMM_WORLD`` by default)."""
    comm = _state["comm"]
    if comm is None:
        comm = _state["comm"] = mpi().COMM_WORLD
    return comm


_groups = {}


def register_group(name, comm):
    """A named communicator MPI ops can use through their ``group`` attr (tf.train.Server
    registers "job": the ranks of this task's job, e.g. the workers, for SyncReplicasOptimizer)."""
    _groups[name] = comm


def group_communicator(name):
    """The communicator of the ``group`` attr ("" or None: ``communicator()``)."""
    if not name:
        return communicator()
    if name not in _groups:
        raise RuntimeError("no MPI group %r: create tf.train.Server(cluster, job_name, task_index) on every rank "
                           "first (docs/DISTRIBUTED.md)" % name)
    return _groups[name]


def set_communicator(comm):
    """Use ``comm`` (an mpi4py ``Comm``) for MPI ops bound from now on; None: back to COMM_WORLD.
    Plans already compiled keep the communicator they were bound with."""
    _state["comm"] = comm


# -- the parameter-server channel (docs/DISTRIBUTED.md, "The message protocol") --------------
#
# tf.train.Server duplicates COMM_WORLD once, collectively, into the channel below, so the
# ps traffic never matches a user's collective or point-to-point message. A request is a
# pickled header on TAG_REQUEST (small: kinds, ids, dtypes and shapes) followed by each
# numeric array as a raw buffer on TAG_DATA (no pickling of the bulk data); a reply is the
# same on TAG_REPLY / TAG_REPLY_DATA. Messages between two ranks on one tag arrive in the
# order sent (MPI's non-overtaking rule), so no sequence numbers are needed.

TAG_REQUEST, TAG_DATA, TAG_REPLY, TAG_REPLY_DATA = 7101, 7102, 7103, 7104

_ps = {"comm": None}


def set_ps_channel(comm):
    """The communicator of the ps protocol (tf.train.Server sets it; None: unset)."""
    _ps["comm"] = comm


def ps_channel():
    comm = _ps["comm"]
    if comm is None:
        raise RuntimeError("no parameter-server channel: create tf.train.Server(cluster, job_name, task_index) "
                           "on every rank first (docs/DISTRIBUTED.md)")
    return comm


def _is_raw(a):
    return a.dtype.kind in "biufc"


def describe_arrays(arrays):
    """The header entry of ``arrays``: per array (dtype str, shape) for a raw buffer, or the
    array itself (object and string arrays travel pickled in the header)."""
    return [(a.dtype.str, a.shape) if _is_raw(a) else a for a in arrays]


def send_arrays(comm, dest, tag, arrays):
    for a in arrays:
        if _is_raw(a):
            comm.Send(_contiguous(a), dest=dest, tag=tag)


def _contiguous(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def recv_arrays(comm, source, tag, described, buffers=None):
    """The arrays a header described; ``buffers``: preallocated receive arrays (or None per
    entry) used when their dtype and shape match."""
    out = []
    for i, d in enumerate(described):
        if isinstance(d, tuple):
            dtype, shape = d
            buf = buffers[i] if buffers is not None else None
            if buf is None or buf.shape != tuple(shape) or buf.dtype.str != dtype:
                buf = np.empty(shape, dtype=np.dtype(dtype))
            comm.Recv(buf, source=source, tag=tag)
            out.append(buf)
        else:
            out.append(d)
    return out


_WAIT = os.environ.get("NBFLOW_PS_WAIT", "poll")
_CAP = float(os.environ.get("NBFLOW_PS_WAIT_CAP", "1e-4"))


def wait_for_message(comm, source, tag, status=None):
    """Wait until a message from ``source`` (ANY_SOURCE allowed) on ``tag`` can be received,
    without mpich's busy-polling: spin on Iprobe for about 50 us, then sleep between probes
    (20 us doubling up to ``NBFLOW_PS_WAIT_CAP``, 100 us by default), so a waiting rank leaves
    its core to ranks that compute; ``NBFLOW_PS_WAIT=block``: mpich's blocking (busy) probe.
    Measurements: docs/DISTRIBUTED.md, "Waiting"."""
    if _WAIT == "block":
        comm.Probe(source=source, tag=tag, status=status)
        return
    iprobe = comm.Iprobe
    spin_until = time.perf_counter() + 5e-5
    while time.perf_counter() < spin_until:
        if iprobe(source=source, tag=tag, status=status):
            return
    pause = 2e-5
    while not iprobe(source=source, tag=tag, status=status):
        time.sleep(pause)
        pause = min(pause * 2, _CAP)


#: one request/reply exchange with a ps at a time in this process
ps_lock = threading.Lock()


def remote_error(reply, header):
    """The OpError a ps reported (``("error", class name, message)``), raised on the worker."""
    from nbflow.framework import errors
    cls = getattr(errors, reply[1], None)
    if not (isinstance(cls, type) and issubclass(cls, errors.OpError)):
        cls = errors.InternalError
    return cls(None, None, reply[2])
