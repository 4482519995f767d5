"""``tf.contrib.layers`` initializers: ``xavier_initializer``,
``xavier_initializer_conv2d`` and contrib's ``variance_scaling_initializer``
(the ``factor`` / ``mode`` / ``uniform`` signature, not core TF's
``scale`` / ``mode`` / ``distribution`` one).

Fans as contrib computes them: fan_in = shape[-2] (shape[-1] for a vector),
fan_out = shape[-1], both multiplied by every leading (receptive field)
dimension; a scalar shape has fans of 1. With n = fan_in, fan_out or their
mean: ``uniform`` draws from U(-limit, limit), limit = sqrt(3 * factor / n);
otherwise from a normal truncated at two standard deviations with stddev
sqrt(1.3 * factor / n) (contrib's correction for the truncation).
"""
import math

from nbflow.framework import dtypes
from nbflow.ops import random_ops
from nbflow.ops.init_ops import _shape_list

__all__ = ["xavier_initializer", "xavier_initializer_conv2d", "variance_scaling_initializer"]


def xavier_initializer(uniform=True, seed=None, dtype=dtypes.float32):
    """Glorot & Bengio (2010): ``variance_scaling_initializer(factor=1.0,
    mode='FAN_AVG', uniform=uniform)``, i.e. U(+-sqrt(6 / (fan_in + fan_out)))
    when ``uniform`` (the default)."""
    return variance_scaling_initializer(factor=1.0, mode="FAN_AVG", uniform=uniform, seed=seed, dtype=dtype)


xavier_initializer_conv2d = xavier_initializer


def variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False, seed=None, dtype=dtypes.float32):
    """He et al. (2015) by default (``factor=2.0, mode='FAN_IN', uniform=False``);
    ``factor=1.0, mode='FAN_AVG', uniform=True`` is Xavier. Returns an
    initializer function ``init(shape, dtype=dtype, partition_info=None)``."""
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise TypeError("Cannot create initializer for non-floating point type.")
    if mode not in ["FAN_IN", "FAN_OUT", "FAN_AVG"]:
        raise TypeError("Unknown mode %s [FAN_IN, FAN_OUT, FAN_AVG]" % (mode,))
    default_dtype = dtype

    def _initializer(shape, dtype=default_dtype, partition_info=None):
        dtype = dtypes.as_dtype(dtype)
        if not dtype.is_floating:
            raise TypeError("Cannot create initializer for non-floating point type.")
        shape = _shape_list(shape)
        if shape:
            fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
            fan_out = float(shape[-1])
        else:
            fan_in = fan_out = 1.0
        for dim in shape[:-2]:
            fan_in *= float(dim)
            fan_out *= float(dim)
        if mode == "FAN_IN":
            n = fan_in
        elif mode == "FAN_OUT":
            n = fan_out
        else:
            n = (fan_in + fan_out) / 2.0
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return random_ops.random_uniform(shape, -limit, limit, dtype, seed=seed)
        trunc_stddev = math.sqrt(1.3 * factor / n)
        return random_ops.truncated_normal(shape, 0.0, trunc_stddev, dtype, seed=seed)

    return _initializer
