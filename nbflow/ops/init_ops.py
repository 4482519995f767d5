"""Initializers (TF 1.x ``init_ops``): objects called as ``init(shape, dtype=None,
partition_info=None)`` that build the Tensor a variable starts from.

The random ones build ordinary random ops (``random_uniform``,
``random_normal``, ``truncated_normal``) with the initializer's ``seed``, so
TF's seeding rules apply unchanged. ``tf.initializers`` is the namespace of
TF 1.15's ``tf.compat.v1.initializers`` (``he_normal`` and friends live
there, as in TF).
"""
import math
import types

import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops, constant_op, random_ops
from nbflow.ops.variables import global_variables_initializer, local_variables_initializer, variables_initializer

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "Orthogonal",
    "zeros_initializer", "ones_initializer", "constant_initializer", "random_uniform_initializer",
    "random_normal_initializer", "truncated_normal_initializer", "glorot_uniform_initializer",
    "glorot_normal_initializer", "variance_scaling_initializer", "orthogonal_initializer",
    "uniform_unit_scaling_initializer", "initializers",
]


def _assert_float_dtype(dtype):
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError("Expected floating point type, got %s." % dtype.name)
    return dtype


def _shape_list(shape):
    """An initializer's ``shape`` argument as a list of ints (TF accepts lists,
    tuples, TensorShapes)."""
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError("Initializers need a fully defined shape, got %s" % shape)
        return shape.as_list()
    if np.isscalar(shape):
        return [int(shape)]
    out = []
    for d in shape:
        if d is None:
            raise ValueError("Initializers need a fully defined shape, got %s" % (list(shape),))
        out.append(int(d))
    return out


class Initializer:
    """Base class of the initializers (``tf.keras.initializers.Initializer`` in TF 1.x)."""

    def __call__(self, shape, dtype=None, partition_info=None):
        # abstract, as TF's: subclasses produce the initial value
        raise TypeError("%s is an abstract Initializer: use a subclass such as tf.zeros_initializer()"
                        % type(self).__name__)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)  # as TF: the dtype comes at call time
        return cls(**config)


class Zeros(Initializer):
    """``tf.zeros_initializer``: all zeros."""

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        return array_ops.zeros(_shape_list(shape), dtype)

    def get_config(self):
        return {"dtype": self.dtype.name}


class Ones(Initializer):
    """``tf.ones_initializer``: all ones."""

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        return array_ops.ones(_shape_list(shape), dtype)

    def get_config(self):
        return {"dtype": self.dtype.name}


class Constant(Initializer):
    """``tf.constant_initializer(value=0, dtype=tf.float32, verify_shape=False)``.

    As TF 1.x: a scalar fills the tensor; a list with fewer elements than the
    shape is padded with its last element; more elements is an error."""

    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False):
        if not (np.isscalar(value) or isinstance(value, (list, tuple, np.ndarray))):
            raise TypeError("Invalid type for initial value: %s (expected Python scalar, list or tuple of values, "
                            "or numpy.ndarray)." % type(value))
        self.value = value
        self.dtype = dtypes.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(self, shape, dtype=None, partition_info=None, verify_shape=None):
        dtype = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        if verify_shape is None:
            verify_shape = self._verify_shape
        shape = _shape_list(shape)
        arr = np.asarray(self.value)
        if verify_shape and list(arr.shape) != shape:
            raise TypeError("Expected Tensor's shape: %s, got %s." % (tuple(shape), arr.shape))
        n = int(np.prod(shape))
        if arr.size != 1 and arr.size != n:
            flat = arr.reshape(-1)
            if flat.size > n:
                raise ValueError("Too many elements provided. Needed at most %d, but received %d"
                                 % (n, flat.size))
            if flat.size == 0:
                raise ValueError("Cannot initialize a tensor of %d elements from an empty value" % n)
            arr = np.concatenate([flat, np.repeat(flat[-1:], n - flat.size)])
        return constant_op.constant(arr, dtype=dtype, shape=shape)

    def get_config(self):
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    """``tf.random_uniform_initializer(minval=0, maxval=None, seed=None, dtype=tf.float32)``;
    maxval None means 1 for floats (an integer dtype needs maxval)."""

    def __init__(self, minval=0, maxval=None, seed=None, dtype=dtypes.float32):
        self.minval = minval
        self.maxval = maxval
        self.seed = seed
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        return random_ops.random_uniform(_shape_list(shape), self.minval, self.maxval, dtype, seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed, "dtype": self.dtype.name}


