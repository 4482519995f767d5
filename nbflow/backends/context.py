"""What a kernel factory sees: :class:`KernelContext`.

Concrete input and output shapes (where known), dtypes, attrs and constant
input values (from :class:`~nbflow.ops.base.InferContext`), plus what binding
a kernel needs: the device, the memory planner's allocator, the resource
manager and the handles of the resources the op uses, facts the compiler
worked out about the op's uses in this plan, and a factory of sub-plans for
ops that run sub-computations. It does not expose the graph op, its consumers
or the Session: a kernel works the same in a graph plan, eagerly, or on a
parameter server.
"""
import numpy as np

from nbflow.framework import errors
from nbflow.ops.base import InferContext


class KernelContext(InferContext):
    __slots__ = ("op_def", "output_dtypes", "output_shapes", "device", "allocator", "resources", "own_handle",
                 "input_handles", "used_outputs", "fresh_outputs", "value_read", "consumer_types", "prechecks", "make_plan", "threads", "_op")

    def __init__(self, op, input_dtypes, input_shapes, input_values, output_dtypes, output_shapes):
        super().__init__(op.name, input_dtypes, input_shapes, op.attrs, input_values)
        self._op = op  # only to name it in errors (errors carry their op, as TF's do)
        #: the op's definition (its class): type, attrs schema, scalar expression
        self.op_def = op.op_def
        self.output_dtypes = output_dtypes
        self.output_shapes = output_shapes
        #: the Device the kernel runs on
        self.device = None
        #: every call must return new output arrays (eager tensors are values): no static buffers
        self.fresh_outputs = False
        #: the memory planner's ``alloc(shape, dtype)`` for ops with pooled outputs
        self.allocator = None
        #: the ResourceManager holding variables, random streams, queues
        self.resources = None
        #: the handle of the resource this op owns (a variable, a queue), or None
        self.own_handle = None
        #: input index -> the handle of the resource that input refers to (``resource_inputs``)
        self.input_handles = {}
        #: indices of the outputs that something in the plan reads (or fetches)
        self.used_outputs = frozenset()
        #: output 0's value is read (not only written through a ref input, as Assign does)
        self.value_read = True
        #: op types of the ops in the plan that consume this op's outputs
        self.consumer_types = frozenset()
        #: callables run before any kernel of the plan (e.g. "is it initialized?")
        self.prechecks = []
        #: ``make_plan(elements, feeds, device=None)``: a plan of a sub-computation (a while body,
        #: a cond branch), its feeds and fetches on ``device`` (None: the host)
        self.make_plan = None
        #: ConfigProto.intra_op_parallelism_threads of the plan (0: all of Numba's threads): what a
        #: kernel choosing its variant at bind time (a generated element-wise kernel) may split over
        self.threads = 0

    # -- buffers -------------------------------------------------------------
    def out_np_dtype(self, i=0):
        return self.output_dtypes[i].as_numpy_dtype

    def static_buffer(self, i=0):
        """A preallocated output buffer when the output shape is known, else None."""
        shp = self.output_shapes[i]
        if self.fresh_outputs or not shp.is_fully_defined():
            return None
        if self.allocator is not None:
            return self.allocator(shp.as_tuple(), self.out_np_dtype(i))
        return np.empty(shp.as_tuple(), dtype=self.out_np_dtype(i))

    def buffer_source(self, i=0):
        """``get() -> output buffer`` when the output shape is known (else None): the
        preallocated buffer in a plan, a new array per call when ``fresh_outputs`` (eager)."""
        shp = self.output_shapes[i]
        if not shp.is_fully_defined():
            return None
        if self.fresh_outputs:
            shape, npd, empty = shp.as_tuple(), self.out_np_dtype(i), np.empty
            return lambda: empty(shape, npd)
        buf = self.static_buffer(i)
        return lambda: buf

    # -- errors that name the op ---------------------------------------------
    def op_error(self, error_class, message):
        """``error_class`` (an OpError) carrying this op, with ``message`` as given."""
        return error_class(None, self._op, message)

    def run_error(self, message):
        """An InvalidArgumentError raised while running, naming the op as TF's do."""
        return errors.InvalidArgumentError(
            None, self._op, "%s\n\t [[node %s (defined as %s)]]" % (message, self._op.name, self._op.type))

    def run_error_factory(self):
        """``make(message) -> error`` for kernels that raise at run time."""
        return self.run_error
