"""tf.train.ClusterSpec and tf.train.Server on MPI ranks (docs/DISTRIBUTED.md).

A cluster's tasks are MPI ranks of one ``mpiexec`` job; the host:port strings of
a ClusterSpec are kept (TF compatibility, printed, ``server.target``) but never
dialled: MPI connects the ranks. The task -> rank mapping is explicit:

    jobs in ``job_order`` (default: sorted by name, so "ps" before "worker"),
    within a job its tasks by increasing index; ranks 0, 1, 2, ... in that order.

So ``{"ps": [a, b], "worker": [c, d]}`` is ps:0 = rank 0, ps:1 = rank 1,
worker:0 = rank 2, worker:1 = rank 3, launched by ``mpiexec -n 4``.
``task_for_rank(cluster)`` gives this process's (job_name, task_index), so one
script serves every rank.
"""
import atexit

from nbflow.framework import errors
from nbflow.runtime import cluster_target

__all__ = ["ClusterSpec", "Server", "task_for_rank"]

#: the job whose tasks hold variables and serve the other tasks (server.join()); TF's convention
PS_JOB = cluster_target.PS_JOB


class ClusterSpec:
    """``tf.train.ClusterSpec``: job name -> list of "host:port" (or {task index: address}).

    nbflow extension: ``job_order`` (a list of every job name) sets the order of the jobs
    in the task -> rank mapping (default: sorted names)."""

    def __init__(self, cluster, job_order=None):
        if isinstance(cluster, ClusterSpec):
            jobs = {j: dict(t) for j, t in cluster._jobs.items()}
            job_order = job_order if job_order is not None else cluster._job_order
        elif isinstance(cluster, dict):
            jobs = {}
            for job, tasks in cluster.items():
                if not isinstance(job, str):
                    raise TypeError("Job name %r must be a string" % (job,))
                if isinstance(tasks, dict):
                    for i in tasks:
                        if not isinstance(i, int) or i < 0:
                            raise TypeError("Task index %r of job %r must be a non-negative integer" % (i, job))
                    jobs[job] = {int(i): _address(a) for i, a in tasks.items()}
                elif isinstance(tasks, (list, tuple)):
                    jobs[job] = {i: _address(a) for i, a in enumerate(tasks)}
                else:
                    raise TypeError("The tasks for job %r must be a list or a dictionary from integers "
                                    "to strings." % job)
        else:
            raise TypeError("`cluster` must be a dictionary mapping one or more job names to lists of network "
                            "addresses, or a `ClusterSpec`; got %r (a ClusterDef protobuf is not supported)"
                            % type(cluster).__name__)
        self._jobs = jobs
        if job_order is None:
            job_order = sorted(jobs)
        job_order = list(job_order)
        if sorted(job_order) != sorted(jobs):
            raise ValueError("job_order %r must list every job of the cluster once: %r" % (job_order, sorted(jobs)))
        self._job_order = job_order
        self._ranks = {}
        for job in job_order:
            for i in sorted(jobs[job]):
                self._ranks[(job, i)] = len(self._ranks)
        self._tasks = {r: t for t, r in self._ranks.items()}

    # -- TF's API ------------------------------------------------------------
    @property
    def jobs(self):
        """The job names, sorted."""
        return sorted(self._jobs)

    def num_tasks(self, job_name):
        return len(self._job(job_name))

    def task_indices(self, job_name):
        return sorted(self._job(job_name))

    def task_address(self, job_name, task_index):
        tasks = self._job(job_name)
        if task_index not in tasks:
            raise ValueError("No task with index %r in job %r" % (task_index, job_name))
        return tasks[task_index]

    def job_tasks(self, job_name):
        """The addresses of the job's tasks by index (None where a sparse job has no task)."""
        tasks = self._job(job_name)
        return [tasks.get(i) for i in range(max(tasks) + 1)] if tasks else []

    def as_dict(self):
        """job -> list of addresses (a dict {index: address} for a job with gaps), as TF."""
        out = {}
        for job, tasks in self._jobs.items():
            dense = sorted(tasks) == list(range(len(tasks)))
            out[job] = [tasks[i] for i in sorted(tasks)] if dense else dict(tasks)
        return out

    def as_cluster_def(self):
        raise NotImplementedError("ClusterSpec.as_cluster_def: nbflow has no ClusterDef protobuf; "
                                  "use as_dict() (docs/DISTRIBUTED.md)")

    def __bool__(self):
        return bool(self._jobs)

    def __eq__(self, other):
        return isinstance(other, ClusterSpec) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "ClusterSpec(%r)" % self.as_dict()

    # -- the task -> rank mapping (nbflow) ----------------------------------
    @property
    def num_ranks(self):
        """The number of MPI ranks the cluster needs: every task of every job."""
        return len(self._ranks)

    def rank_of(self, job_name, task_index):
        """The MPI rank of task ``task_index`` of ``job_name``."""
        self.task_address(job_name, task_index)
        return self._ranks[(job_name, task_index)]

    def task_of_rank(self, rank):
        """(job_name, task_index) of MPI rank ``rank``."""
        if rank not in self._tasks:
            raise ValueError("rank %r is not a task of this cluster (%d tasks: ranks 0..%d)"
                             % (rank, self.num_ranks, self.num_ranks - 1))
        return self._tasks[rank]

    def _job(self, job_name):
        if job_name not in self._jobs:
            raise ValueError("No such job in cluster: %r" % (job_name,))
        return self._jobs[job_name]


def _address(a):
    if not isinstance(a, str):
        raise TypeError("Task address %r must be bytes or unicode" % (a,))
    return a


