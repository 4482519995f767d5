"""Batches for ``fit`` / ``evaluate`` / ``predict``: numpy arrays (nested in lists, tuples,
dicts; eager tensors are read as numpy) or a ``tf.data.Dataset`` of ``x``, ``(x, y)``
or ``(x, y, sample_weight)`` batches.

Arrays: float64 arrays become float32 (Keras' floatx), each epoch walks a fresh
permutation when ``shuffle`` (``"batch"`` shuffles whole batches), the last batch
may be partial. Datasets: iterated as they are (they carry their own batching,
shuffling, repetition); ``steps_per_epoch`` takes that many batches per epoch from
one iterator kept across epochs (TF's behaviour), else each epoch iterates anew.
"""
import math

import numpy as np

from nbflow.keras.engine.node import flatten, map_structure, pack_as

__all__ = ["DataHandler", "is_dataset", "train_validation_split", "unpack_x_y_sample_weight"]


def is_dataset(x):
    return hasattr(x, "__iter__") and hasattr(x, "element_spec") and hasattr(x, "batch")


def _to_numpy(x):
    if x is None:
        return None
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    return a


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` of a batch that is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sw)``."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                         "found: %s" % (data,))
    return data, None, None


def _num_samples(arrays):
    lengths = {int(a.shape[0]) for a in flatten(arrays) if a is not None}
    if len(lengths) > 1:
        raise ValueError("Data cardinality is ambiguous: the arrays have different numbers of samples %s. Make sure "
                         "all arrays contain the same number of samples." % sorted(lengths))
    if not lengths:
        raise ValueError("No data given (x is None)")
    return lengths.pop()


def train_validation_split(arrays, validation_split):
    """The last ``validation_split`` of the samples held out (before any shuffling), as Keras."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError("`validation_split` must be in (0, 1), got %r" % (validation_split,))
    n = _num_samples(arrays)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError("Training data contains %d samples, which is not sufficient to split it into a validation "
                         "and training set as specified by `validation_split=%s`." % (n, validation_split))
    train = map_structure(lambda a: None if a is None else a[:split_at], arrays)
    val = map_structure(lambda a: None if a is None else a[split_at:], arrays)
    return train, val


class DataHandler:
    """Epochs of batches; ``steps`` is the batches per epoch (None: a dataset of unknown length)."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None, initial_epoch=0,
                 epochs=1, shuffle=False):
        self._initial_epoch, self._epochs = initial_epoch, epochs
        self._steps_per_epoch = steps_per_epoch
        self._iterator = None
        if is_dataset(x):
            if y is not None or sample_weight is not None:
                raise ValueError("`y` / `sample_weight` must not be given when `x` is a tf.data.Dataset: the "
                                 "dataset yields (x, y) or (x, y, sample_weight)")
            self._dataset = x
            self.steps = steps_per_epoch
            if self.steps is None:
                card = getattr(x, "cardinality", None)
                try:
                    n = int(card().numpy()) if card is not None else -2
                except Exception:
                    n = -2
                self.steps = n if n >= 0 else None
            return
        if hasattr(x, "__next__") or (hasattr(x, "__iter__") and not isinstance(x, (list, tuple, dict, np.ndarray))
                                      and not hasattr(x, "numpy")):
            raise ValueError("Failed to find data adapter that can handle input: %s. Give numpy arrays or a "
                             "tf.data.Dataset" % type(x).__name__)
        self._dataset = None
        data = (map_structure(_to_numpy, x), map_structure(_to_numpy, y), map_structure(_to_numpy, sample_weight))
        self._data = data
        self._n = _num_samples(data)
        self._batch_size = int(batch_size or 32)
        self._shuffle = shuffle
        self.steps = steps_per_epoch or int(math.ceil(self._n / self._batch_size))

    @property
    def num_samples(self):
        return None if self._dataset is not None else self._n

    def _array_batches(self):
        n, bs = self._n, self._batch_size
        while True:
            if self._shuffle == "batch":
                starts = np.random.permutation(int(math.ceil(n / bs))) * bs
                index = np.concatenate([np.arange(s, min(s + bs, n)) for s in starts])
            elif self._shuffle:
                index = np.random.permutation(n)
            else:
                index = None
            for start in range(0, n, bs):
                if index is None:
                    yield map_structure(lambda a: None if a is None else a[start:start + bs], self._data)
                else:
                    idx = index[start:start + bs]
                    yield map_structure(lambda a: None if a is None else np.take(a, idx, axis=0), self._data)
            if self._steps_per_epoch is None:
                return

    def _dataset_batches(self):
        for element in self._dataset:
            x, y, sw = unpack_x_y_sample_weight(element)
            yield x, y, sw

    def _epoch_iterator(self):
        """Batches of one epoch: (x, y, sample_weight)."""
        if self._steps_per_epoch is not None:
            if self._iterator is None:
                self._iterator = self._array_batches() if self._dataset is None else self._dataset_batches()
            for _ in range(self._steps_per_epoch):
                try:
                    yield next(self._iterator)
                except StopIteration:
                    self._iterator = None
                    return
            return
        yield from (self._array_batches() if self._dataset is None else self._dataset_batches())

    def enumerate_epochs(self):
        for epoch in range(self._initial_epoch, self._epochs):
            yield epoch, self._epoch_iterator()


def concat(batches):
    """The per-batch outputs (nested numpy) concatenated along the batch axis."""
    first = batches[0]
    leaves = [flatten(b) for b in batches]
    return pack_as(first, [np.concatenate([lv[i] for lv in leaves], axis=0) for i in range(len(leaves[0]))])