class RandomNormal(Initializer):
    """``tf.random_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=tf.float32)``."""

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _assert_float_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else _assert_float_dtype(dtype)
        return random_ops.random_normal(_shape_list(shape), self.mean, self.stddev, dtype, seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class TruncatedNormal(Initializer):
    """``tf.truncated_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=tf.float32)``:
    normal values more than two standard deviations from the mean are redrawn."""

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _assert_float_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else _assert_float_dtype(dtype)
        return random_ops.truncated_normal(_shape_list(shape), self.mean, self.stddev, dtype, seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


def _compute_fans(shape):
    """(fan_in, fan_out) of a weight shape, as TF: the last two dims are
    (inputs, outputs), the others the receptive field (convolution kernels)."""
    if len(shape) < 1:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = 1
        for d in shape[:-2]:
            receptive *= d
        fan_in = shape[-2] * receptive
        fan_out = shape[-1] * receptive
    return int(fan_in), int(fan_out)


# std of a unit normal truncated to [-2, 2] (scipy.stats.truncnorm.std(a=-2, b=2))
_TRUNCATED_STD = 0.87962566103423978


class VarianceScaling(Initializer):
    """``tf.variance_scaling_initializer(scale=1.0, mode="fan_in",
    distribution="truncated_normal", seed=None, dtype=tf.float32)``.

    With n the fan_in, fan_out or their mean: "truncated_normal" (and TF 1.x's
    alias "normal") draws from a normal truncated at two standard deviations
    whose std is sqrt(scale / n); "untruncated_normal" from N(0, scale / n);
    "uniform" from U(-limit, limit) with limit = sqrt(3 * scale / n)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 dtype=dtypes.float32):
        if scale <= 0.:
            raise ValueError("`scale` must be positive float.")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError("Invalid `mode` argument:", mode)
        distribution = distribution.lower()
        if distribution not in {"normal", "uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError("Invalid `distribution` argument:", distribution)
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed
        self.dtype = _assert_float_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else _assert_float_dtype(dtype)
        shape = _shape_list(shape)
        scale_shape = shape
        if partition_info is not None:
            scale_shape = list(partition_info.full_shape)
        fan_in, fan_out = _compute_fans(scale_shape)
        scale = float(self.scale)
        if self.mode == "fan_in":
            scale /= max(1., fan_in)
        elif self.mode == "fan_out":
            scale /= max(1., fan_out)
        else:
            scale /= max(1., (fan_in + fan_out) / 2.)
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(scale) / _TRUNCATED_STD
            return random_ops.truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(scale), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "dtype": self.dtype.name}


class GlorotUniform(VarianceScaling):
    """``tf.glorot_uniform_initializer``: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """``tf.glorot_normal_initializer``: truncated normal, std sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


class UniformUnitScaling(Initializer):
    """``tf.uniform_unit_scaling_initializer(factor=1.0, seed=None, dtype=tf.float32)``
    (deprecated in TF): U(-m, m) with m = factor * sqrt(3 / input_size)."""

    def __init__(self, factor=1.0, seed=None, dtype=dtypes.float32):
        self.factor = factor
        self.seed = seed
        self.dtype = _assert_float_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = self.dtype if dtype is None else _assert_float_dtype(dtype)
        shape = _shape_list(shape)
        scale_shape = list(partition_info.full_shape) if partition_info is not None else shape
        input_size = 1.0
        for d in scale_shape[:-1]:
            input_size *= float(d)
        input_size = max(input_size, 1.0)
        limit = math.sqrt(3 / input_size) * self.factor
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self):
        return {"factor": self.factor, "seed": self.seed, "dtype": self.dtype.name}


class Orthogonal(Initializer):
    """``tf.orthogonal_initializer``: needs a QR decomposition op, which nbflow
    does not have yet; constructing one raises NotImplementedError."""

    def __init__(self, gain=1.0, seed=None, dtype=dtypes.float32):
        raise NotImplementedError("tf.orthogonal_initializer is not supported by nbflow yet (it needs a QR "
                                  "decomposition op, tf.linalg.qr, which nbflow does not have)")


# TF 1.x's lowercase names are the classes themselves.
zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
uniform_unit_scaling_initializer = UniformUnitScaling
orthogonal_initializer = Orthogonal


def he_normal(seed=None):
    """He normal: truncated normal with std sqrt(2 / fan_in)."""
    return VarianceScaling(scale=2., mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed=None):
    """He uniform: U(-limit, limit), limit = sqrt(6 / fan_in)."""
    return VarianceScaling(scale=2., mode="fan_in", distribution="uniform", seed=seed)


def lecun_normal(seed=None):
    """LeCun normal: truncated normal with std sqrt(1 / fan_in)."""
    return VarianceScaling(scale=1., mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed=None):
    """LeCun uniform: U(-limit, limit), limit = sqrt(3 / fan_in)."""
    return VarianceScaling(scale=1., mode="fan_in", distribution="uniform", seed=seed)


#: ``tf.initializers`` (TF 1.15's ``tf.compat.v1.initializers``).
initializers = types.SimpleNamespace(
    zeros=Zeros, ones=Ones, constant=Constant, random_uniform=RandomUniform, random_normal=RandomNormal,
    truncated_normal=TruncatedNormal, variance_scaling=VarianceScaling, glorot_uniform=GlorotUniform,
    glorot_normal=GlorotNormal, uniform_unit_scaling=UniformUnitScaling, orthogonal=Orthogonal,
    he_normal=he_normal, he_uniform=he_uniform, lecun_normal=lecun_normal, lecun_uniform=lecun_uniform,
    global_variables=global_variables_initializer, local_variables=local_variables_initializer,
    variables=variables_initializer, Initializer=Initializer,
)
