"""``tf.layers.Conv2D`` and ``tf.layers.conv2d`` (NHWC, i.e. channels_last)."""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.layers.base import (
    KernelBiasLayer, normalize_data_format, normalize_padding, normalize_tuple,
)
from nbflow.ops import init_ops
from nbflow.ops.conv_ops import _out_and_pad, conv2d as nn_conv2d

__all__ = ["Conv2D", "conv2d", "Convolution2D"]


class Conv2D(KernelBiasLayer):
    """2-D convolution layer: ``activation(conv2d(inputs, kernel) + bias)``.

    ``kernel`` is kernel_size + (in_channels, filters) (glorot_uniform by
    default), ``bias`` is [filters] (zeros). ``padding`` is 'valid' or 'same'
    (any case); ``strides`` and ``dilation_rate`` are ints or pairs (not both
    above 1, as in TF). Only ``data_format='channels_last'`` is supported."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        self.rank = 2
        self.filters = int(filters)
        if self.filters <= 0:
            raise ValueError("Conv2D: filters must be a positive integer, got %r" % (filters,))
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, "Conv2D")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if any(s > 1 for s in self.strides) and any(d > 1 for d in self.dilation_rate):
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1 (got strides=%s, "
                             "dilation_rate=%s)" % (self.strides, self.dilation_rate))
        self._set_kernel_bias_args(activation, use_bias, kernel_initializer, bias_initializer,
                                   kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        dtype = self.dtype or dtypes.float32
        if input_shape.ndims is not None and input_shape.ndims != 4:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=4, found ndim=%d. "
                             "Full shape received: %s" % (self.name, input_shape.ndims, input_shape))
        if input_shape.ndims is None or input_shape.as_tuple()[-1] is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        input_dim = input_shape.as_tuple()[-1]
        kernel_shape = list(self.kernel_size) + [input_dim, self.filters]
        self._add_kernel_bias(kernel_shape, self.filters, dtype)

    def call(self, inputs):
        if inputs.shape.ndims is not None and inputs.shape.ndims != 4:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=4, found ndim=%d. "
                             "Full shape received: %s" % (self.name, inputs.shape.ndims, inputs.shape))
        outputs = nn_conv2d(inputs, self.kernel, strides=[1] + list(self.strides) + [1],
                            padding=self.padding.upper(), dilations=[1] + list(self.dilation_rate) + [1],
                            data_format="NHWC", name="Conv2D")
        return self._bias_and_activation(outputs)

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        space = []
        for i in range(2):
            d = dims[1 + i]
            space.append(None if d is None else _out_and_pad(d, self.kernel_size[i], self.strides[i],
                                                              self.dilation_rate[i], self.padding.upper())[0])
        return TensorShape([dims[0]] + space + [self.filters])


Convolution2D = Conv2D


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None,
           bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
           activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):
    """Functional interface of :class:`Conv2D` (``tf.layers.conv2d``)."""
    layer = Conv2D(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                   data_format=data_format, dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                   kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                   kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                   activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                   bias_constraint=bias_constraint, trainable=trainable, name=name, _reuse=reuse, _scope=name)
    return layer.apply(inputs)
