"""``tf.data``: input pipelines (Dataset, iterators).

A pipeline is Python: data movement (slicing, stacking, padding, shuffling) is
numpy, ``map``/``filter`` functions are traced once into graphs and run per
element. Eagerly, ``for x in dataset`` yields eager tensors; in TF 1.x graphs
``make_one_shot_iterator`` / ``make_initializable_iterator`` give stateful ops
(see nbflow/data/iterator_ops.py). docs/ARCHITECTURE.md, section "tf.data".
"""
import types as _types

from nbflow.data.dataset_ops import INFINITE, UNKNOWN, Dataset
from nbflow.data.iterator_ops import (
    Iterator, get_output_classes, get_output_shapes, get_output_types, make_initializable_iterator,
    make_one_shot_iterator,
)
from nbflow.data.transforms import AUTOTUNE

INFINITE_CARDINALITY = INFINITE
UNKNOWN_CARDINALITY = UNKNOWN


class Options:
    """``tf.data.Options``: accepted; nbflow's pipelines have no tunable options."""

    def __init__(self):
        self.experimental_deterministic = True
        self.deterministic = True


def _cardinality(dataset):
    return dataset.cardinality()


experimental = _types.SimpleNamespace(
    AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE, UNKNOWN_CARDINALITY=UNKNOWN, cardinality=_cardinality,
    make_one_shot_iterator=make_one_shot_iterator, make_initializable_iterator=make_initializable_iterator,
    get_output_types=get_output_types, get_output_shapes=get_output_shapes,
    get_output_classes=get_output_classes,
)

__all__ = ["Dataset", "Iterator", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Options",
           "experimental", "make_one_shot_iterator", "make_initializable_iterator", "get_output_types",
           "get_output_shapes", "get_output_classes"]
