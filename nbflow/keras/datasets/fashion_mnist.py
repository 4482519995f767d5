"""``tf.keras.datasets.fashion_mnist.load_data()`` without a download.

The four IDX files are looked for in ``path`` (nbflow's extension), else
``~/.keras/datasets/fashion-mnist`` (where Keras keeps them), else
``$NBFLOW_FASHION_MNIST_DIR``, else ``/usr/share/datasets/fashion-mnist``, where
Debian's ``dataset-fashion-mnist`` package installs them. Missing data raises
FileNotFoundError naming what to install.
"""
import os

from nbflow.datasets import fashion_mnist as _fashion
from nbflow.datasets import mnist as _mnist
from nbflow.keras.datasets.mnist import keras_dir

__all__ = ["load_data", "class_names"]

class_names = list(_fashion.class_names)


def _has_files(directory):
    try:
        _mnist.find_files(directory)
    except FileNotFoundError:
        return False
    return True


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))``: uint8 [60000, 28, 28] / [10000, 28, 28] images,
    uint8 labels (class_names[label])."""
    if path is not None:
        return _mnist.load_data(os.fspath(path))
    candidates = [os.path.join(keras_dir(), "fashion-mnist"), os.environ.get(_fashion.ENV_VAR),
                  _fashion.DEFAULT_DIR]
    for directory in candidates:
        if directory and _has_files(directory):
            return _mnist.load_data(directory)
    raise FileNotFoundError(
        "Fashion-MNIST not found (looked in %s); nbflow never downloads data: install Debian's "
        "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), or put the four IDX files "
        "(train-images-idx3-ubyte[.gz], ...) in one of those directories, set %s, or pass path="
        % (", ".join(c for c in candidates if c), _fashion.ENV_VAR))
