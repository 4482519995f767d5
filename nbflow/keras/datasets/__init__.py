"""``tf.keras.datasets``: ``mnist`` and ``fashion_mnist``, from local files only.

nbflow never downloads data: ``mnist.load_data()`` returns the 10,000 MNIST digits
bundled with nbflow (8,000 train / 2,000 test) unless given other files;
``fashion_mnist.load_data()`` reads an installed Fashion-MNIST (Debian's
``dataset-fashion-mnist``). Both return TF's ``((x_train, y_train), (x_test, y_test))``:
uint8 images [n, 28, 28] and uint8 labels [n].
"""
from nbflow.keras.datasets import fashion_mnist, mnist

__all__ = ["mnist", "fashion_mnist"]
