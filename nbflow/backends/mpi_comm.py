"""The MPI communicator the MPI kernels use (backends/cpu/mpi.py).

mpi4py is optional (``pip install nbflow[mpi]``): nothing imports it until an
MPI op is bound or ``nbflow.distribute`` asks for the rank, so nbflow imports
and runs without it. The communicator is ``MPI.COMM_WORLD`` unless
``set_communicator`` (``nbflow.distribute.set_communicator``) gave another.
"""
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


def set_communicator(comm):
    """Use ``comm`` (an mpi4py ``Comm``) for MPI ops bound from now on; None: back to COMM_WORLD.
    Plans already compiled keep the communicator they were bound with."""
    _state["comm"] = comm
