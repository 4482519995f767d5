"""``tf.keras.optimizers.schedules``: learning rates as functions of the step.

A schedule is called on a step (a Python number or a scalar tensor; the Keras
optimizers pass ``iterations``, cast to the variable's dtype) and returns a
scalar tensor of ``initial_learning_rate``'s dtype; it works eagerly and in a
graph. The formulas are tf.train's (nbflow/train/learning_rate_decay.py),
with TF 2's arguments and ``get_config``.
"""
from nbflow.framework.graph import name_scope
from nbflow.ops import math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.train import learning_rate_decay as _decay

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "InverseTimeDecay",
           "PolynomialDecay", "serialize", "deserialize"]


class LearningRateSchedule:
    """Base class: ``schedule(step)`` is the learning rate at ``step``."""

    def __call__(self, step):
        raise NotImplementedError("Learning rate schedule must override __call__")

    def get_config(self):
        raise NotImplementedError("Learning rate schedule must override get_config")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """A decay of ``initial_learning_rate`` by ``decay_rate`` over ``decay_steps``: tf.train's
    function ``_decay_fn`` (nbflow/train/learning_rate_decay.py) of the step."""

    _decay_fn = None
    _default_name = None

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        return type(self)._decay_fn(self.initial_learning_rate, step, self.decay_steps, self.decay_rate,
                                    staircase=self.staircase, name=self.name or self._default_name)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ^ (step / decay_steps)`` (the exponent floored
    when ``staircase``)."""

    _decay_fn = staticmethod(_decay.exponential_decay)
    _default_name = "ExponentialDecay"


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, then ``values[-1]``. The boundaries are cast to
    the step's dtype (the optimizers pass a float step)."""

    def __init__(self, boundaries, values, name=None):
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        with name_scope(self.name or "PiecewiseConstant"):
            x = convert_to_tensor(step)
            boundaries = [convert_to_tensor(b) for b in self.boundaries]
            boundaries = [b if b.dtype is x.dtype else math_ops.cast(b, x.dtype) for b in boundaries]
            return _decay.piecewise_constant(x, boundaries, self.values)

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored
    when ``staircase``)."""

    _decay_fn = staticmethod(_decay.inverse_time_decay)
    _default_name = "InverseTimeDecay"


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ^ power + end``; with
    ``cycle`` the horizon grows to the next multiple of ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name=None):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        return _decay.polynomial_decay(self.initial_learning_rate, step, self.decay_steps,
                                       end_learning_rate=self.end_learning_rate, power=self.power,
                                       cycle=self.cycle, name=self.name or "PolynomialDecay")

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay)}


def serialize(learning_rate_schedule):
    return {"class_name": type(learning_rate_schedule).__name__, "config": learning_rate_schedule.get_config()}


def deserialize(config, custom_objects=None):
    classes = dict(_CLASSES, **(custom_objects or {}))
    name = config.get("class_name")
    if name not in classes:
        raise ValueError("Unknown decay: %s" % name)
    return classes[name].from_config(config["config"])
