"""MPI collective ops (nbflow.distribute; docs/DISTRIBUTED.md).

- ``MpiAllreduce``: one tensor summed (``average=True``: averaged) over the
  ranks of the communicator.
- ``MpiAllreduceBucket``: several tensors of one dtype reduced together: the
  kernel packs them into one preallocated flat buffer, runs one in-place
  Allreduce and hands out views of it (gradient fusion: one message per bucket
  instead of one per gradient).
- ``MpiAllreduceStart`` / ``MpiAllreduceWait``: a bucket's reduction split
  in two so the backward pass runs while it travels: the start packs the
  inputs and posts non-blocking ``Iallreduce`` calls (scheduled as soon as
  its inputs exist), the wait completes them and hands out the same buffers
  (scheduled as late as its users allow). Only the wait's outputs may be read.
- ``MpiBroadcast``: several tensors of one dtype replaced by rank ``root``'s
  values, in one flat Bcast.

They are stateful (never folded, merged or skipped) and every rank must run
the same ones in the same order: nbflow.distribute chains its buckets with
control edges. Kernels: nbflow/backends/cpu/mpi.py (mpi4py, optional).
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import control_dependencies
from nbflow.ops.array_fill_ops import zeros_like
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = []  # built by nbflow.distribute

#: dtypes MPI reduces natively (float16 has no MPI type).
MPI_DTYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


class _MpiOp(Op):
    """N inputs of one dtype -> N outputs of the same dtypes and shapes."""

    stateful = True

    @classmethod
    def infer(cls, ctx):
        if not ctx.input_dtypes:
            raise ctx.error("%s needs at least one input" % cls.type)
        dt = ctx.input_dtypes[0]
        if dt not in MPI_DTYPES:
            raise TypeError("%s (op '%s'): dtype %s is not supported (%s are)"
                            % (cls.type, ctx.name, dt.name, ", ".join(d.name for d in MPI_DTYPES)))
        for other in ctx.input_dtypes:
            if other is not dt:
                raise TypeError("%s (op '%s'): all inputs must have one dtype, got %s and %s"
                                % (cls.type, ctx.name, dt.name, other.name))
        return [(dt, s) for s in ctx.input_shapes]


class MpiAllreduce(_MpiOp):
    """Attr ``average`` (bool): divide the sum by the number of ranks. Every MPI op takes an
    optional attr ``group``: a communicator registered by name (backends/mpi_comm.py), e.g.
    "job" for the ranks of this task's job; absent: nbflow.distribute's communicator."""

    type = "MpiAllreduce"

    @classmethod
    def infer(cls, ctx):
        if len(ctx.input_dtypes) != 1:
            raise ctx.error("MpiAllreduce takes one input")
        return super().infer(ctx)


class MpiAllreduceBucket(_MpiOp):
    """Attr ``average`` (bool). Inputs and outputs in the same order."""

    type = "MpiAllreduceBucket"


class MpiAllreduceStart(_MpiOp):
    """Attr ``average`` (bool). Outputs: the bucket's buffers while the reduction is in
    flight -- their contents are undefined until ``MpiAllreduceWait`` has run on them."""

    type = "MpiAllreduceStart"
    differentiable = False
    schedule_priority = -1  # compiler/schedule.py: as soon as its gradients exist


class MpiAllreduceWait(_MpiOp):
    """Inputs: every output of one ``MpiAllreduceStart``; outputs: the same buffers, reduced."""

    type = "MpiAllreduceWait"
    differentiable = False
    schedule_priority = 1  # only when nothing else is ready: the backward pass goes first


class MpiBroadcast(_MpiOp):
    """Attr ``root`` (int): the rank whose values every rank gets."""

    type = "MpiBroadcast"
    differentiable = False


def _reduce_grads(op, grads):
    inputs = op.inputs
    grads = [g if g is not None else zeros_like(x) for g, x in zip(grads, inputs)]
    return allreduce_bucket(grads, average=op.get_attr("average"), group=op.attrs.get("group", ""))


@RegisterGradient("MpiAllreduce")
def _allreduce_grad(op, grad):
    # y_r = sum_s x_s on every rank, the loss is the sum of the ranks' losses: dx_r = sum_s dy_s.
    return allreduce(grad, average=op.get_attr("average"), group=op.attrs.get("group", ""))


@RegisterGradient("MpiAllreduceBucket")
def _allreduce_bucket_grad(op, *grads):
    return _reduce_grads(op, grads)


def _attrs(group, **attrs):
    if group:
        attrs["group"] = str(group)
    return attrs


def allreduce(tensor, average=True, name=None, group=""):
    """``tensor`` summed (``average``: averaged) over the ranks (of ``group``)."""
    t = convert_to_tensor(tensor)
    return apply_op(MpiAllreduce, [t], _attrs(group, average=bool(average)), name=name or "MpiAllreduce")


def allreduce_bucket(tensors, average=True, name=None, group=""):
    """The list ``tensors`` (one dtype) reduced over the ranks (of ``group``) by one fused Allreduce."""
    ts = [convert_to_tensor(t) for t in tensors]
    if not ts:
        return []
    out = apply_op(MpiAllreduceBucket, ts, _attrs(group, average=bool(average)), name=name or "MpiAllreduceBucket")
    return list(out) if isinstance(out, (list, tuple)) else [out]


def allreduce_bucket_overlapped(tensors, average=True, name=None, group="", after=None):
    """``allreduce_bucket`` as a start op and a wait op: the reduction travels while the ops
    scheduled between them run. ``after``: an op the start must follow (the previous
    bucket's start: every rank posts them in one order). Returns (the start op, the
    reduced tensors)."""
    ts = [convert_to_tensor(t) for t in tensors]
    if not ts:
        return None, []
    name = name or "MpiAllreduceBucket"
    with control_dependencies([after] if after is not None else []):
        started = apply_op(MpiAllreduceStart, ts, _attrs(group, average=bool(average)), name=name + "/start")
    started = list(started) if isinstance(started, (list, tuple)) else [started]
    out = apply_op(MpiAllreduceWait, started, _attrs(group), name=name + "/wait")
    return started[0].op, (list(out) if isinstance(out, (list, tuple)) else [out])


def broadcast(tensors, root=0, name=None, group=""):
    """The list ``tensors`` (one dtype) as rank ``root`` (of ``group``) has them, by one fused Bcast."""
    ts = [convert_to_tensor(t) for t in tensors]
    if not ts:
        return []
    out = apply_op(MpiBroadcast, ts, _attrs(group, root=int(root)), name=name or "MpiBroadcast")
    return list(out) if isinstance(out, (list, tuple)) else [out]


class PsSegment(Op):
    """Ops placed on one ps task that run there as one request (compiler/remote.py makes
    it; it is never built by user code). Attrs: ``rank`` (the ps task's MPI rank),
    ``task`` (its device name), ``segment`` (the pickled description of the ops,
    runtime/ps_server.py rebuilds them) and ``output_specs`` [(DType, TensorShape)]."""

    type = "_PsSegment"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return list(ctx.attrs["output_specs"])
