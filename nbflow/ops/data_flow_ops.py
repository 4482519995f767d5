"""Queues: tf.FIFOQueue with enqueue(_many), dequeue(_many), size and close.

A queue is a QueueResource (nbflow/state/resources.py) behind the handle of its
FIFOQueueV2 op, created when that op's kernel is bound.
A dequeue on an empty open queue waits (another thread may enqueue, as with
TF's QueueRunners); on an empty closed queue it raises OutOfRangeError.
"""


from nbflow.framework import dtypes
from nbflow.framework import dtypes as _dtypes  # FIFOQueue's argument ``dtypes`` hides the module
from nbflow.framework.graph import get_default_graph
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.state.resources import ResourceHandle

__all__ = ["FIFOQueue", "QueueBase"]


class FIFOQueueV2(Op):
    """A handle naming the queue (a 0-d string tensor)."""

    type = "FIFOQueueV2"
    stateful = True
    differentiable = False

    @classmethod
    def resource_handle(cls, op):
        return ResourceHandle("queue", op.attrs.get("container", ""), op.attrs.get("shared_name") or op.name)

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.string, TensorShape([]))]


class _QueueOp(Op):
    stateful = True
    differentiable = False
    resource_inputs = (0,)  # the queue's handle


class QueueEnqueueV2(_QueueOp):
    type = "QueueEnqueueV2"
    many = False

    @classmethod
    def infer(cls, ctx):
        return []


class QueueEnqueueManyV2(QueueEnqueueV2):
    type = "QueueEnqueueManyV2"
    many = True


class QueueDequeueV2(_QueueOp):
    type = "QueueDequeueV2"
    many = False

    @classmethod
    def infer(cls, ctx):
        shapes = ctx.attrs["shapes"] or [TensorShape(None)] * len(ctx.attrs["component_types"])
        n = ctx.attrs.get("n")
        if cls.many:
            shapes = [TensorShape([n]).concatenate(s) for s in shapes]
        return list(zip(ctx.attrs["component_types"], shapes))


class QueueDequeueManyV2(QueueDequeueV2):
    type = "QueueDequeueManyV2"
    many = True


class QueueSizeV2(_QueueOp):
    type = "QueueSizeV2"

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.int32, TensorShape([]))]


class QueueCloseV2(_QueueOp):
    type = "QueueCloseV2"

    @classmethod
    def infer(cls, ctx):
        return []


class QueueBase:
    """The Python queue object: builds the enqueue/dequeue ops of one queue."""

    def __init__(self, dtypes_, shapes, names, handle):
        self._dtypes = dtypes_
        self._shapes = shapes
        self._names = names
        self._queue_ref = handle

    @property
    def queue_ref(self):
        return self._queue_ref

    @property
    def name(self):
        return self._queue_ref.op.name

    @property
    def dtypes(self):
        return list(self._dtypes)

    @property
    def shapes(self):
        return list(self._shapes) if self._shapes else None

    @property
    def names(self):
        return self._names

    def _components(self, vals):
        if self._names is not None:
            if not isinstance(vals, dict):
                raise ValueError("Queue '%s' has names: enqueue a dict with keys %s" % (self.name, self._names))
            vals = [vals[n] for n in self._names]
        elif not isinstance(vals, (list, tuple)):
            vals = [vals]
        if len(vals) != len(self._dtypes):
            raise ValueError("Queue '%s' expects %d components, got %d" % (self.name, len(self._dtypes), len(vals)))
        return [convert_to_tensor(v, dtype=dt) for v, dt in zip(vals, self._dtypes)]

    def enqueue(self, vals, name=None):
        comps = self._components(vals)
        if self._shapes:
            for c, s in zip(comps, self._shapes):
                if not c.shape.is_compatible_with(s):
                    raise ValueError("Shape %s of an enqueued component is incompatible with queue shape %s"
                                     % (c.shape, s))
        return apply_op(QueueEnqueueV2, [self._queue_ref] + comps, {}, name=name or "QueueEnqueueV2")

    def enqueue_many(self, vals, name=None):
        comps = self._components(vals)
        return apply_op(QueueEnqueueManyV2, [self._queue_ref] + comps, {}, name=name or "QueueEnqueueManyV2")

    def _wrap(self, outs):
        outs = outs if isinstance(outs, list) else [outs]
        if self._names is not None:
            return dict(zip(self._names, outs))
        return outs[0] if len(outs) == 1 else outs

    def dequeue(self, name=None):
        attrs = {"component_types": list(self._dtypes), "shapes": self._shapes}
        return self._wrap(apply_op(QueueDequeueV2, [self._queue_ref], attrs, name=name or "QueueDequeueV2"))

    def dequeue_many(self, n, name=None):
        n_t = convert_to_tensor(n, dtype=dtypes.int32)
        n_val = n if isinstance(n, int) else None
        attrs = {"component_types": list(self._dtypes), "shapes": self._shapes, "n": n_val}
        return self._wrap(apply_op(QueueDequeueManyV2, [self._queue_ref, n_t], attrs,
                                   name=name or "QueueDequeueManyV2"))

    def size(self, name=None):
        return apply_op(QueueSizeV2, [self._queue_ref], {}, name=name or "QueueSizeV2")

    def close(self, cancel_pending_enqueues=False, name=None):
        return apply_op(QueueCloseV2, [self._queue_ref], {"cancel_pending_enqueues": cancel_pending_enqueues},
                        name=name or "QueueCloseV2")


class FIFOQueue(QueueBase):
    """``tf.FIFOQueue(capacity, dtypes, shapes=None, names=None, shared_name=None, name="fifo_queue")``."""

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None, name="fifo_queue"):
        dts = [_dtypes.as_dtype(d) for d in (dtypes if isinstance(dtypes, (list, tuple)) else [dtypes])]
        shps = [as_shape(s) for s in shapes] if shapes is not None else None
        if shps is not None and len(shps) != len(dts):
            raise ValueError("Queue shapes must have the same length as dtypes")
        if names is not None and len(names) != len(dts):
            raise ValueError("Queue names must have the same length as dtypes")
        handle = apply_op(FIFOQueueV2, [], {"capacity": int(capacity), "component_types": dts,
                                            "shapes": shps, "shared_name": shared_name or ""},
                          name=name, graph=get_default_graph())
        super().__init__(dts, shps, list(names) if names is not None else None, handle)

