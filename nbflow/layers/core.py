"""``tf.layers.Dense``, ``Dropout``, ``Flatten`` and their functional forms."""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.layers.base import KernelBiasLayer, Layer, constant_bool, normalize_data_format
from nbflow.ops import array_ops as A
from nbflow.ops import init_ops
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.linalg_ops import matmul

__all__ = ["Dense", "dense", "Dropout", "dropout", "Flatten", "flatten"]


def _rank_error(layer, expected, shape):
    return ValueError("Input 0 of layer %s is incompatible with the layer: expected %s, found ndim=%s. Full shape "
                      "received: %s" % (layer.name, expected, shape.ndims, shape))


class Dense(KernelBiasLayer):
    """Densely-connected layer: ``activation(inputs @ kernel + bias)``.

    ``kernel`` is [last_dim, units] (glorot_uniform unless ``kernel_initializer``
    or the variable scope's initializer says otherwise), ``bias`` is [units]
    (zeros). Inputs of rank > 2 are multiplied along their last axis."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError("Dense: units must be a positive integer, got %r" % (units,))
        self._set_kernel_bias_args(activation, use_bias, kernel_initializer, bias_initializer,
                                   kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        dtype = self.dtype or dtypes.float32
        if not dtype.is_floating:
            raise TypeError("Unable to build `Dense` layer with non-floating point dtype %s" % dtype.name)
        if input_shape.ndims is not None and input_shape.ndims < 2:
            raise _rank_error(self, "min_ndim=2", input_shape)
        if input_shape.ndims is None or input_shape.as_tuple()[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        last_dim = input_shape.as_tuple()[-1]
        self._add_kernel_bias([last_dim, self.units], self.units, dtype)

    def call(self, inputs):
        inputs = M.cast(inputs, self.dtype)
        rank = inputs.shape.ndims
        if rank is not None and rank < 2:
            raise _rank_error(self, "min_ndim=2", inputs.shape)
        return self._bias_and_activation(dense_product(inputs, self.kernel, self.units))

    def compute_output_shape(self, input_shape):
        input_shape = TensorShape(input_shape)
        if input_shape.ndims is None or input_shape.as_tuple()[-1] is None:
            raise ValueError("The innermost dimension of input_shape must be defined, but saw: %s" % input_shape)
        return TensorShape(list(input_shape.as_tuple()[:-1]) + [self.units])


def dense_product(inputs, kernel, units):
    """``inputs @ kernel`` over the last axis (tf.layers' and tf.keras' Dense): a MatMul for
    rank 2, else TF's Tensordot ([..., d] -> [-1, d] @ kernel -> [..., units])."""
    if inputs.shape.ndims == 2:
        return matmul(inputs, kernel)
    last = kernel.shape.as_tuple()[0]
    dims = inputs.shape.as_tuple()
    with name_scope("Tensordot"):
        prod = matmul(A.reshape(inputs, [-1, last]), kernel)
        if dims is not None and None not in dims[:-1]:
            out_shape = list(dims[:-1]) + [units]
        else:
            out_shape = A.concat([A.shape(inputs)[:-1], np.array([units], dtype=np.int32)], 0)
        outputs = A.reshape(prod, out_shape)
    if dims is not None:
        outputs.set_shape(TensorShape(list(dims[:-1]) + [units]))
    return outputs


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
          reuse=None):
    """Functional interface of :class:`Dense` (``tf.layers.dense``)."""
    layer = Dense(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                  bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                  bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                  kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, trainable=trainable,
                  name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs)


class Dropout(Layer):
    """Dropout: in training, each element is zeroed with probability ``rate`` and
    the others scaled by 1 / (1 - rate); otherwise the identity. ``training``
    (a call argument) is a Python bool or a scalar bool Tensor (then both
    paths are built and an element-wise select picks one when the graph runs)."""

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def _get_noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        dims = inputs.shape.as_tuple()
        if dims is None or any(d is None for d in dims):
            concrete = A.shape(inputs)
        else:
            concrete = list(dims)
        out = [concrete[i] if v is None else v for i, v in enumerate(self.noise_shape)]
        if any(isinstance(v, Tensor) for v in out):
            return A.stack([convert_to_tensor(v, dtype=dtypes.int32) for v in out])
        return out

    def call(self, inputs, training=False):
        value, tensor = constant_bool(training, "Dropout")
        if tensor is None and not value:
            return A.identity(inputs)
        rate = self.rate
        if callable(rate):
            rate = rate()
        dropped = nn_ops.dropout(inputs, noise_shape=self._get_noise_shape(inputs), seed=self.seed, rate=rate)
        if tensor is None:
            return dropped
        out = M.where_v2(tensor, dropped, A.identity(inputs))
        out.set_shape(inputs.shape)
        return out

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Functional interface of :class:`Dropout` (``tf.layers.dropout``)."""
    layer = Dropout(rate, noise_shape=noise_shape, seed=seed, name=name)
    return layer.apply(inputs, training=training)


class Flatten(Layer):
    """Flattens every axis but the first: [N, ...] -> [N, prod(...)]."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, "Flatten")

    def call(self, inputs):
        return flatten_batch(self, inputs)


def flatten_batch(layer, inputs):
    """[N, ...] -> [N, prod(...)], a rank-1 input -> [N, 1] (tf.layers' and tf.keras' Flatten);
    the static shape is kept where it is known."""
    shape = inputs.shape
    if shape.ndims is None:
        return A.reshape(inputs, A.stack([A.shape(inputs)[0], -1]))
    if shape.ndims == 0:
        raise _rank_error(layer, "min_ndim=1", shape)
    if shape.ndims == 1:
        return A.expand_dims(inputs, 1)
    dims = shape.as_tuple()
    rest = dims[1:]
    if None not in rest:
        return A.reshape(inputs, [-1, int(np.prod(rest, dtype=np.int64))])
    if dims[0] is not None:
        return A.reshape(inputs, [dims[0], -1])
    return A.reshape(inputs, A.stack([A.shape(inputs)[0], -1]))

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        rest = dims[1:]
        return TensorShape([dims[0], None if None in rest else int(np.prod(rest, dtype=np.int64))])


def flatten(inputs, name=None, data_format="channels_last"):
    """Functional interface of :class:`Flatten` (``tf.layers.flatten``)."""
    layer = Flatten(name=name, data_format=data_format)
    return layer.apply(inputs)
