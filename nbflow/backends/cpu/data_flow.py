"""CPU kernels of the queue ops (nbflow/ops/data_flow_ops.py).

The FIFOQueueV2 kernel creates the queue (a QueueResource behind the op's
handle); the enqueue/dequeue/size/close kernels reach it through the handle of
their input 0, so a queue is shared by every plan of the session.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.ops import data_flow_ops
from nbflow.state.resources import QueueResource


@register_kernel(data_flow_ops.FIFOQueueV2)
def _fifo_queue_v2(ctx):
    capacity = ctx.attrs["capacity"]
    ctx.resources.lookup_or_create(ctx.own_handle, lambda: QueueResource(capacity))
    handle = np.array(ctx.name, dtype=object)
    return lambda: handle


def _queue_getter(ctx):
    """``get() -> QueueResource`` of the queue named by input 0."""
    handle, resources = ctx.input_handles[0], ctx.resources

    def get():
        q = resources.get(handle)
        if q is None:  # its FIFOQueueV2 kernel (earlier in every plan using it) creates it
            raise ctx.op_error(errors.NotFoundError, "Queue '%s' does not exist" % handle.name)
        return q
    return get


@register_kernel(data_flow_ops.QueueEnqueueV2)
def _queue_enqueue_v2(ctx):
    many = ctx.op_def.many
    get_queue, queue_name, name = _queue_getter(ctx), ctx.input_handles[0].name, ctx.name

    def run(handle, *components):
        q = get_queue()
        if many:
            n = components[0].shape[0] if components[0].ndim else None
            if n is None or any(c.ndim == 0 or c.shape[0] != n for c in components):
                raise ctx.op_error(errors.InvalidArgumentError,
                                   "%s: enqueue_many needs components with one shared first dimension" % name)
            rows = [tuple(np.array(c[i]) for c in components) for i in range(n)]
        else:
            rows = [tuple(np.array(c) for c in components)]
        with q.cond:
            if q.closed:
                raise ctx.op_error(errors.CancelledError, "Queue '%s' is closed." % queue_name)
            for row in rows:
                # a close lets a pending enqueue finish when space frees; close(cancel_pending_enqueues=True)
                # fails it (how a QueueRunner blocked on a full queue is stopped)
                while len(q.items) >= q.capacity and not q.cancelled:
                    q.cond.wait()
                if q.cancelled:
                    raise ctx.op_error(errors.CancelledError, "Enqueue operation was cancelled")
                q.items.append(row)
                q.cond.notify_all()
    return run


def take(q, count, ctx, queue_name):
    """``count`` rows of the QueueResource ``q``, waiting while it is open and short of them."""
    with q.cond:
        while len(q.items) < count and not q.closed:
            q.cond.wait()
        if len(q.items) < count:
            raise ctx.op_error(
                errors.OutOfRangeError,
                "FIFOQueue '%s' is closed and has insufficient elements (requested %d, current size %d)"
                % (queue_name, count, len(q.items)))
        rows = [q.items.popleft() for _ in range(count)]
        q.cond.notify_all()
        return rows


@register_kernel(data_flow_ops.QueueDequeueV2)
def _queue_dequeue_v2(ctx):
    many = ctx.op_def.many
    get_queue, queue_name = _queue_getter(ctx), ctx.input_handles[0].name
    n_components = len(ctx.attrs["component_types"])

    def run(handle, *n_arg):
        q = get_queue()
        if many:
            rows = take(q, int(n_arg[0]), ctx, queue_name)
            return tuple(np.stack([r[i] for r in rows]) for i in range(n_components)) if n_components > 1 \
                else np.stack([r[0] for r in rows])
        (row,) = take(q, 1, ctx, queue_name)
        return row if n_components > 1 else row[0]
    return run


@register_kernel(data_flow_ops.QueueSizeV2)
def _queue_size_v2(ctx):
    get_queue = _queue_getter(ctx)

    def run(handle):
        q = get_queue()
        with q.cond:
            return np.array(len(q.items), dtype=np.int32)
    return run


@register_kernel(data_flow_ops.QueueCloseV2)
def _queue_close_v2(ctx):
    get_queue = _queue_getter(ctx)
    cancel = bool(ctx.attrs.get("cancel_pending_enqueues", False))

    def run(handle):
        q = get_queue()
        with q.cond:
            q.closed = True
            q.cancelled = q.cancelled or cancel
            q.cond.notify_all()
    return run
