"""tf.train.replica_device_setter: variables on the ps tasks, everything else on the worker.

Returned as a device function for ``tf.device(...)``: an op whose type is one of
``ps_ops`` (the variable ops) gets ``ps_device`` with the task chosen by
``ps_strategy`` (round-robin by default; ``GreedyLoadBalancingStrategy`` puts
each variable on the least loaded task, by bytes with ``byte_size_load_fn``);
any other op gets ``worker_device``. Fields already set on the op by inner
scopes win (``merge_devices``), as in TF. Slots of an optimizer go where their
variable is (nbflow/train/optimizers.py colocates them).
"""
from nbflow.framework.device import DeviceSpec
from nbflow.train.cluster import ClusterSpec

__all__ = ["replica_device_setter", "GreedyLoadBalancingStrategy", "byte_size_load_fn"]

#: the op types placed on the ps by default (TF's STANDARD_PS_OPS)
STANDARD_PS_OPS = ("Variable", "VariableV2", "AutoReloadVariable", "MutableHashTable", "MutableHashTableV2",
                   "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
                   "MutableDenseHashTableV2", "VarHandleOp", "BoostedTreesEnsembleResourceHandleOp",
                   "BoostedTreesQuantileStreamResourceHandleOp", "ResourceConditionalAccumulator",
                   "DecisionTreeResource")


class _RoundRobinStrategy:
    """Task 0, 1, ..., num_tasks - 1, 0, ... in the order the ps ops are created."""

    def __init__(self, num_tasks):
        self._num_tasks = num_tasks
        self._next_task = 0

    def __call__(self, unused_op):
        task = self._next_task
        self._next_task = (self._next_task + 1) % self._num_tasks
        return task


def byte_size_load_fn(op):
    """The bytes of ``op``'s first output (a variable's size); 0 when its shape is unknown."""
    if not op.outputs:
        return 0
    shape = op.outputs[0].shape
    if not shape.is_fully_defined():
        return 0
    n = 1
    for d in shape.as_list():
        n *= d
    dtype = op.outputs[0].dtype
    return n * getattr(dtype.base_dtype if hasattr(dtype, "base_dtype") else dtype, "size", 4)


class GreedyLoadBalancingStrategy:
    """``tf.contrib.training.GreedyLoadBalancingStrategy(num_tasks, load_fn)``: each op to the
    ps task with the least load so far (ties: the lowest index), adding ``load_fn(op)``."""

    def __init__(self, num_tasks, load_fn=None):
        if num_tasks < 1:
            raise ValueError("GreedyLoadBalancingStrategy: num_tasks must be >= 1, got %r" % (num_tasks,))
        self._num_tasks = num_tasks
        self._load_fn = load_fn if load_fn is not None else byte_size_load_fn
        self._ps_loads = [0] * num_tasks

    def __call__(self, op):
        task = min(range(self._num_tasks), key=lambda i: (self._ps_loads[i], i))
        self._ps_loads[task] += self._load_fn(op)
        return task


class _ReplicaDeviceChooser:
    def __init__(self, ps_tasks, ps_device, worker_device, merge_devices, ps_ops, ps_strategy):
        self._ps_tasks, self._ps_device, self._worker_device = ps_tasks, ps_device, worker_device
        self._merge_devices, self._ps_ops, self._ps_strategy = merge_devices, set(ps_ops), ps_strategy

    def device_function(self, op):
        if not self._merge_devices and op.device:
            return op.device
        current = DeviceSpec.from_string(op.device or "")
        if self._ps_tasks and self._ps_device and op.type in self._ps_ops:
            ps = DeviceSpec.from_string(self._ps_device)
            if ps.job and (not current.job or current.job == ps.job):
                ps.task = int(self._ps_strategy(op))
            return ps.make_merged_spec(current).to_string()
        worker = DeviceSpec.from_string(self._worker_device or "")
        return worker.make_merged_spec(current).to_string()


def replica_device_setter(ps_tasks=0, ps_device="/job:ps", worker_device="/job:worker", merge_devices=True,
                          cluster=None, ps_ops=None, ps_strategy=None):
    """A device function for ``tf.device``: ``ps_ops`` on the ps tasks (``ps_strategy``,
    round-robin by default), the rest on ``worker_device``. With ``cluster``, ``ps_tasks`` is
    the number of tasks of ``ps_device``'s job. Returns None when there are no ps tasks
    (``tf.device(None)`` then places nothing), as TF."""
    if cluster is not None:
        spec = cluster if isinstance(cluster, ClusterSpec) else ClusterSpec(cluster)
        ps_job = DeviceSpec.from_string(ps_device).job
        if ps_job not in spec.jobs:
            return None
        ps_tasks = spec.num_tasks(ps_job)
    if not ps_tasks:
        return None
    if ps_ops is None:
        ps_ops = list(STANDARD_PS_OPS)
    if ps_strategy is None:
        ps_strategy = _RoundRobinStrategy(ps_tasks)
    if not callable(ps_strategy):
        raise TypeError("ps_strategy must be callable")
    return _ReplicaDeviceChooser(ps_tasks, ps_device, worker_device, merge_devices, ps_ops,
                                 ps_strategy).device_function
