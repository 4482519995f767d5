"""``tf.layers.MaxPooling2D`` / ``AveragePooling2D`` and their functional forms (NHWC)."""
from nbflow.framework.tensor_shape import TensorShape
from nbflow.layers.base import Layer, normalize_data_format, normalize_padding, normalize_tuple
from nbflow.ops.conv_ops import _out_and_pad, avg_pool, max_pool

__all__ = ["MaxPooling2D", "max_pooling2d", "AveragePooling2D", "average_pooling2d", "MaxPool2D", "AvgPool2D"]


class _Pooling2D(Layer):
    _pool = None
    _op_name = None

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if strides is None:
            strides = pool_size
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, type(self).__name__)

    def call(self, inputs):
        if inputs.shape.ndims is not None and inputs.shape.ndims != 4:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=4, found ndim=%d. "
                             "Full shape received: %s" % (self.name, inputs.shape.ndims, inputs.shape))
        return type(self)._pool(inputs, ksize=(1,) + self.pool_size + (1,), strides=(1,) + self.strides + (1,),
                                padding=self.padding.upper(), data_format="NHWC", name=self._op_name)

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        space = [None if dims[1 + i] is None else
                 _out_and_pad(dims[1 + i], self.pool_size[i], self.strides[i], 1, self.padding.upper())[0]
                 for i in range(2)]
        return TensorShape([dims[0]] + space + [dims[3]])


class MaxPooling2D(_Pooling2D):
    """Max pooling over ``pool_size`` windows moved by ``strides`` (NHWC)."""

    _pool = staticmethod(max_pool)
    _op_name = "MaxPool"


class AveragePooling2D(_Pooling2D):
    """Average pooling over ``pool_size`` windows moved by ``strides`` (NHWC);
    with 'same' padding the average counts only the elements inside the input."""

    _pool = staticmethod(avg_pool)
    _op_name = "AvgPool"


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Functional interface of :class:`MaxPooling2D` (``tf.layers.max_pooling2d``)."""
    return MaxPooling2D(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format,
                        name=name).apply(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Functional interface of :class:`AveragePooling2D` (``tf.layers.average_pooling2d``)."""
    return AveragePooling2D(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format,
                            name=name).apply(inputs)
