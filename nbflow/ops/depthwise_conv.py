"""``tf.nn.depthwise_conv2d`` as a composition: each input channel convolved with its
own [fh, fw, 1, multiplier] filter slice (Conv2D), outputs concatenated channel-major
(channel c's m-th output is output channel c*multiplier + m, as TF orders them).

One Conv2D per input channel is simple and exact, and its gradients come from
Conv2D's; it is slower than a dedicated kernel for many channels.
"""
from nbflow.framework.graph import name_scope
from nbflow.ops import array_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.conv_ops import conv2d

__all__ = []  # tf.nn.depthwise_conv2d (see nbflow/nn)


def depthwise_conv2d(input, filter, strides, padding, rate=None, name=None, data_format=None, dilations=None):
    """``tf.nn.depthwise_conv2d`` (NHWC): ``filter`` is [fh, fw, in_channels, channel_multiplier]."""
    if data_format not in (None, "NHWC"):
        raise NotImplementedError("depthwise_conv2d: nbflow supports data_format NHWC only, got %r" % data_format)
    with name_scope(name, "depthwise", [input, filter]):
        x = convert_to_tensor(input, name="input")
        f = convert_to_tensor(filter, name="filter", dtype=x.dtype)
        if f.shape.ndims != 4:
            raise ValueError("depthwise_conv2d: filter must be 4-D [fh, fw, in_channels, multiplier], got %s"
                             % f.shape)
        channels = f.shape.as_tuple()[2]
        if channels is None:
            raise ValueError("depthwise_conv2d needs the filter's in_channels dimension known statically")
        x_channels = x.shape.as_tuple()[3] if x.shape.ndims == 4 else None
        if x_channels is not None and x_channels != channels:
            raise ValueError("depthwise_conv2d: input has %d channels but the filter expects %d"
                             % (x_channels, channels))
        if rate is not None:
            dilations = [1] + list(rate) + [1] if len(rate) == 2 else list(rate)
        xs = array_ops.split(x, channels, axis=3) if channels > 1 else [x]
        fs = array_ops.split(f, channels, axis=2) if channels > 1 else [f]
        outs = [conv2d(xc, fc, strides=strides, padding=padding, dilations=dilations) for xc, fc in zip(xs, fs)]
        return outs[0] if channels == 1 else array_ops.concat(outs, axis=3)
