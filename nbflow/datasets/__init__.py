"""Datasets in the MNIST (IDX) format, read from local files -- never downloaded.

``nbflow.datasets.mnist.load_data()`` gives the 10,000 MNIST digits bundled with
nbflow (8,000 train / 2,000 held out) unless pointed elsewhere;
``nbflow.datasets.fashion_mnist.load_data()`` reads an installed Fashion-MNIST.
"""
from nbflow.datasets import fashion_mnist, mnist  # noqa: F401
from nbflow.datasets.idx import IDXError, read_idx  # noqa: F401

__all__ = ["mnist", "fashion_mnist", "read_idx", "IDXError"]
from nbflow.datasets import text  # noqa: F401,E402  (the bundled Devil's Dictionary, text files)
from nbflow.datasets.text import load_devils_dictionary, load_text  # noqa: F401,E402
__all__ += ["text", "load_devils_dictionary", "load_text"]
