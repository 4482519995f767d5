"""``KerasTensor``: the functional API's symbolic placeholder, and ``tf.keras.Input``.

A KerasTensor carries a static ``shape`` (a TensorShape, batch dimension usually
None) and a ``dtype``; no graph op stands behind it. Calling a layer on one goes
through the Layer base's symbolic hook (``_call_symbolic``, node.py), which records
a ``Node`` and returns new KerasTensors; ``_keras_history`` = (layer, node index,
tensor index) says which layer call made it. A ``tf.keras.Model(inputs, outputs)``
replays those nodes on real tensors (functional.py).

Python arithmetic between KerasTensors (``a + b``, ``-a``, ``a * 2``) is supported by
wrapping the operator in a small private layer (``_OperatorLayer``); any other
``tf.*`` op on a KerasTensor fails with a clear error (TF wraps ops in TFOpLambda
layers: not done here; write a custom Layer instead).
"""
import operator

import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras.layers.base_layer import Layer
from nbflow.keras.layers.input_layer import InputLayer

__all__ = ["KerasTensor", "Input", "input_tensor_of"]


class KerasTensor:
    """A symbolic tensor of the functional API (``shape``, ``dtype``, ``name``)."""

    _keras_symbolic = True

    def __init__(self, shape, dtype, name=None, keras_history=None):
        self._shape = TensorShape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name
        self._keras_history = keras_history

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def name(self):
        return self._name

    @property
    def ndim(self):
        return self._shape.ndims

    @property
    def node(self):
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    def __repr__(self):
        shape = tuple(self._shape.as_list()) if self._shape.ndims is not None else None
        made = " (created by layer '%s')" % self._keras_history[0].name if self._keras_history else ""
        return "<KerasTensor: shape=%s dtype=%s%s>" % (shape, self._dtype.name, made)

    def __len__(self):
        raise TypeError("KerasTensors have no length: %r is a symbolic placeholder of the functional API" % self)

    def __iter__(self):
        raise TypeError("Cannot iterate over a KerasTensor (%r): it is a symbolic placeholder of the functional "
                        "API" % self)

    def __bool__(self):
        raise TypeError("Using a KerasTensor as a Python bool is not allowed: it has no value (functional API)")

    def __array__(self, dtype=None):
        raise TypeError("Cannot convert a symbolic KerasTensor (%r) to a numpy array. You are probably passing it "
                        "to a tf.* op: in the functional API write a custom Layer (subclass "
                        "tf.keras.layers.Layer) whose `call` applies the op." % self)

    # -- operators: an _OperatorLayer node -----------------------------------------------------
    def _binary(self, other, fn, reverse=False):
        if not getattr(other, "_keras_symbolic", False):
            other = np.asarray(other, dtype=self._dtype.as_numpy_dtype)
        args = [other, self] if reverse else [self, other]
        return _OperatorLayer(fn)(args)

    def __add__(self, other):
        return self._binary(other, operator.add)

    def __radd__(self, other):
        return self._binary(other, operator.add, True)

    def __sub__(self, other):
        return self._binary(other, operator.sub)

    def __rsub__(self, other):
        return self._binary(other, operator.sub, True)

    def __mul__(self, other):
        return self._binary(other, operator.mul)

    def __rmul__(self, other):
        return self._binary(other, operator.mul, True)

    def __truediv__(self, other):
        return self._binary(other, operator.truediv)

    def __rtruediv__(self, other):
        return self._binary(other, operator.truediv, True)

    def __neg__(self):
        return _OperatorLayer(lambda a: -a, unary=True)(self)

    __hash__ = object.__hash__


class _OperatorLayer(Layer):
    """A Python operator between KerasTensors (and constants) as a layer of the model."""

    def __init__(self, fn, unary=False, **kwargs):
        name = getattr(fn, "__name__", "lambda").strip("_<>") or "op"
        from nbflow.keras import backend
        super().__init__(name=backend.unique_object_name("tf.math." + name if name in ("add", "sub", "mul",
                                                                                         "truediv") else "op"),
                         **kwargs)
        self._fn = fn
        self._unary = unary
        self.built = True

    def call(self, inputs):
        if self._unary:
            return self._fn(inputs)
        a, b = inputs
        return self._fn(a, b)


def input_tensor_of(layer):
    """The KerasTensor an ``InputLayer`` outputs (made, with its node, on first use)."""
    out = layer.__dict__.get("_keras_output")
    if out is None:
        from nbflow.keras.engine.node import Node
        shape = layer._batch_input_shape
        out = KerasTensor(TensorShape(list(shape)) if shape is not None else TensorShape(None), layer.dtype,
                          name=layer.name)
        Node(layer, (), {}, out)
        layer.__dict__["_keras_output"] = out
    return out


def Input(shape=None, batch_size=None, name=None, dtype=None, sparse=False, tensor=None, ragged=False,
          batch_shape=None, **kwargs):
    """``tf.keras.Input``: a KerasTensor made by a new ``InputLayer`` (shape without the batch dimension)."""
    if kwargs:
        raise ValueError("Unrecognized keyword arguments: %s" % sorted(kwargs))
    if tensor is not None:
        raise NotImplementedError("tf.keras.Input(tensor=...) is not supported by nbflow")
    if shape is None and batch_shape is None:
        raise ValueError("Please provide to Input either a `shape` or a `batch_shape` argument. Note that `shape` "
                         "does not include the batch dimension.")
    if shape is not None and batch_shape is not None:
        raise ValueError("Only provide the `shape` OR `batch_shape` argument to Input, not both at the same time.")
    if isinstance(shape, int):
        shape = (shape,)
    layer = InputLayer(input_shape=None if shape is None else tuple(shape), batch_size=batch_size, name=name,
                       dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_input_shape=None if batch_shape is None else tuple(batch_shape))
    return input_tensor_of(layer)
