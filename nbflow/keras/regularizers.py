"""``tf.keras.regularizers``: ``L1``, ``L2``, ``L1L2`` (and ``l1``, ``l2``, ``l1_l2``);
a regularizer maps a weight tensor to a scalar loss built from ordinary ops."""
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        loss = None
        if self.l1:
            loss = M.cast(self.l1, x.dtype) * R.reduce_sum(M.abs(x))
        if self.l2:
            term = M.cast(self.l2, x.dtype) * R.reduce_sum(M.square(x))
            loss = term if loss is None else loss + term
        if loss is None:
            loss = M.cast(0.0, x.dtype)
        return loss

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01, **kwargs):
        super().__init__(l1=kwargs.pop("l", l1))

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01, **kwargs):
        super().__init__(l2=kwargs.pop("l", l2))

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):  # noqa: E741 - Keras' name
    return L1(l1=l1)


def l2(l2=0.01):
    return L2(l2=l2)


def l1_l2(l1=0.01, l2=0.01):  # noqa: E741
    return L1L2(l1=l1, l2=l2)


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": L1L2}


def serialize(regularizer):
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError("Unknown regularizer: %s" % name)
    return cls(**config.get("config", {}))


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _CLASSES:
            raise ValueError("Unknown regularizer: %s" % identifier)
        return _CLASSES[identifier]()
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret regularizer identifier: %r" % (identifier,))
