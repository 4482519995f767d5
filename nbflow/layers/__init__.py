"""``tf.layers`` (TF 1.x): not available in nbflow yet.

Build layers from ``tf.get_variable`` / ``tf.matmul`` / ``tf.nn`` meanwhile
(see examples/). Any ``tf.layers.X`` raises a clear error rather than failing
later in an obscure way.
"""


class LayersNotImplementedError(NotImplementedError, AttributeError):
    """Unsupported (an AttributeError too, so ``hasattr(tf.layers, "dense")`` is False)."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise LayersNotImplementedError(
        "tf.layers.%s is not implemented in nbflow yet; build the layer from tf.get_variable, "
        "tf.matmul / tf.nn.conv2d and tf.nn activations" % name)
