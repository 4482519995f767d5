"""TF 1.x learning-rate schedules, built from ops so that ``global_step`` may be
a variable or tensor: exponential_decay, natural_exp_decay, inverse_time_decay,
polynomial_decay, piecewise_constant, cosine_decay, cosine_decay_restarts,
linear_cosine_decay.

Each returns a Tensor (graph mode) of ``learning_rate``'s dtype.
"""
import math

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.ops import math_ops
from nbflow.ops.array_ops import identity
from nbflow.ops.base import convert_n_to_tensor, convert_to_tensor
from nbflow.ops.constant_op import constant

__all__ = ["exponential_decay", "natural_exp_decay", "inverse_time_decay", "polynomial_decay",
           "piecewise_constant", "piecewise_constant_decay", "cosine_decay", "cosine_decay_restarts",
           "linear_cosine_decay"]


def _require_step(global_step, fn):
    if global_step is None:
        raise ValueError("global_step is required for %s." % fn)


def _prologue(learning_rate, global_step):
    lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
    if not lr.dtype.is_floating:
        raise TypeError("learning_rate must be a floating point value, got dtype %s" % lr.dtype.name)
    return lr, lr.dtype, math_ops.cast(global_step, lr.dtype)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """``learning_rate * decay_rate ^ (global_step / decay_steps)`` (the exponent
    floored when ``staircase``)."""
    _require_step(global_step, "exponential_decay")
    with name_scope(name, "ExponentialDecay", [learning_rate, global_step, decay_steps, decay_rate]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        decay_steps = math_ops.cast(decay_steps, dtype)
        decay_rate = math_ops.cast(decay_rate, dtype)
        p = step / decay_steps
        if staircase:
            p = math_ops.floor(p)
        return math_ops.multiply(lr, math_ops.pow(decay_rate, p), name=scope)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """``learning_rate * exp(-decay_rate * global_step / decay_steps)`` (the step
    ratio floored when ``staircase``)."""
    _require_step(global_step, "natural_exp_decay")
    with name_scope(name, "NaturalExpDecay", [learning_rate, global_step, decay_rate]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        decay_steps = math_ops.cast(decay_steps, dtype)
        decay_rate = math_ops.cast(decay_rate, dtype)
        p = step / decay_steps
        if staircase:
            p = math_ops.floor(p)
        return math_ops.multiply(lr, math_ops.exp(math_ops.negative(decay_rate) * p), name=scope)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)`` (the step
    ratio floored when ``staircase``)."""
    _require_step(global_step, "inverse_time_decay")
    with name_scope(name, "InverseTimeDecay", [learning_rate, global_step, decay_rate]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        decay_steps = math_ops.cast(decay_steps, dtype)
        decay_rate = math_ops.cast(decay_rate, dtype)
        p = step / decay_steps
        if staircase:
            p = math_ops.floor(p)
        denom = math_ops.add(math_ops.cast(constant(1), dtype), math_ops.multiply(decay_rate, p))
        return math_ops.truediv(lr, denom, name=scope)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                     name=None):
    """``(lr - end_lr) * (1 - min(step, decay_steps) / decay_steps) ^ power + end_lr``;
    with ``cycle`` the horizon is decay_steps times ceil(step / decay_steps)
    (1 at step 0)."""
    _require_step(global_step, "polynomial_decay")
    with name_scope(name, "PolynomialDecay",
                    [learning_rate, global_step, decay_steps, end_learning_rate, power]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        end_lr = math_ops.cast(end_learning_rate, dtype)
        power = math_ops.cast(power, dtype)
        decay_steps_t = math_ops.cast(decay_steps, dtype)
        if cycle:
            multiplier = math_ops.where(math_ops.equal(step, 0), math_ops.cast(1.0, dtype),
                                        math_ops.ceil(step / decay_steps_t))
            decay_steps_t = math_ops.multiply(decay_steps_t, multiplier)
        else:
            step = math_ops.minimum(step, decay_steps_t)
        p = math_ops.truediv(step, decay_steps_t)
        return math_ops.add(math_ops.multiply(lr - end_lr, math_ops.pow(1 - p, power)), end_lr, name=scope)


def piecewise_constant(x, boundaries, values, name=None):
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < x <= boundaries[i]``, ``values[-1]`` after the last
    boundary. Boundaries must increase; int32 boundaries are promoted for an
    int64 ``x``."""
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant", [x]) as scope:
        x = convert_to_tensor(x)
        boundaries = convert_n_to_tensor(boundaries)
        values = convert_n_to_tensor(values)
        for i, b in enumerate(boundaries):
            if b.dtype is not x.dtype:
                if b.dtype is dtypes.int32 and x.dtype is dtypes.int64:
                    boundaries[i] = math_ops.cast(b, dtypes.int64)
                else:
                    raise ValueError("Boundaries (%s) must have the same dtype as x (%s)."
                                     % (b.dtype.name, x.dtype.name))
        for v in values[1:]:
            if v.dtype is not values[0].dtype:
                raise ValueError("Values must have elements all with the same dtype (%s vs %s)."
                                 % (values[0].dtype.name, v.dtype.name))
        if x.shape.ndims not in (None, 0):
            raise ValueError("piecewise_constant: x must be a scalar, got shape %s" % x.shape)
        result = values[0]
        for i, b in enumerate(boundaries):
            last = i == len(boundaries) - 1
            result = math_ops.where_v2(math_ops.greater(x, b), values[i + 1], result, name=scope if last else None)
        if not boundaries:
            result = identity(result, name=scope)
        return result


piecewise_constant_decay = piecewise_constant


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """``lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)``."""
    _require_step(global_step, "cosine_decay")
    with name_scope(name, "CosineDecay", [learning_rate, global_step]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        decay_steps = math_ops.cast(decay_steps, dtype)
        step = math_ops.minimum(step, decay_steps)
        completed = step / decay_steps
        cosine = 0.5 * (1.0 + math_ops.cos(constant(math.pi, dtype=dtype) * completed))
        decayed = (1 - alpha) * cosine + alpha
        return math_ops.multiply(lr, decayed, name=scope)


def cosine_decay_restarts(learning_rate, global_step, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                          name=None):
    """Cosine decay with warm restarts (SGDR): period i lasts
    ``first_decay_steps * t_mul^i`` steps and starts at ``lr * m_mul^i``."""
    _require_step(global_step, "cosine_decay_restarts")
    with name_scope(name, "SGDRDecay", [learning_rate, global_step]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        first = math_ops.cast(first_decay_steps, dtype)
        alpha_t = math_ops.cast(alpha, dtype)
        t_mul_t = math_ops.cast(t_mul, dtype)
        m_mul_t = math_ops.cast(m_mul, dtype)
        completed = step / first
        if t_mul == 1.0:
            i_restart = math_ops.floor(completed)
            completed = completed - i_restart
        else:
            i_restart = math_ops.floor(math_ops.log(1.0 - completed * (1.0 - t_mul_t)) / math_ops.log(t_mul_t))
            sum_r = (1.0 - t_mul_t ** i_restart) / (1.0 - t_mul_t)
            completed = (completed - sum_r) / t_mul_t ** i_restart
        m_fac = m_mul_t ** i_restart
        cosine = 0.5 * m_fac * (1.0 + math_ops.cos(constant(math.pi, dtype=dtype) * completed))
        decayed = (1 - alpha_t) * cosine + alpha_t
        return math_ops.multiply(lr, decayed, name=scope)


def linear_cosine_decay(learning_rate, global_step, decay_steps, num_periods=0.5, alpha=0.0, beta=0.001,
                        name=None):
    """``lr * ((alpha + linear) * cosine + beta)`` with ``linear = (decay_steps -
    step') / decay_steps``, ``cosine = 0.5 * (1 + cos(2 pi num_periods step' /
    decay_steps))``, ``step' = min(step, decay_steps)``."""
    _require_step(global_step, "linear_cosine_decay")
    with name_scope(name, "LinearCosineDecay", [learning_rate, global_step]) as scope:
        lr, dtype, step = _prologue(learning_rate, global_step)
        decay_steps = math_ops.cast(decay_steps, dtype)
        num_periods = math_ops.cast(num_periods, dtype)
        step = math_ops.minimum(step, decay_steps)
        alpha = math_ops.cast(alpha, dtype)
        beta = math_ops.cast(beta, dtype)
        linear = (decay_steps - step) / decay_steps
        completed = step / decay_steps
        fraction = 2.0 * num_periods * completed
        cosine = 0.5 * (1.0 + math_ops.cos(constant(math.pi, dtype=dtype) * fraction))
        return math_ops.multiply(lr, (alpha + linear) * cosine + beta, name=scope)
