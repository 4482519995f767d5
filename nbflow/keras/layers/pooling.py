"""``MaxPooling2D``, ``AveragePooling2D``, ``GlobalAveragePooling2D``, ``GlobalMaxPooling2D`` (NHWC)."""
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras.layers.base_layer import InputSpec, Layer
from nbflow.layers.base import normalize_padding, normalize_tuple
from nbflow.ops import reduction_ops as R
from nbflow.ops.conv_ops import _out_and_pad, avg_pool, max_pool

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "MaxPool2D",
           "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D"]


def _check_rank4(layer, shape):
    if shape.ndims is not None and shape.ndims != 4:
        raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=4, found ndim=%d. "
                         "Full shape received: %s" % (layer.name, shape.ndims, shape))


def _channels_last(data_format, what):
    if data_format not in (None, "channels_last"):
        raise NotImplementedError("%s: only data_format='channels_last' (NHWC) is supported by nbflow" % what)
    return "channels_last"


class _Pooling2D(Layer):
    _pool = None
    _op_name = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        if strides is None:
            strides = pool_size
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = _channels_last(data_format, type(self).__name__)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        _check_rank4(self, inputs.shape)
        return type(self)._pool(inputs, ksize=(1,) + self.pool_size + (1,), strides=(1,) + self.strides + (1,),
                                padding=self.padding.upper(), data_format="NHWC", name=self._op_name)

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        space = [None if dims[1 + i] is None else
                 _out_and_pad(dims[1 + i], self.pool_size[i], self.strides[i], 1, self.padding.upper())[0]
                 for i in range(2)]
        return TensorShape([dims[0]] + space + [dims[3]])

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                      data_format=self.data_format)
        return config


class MaxPooling2D(_Pooling2D):
    """Max over ``pool_size`` windows moved by ``strides`` (default: pool_size)."""
    _pool = staticmethod(max_pool)
    _op_name = "MaxPool"


class AveragePooling2D(_Pooling2D):
    """Average over ``pool_size`` windows; with 'same' padding only elements inside the input count."""
    _pool = staticmethod(avg_pool)
    _op_name = "AvgPool"


class _GlobalPooling2D(Layer):
    _reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        _check_rank4(self, inputs.shape)
        return type(self)._reduce(inputs, axis=[1, 2], keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        return TensorShape([dims[0], 1, 1, dims[3]] if self.keepdims else [dims[0], dims[3]])

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes: [N, H, W, C] -> [N, C] ([N, 1, 1, C] with keepdims)."""
    _reduce = staticmethod(R.reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over the spatial axes: [N, H, W, C] -> [N, C] ([N, 1, 1, C] with keepdims)."""
    _reduce = staticmethod(R.reduce_max)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
