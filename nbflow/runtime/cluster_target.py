"""Which cluster task this process is, and what ``tf.Session(target)`` makes of a target.

``tf.train.Server`` registers the process's task here (nbflow/train/cluster.py). A
Session whose target names this task (``server.target``, or ``grpc://`` + its address
in the ClusterSpec) places ops on this task's devices and on the tasks of the ps job
(``/job:ps/task:k``, run by that rank: compiler/remote.py, runtime/ps_server.py). The
empty target is a local session, as in TF.
"""
import collections
import threading

from nbflow.backends import mpi_comm
from nbflow.backends.devices import RemoteTaskDevice
from nbflow.framework import errors

#: the job whose tasks hold variables and serve requests (server.join())
PS_JOB = "ps"

LocalTask = collections.namedtuple("LocalTask", "job index address ranks addresses comm")
LocalTask.__doc__ = """This process's task: ``ranks`` maps (job, task index) -> MPI rank;
``addresses`` (job, task index) -> "host:port"; ``comm`` is the ps protocol's communicator (a duplicate of COMM_WORLD)."""

_state = {"task": None, "done": False}
_lock = threading.Lock()

LAUNCH_HINT = ("create tf.train.Server(cluster, job_name, task_index) on every rank (tf.train.task_for_rank(cluster) "
               "gives them) and launch the program with `mpiexec -n <number of tasks> python -m mpi4py prog.py` "
               "(docs/DISTRIBUTED.md)")


def register_local_task(task, job_comm=None):
    """This process is ``task``; ``job_comm``: the communicator of its job's ranks (MPI ops
    with ``group="job"``, e.g. SyncReplicasOptimizer's among the workers)."""
    _state["task"] = task
    mpi_comm.set_ps_channel(task.comm)
    if job_comm is not None:
        mpi_comm.register_group("job", job_comm)


def local_task():
    return _state["task"]


def ps_ranks(task):
    """{rank: (job, index)} of the ps tasks (other than this one)."""
    return {r: t for t, r in task.ranks.items() if t[0] == PS_JOB and t != (task.job, task.index)}


def client_ranks(task):
    """The ranks a ps serves: every task not of the ps job."""
    return sorted(r for t, r in task.ranks.items() if t[0] != PS_JOB)


def apply_target(target, runtime):
    """Set up ``runtime`` (a Session's RuntimeState) for ``target``; '' is a local session."""
    if target is None or target == "":
        return
    if not isinstance(target, str):
        raise TypeError("Session target must be a string, got %r" % (target,))
    task = local_task()
    address = target[len("grpc://"):] if target.startswith("grpc://") else target
    if task is None:
        raise errors.UnavailableError(
            None, None, "Session target %r names no task of this MPI job: no tf.train.Server was created in this "
            "process. To run distributed, %s" % (target, LAUNCH_HINT))
    named = [t for t, a in task.addresses.items() if a == address]
    if (task.job, task.index) not in named:
        raise errors.UnavailableError(
            None, None, "Session target %r is not this process's task /job:%s/task:%d (%r)%s: nbflow runs a "
            "Session on its own task, between-graph replication as TF 1's examples; use server.target"
            % (target, task.job, task.index, task.address,
               "; it names /job:%s/task:%d" % named[0] if named else ", nor any task of the cluster"))
    for d in runtime.local_devices:
        d.job, d.task = task.job, task.index
    for rank, (job, index) in sorted(ps_ranks(task).items()):
        runtime.local_devices.append(RemoteTaskDevice(job, index, rank))


def say_done():
    """At the exit of a client process: tell every ps task this client is gone (its join()
    returns once every client has said so)."""
    task = local_task()
    with _lock:
        if task is None or _state["done"]:
            return
        _state["done"] = True
    for rank in sorted(ps_ranks(task)):
        task.comm.send(("done", None, None), dest=rank, tag=mpi_comm.TAG_REQUEST)
