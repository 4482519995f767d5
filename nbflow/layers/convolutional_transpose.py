"""``tf.layers.Conv2DTranspose`` and ``tf.layers.conv2d_transpose`` (NHWC).

The transposed convolution ("deconvolution") is ``tf.nn.conv2d_transpose``
(the input gradient of a convolution, one Conv2DBackpropInput op) followed by
the bias and the activation. The kernel is kernel_size + (filters,
in_channels) -- the output and input channel axes swapped against Conv2D, as
TF -- and the output size per spatial dimension is keras'
``deconv_output_length``: ``in * stride + max(kernel - stride, 0)`` for
'valid', ``in * stride`` for 'same', or, with ``output_padding``,
``(in - 1) * stride + kernel - 2 * pad + output_padding`` (pad = kernel // 2
for 'same', 0 for 'valid').
"""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.layers.base import KernelBiasLayer, normalize_data_format, normalize_padding, normalize_tuple
from nbflow.ops import array_ops as A
from nbflow.ops import init_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.conv_ops import conv2d_transpose as nn_conv2d_transpose

__all__ = ["Conv2DTranspose", "Convolution2DTranspose", "conv2d_transpose", "deconv_output_length"]


def deconv_output_length(input_length, filter_size, padding, output_padding=None, stride=0, dilation=1):
    """The output length of a transposed convolution (keras' conv_utils rule)."""
    if input_length is None:
        return None
    filter_size = filter_size + (filter_size - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return input_length * stride + max(filter_size - stride, 0)
        return input_length * stride
    pad = filter_size // 2 if padding == "same" else 0
    return (input_length - 1) * stride + filter_size - 2 * pad + output_padding


class Conv2DTranspose(KernelBiasLayer):
    """Transposed 2-D convolution layer: ``activation(conv2d_transpose(inputs, kernel) + bias)``.

    ``kernel`` is kernel_size + (filters, in_channels) (glorot_uniform by
    default), ``bias`` [filters] (zeros). ``padding`` 'valid' or 'same';
    ``strides`` an int or a pair; ``output_padding`` (keras' keyword, also
    accepted here) an int or pair below the strides; ``dilation_rate`` only
    with unit strides. Only ``data_format='channels_last'`` is supported."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                 activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                 output_padding=None, dilation_rate=(1, 1), **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        self.rank = 2
        self.filters = int(filters)
        if self.filters <= 0:
            raise ValueError("Conv2DTranspose: filters must be a positive integer, got %r" % (filters,))
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, "Conv2DTranspose")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if any(s > 1 for s in self.strides) and any(d > 1 for d in self.dilation_rate):
            raise ValueError("Conv2DTranspose: strides > 1 together with dilation_rate > 1 is not supported (got "
                             "strides=%s, dilation_rate=%s)" % (self.strides, self.dilation_rate))
        self.output_padding = output_padding
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, 2, "output_padding")
            for stride, out_pad in zip(self.strides, self.output_padding):
                if out_pad >= stride:
                    raise ValueError("Stride %s must be greater than output padding %s"
                                     % (list(self.strides), list(self.output_padding)))
        self._set_kernel_bias_args(activation, use_bias, kernel_initializer, bias_initializer,
                                   kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        dtype = self.dtype or dtypes.float32
        if input_shape.ndims is not None and input_shape.ndims != 4:
            raise ValueError("Inputs should have rank 4. Received input shape: %s" % input_shape)
        if input_shape.ndims is None or input_shape.as_tuple()[-1] is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        input_dim = input_shape.as_tuple()[-1]
        self._add_kernel_bias(list(self.kernel_size) + [self.filters, input_dim], self.filters, dtype)

    def _out_lengths(self, dims):
        pads = self.output_padding or (None, None)
        return [deconv_output_length(dims[1 + i], self.kernel_size[i], self.padding, pads[i], self.strides[i],
                                     self.dilation_rate[i]) for i in range(2)]

    def call(self, inputs):
        if inputs.shape.ndims is not None and inputs.shape.ndims != 4:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=4, found ndim=%d. "
                             "Full shape received: %s" % (self.name, inputs.shape.ndims, inputs.shape))
        outputs = nn_conv2d_transpose(inputs, self.kernel, transpose_output_shape(self, inputs), strides=[1] + list(self.strides) + [1],
                                      padding=self.padding.upper(),
                                      dilations=[1] + list(self.dilation_rate) + [1], data_format="NHWC",
                                      name="conv2d_transpose")
        outputs.set_shape(self.compute_output_shape(inputs.shape))
        return self._bias_and_activation(outputs)

    def compute_output_shape(self, input_shape):
        input_shape = TensorShape(input_shape)
        dims = input_shape.as_tuple() if input_shape.ndims is not None else (None,) * 4
        out_h, out_w = self._out_lengths(dims)
        return TensorShape([dims[0], out_h, out_w, self.filters])


Convolution2DTranspose = Conv2DTranspose


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     activation=None, use_bias=True, kernel_initializer=None,
                     bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                     name=None, reuse=None):
    """Functional interface of :class:`Conv2DTranspose` (``tf.layers.conv2d_transpose``)."""
    layer = Conv2DTranspose(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                            data_format=data_format, activation=activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                            activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                            bias_constraint=bias_constraint, trainable=trainable, name=name, _reuse=reuse,
                            _scope=name)
    return layer.apply(inputs)


def transpose_output_shape(layer, inputs):
    """A 2-D transposed convolution's output shape (tf.layers' and tf.keras'
    Conv2DTranspose, NHWC): a list when the input's static shape gives it, else a
    tensor computed from ``tf.shape(inputs)`` when the graph runs, as Keras does."""
    dims = inputs.shape.as_tuple() if inputs.shape.ndims is not None else (None,) * 4
    output_shape = [dims[0]] + list(layer._out_lengths(dims)) + [layer.filters]
    if None not in output_shape:
        return output_shape
    shape = A.shape(inputs)
    pads = layer.output_padding or (None, None)
    dynamic = [shape[0]]
    for i in range(2):
        if output_shape[1 + i] is not None:
            dynamic.append(convert_to_tensor(output_shape[1 + i], dtype=dtypes.int32))
            continue
        k = layer.kernel_size[i] + (layer.kernel_size[i] - 1) * (layer.dilation_rate[i] - 1)
        s = layer.strides[i]
        if pads[i] is None:
            dynamic.append(shape[1 + i] * s + (max(k - s, 0) if layer.padding == "valid" else 0))
        else:
            pad = k // 2 if layer.padding == "same" else 0
            dynamic.append((shape[1 + i] - 1) * s + (k - 2 * pad + pads[i]))
    dynamic.append(convert_to_tensor(layer.filters, dtype=dtypes.int32))
    return A.stack(dynamic)
