"""tf.train.SyncReplicasOptimizer: synchronous updates in the ps mode (docs/DISTRIBUTED.md).

TF aggregates ``replicas_to_aggregate`` gradients per variable in accumulators on
the ps and hands out tokens through a queue. nbflow's ps serves one request at a
time, so a blocking token queue there would stall every worker; instead the
worker tasks synchronize among themselves over MPI (the "job" communicator that
tf.train.Server makes): each step every worker's gradients are averaged by one
fused Allreduce per dtype, the chief (worker 0) applies the average on the ps
tasks with the wrapped optimizer, and a broadcast from the chief, issued once
its update is done, releases the others. So each step aggregates exactly one
gradient from each worker: ``replicas_to_aggregate`` and ``total_num_replicas``
must equal the number of worker tasks (backup workers -- dropping the slowest
gradients -- are not supported and raise NotImplementedError).
"""
from nbflow.framework.graph import control_dependencies
from nbflow.ops import mpi_ops
from nbflow.ops.constant_op import constant
from nbflow.ops.control_flow_ops import group
from nbflow.runtime import cluster_target
from nbflow.train.monitored_session import SessionRunHook
from nbflow.train.optimizers import Optimizer

__all__ = ["SyncReplicasOptimizer"]

_DOCS = "docs/DISTRIBUTED.md"


def _my_job():
    """(number of tasks of this process's job, this task's position in it); (1, 0) without a Server."""
    task = cluster_target.local_task()
    if task is None:
        return 1, 0
    indices = sorted(i for (job, i) in task.ranks if job == task.job)
    return len(indices), indices.index(task.index)


class SyncReplicasOptimizer(Optimizer):
    """``SyncReplicasOptimizer(opt, replicas_to_aggregate, total_num_replicas=None, ...)``."""

    def __init__(self, opt, replicas_to_aggregate, total_num_replicas=None, variable_averages=None,
                 variables_to_average=None, use_locking=False, name="sync_replicas"):
        super().__init__(use_locking, name)
        if variable_averages is not None or variables_to_average is not None:
            raise NotImplementedError("SyncReplicasOptimizer: variable_averages are not implemented in nbflow")
        if total_num_replicas is None:
            total_num_replicas = replicas_to_aggregate
        self._opt = opt
        self._replicas_to_aggregate = int(replicas_to_aggregate)
        self._total_num_replicas = int(total_num_replicas)
        self._is_chief = None

    def compute_gradients(self, *args, **kwargs):
        return self._opt.compute_gradients(*args, **kwargs)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Average the gradients over the workers, apply them on the chief, release the others."""
        return self._apply_gradients(grads_and_vars, global_step, name)

    def _apply_gradients(self, grads_and_vars, global_step, name, gate=()):
        # ``gate``: what the updates wait for (minimize passes the loss: fetched with the train op,
        # it is the value before the update)
        grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
        if not grads_and_vars:
            raise ValueError("Must supply at least one variable")
        if global_step is None:
            raise ValueError("Global step is required to check staleness")
        workers, position = _my_job()
        if not self._replicas_to_aggregate == self._total_num_replicas == workers:
            raise NotImplementedError(
                "SyncReplicasOptimizer(replicas_to_aggregate=%d, total_num_replicas=%d): nbflow averages exactly one "
                "gradient from each of the %d task(s) of this job each step, so both must be %d (backup workers "
                "are not supported; %s)" % (self._replicas_to_aggregate, self._total_num_replicas, workers,
                                           workers, _DOCS))
        self._is_chief = position == 0
        averaged, previous = {}, None
        by_dtype = {}
        for g, v in grads_and_vars:
            by_dtype.setdefault(g.dtype, []).append((g, v))
        for pairs in by_dtype.values():  # one fused Allreduce per dtype, in one order on every worker
            with control_dependencies([previous] if previous is not None else []):
                outs = mpi_ops.allreduce_bucket([g for g, _ in pairs], average=True, group="job") if workers > 1 \
                    else [g for g, _ in pairs]
            previous = outs[-1].op if workers > 1 else previous
            averaged.update({id(v): a for (_, v), a in zip(pairs, outs)})
        avg_grads_and_vars = [(averaged[id(v)], v) for _, v in grads_and_vars]
        # every worker builds the update (same graph, same slots); only the chief's train op runs it
        update = self._opt._apply_gradients(avg_grads_and_vars, global_step, name, gate=gate)
        if workers == 1:
            return update
        released_after = [update] if self._is_chief else [a.op for a, _ in avg_grads_and_vars]
        with control_dependencies(released_after):
            token = mpi_ops.broadcast([constant(0)], root=0, group="job", name="sync_token")
        return group(*[t.op for t in token], name=name or self._name)

    def make_session_run_hook(self, is_chief, num_tokens=-1):
        """The hook of a MonitoredTrainingSession: it checks ``is_chief`` against the task this
        optimizer found itself on (the MPI collectives need no queue runner or tokens)."""
        return _SyncReplicasHook(self, is_chief)

    def get_chief_queue_runner(self):
        raise NotImplementedError("SyncReplicasOptimizer.get_chief_queue_runner: nbflow synchronizes the workers "
                                  "with MPI collectives, no queue runner; use make_session_run_hook (%s)" % _DOCS)

    def get_init_tokens_op(self, num_tokens=-1):
        raise NotImplementedError("SyncReplicasOptimizer.get_init_tokens_op: nbflow has no token queue; use "
                                  "make_session_run_hook (%s)" % _DOCS)

    def get_slot(self, *args, **kwargs):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._opt.get_slot_names(*args, **kwargs)

    def variables(self):
        return self._opt.variables()


class _SyncReplicasHook(SessionRunHook):
    def __init__(self, opt, is_chief):
        self._opt, self._is_chief = opt, bool(is_chief)

    def begin(self):
        if self._opt._is_chief is None:
            raise ValueError("SyncReplicasOptimizer.apply_gradients should be called before using the hook")
        if self._opt._is_chief != self._is_chief:
            raise ValueError("make_session_run_hook(is_chief=%s) on a task that is %s the chief (worker 0 is)"
                             % (self._is_chief, "" if self._opt._is_chief else "not"))
