"""DistributedOptimizer: gradients averaged over the MPI ranks before each update.

Wraps a ``tf.train`` optimizer (TF 1) or a ``tf.keras.optimizers`` one. The
gradients are grouped by dtype into buckets of at most ``bucket_bytes`` and
each bucket is reduced in one flat buffer (nbflow/backends/cpu/mpi.py); in a
graph as a start op and a wait op that overlap the backward pass, the starts
chained with control edges so every rank posts them in the same order.

The wrapper is an instance of a subclass of the wrapped optimizer's class
sharing its state (slots, hyper-parameters, iterations): ``isinstance`` holds
and ``get_slot`` works; use the wrapper, not the original, from then on.
"""
from nbflow.framework import context
from nbflow.keras.optimizers.optimizer_v2 import Optimizer as KerasOptimizer
from nbflow.ops import mpi_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.train.optimizers import Optimizer as TF1Optimizer

__all__ = ["DistributedOptimizer", "allreduce_gradients"]

#: default bucket size: 64 MiB of gradients per Allreduce.
DEFAULT_BUCKET_BYTES = 64 << 20


def allreduce_gradients(grads_and_vars, average=True, bucket_bytes=DEFAULT_BUCKET_BYTES):
    """``grads_and_vars`` with each gradient averaged (or summed) over the ranks:
    fused into buckets of one dtype and at most ``bucket_bytes`` (a gradient
    larger than that is a bucket of its own). None gradients stay None.

    In a graph the buckets are filled in reverse variable order (the backward
    pass produces the last layers' gradients first) and each is a start op and
    a wait op (``MpiAllreduceStart``/``MpiAllreduceWait``): the scheduler posts a
    bucket's reduction as soon as its gradients exist and waits for it only
    when nothing else is ready, so the rest of the backward pass runs meanwhile.
    Every element is reduced exactly as by one ``MpiAllreduceBucket``."""
    pairs = list(grads_and_vars)
    grads = [None if g is None else convert_to_tensor(g) for g, _ in pairs]
    eager = context.executing_eagerly()
    order = range(len(grads)) if eager else reversed(range(len(grads)))
    buckets, open_bucket = [], {}
    for i in order:
        g = grads[i]
        if g is None:
            continue
        nbytes = _nbytes(g)
        cur = open_bucket.get(g.dtype)
        if cur is None or (cur[1] + nbytes > bucket_bytes and cur[0]):
            cur = open_bucket[g.dtype] = [[], 0]
            buckets.append(cur)
        cur[0].append(i)
        cur[1] += nbytes
    out = list(grads)
    prev = None
    for idx, _ in buckets:
        inputs = [grads[i] for i in idx]
        if eager:
            reduced = mpi_ops.allreduce_bucket(inputs, average=average)
        else:
            # the starts are chained: every rank posts its collectives in one order
            prev, reduced = mpi_ops.allreduce_bucket_overlapped(inputs, average=average, after=prev)
        for i, r in zip(idx, reduced):
            out[i] = r
    return [(g, v) for g, (_, v) in zip(out, pairs)]


def _nbytes(t):
    n = 1
    for d in t.shape.as_list() if t.shape.ndims is not None else [None]:
        n *= d if d is not None else 1 << 20  # unknown: count it as large
    return n * t.dtype.size


def DistributedOptimizer(optimizer, average=True, bucket_bytes=DEFAULT_BUCKET_BYTES):
    """``optimizer`` (a ``tf.train.Optimizer`` or a ``tf.keras.optimizers`` one) whose
    gradients are averaged over the MPI ranks (``average=False``: summed)."""
    base = type(optimizer)
    if getattr(base, "_nbflow_distributed", False):
        raise ValueError("%r is already a DistributedOptimizer" % (optimizer,))
    if isinstance(optimizer, TF1Optimizer):
        def compute_gradients(self, *args, **kwargs):
            return allreduce_gradients(base.compute_gradients(self, *args, **kwargs),
                                       average=self._nbflow_average, bucket_bytes=self._nbflow_bucket_bytes)
        methods = {"compute_gradients": compute_gradients}
    elif isinstance(optimizer, KerasOptimizer):
        def _apply(self, grads_and_vars, name, gate=()):
            pairs = [(g, v) for g, v in grads_and_vars]
            return base._apply(self, allreduce_gradients(
                pairs, average=self._nbflow_average, bucket_bytes=self._nbflow_bucket_bytes), name, gate)
        methods = {"_apply": _apply}
    else:
        raise TypeError("DistributedOptimizer wraps a tf.train.Optimizer or a tf.keras optimizer, got %r"
                        % (optimizer,))
    methods["_nbflow_distributed"] = True
    methods["__doc__"] = "%s with gradients averaged over the MPI ranks (nbflow.distribute)." % base.__name__
    cls = type("Distributed" + base.__name__, (base,), methods)
    wrapped = object.__new__(cls)
    wrapped.__dict__.update(optimizer.__dict__)
    wrapped.__dict__["_nbflow_average"] = bool(average)
    wrapped.__dict__["_nbflow_bucket_bytes"] = int(bucket_bytes)
    return wrapped
