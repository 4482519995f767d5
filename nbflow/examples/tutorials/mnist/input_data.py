"""``from nbflow.examples.tutorials.mnist import input_data``, as TF 1.x tutorials write it.

``input_data.read_data_sets("/tmp/data/", one_hot=True)`` reads the four
MNIST IDX files from that directory. nbflow never downloads: where TF would
(the directory is missing or holds none of the files) it uses
``$NBFLOW_MNIST_DIR`` or the 10,000 digits bundled with nbflow, with one
warning saying so. See ``nbflow.datasets.mnist``, where all of this lives.
"""
from nbflow.datasets.mnist import (  # noqa: F401
    DataSet, Datasets, dense_to_one_hot, extract_images, extract_labels, read_data_sets,
)

__all__ = ["read_data_sets", "DataSet", "Datasets", "dense_to_one_hot", "extract_images", "extract_labels"]
