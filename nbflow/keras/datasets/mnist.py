"""``tf.keras.datasets.mnist.load_data(path="mnist.npz")`` without a download.

``path`` is looked up as TF's: an existing file or directory as given, else under
``~/.keras/datasets/`` (a Keras ``mnist.npz`` or a directory of the four IDX
files). With the default name and nothing there, the digits bundled with nbflow
(8,000 train / 2,000 test; ``$NBFLOW_MNIST_DIR`` overrides) are returned. A path
given explicitly that does not exist raises FileNotFoundError (no download).
"""
import os

from nbflow.datasets import mnist as _mnist

__all__ = ["load_data"]

DEFAULT_NAME = "mnist.npz"


def keras_dir():
    return os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "datasets")


def load_data(path=DEFAULT_NAME):
    """``((x_train, y_train), (x_test, y_test))``: uint8 [n, 28, 28] images, uint8 [n] labels."""
    path = os.fspath(path)
    for candidate in (path, os.path.join(keras_dir(), path)):
        if os.path.exists(candidate):
            return _mnist.load_data(candidate)
    if path == DEFAULT_NAME:
        return _mnist.load_data()  # the bundled digits
    raise FileNotFoundError(
        "MNIST data not found at %s (nor %s); nbflow never downloads data: pass a directory of the four MNIST "
        "IDX files or a Keras mnist.npz, or call load_data() for the digits bundled with nbflow"
        % (path, os.path.join(keras_dir(), path)))
