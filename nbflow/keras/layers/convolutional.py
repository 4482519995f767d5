"""``Conv2D`` and ``Conv2DTranspose`` (channels_last, NHWC), on the Conv2D and
Conv2DBackpropInput ops; shapes and argument rules as tf.layers' (nbflow/layers/)."""
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras.layers.base_layer import InputSpec, Layer
from nbflow.keras.layers.core import KernelBiasMixin
from nbflow.layers.base import normalize_padding, normalize_tuple
from nbflow.layers.convolutional_transpose import deconv_output_length, transpose_output_shape
from nbflow.ops.conv_ops import _out_and_pad
from nbflow.ops.conv_ops import conv2d as nn_conv2d
from nbflow.ops.conv_ops import conv2d_transpose as nn_conv2d_transpose

__all__ = ["Conv2D", "Conv2DTranspose", "Convolution2D", "Convolution2DTranspose"]


def _channels_last(data_format, what):
    if data_format not in (None, "channels_last"):
        raise NotImplementedError("%s: only data_format='channels_last' (NHWC) is supported by nbflow" % what)
    return "channels_last"


class _Conv2DBase(KernelBiasMixin, Layer):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.rank = 2
        self.filters = int(filters)
        if self.filters <= 0:
            raise ValueError("%s: filters must be a positive integer, got %r" % (type(self).__name__, filters))
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = _channels_last(data_format, type(self).__name__)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if any(s > 1 for s in self.strides) and any(d > 1 for d in self.dilation_rate):
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1 (got strides=%s, "
                             "dilation_rate=%s)" % (self.strides, self.dilation_rate))
        self._set_kernel_bias_args(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(ndim=4)

    def _check_input(self, shape):
        shape = TensorShape(shape)
        if shape.ndims is not None and shape.ndims != 4:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=4, found ndim=%d. "
                             "Full shape received: %s" % (self.name, shape.ndims, shape))
        if shape.ndims is None or shape.as_tuple()[-1] is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        return shape.as_tuple()[-1]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                      data_format=self.data_format, dilation_rate=self.dilation_rate, **self._kernel_bias_config())
        return config


class Conv2D(_Conv2DBase):
    """``activation(conv2d(inputs, kernel) + bias)``: kernel kernel_size + (in_channels, filters)."""

    def build(self, input_shape):
        channels = self._check_input(input_shape)
        self._add_kernel_bias(list(self.kernel_size) + [channels, self.filters], self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self._check_input(inputs.shape)
        outputs = nn_conv2d(inputs, self.kernel, strides=[1] + list(self.strides) + [1],
                            padding=self.padding.upper(), dilations=[1] + list(self.dilation_rate) + [1],
                            data_format="NHWC", name="Conv2D")
        return self._bias_and_activation(outputs)

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        space = [None if dims[1 + i] is None else
                 _out_and_pad(dims[1 + i], self.kernel_size[i], self.strides[i], self.dilation_rate[i],
                              self.padding.upper())[0] for i in range(2)]
        return TensorShape([dims[0]] + space + [self.filters])


class Conv2DTranspose(_Conv2DBase):
    """Transposed convolution: kernel kernel_size + (filters, in_channels); output
    lengths by Keras' ``deconv_output_length`` (``output_padding`` below the strides)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)
        self.output_padding = output_padding
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, 2, "output_padding")
            for stride, out_pad in zip(self.strides, self.output_padding):
                if out_pad >= stride:
                    raise ValueError("Stride %s must be greater than output padding %s"
                                     % (list(self.strides), list(self.output_padding)))

    def build(self, input_shape):
        channels = self._check_input(input_shape)
        self._add_kernel_bias(list(self.kernel_size) + [self.filters, channels], self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def _out_lengths(self, dims):
        pads = self.output_padding or (None, None)
        return [deconv_output_length(dims[1 + i], self.kernel_size[i], self.padding, pads[i], self.strides[i],
                                     self.dilation_rate[i]) for i in range(2)]

    def call(self, inputs):
        self._check_input(inputs.shape)
        outputs = nn_conv2d_transpose(inputs, self.kernel, transpose_output_shape(self, inputs), strides=[1] + list(self.strides) + [1],
                                      padding=self.padding.upper(), dilations=[1] + list(self.dilation_rate) + [1],
                                      data_format="NHWC", name="conv2d_transpose")
        outputs.set_shape(self.compute_output_shape(inputs.shape))
        return self._bias_and_activation(outputs)

    def compute_output_shape(self, input_shape):
        input_shape = TensorShape(input_shape)
        dims = input_shape.as_tuple() if input_shape.ndims is not None else (None,) * 4
        return TensorShape([dims[0]] + self._out_lengths(dims) + [self.filters])

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config


Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
