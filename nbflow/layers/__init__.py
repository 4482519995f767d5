"""``tf.layers`` (TF 1.x): Dense, Conv2D, Conv2DTranspose, MaxPooling2D, AveragePooling2D, Flatten,
Dropout, BatchNormalization -- the classes and their functional forms -- on the
``tf.layers.Layer`` base (variables through tf.get_variable / variable_scope,
named and shared as TF names and shares them).

Any other ``tf.layers.X`` raises a clear not-implemented error (an
AttributeError too, so ``hasattr`` stays False).
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.layers.base import Layer
from nbflow.layers.convolutional import Conv2D, Convolution2D, conv2d
from nbflow.layers.convolutional_transpose import Conv2DTranspose, Convolution2DTranspose, conv2d_transpose
from nbflow.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten
from nbflow.layers.normalization import BatchNormalization, batch_normalization
from nbflow.layers.pooling import (
    AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D, average_pooling2d, max_pooling2d,
)

__all__ = [
    "Layer", "Dense", "dense", "Dropout", "dropout", "Flatten", "flatten", "Conv2D", "Convolution2D", "conv2d",
    "Conv2DTranspose", "Convolution2DTranspose", "conv2d_transpose",
    "MaxPooling2D", "MaxPool2D", "max_pooling2d", "AveragePooling2D", "AvgPool2D", "average_pooling2d",
    "BatchNormalization", "batch_normalization",
]


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError(
        "tf.layers.%s is not implemented in nbflow yet (available: %s); build the layer from tf.get_variable, "
        "tf.matmul / tf.nn ops meanwhile" % (name, ", ".join(__all__)))
