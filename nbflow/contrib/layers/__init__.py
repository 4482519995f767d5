"""``tf.contrib.layers`` (TF 1.15): the layer functions (``fully_connected``,
``conv2d``, ``conv2d_transpose``, ``max_pool2d``, ``avg_pool2d``, ``flatten``,
``dropout``, ``batch_norm``, ...), the initializers (``xavier_initializer``,
``variance_scaling_initializer``) and the regularizers (``l1_regularizer``,
``l2_regularizer``, ``sum_regularizer``, ``apply_regularization``, ...).

Any other ``tf.contrib.layers.X`` raises a clear not-implemented error (an
AttributeError too, so ``hasattr`` is False).
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.contrib.layers.initializers import (  # noqa: F401
    variance_scaling_initializer, xavier_initializer, xavier_initializer_conv2d,
)
from nbflow.contrib.layers.layers import (  # noqa: F401
    avg_pool2d, conv2d, conv2d_transpose, convolution, convolution2d, convolution2d_transpose, dropout, flatten,
    fully_connected, linear, max_pool2d, one_hot_encoding, relu, relu6, repeat, stack,
)
from nbflow.contrib.layers.normalization import batch_norm  # noqa: F401
from nbflow.contrib.layers.regularizers import (  # noqa: F401
    apply_regularization, l1_l2_regularizer, l1_regularizer, l2_regularizer, sum_regularizer,
)

__all__ = [
    "fully_connected", "linear", "relu", "relu6", "conv2d", "convolution2d", "convolution", "conv2d_transpose",
    "convolution2d_transpose", "max_pool2d", "avg_pool2d", "flatten", "dropout", "batch_norm", "one_hot_encoding",
    "repeat", "stack", "xavier_initializer", "xavier_initializer_conv2d", "variance_scaling_initializer",
    "l1_regularizer", "l2_regularizer", "l1_l2_regularizer", "sum_regularizer", "apply_regularization",
]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError(
        "tf.contrib.layers.%s is not implemented in nbflow; available: %s" % (name, ", ".join(__all__)))
