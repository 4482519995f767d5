"""``tf.keras.optimizers``: TF 2's optimizers (OptimizerV2) on nbflow's fused Apply ops.

SGD, Adam, RMSprop and Adagrad with TF 2's names and defaults; ``schedules``;
``get``/``serialize``/``deserialize``.
"""
from nbflow.keras.optimizers import schedules
from nbflow.keras.optimizers.optimizer_v2 import Optimizer
from nbflow.keras.optimizers.gradient_descent import SGD
from nbflow.keras.optimizers.adam import Adam
from nbflow.keras.optimizers.rmsprop import RMSprop
from nbflow.keras.optimizers.adagrad import Adagrad

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "Adagrad", "schedules", "get", "serialize", "deserialize"]

RMSProp = RMSprop  # TF's alias

_CLASSES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    """An optimizer from ``{"class_name": ..., "config": {...}}`` (class names in any case)."""
    classes = dict(_CLASSES)
    for name, cls in (custom_objects or {}).items():
        classes[name] = cls
    name = config.get("class_name")
    cls = classes.get(name) or classes.get(str(name).lower())
    if cls is None:
        raise ValueError("Unknown optimizer: %s" % name)
    return cls.from_config(config.get("config", {}), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from an instance (returned as is), a name ('adam', 'sgd', 'rmsprop',
    'adagrad': default arguments) or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError("Could not interpret optimizer identifier: %s" % (identifier,))
