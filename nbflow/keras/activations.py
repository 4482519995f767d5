"""``tf.keras.activations``: functions by name, ``get`` / ``serialize`` / ``deserialize``.

Each is built from existing ops (Relu, Elu, Selu, Softplus, Sigmoid, Tanh,
Softmax ...), so it runs eagerly, in a tf.function and in TF 1 graphs alike.
"""
from nbflow.ops import math_ops as M
from nbflow.ops import nn_ops

__all__ = ["relu", "relu6", "elu", "selu", "softplus", "softsign", "sigmoid", "hard_sigmoid", "tanh", "softmax",
           "linear", "exponential", "swish", "get", "serialize", "deserialize"]


def relu(x, alpha=0.0, max_value=None, threshold=0):
    """``max(x, 0)``; with ``alpha`` a leaky slope below ``threshold``, clipped at ``max_value``."""
    if alpha == 0 and max_value is None and threshold == 0:
        return nn_ops.relu(x)
    if threshold != 0:
        y = M.where_v2(x > threshold, x, M.cast(alpha, x.dtype) * (x - M.cast(threshold, x.dtype)))
    elif alpha != 0:
        y = M.maximum(x, M.cast(alpha, x.dtype) * x)
    else:
        y = nn_ops.relu(x)
    if max_value is not None:
        y = M.minimum(y, M.cast(max_value, y.dtype))
    return y


def relu6(x):
    return nn_ops.relu6(x)


def elu(x, alpha=1.0):
    y = nn_ops.elu(x)
    if alpha == 1:
        return y
    return M.where_v2(x > 0, y, M.cast(alpha, x.dtype) * y)


def selu(x):
    return nn_ops.selu(x)


def softplus(x):
    return nn_ops.softplus(x)


def softsign(x):
    return nn_ops.softsign(x)


def sigmoid(x):
    return M.sigmoid(x)


def hard_sigmoid(x):
    """``clip(0.2 * x + 0.5, 0, 1)`` (Keras')."""
    y = M.cast(0.2, x.dtype) * x + M.cast(0.5, x.dtype)
    return M.minimum(M.maximum(y, M.cast(0.0, x.dtype)), M.cast(1.0, x.dtype))


def tanh(x):
    return M.tanh(x)


def softmax(x, axis=-1):
    if x.shape.ndims is not None and x.shape.ndims <= 1:
        raise ValueError("Cannot apply softmax to a tensor that is 1D. Received input: %s" % (x,))
    return nn_ops.softmax(x, axis=axis)


def linear(x):
    return x


def exponential(x):
    return M.exp(x)


def swish(x):
    """``x * sigmoid(x)``."""
    return x * M.sigmoid(x)


_BY_NAME = {f.__name__: f for f in (relu, relu6, elu, selu, softplus, softsign, sigmoid, hard_sigmoid, tanh, softmax,
                                    linear, exponential, swish)}
_BY_NAME["silu"] = swish


def serialize(activation):
    name = getattr(activation, "__name__", None)
    if name in _BY_NAME and _BY_NAME[name] is activation:
        return name
    for key, fn in _BY_NAME.items():
        if fn is activation:
            return key
    if name is not None:
        return name
    raise ValueError("Cannot serialize activation %r" % (activation,))


def deserialize(name, custom_objects=None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name not in _BY_NAME:
        raise ValueError("Unknown activation function: %s" % name)
    return _BY_NAME[name]


def get(identifier):
    """None -> linear; a name -> the function; a callable -> itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return deserialize(identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier.get("class_name") or identifier.get("config"))
    if callable(identifier):
        return identifier
    raise TypeError("Could not interpret activation function identifier: %r" % (identifier,))
