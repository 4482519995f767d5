"""Core Keras layers: ``Dense``, ``Activation``, ``Dropout``, ``Flatten``, ``Reshape``."""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import activations, initializers, regularizers
from nbflow.keras.layers.base_layer import InputSpec, Layer
from nbflow.layers.base import constant_bool
from nbflow.layers.core import _rank_error, dense_product, flatten_batch
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops
from nbflow.ops.base import convert_to_tensor

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "KernelBiasMixin", "serialize_or_none"]


def serialize_or_none(obj, module):
    return None if obj is None else module.serialize(obj)


class KernelBiasMixin:
    """The kernel/bias arguments Dense and the convolutions share (stored, serialized)."""

    def _set_kernel_bias_args(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                              bias_regularizer, kernel_constraint, bias_constraint):
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint

    def _add_kernel_bias(self, kernel_shape, units):
        self.kernel = self.add_weight("kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      trainable=True)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        trainable=True)

    def _bias_and_activation(self, outputs):
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def _kernel_bias_config(self):
        return {
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": serialize_or_none(self.kernel_initializer, initializers),
            "bias_initializer": serialize_or_none(self.bias_initializer, initializers),
            "kernel_regularizer": serialize_or_none(self.kernel_regularizer, regularizers),
            "bias_regularizer": serialize_or_none(self.bias_regularizer, regularizers),
            "activity_regularizer": serialize_or_none(self.activity_regularizer, regularizers),
            "kernel_constraint": self.kernel_constraint, "bias_constraint": self.bias_constraint,
        }


class Dense(KernelBiasMixin, Layer):
    """``activation(inputs @ kernel + bias)``: kernel [last_dim, units] (glorot_uniform),
    bias [units] (zeros); inputs of rank > 2 are multiplied along their last axis."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive integer, got %r" % (units,))
        self._set_kernel_bias_args(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        if not self._compute_dtype.is_floating:
            raise TypeError("Unable to build `Dense` layer with non-floating point dtype %s" % self.dtype)
        if input_shape.ndims is None or input_shape.as_tuple()[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        if input_shape.ndims < 2:
            raise _rank_error(self, "min_ndim=2", input_shape)
        last_dim = input_shape.as_tuple()[-1]
        self._add_kernel_bias([last_dim, self.units], self.units)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: last_dim})
        self.built = True

    def call(self, inputs):
        return self._bias_and_activation(dense_product(inputs, self.kernel, self.units))

    def compute_output_shape(self, input_shape):
        input_shape = TensorShape(input_shape)
        if input_shape.ndims is None or input_shape.as_tuple()[-1] is None:
            raise ValueError("The innermost dimension of input_shape must be defined, but saw: %s" % input_shape)
        return TensorShape(list(input_shape.as_tuple()[:-1]) + [self.units])

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, **self._kernel_bias_config())
        return config


class Activation(Layer):
    """``activation(inputs)``; ``activation`` a name ('relu', 'softmax', ...) or a callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Dropout(Layer):
    """Training: each element zeroed with probability ``rate``, the others scaled by
    1 / (1 - rate) (the Dropout op's stream, seeded by ``seed``); otherwise the identity.
    ``training`` is a Python bool or a scalar bool Tensor (then an element-wise select)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, (int, float)) and not 0 <= rate <= 1:
            raise ValueError("Invalid value %s received for `rate`, expected a value between 0 and 1." % rate)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def _get_noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        dims = inputs.shape.as_tuple()
        concrete = A.shape(inputs) if dims is None or None in dims else list(dims)
        out = [concrete[i] if v is None else v for i, v in enumerate(self.noise_shape)]
        if any(isinstance(v, Tensor) for v in out):
            return A.stack([convert_to_tensor(v, dtype=dtypes.int32) for v in out])
        return out

    def call(self, inputs, training=None):
        value, tensor = constant_bool(training, "Dropout")
        if (tensor is None and not value) or self.rate == 0:
            return A.identity(inputs)
        dropped = nn_ops.dropout(inputs, noise_shape=self._get_noise_shape(inputs), seed=self.seed, rate=self.rate)
        if tensor is None:
            return dropped
        out = M.where_v2(tensor, dropped, A.identity(inputs))
        out.set_shape(inputs.shape)
        return out

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return config


class Flatten(Layer):
    """[N, ...] -> [N, prod(...)] (a rank-1 input becomes [N, 1])."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("Flatten: only data_format='channels_last' is supported by nbflow")
        self.data_format = "channels_last"

    def call(self, inputs):
        return flatten_batch(self, inputs)

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        if len(dims) == 1:
            return TensorShape([dims[0], 1])
        rest = dims[1:]
        return TensorShape([dims[0], None if None in rest else int(np.prod(rest, dtype=np.int64))])

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """[N, ...] -> [N] + target_shape (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError("There must be at most one unknown dimension in output_shape.")

    def _fix_unknown(self, input_rest):
        target = list(self.target_shape)
        if -1 not in target:
            if input_rest is not None and int(np.prod(input_rest)) != int(np.prod(target)):
                raise ValueError("total size of new array must be unchanged, input_shape = %s, output_shape = %s"
                                 % (list(input_rest), target))
            return target
        if input_rest is None:
            return [None if d == -1 else d for d in target]
        known = int(np.prod([d for d in target if d != -1]))
        total = int(np.prod(input_rest))
        if known == 0 or total % known:
            raise ValueError("total size of new array must be unchanged, input_shape = %s, output_shape = %s"
                             % (list(input_rest), target))
        return [total // known if d == -1 else d for d in target]

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        rest = dims[1:]
        return TensorShape([dims[0]] + self._fix_unknown(None if None in rest else rest))

    def call(self, inputs):
        batch = inputs.shape.as_tuple()[0] if inputs.shape.ndims else None
        if batch is not None:
            out = A.reshape(inputs, [batch] + list(self.target_shape))
        else:
            out = A.reshape(inputs, A.concat([A.shape(inputs)[:1], np.array(self.target_shape, np.int32)], 0))
        if inputs.shape.ndims is not None:
            out.set_shape(self.compute_output_shape(inputs.shape))
        return out

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
