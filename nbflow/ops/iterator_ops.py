"""The graph ops of TF 1.x dataset iterators: IteratorV2 / OneShotIterator, MakeIterator,
IteratorGetNext.

An iterator is an IteratorResource (nbflow/state/resources.py) behind the handle of
its IteratorV2 (or OneShotIterator) op, in the session's ResourceManager. The
pipeline itself is Python (nbflow/data): MakeIterator's ``make_iterator`` attr is a
callable that, given the values of the graph tensors the pipeline reads (the op's
inputs after the handle), returns a Python iterator of flat elements (lists of
numpy arrays); IteratorGetNext pulls the next one, and raises OutOfRangeError at
the end. A OneShotIterator makes its iterator on first use.
"""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op
from nbflow.state.resources import ResourceHandle

__all__ = []


class IteratorV2(Op):
    """A handle naming the iterator (a 0-d string tensor)."""

    type = "IteratorV2"
    stateful = True
    differentiable = False

    @classmethod
    def resource_handle(cls, op):
        return ResourceHandle("iterator", op.attrs.get("container", ""), op.attrs.get("shared_name") or op.name)

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.string, TensorShape([]))]


class OneShotIterator(IteratorV2):
    """An iterator whose ``make_iterator`` attr (no inputs) starts it on first use."""

    type = "OneShotIterator"


class MakeIterator(Op):
    """(Re)starts the iterator of input 0 over the pipeline; inputs 1.. are the graph
    tensors the pipeline reads."""

    type = "MakeIterator"
    stateful = True
    differentiable = False
    resource_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        return []


class IteratorGetNext(Op):
    """The next element of the iterator of input 0: one output per component."""

    type = "IteratorGetNext"
    stateful = True
    differentiable = False
    resource_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        return list(zip(ctx.attrs["output_types"], ctx.attrs["output_shapes"]))
