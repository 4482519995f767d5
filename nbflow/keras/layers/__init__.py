"""``tf.keras.layers``: the TF 2 Keras layers on nbflow's ops.

``base_layer.Layer`` is the base (its docstring is the API the models build on);
each family is a module: core (Dense, Activation, Dropout, Flatten, Reshape),
convolutional, pooling, normalization, embeddings, recurrent, merge, input_layer.
"""
from nbflow.keras.layers.base_layer import InputSpec, Layer
from nbflow.keras.layers.convolutional import Conv2D, Conv2DTranspose, Convolution2D, Convolution2DTranspose
from nbflow.keras.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from nbflow.keras.layers.embeddings import Embedding
from nbflow.keras.layers.input_layer import InputLayer
from nbflow.keras.layers.merge import Add, Concatenate, Multiply
from nbflow.keras.layers.normalization import BatchNormalization
from nbflow.keras.layers.pooling import (
    AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D,
    MaxPool2D, MaxPooling2D,
)
from nbflow.keras.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell

__all__ = [
    "Layer", "InputSpec", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Conv2D", "Conv2DTranspose",
    "Convolution2D", "Convolution2DTranspose", "MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "BatchNormalization",
    "Embedding", "RNN", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell", "Add", "Multiply",
    "Concatenate", "InputLayer",
]
