"""Fashion-MNIST (same IDX format as MNIST): ``load_data`` as tf.keras.datasets.fashion_mnist.

Nothing is downloaded. The files are looked for in the ``path`` argument, then
``$NBFLOW_FASHION_MNIST_DIR``, then ``/usr/share/datasets/fashion-mnist``
(where Debian's ``dataset-fashion-mnist`` package installs them:
``apt-get install dataset-fashion-mnist``).
"""
import os

from nbflow.datasets import mnist

__all__ = ["load_data", "class_names", "DEFAULT_DIR"]

ENV_VAR = "NBFLOW_FASHION_MNIST_DIR"
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

#: label i is class_names[i]
class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))``, uint8, 60,000 + 10,000 images 28x28."""
    if path is None:
        path = os.environ.get(ENV_VAR) or DEFAULT_DIR
        if not os.path.isdir(path):
            raise FileNotFoundError(
                "Fashion-MNIST not found in %s (nbflow never downloads data): install Debian's "
                "dataset-fashion-mnist package, or put the four IDX files in a directory and pass it as path= "
                "or set %s" % (path, ENV_VAR))
    return mnist.load_data(path)