def _as_cluster(cluster):
    return cluster if isinstance(cluster, ClusterSpec) else ClusterSpec(cluster)


def _mpi_world():
    from nbflow.backends import mpi_comm
    return mpi_comm.mpi().COMM_WORLD


def task_for_rank(cluster, rank=None):
    """This process's ``(job_name, task_index)`` in ``cluster`` from its MPI rank (or ``rank``),
    checking that ``mpiexec -n`` started as many ranks as the cluster has tasks."""
    cluster = _as_cluster(cluster)
    if rank is None:
        comm = _mpi_world()
        _check_size(cluster, comm.Get_size())
        rank = comm.Get_rank()
    return cluster.task_of_rank(rank)


def _check_size(cluster, size):
    if size != cluster.num_ranks:
        raise ValueError(
            "the cluster has %d tasks (%s) but this MPI job has %d rank(s): launch it with `mpiexec -n %d "
            "python -m mpi4py prog.py` (docs/DISTRIBUTED.md)"
            % (cluster.num_ranks, ", ".join("%s: %d" % (j, cluster.num_tasks(j)) for j in cluster._job_order),
               size, cluster.num_ranks))


class Server:
    """``tf.train.Server(server_or_cluster_def, job_name=None, task_index=None, protocol=None,
    config=None, start=True)``: this MPI rank as one task of the cluster.

    Every rank of the job must create its Server (it duplicates the MPI communicator,
    collectively). ``target`` is ``"grpc://<this task's address>"``, accepted by
    ``tf.Session(target)``; ``join()`` on a ps task serves the workers' requests until every
    worker process has exited (docs/DISTRIBUTED.md)."""

    def __init__(self, server_or_cluster_def, job_name=None, task_index=None, protocol=None, config=None,
                 start=True):
        cluster = _as_cluster(server_or_cluster_def)
        if not cluster:
            raise ValueError("Server: the cluster has no jobs")
        if job_name is None:
            if len(cluster.jobs) != 1:
                raise ValueError("Server: job_name must be given for a cluster of several jobs %r" % cluster.jobs)
            job_name = cluster.jobs[0]
        if job_name not in cluster.jobs:
            raise ValueError("Server: job_name %r is not a job of the cluster %r" % (job_name, cluster.jobs))
        if task_index is None:
            if cluster.num_tasks(job_name) != 1:
                raise ValueError("Server: task_index must be given: job %r has %d tasks"
                                 % (job_name, cluster.num_tasks(job_name)))
            task_index = cluster.task_indices(job_name)[0]
        cluster.task_address(job_name, task_index)
        if protocol not in (None, "grpc", "mpi"):
            raise ValueError("Server: protocol %r is not supported: nbflow's tasks talk over MPI (None, 'grpc' "
                             "and 'mpi' are accepted)" % (protocol,))
        comm = _mpi_world()
        _check_size(cluster, comm.Get_size())
        rank = comm.Get_rank()
        expected = cluster.rank_of(job_name, task_index)
        if rank != expected:
            mine = cluster.task_of_rank(rank)
            raise ValueError(
                "Server(job_name=%r, task_index=%d) on MPI rank %d: the cluster maps rank %d to /job:%s/task:%d "
                "and /job:%s/task:%d to rank %d (jobs in order %r, tasks by index); derive them with "
                "tf.train.task_for_rank(cluster)" % (job_name, task_index, rank, rank, mine[0], mine[1], job_name,
                                                     task_index, expected, cluster._job_order))
        self._cluster, self._job_name, self._task_index = cluster, job_name, task_index
        self._config = config
        self._address = cluster.task_address(job_name, task_index)
        self._joined = False
        channel = comm.Dup()  # collective: every rank creates its Server
        job_comm = comm.Split(cluster._job_order.index(job_name), rank)  # the ranks of my job, by task index
        cluster_target.register_local_task(cluster_target.LocalTask(
            job_name, task_index, self._address, dict(cluster._ranks),
            {(j, i): a for j, tasks in cluster._jobs.items() for i, a in tasks.items()}, channel), job_comm)
        if job_name == PS_JOB:
            atexit.register(self._serve_if_not_joined)
        else:
            atexit.register(cluster_target.say_done)

    @property
    def target(self):
        return "grpc://" + self._address

    @property
    def server_def(self):
        raise NotImplementedError("Server.server_def: nbflow has no ServerDef protobuf (docs/DISTRIBUTED.md)")

    def start(self):
        """The MPI job is already running: nothing to start."""

    def join(self):
        """On a ps task: serve the workers until every one of them has exited. On another
        task: a clear error (only ps tasks serve; TF's worker join() would block forever)."""
        if self._job_name != PS_JOB:
            raise errors.UnimplementedError(
                None, None, "Server.join() on /job:%s/task:%d: in nbflow only the tasks of job %r serve requests; "
                "a %s task runs its training loop in a tf.Session(server.target)"
                % (self._job_name, self._task_index, PS_JOB, self._job_name))
        self._joined = True
        from nbflow.runtime import ps_server
        ps_server.serve(cluster_target.local_task())

    def _serve_if_not_joined(self):
        # A ps that ends without join() would leave its workers waiting for replies forever.
        if not self._joined:
            import sys
            sys.stderr.write("nbflow: /job:ps/task:%d reached the end of the program without server.join(); "
                             "serving the workers until they exit\n" % self._task_index)
            self.join()

    @staticmethod
    def create_local_server(config=None, start=True):
        raise NotImplementedError("Server.create_local_server: nbflow's servers are MPI ranks; a local "
                                  "Session needs no server (docs/DISTRIBUTED.md)")
