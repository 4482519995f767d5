"""MNIST-format datasets from IDX files: ``load_data`` (as tf.keras.datasets.mnist)
and ``read_data_sets`` (as TF 1.x's tutorial ``input_data``).

Where the data comes from, first match wins:

1. the ``path`` / ``train_dir`` argument: a directory holding the four IDX files
   (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``; each may end in
   ``.gz``, and ``-idx`` may be ``.idx``), or a Keras-style ``mnist.npz``
   (arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``);
2. the ``NBFLOW_MNIST_DIR`` environment variable (same choices);
3. the digits bundled with nbflow: 10,000 real MNIST digits, 8,000 for
   training and 2,000 held out (see ``data/PROVENANCE.md``). Accuracy on them
   is accuracy "on 2,000 held-out digits", not the MNIST test score.

Nothing is ever downloaded (nbflow runs on offline machines): to use the full
MNIST or Fashion-MNIST, put the files in a directory and point at it (Debian's
``dataset-fashion-mnist`` package installs Fashion-MNIST in
``/usr/share/datasets/fashion-mnist``; see also ``nbflow.datasets.fashion_mnist``).

``read_data_sets(train_dir)`` is where TF would download into ``train_dir``:
when ``train_dir`` does not exist or holds none of the four files, it reads
``$NBFLOW_MNIST_DIR`` or the bundled digits instead, with one warning (on the
``"nbflow"`` logger) saying so. Some of the files but not all, or a corrupt
one, is an error as in ``load_data``.
"""
import collections
import gzip
import logging
import os

import numpy as np

from nbflow.datasets.idx import IDXError, parse_idx, read_idx
from nbflow.framework.dtypes import as_dtype

__all__ = ["load_data", "read_data_sets", "find_files", "DataSet", "Datasets", "BUNDLED_DIR", "IDXError",
           "dense_to_one_hot", "extract_images", "extract_labels"]

_log = logging.getLogger("nbflow")

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
ENV_VAR = "NBFLOW_MNIST_DIR"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _candidates(stem):
    alt = stem.replace("-idx", ".idx")
    return [stem, stem + ".gz", alt, alt + ".gz"]


