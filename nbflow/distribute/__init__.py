"""nbflow.distribute: synchronous data-parallel training over MPI (docs/DISTRIBUTED.md).

Every rank runs the same program on its shard of the data; the gradients are
averaged over the ranks before each update, so all ranks keep the same
weights::

    import nbflow as tf
    import nbflow.distribute as nd

    x_shard = x[nd.shard_indices(len(x))]
    opt = nd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1))
    train = opt.minimize(loss)
    sess.run(tf.global_variables_initializer())
    sess.run(nd.broadcast_variables(tf.global_variables()))  # rank 0's initial values

Launch with ``mpiexec -n N python -m mpi4py prog.py``. mpi4py is optional
(``pip install nbflow[mpi]``): this module imports without it and raises an
ImportError naming the extra when something needs MPI.
"""
import sys

import numpy as np

from nbflow.backends import mpi_comm
from nbflow.distribute.optimizer import DistributedOptimizer, allreduce_gradients
from nbflow.framework import context
from nbflow.ops import mpi_ops, state_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.control_flow_ops import group

__all__ = [
    "rank", "size", "is_chief", "communicator", "set_communicator", "allreduce", "broadcast",
    "broadcast_variables", "DistributedOptimizer", "allreduce_gradients", "shard_indices", "abort_on_exception",
]


def communicator():
    """The communicator of nbflow's MPI ops (``MPI.COMM_WORLD`` unless set)."""
    return mpi_comm.communicator()


def set_communicator(comm):
    """Use ``comm`` for the MPI ops bound from now on (None: ``MPI.COMM_WORLD``)."""
    mpi_comm.set_communicator(comm)


def rank():
    """This process's rank in the communicator (0 when launched without mpiexec)."""
    return communicator().Get_rank()


def size():
    """The number of ranks (1 when launched without mpiexec)."""
    return communicator().Get_size()


def is_chief():
    """Rank 0: the one that prints, evaluates and saves checkpoints."""
    return rank() == 0


def shard_indices(n, rank=None, size=None):
    """The indices ``0..n-1`` of this rank's shard: ``size`` contiguous blocks as even as
    possible (the first ``n % size`` one longer), as ``np.array_split``."""
    if rank is None or size is None:
        comm = communicator()
        rank = comm.Get_rank() if rank is None else rank
        size = comm.Get_size() if size is None else size
    if size < 1 or not 0 <= rank < size:
        raise ValueError("shard_indices: rank %r is not in [0, %r)" % (rank, size))
    per, extra = divmod(int(n), int(size))
    start = rank * per + min(rank, extra)
    return np.arange(start, start + per + (1 if rank < extra else 0))


def allreduce(tensor, average=True, name=None):
    """``tensor`` summed (``average``: averaged) over the ranks: an op in a graph,
    a value eagerly."""
    return mpi_ops.allreduce(tensor, average=average, name=name)


def broadcast(tensors, root=0, name=None):
    """``tensors`` (a list, one dtype) as rank ``root`` has them: one fused Bcast."""
    return mpi_ops.broadcast(tensors, root=root, name=name)


def broadcast_variables(variables, root=0, name=None):
    """Give every variable of ``variables`` rank ``root``'s value.

    In a graph: returns the op to run once the variables are initialized
    (``sess.run(broadcast_variables(tf.global_variables()))``). Eagerly: done
    at once; returns None. One fused Bcast per dtype."""
    variables = list(variables)
    by_dtype = {}
    for v in variables:
        by_dtype.setdefault(v.dtype.base_dtype if hasattr(v.dtype, "base_dtype") else v.dtype, []).append(v)
    eager = context.executing_eagerly()
    assigns = []
    for dt, vs in by_dtype.items():
        values = mpi_ops.broadcast([v.read_value() if eager else convert_to_tensor(v) for v in vs], root=root)
        for v, value in zip(vs, values):
            if eager:
                v.assign(value)
            else:
                assigns.append(state_ops.assign(v, value))
    if eager:
        return None
    return group(*assigns, name=name or "broadcast_variables")


def abort_on_exception():
    """Make an uncaught exception on any rank end the whole job (``comm.Abort``)
    instead of leaving the other ranks waiting in a collective -- what
    ``python -m mpi4py prog.py`` does; call it when launching ``python prog.py``."""
    comm = communicator()
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        sys.stderr.write("nbflow.distribute: rank %d raised %s; aborting the MPI job\n"
                         % (comm.Get_rank(), exc_type.__name__))
        sys.stderr.flush()
        comm.Abort(1)
    sys.excepthook = hook

