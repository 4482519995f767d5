"""Iterators: eager Python iteration, and TF 1.x graph iterators (stateful ops).

- Eagerly, ``iter(dataset)`` is an ``OwnedIterator`` of eager tensors (TF 2).
- In a graph, ``make_one_shot_iterator(ds)`` / ``make_initializable_iterator(ds)``
  build an IteratorV2 (or OneShotIterator) op owning an iterator resource in the
  session, ``initializer`` a MakeIterator op (its inputs: the graph tensors the
  pipeline reads, e.g. placeholders fed at initialization), and ``get_next()`` an
  IteratorGetNext op with one output per component: each ``sess.run`` pulls the
  next element; at the end it raises ``tf.errors.OutOfRangeError``; running the
  initializer again restarts the pipeline.
"""
import numpy as np

from nbflow.data import structure
from nbflow.data.dataset_ops import Dataset, IterationEnv, _static_values
from nbflow.data.structure import TensorSpec
from nbflow.framework import context, dtypes, errors
from nbflow.framework.eager_tensor import EagerTensor
from nbflow.framework.graph import Tensor, get_default_graph
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import iterator_ops as ops
from nbflow.ops.base import apply_op

__all__ = ["Iterator", "OwnedIterator", "make_one_shot_iterator", "make_initializable_iterator",
           "get_output_types", "get_output_shapes", "get_output_classes"]


class OwnedIterator:
    """``iter(dataset)`` in eager mode: elements as nests of EagerTensors."""

    def __init__(self, dataset):
        self._dataset = dataset
        self._spec = dataset.element_spec
        self._it = dataset._numpy_iterator()

    @property
    def element_spec(self):
        return self._spec

    output_types = property(lambda self: self._dataset.output_types)
    output_shapes = property(lambda self: self._dataset.output_shapes)

    def __iter__(self):
        return self

    def __next__(self):
        flat = next(self._it)
        return structure.pack(self._spec, [EagerTensor(a) for a in flat])

    def get_next(self, name=None):
        try:
            return self.__next__()
        except StopIteration:
            raise errors.OutOfRangeError(None, None, "End of sequence") from None

    def close(self):
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


class NumpyIterator:
    """``as_numpy_iterator()``: elements as nests of numpy values (strings as bytes)."""

    def __init__(self, dataset):
        self._spec = dataset.element_spec
        self._it = dataset._numpy_iterator()

    def __iter__(self):
        return self

    def __next__(self):
        flat = next(self._it)
        return structure.pack(self._spec, [a.item() if a.dtype == object and a.ndim == 0 else a for a in flat])

    def close(self):
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


def _factory(dataset, captures):
    """``make(values) -> iterator of flat elements``: the kernels' view of the pipeline."""
    def make(values):
        env = IterationEnv(dict(zip(captures, (np.ascontiguousarray(v) for v in values))), persistent=False)
        return dataset._numpy_iterator(env)
    return make