def find_files(directory):
    """{'train_images': path, ...} for the four IDX files in ``directory``."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError("MNIST data directory %s does not exist (nbflow never downloads data: put the "
                                "IDX files there, or leave it unset to use the bundled digits)" % directory)
    found, missing = {}, []
    for key, stem in FILES.items():
        for name in _candidates(stem):
            p = os.path.join(directory, name)
            if os.path.isfile(p):
                found[key] = p
                break
        else:
            missing.append(stem + "[.gz]")
    if missing:
        raise FileNotFoundError("MNIST files missing in %s: %s (nbflow never downloads data)"
                                % (directory, ", ".join(missing)))
    return found


def _check_pair(images, labels, img_path, lbl_path):
    if images.ndim != 3:
        raise IDXError("%s: expected images of shape [n, rows, cols], got %s" % (img_path, images.shape))
    if labels.ndim != 1:
        raise IDXError("%s: expected labels of shape [n], got %s" % (lbl_path, labels.shape))
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise IDXError("%s / %s: expected uint8 data, got %s / %s" % (img_path, lbl_path, images.dtype, labels.dtype))
    if images.shape[0] != labels.shape[0]:
        raise IDXError("%s has %d images but %s has %d labels" % (img_path, images.shape[0], lbl_path,
                                                                   labels.shape[0]))


def _resolve(path):
    if path is None:
        path = os.environ.get(ENV_VAR) or BUNDLED_DIR
    return os.fspath(path)


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))``: uint8 images [n, 28, 28] and uint8
    labels [n], as ``tf.keras.datasets.mnist.load_data``.

    ``path``: a directory of IDX files or a Keras ``.npz``; default
    ``$NBFLOW_MNIST_DIR``, else the bundled 8,000 + 2,000 digits. No download.
    Bad files raise ``IDXError`` (a ValueError) naming the file.
    """
    path = _resolve(path)
    if path.endswith(".npz") and os.path.isfile(path):
        with np.load(path, allow_pickle=False) as z:
            try:
                parts = [np.asarray(z[k]) for k in ("x_train", "y_train", "x_test", "y_test")]
            except KeyError as e:
                raise IDXError("%s: expected arrays x_train, y_train, x_test, y_test (%s)" % (path, e)) from None
        _check_pair(parts[0], parts[1], path, path)
        _check_pair(parts[2], parts[3], path, path)
        return (parts[0], parts[1]), (parts[2], parts[3])
    files = find_files(path)
    arrays = {k: read_idx(p) for k, p in files.items()}
    _check_pair(arrays["train_images"], arrays["train_labels"], files["train_images"], files["train_labels"])
    _check_pair(arrays["test_images"], arrays["test_labels"], files["test_images"], files["test_labels"])
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise IDXError("%s and %s have different image sizes: %s vs %s" % (
            files["train_images"], files["test_images"], arrays["train_images"].shape[1:],
            arrays["test_images"].shape[1:]))
    return ((arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"]))


# -- TF 1.x tutorial style ------------------------------------------------------

class DataSet:
    """Images (float in [0, 1], flattened unless reshape=False) and labels, with
    ``next_batch`` walking shuffled epochs; TF 1.x's input_data ``DataSet``
    (labels are kept as given; ``one_hot`` only shapes TF's fake data)."""

    def __init__(self, images, labels, fake_data=False, one_hot=False, dtype=np.float32, reshape=True, seed=None):
        if fake_data:
            raise NotImplementedError("fake_data is not supported by nbflow")
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.shape[0] != labels.shape[0]:
            raise ValueError("images.shape: %s labels.shape: %s" % (images.shape, labels.shape))
        dtype = np.dtype(as_dtype(dtype).as_numpy_dtype)  # as TF: "float" is float32
        if dtype not in (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError("Invalid image dtype %r, expected uint8, float32 or float64" % dtype)
        if reshape:
            images = images.reshape(images.shape[0], -1)
        if dtype != np.uint8:
            images = images.astype(dtype) / dtype.type(255)
        self._images, self._labels = images, labels
        self._n = images.shape[0]
        self._rng = np.random.RandomState(seed)
        self._epochs_completed = 0
        self._index_in_epoch = 0
        self._order = np.arange(self._n)

    images = property(lambda self: self._images)
    labels = property(lambda self: self._labels)
    num_examples = property(lambda self: self._n)
    epochs_completed = property(lambda self: self._epochs_completed)

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        """The next ``batch_size`` examples; an epoch's tail is completed from the
        (reshuffled) start of the next one."""
        if fake_data:
            raise NotImplementedError("fake_data is not supported by nbflow")
        if batch_size <= 0 or self._n == 0:
            raise ValueError("batch_size must be positive and the dataset non-empty")
        if self._epochs_completed == 0 and self._index_in_epoch == 0 and shuffle:
            self._order = self._rng.permutation(self._n)
        idx = []
        while len(idx) < batch_size:
            take = min(batch_size - len(idx), self._n - self._index_in_epoch)
            idx.extend(self._order[self._index_in_epoch:self._index_in_epoch + take])
            self._index_in_epoch += take
            if self._index_in_epoch == self._n:
                self._epochs_completed += 1
                self._index_in_epoch = 0
                if shuffle:
                    self._order = self._rng.permutation(self._n)
        idx = np.asarray(idx)
        return self._images[idx], self._labels[idx]


Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


def _has_no_mnist_files(path):
    if not os.path.exists(path):
        return True
    return os.path.isdir(path) and not any(
        os.path.isfile(os.path.join(path, name)) for stem in FILES.values() for name in _candidates(stem))


def _offline_source(train_dir):
    """Where read_data_sets reads instead of downloading into ``train_dir``; warns once per call."""
    env = os.environ.get(ENV_VAR)
    what = ("$%s (%s)" % (ENV_VAR, env) if env else
            "the 10,000 MNIST digits bundled with nbflow (8,000 for training and validation, 2,000 for testing)")
    _log.warning("No MNIST files in %s and nbflow never downloads data: using %s. For the full MNIST put %s "
                 "in that directory%s.", train_dir, what, ", ".join(s + ".gz" for s in FILES.values()),
                 "" if env else " or set $%s to a directory holding them" % ENV_VAR)
    return env or BUNDLED_DIR


def read_data_sets(train_dir=None, fake_data=False, one_hot=False, dtype=np.float32, reshape=True,
                   validation_size=5000, seed=None, source_url=None):
    """Datasets(train, validation, test) of ``DataSet``s, as TF 1.x's tutorial
    ``input_data.read_data_sets``; the first ``validation_size`` training examples
    become the validation set. Images are [n, 784], or [n, 28, 28, 1] with
    ``reshape=False``, as TF's. ``train_dir`` as ``load_data``'s ``path``,
    except that a missing or MNIST-less directory falls back to the bundled
    digits (see the module docstring); ``source_url`` is ignored (no download)."""
    if fake_data:
        raise NotImplementedError("fake_data is not supported by nbflow")
    if train_dir is not None and _has_no_mnist_files(os.fspath(train_dir)):
        train_dir = _offline_source(os.fspath(train_dir))
    (x_train, y_train), (x_test, y_test) = load_data(train_dir)
    if not reshape:  # TF's images carry a depth axis: [n, rows, cols, 1]
        x_train, x_test = x_train[..., None], x_test[..., None]
    if not 0 <= validation_size <= len(x_train):
        raise ValueError("Validation size should be between 0 and {}. Received: {}."
                         .format(len(x_train), validation_size))
    if one_hot:
        y_train, y_test = dense_to_one_hot(y_train, 10), dense_to_one_hot(y_test, 10)
    kw = dict(dtype=dtype, reshape=reshape, seed=seed)
    return Datasets(train=DataSet(x_train[validation_size:], y_train[validation_size:], **kw),
                    validation=DataSet(x_train[:validation_size], y_train[:validation_size], **kw),
                    test=DataSet(x_test, y_test, **kw))


# -- TF 1.x's input_data helpers: IDX streams from (gzip) file objects ---------------

def dense_to_one_hot(labels_dense, num_classes):
    """[n] class indices -> [n, num_classes] float one-hot rows."""
    labels_dense = np.asarray(labels_dense)
    out = np.zeros((labels_dense.shape[0], num_classes))
    out[np.arange(labels_dense.shape[0]), labels_dense.ravel()] = 1
    return out


def _extract(f, magic, what):
    with gzip.GzipFile(fileobj=f) as stream:
        raw = stream.read()
    got = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if got != magic:
        raise ValueError("Invalid magic number %s in MNIST %s file: %s" % (got, what, getattr(f, "name", f)))
    return parse_idx(raw, getattr(f, "name", "<stream>"))


def extract_images(f):
    """The images of a gzip-compressed IDX file object as uint8 [index, y, x, depth=1]."""
    images = _extract(f, 2051, "image")
    return images.reshape(images.shape + (1,))


def extract_labels(f, one_hot=False, num_classes=10):
    """The labels of a gzip-compressed IDX file object: uint8 [index], or one-hot rows."""
    labels = _extract(f, 2049, "label")
    return dense_to_one_hot(labels, num_classes) if one_hot else labels
