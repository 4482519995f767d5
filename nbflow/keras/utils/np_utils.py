"""``tf.keras.utils.to_categorical`` (numpy in, numpy out)."""
import numpy as np

__all__ = ["to_categorical"]


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot rows of the integer labels ``y`` (shape [...] or [..., 1]): shape
    [..., num_classes] (``num_classes``: ``max(y) + 1`` when None)."""
    y = np.array(y, dtype="int")
    input_shape = y.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    y = y.ravel()
    if not num_classes:
        num_classes = int(np.max(y)) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise IndexError("to_categorical: labels must be in [0, %d), got min %d, max %d"
                         % (num_classes, y.min(), y.max()))
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out.reshape(tuple(input_shape) + (num_classes,))