class Iterator:
    """A TF 1.x graph iterator (``tf.compat.v1.data.Iterator``)."""

    def __init__(self, iterator_resource, initializer, output_types, output_shapes, output_classes=None):
        self._resource = iterator_resource
        self._initializer = initializer
        self._types = output_types
        self._shapes = output_shapes
        self._spec = structure.pack(output_types, [TensorSpec(s, t) for s, t in
                                                   zip(structure.flatten(output_shapes),
                                                       structure.flatten(output_types))]) \
            if structure.is_nested(output_types) else TensorSpec(output_shapes, output_types)
        self._flat = structure.flatten(self._spec)
        self._get_next_calls = 0

    # -- construction -----------------------------------------------------------------------
    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None):
        """A reinitializable iterator: ``make_initializer(dataset)`` for any dataset of this structure."""
        types = structure.map_structure(dtypes.as_dtype, output_types)
        if output_shapes is None:
            shapes = structure.map_structure(lambda t: TensorShape(None), types)
        else:
            from nbflow.data.dataset_ops import _flatten_shapes
            flat = _flatten_shapes(output_shapes, types) if structure.is_nested(types) else [output_shapes]
            shapes = structure.pack(types, [TensorShape(s) for s in flat])
        handle = _iterator_op(ops.IteratorV2, types, shapes, shared_name, None)
        return Iterator(handle, None, types, shapes)

    @staticmethod
    def from_string_handle(string_handle, output_types, output_shapes=None, output_classes=None):
        raise NotImplementedError("Iterator.from_string_handle (feedable iterators) is not implemented in nbflow; "
                                  "use Iterator.from_structure with make_initializer per dataset")

    # -- the element structure ---------------------------------------------------------------
    @property
    def element_spec(self):
        return self._spec

    @property
    def output_types(self):
        return self._types

    @property
    def output_shapes(self):
        return self._shapes

    @property
    def output_classes(self):
        return structure.map_structure(lambda t: Tensor, self._types)

    @property
    def initializer(self):
        if self._initializer is None:
            raise ValueError("The iterator does not have an initializer. This means it was likely created "
                             "using `tf.data.Dataset.make_one_shot_iterator()`. For an initializable "
                             "iterator, use `tf.data.Dataset.make_initializable_iterator()` instead.")
        return self._initializer

    # -- ops --------------------------------------------------------------------------------------
    def make_initializer(self, dataset, name=None):
        if not isinstance(dataset, Dataset):
            raise TypeError("make_initializer takes a Dataset, got %r" % (dataset,))
        if not structure.same_structure(self._spec, dataset.element_spec):
            raise TypeError("Expected output types %r but got dataset with output types %r."
                            % (self._types, dataset.output_types))
        for mine, theirs in zip(self._flat, structure.flatten(dataset.element_spec)):
            if mine.dtype is not theirs.dtype:
                raise TypeError("Expected output types %r but got dataset with output types %r."
                                % (self._types, dataset.output_types))
            if not mine.shape.is_compatible_with(theirs.shape):
                raise TypeError("Expected output shapes compatible with %r but got dataset with output shapes %r."
                                % (self._shapes, dataset.output_shapes))
        captures = dataset._captures()
        return apply_op(ops.MakeIterator, [self._resource] + captures,
                        {"make_iterator": _factory(dataset, captures)}, name=name or "MakeIterator")

    def get_next(self, name=None):
        """The next element: one IteratorGetNext op (each ``sess.run`` of it pulls one)."""
        self._get_next_calls += 1
        outs = apply_op(ops.IteratorGetNext, [self._resource],
                        {"output_types": [s.dtype for s in self._flat], "output_shapes": [s.shape for s in self._flat]},
                        name=name or "IteratorGetNext")
        outs = outs if isinstance(outs, list) else [outs]
        return structure.pack(self._spec, outs)

    def string_handle(self, name=None):
        raise NotImplementedError("Iterator.string_handle (feedable iterators) is not implemented in nbflow")


def _iterator_op(op_cls, types, shapes, shared_name, make):
    flat_t, flat_s = structure.flatten(types), structure.flatten(shapes)
    attrs = {"output_types": flat_t, "output_shapes": flat_s, "shared_name": shared_name or "", "container": ""}
    if make is not None:
        attrs["make_iterator"] = make
    return apply_op(op_cls, [], attrs, name="OneShotIterator" if make is not None else "Iterator",
                    graph=get_default_graph())


def make_one_shot_iterator(dataset):
    """``tf.compat.v1.data.make_one_shot_iterator``: starts on first use, no initializer.
    Eagerly: ``iter(dataset)``."""
    if context.executing_eagerly():
        return OwnedIterator(dataset)
    captures = dataset._captures()
    values = _static_values(captures)
    make = _factory(dataset, captures)
    handle = _iterator_op(ops.OneShotIterator, dataset.output_types, dataset.output_shapes, None,
                          lambda _: make([values[t] for t in captures]))
    return Iterator(handle, None, dataset.output_types, dataset.output_shapes)


def make_initializable_iterator(dataset, shared_name=None):
    """``tf.compat.v1.data.make_initializable_iterator``: run ``.initializer`` (feeding any
    placeholder the pipeline reads) to start, and again to restart."""
    if context.executing_eagerly():
        raise RuntimeError("dataset.make_initializable_iterator is not supported when eager execution is "
                           "enabled. Use `for element in dataset` instead.")
    it = Iterator.from_structure(dataset.output_types, _shapes_nest(dataset), shared_name)
    it._initializer = it.make_initializer(dataset)
    return it


def _shapes_nest(dataset):
    return dataset.output_shapes


def get_output_types(dataset_or_iterator):
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator):
    return dataset_or_iterator.output_shapes


def get_output_classes(dataset_or_iterator):
    return dataset_or_iterator.output_classes
