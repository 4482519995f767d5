"""``from nbflow.examples.tutorials.mnist import input_data``: TF 1.x's tutorial MNIST reader, offline."""
import gzip
import io
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import nbflow as tf
from nbflow.datasets import idx, mnist
from nbflow.examples.tutorials.mnist import input_data
from test_datasets import idx_bytes, write_mnist_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def warnings_seen(caplog, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    caplog.set_level(logging.WARNING, logger="nbflow")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "nbflow" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("make_dir", [False, True])
def test_no_mnist_files_falls_back_to_bundled_digits_with_one_warning(tmp_path, warnings_seen, make_dir):
    d = tmp_path / "data"
    if make_dir:
        d.mkdir()
        (d / "README").write_text("not mnist")
    ds = input_data.read_data_sets(str(d) + "/", one_hot=True)
    msgs = warnings_seen()
    assert len(msgs) == 1 and "\n" not in msgs[0]
    for part in (str(d), "never downloads", "bundled", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 "NBFLOW_MNIST_DIR"):
        assert part in msgs[0], part
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (3000, 5000, 2000)
    assert ds.train.images.shape == (3000, 784) and ds.train.images.dtype == np.float32
    assert 0.0 <= ds.train.images.min() and ds.train.images.max() <= 1.0
    assert ds.test.labels.shape == (2000, 10) and np.all(ds.test.labels.sum(1) == 1)
    (_, _), (x_test, y_test) = mnist.load_data()
    np.testing.assert_array_equal(ds.test.labels.argmax(1), y_test)
    assert not os.path.exists(str(d)) or os.listdir(str(d)) == ["README"]  # nothing created or written


def test_fallback_prefers_the_environment_directory(tmp_path, warnings_seen, monkeypatch):
    arrays = write_mnist_dir(str(tmp_path / "full"), n_train=9, n_test=4)
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "full"))
    ds = input_data.read_data_sets(str(tmp_path / "absent"), validation_size=2)
    assert (ds.train.num_examples, ds.test.num_examples) == (7, 4)
    np.testing.assert_array_equal(ds.test.labels, arrays["t10k-labels-idx1-ubyte"])
    (msg,) = warnings_seen()
    assert str(tmp_path / "full") in msg and "bundled" not in msg


def test_a_directory_with_the_files_is_read_without_warning(tmp_path, warnings_seen):
    arrays = write_mnist_dir(str(tmp_path), n_train=6, n_test=3)
    ds = input_data.read_data_sets(str(tmp_path), validation_size=1, reshape=False, dtype="float")
    assert warnings_seen() == []
    assert ds.train.images.shape == (5, 28, 28, 1) and ds.train.images.dtype == np.float32  # TF's depth axis
    np.testing.assert_allclose(ds.test.images[..., 0], arrays["t10k-images-idx3-ubyte"] / 255.0, rtol=1e-6)


def test_partial_or_corrupt_directories_still_raise(tmp_path, warnings_seen):
    write_mnist_dir(str(tmp_path))
    os.remove(str(tmp_path / "train-labels-idx1-ubyte.gz"))
    with pytest.raises(FileNotFoundError, match=r"train-labels-idx1-ubyte\[.gz\]"):
        input_data.read_data_sets(str(tmp_path))
    write_mnist_dir(str(tmp_path))
    p = str(tmp_path / "t10k-images-idx3-ubyte.gz")
    raw = open(p, "rb").read()
    open(p, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(idx.IDXError, match="corrupted or truncated gzip"):
        input_data.read_data_sets(str(tmp_path))
    assert warnings_seen() == []


def test_dataset_has_tfs_signature():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28, 1)
    labels = np.eye(10)[[3, 7]]
    ds = input_data.DataSet(images, labels, one_hot=True, dtype=tf.float32)
    assert ds.images.shape == (2, 784)
    np.testing.assert_array_equal(ds.labels, labels)  # kept as given, as TF
    raw = input_data.DataSet(images, labels, dtype=tf.uint8, reshape=False)
    assert raw.images.shape == (2, 28, 28, 1) and raw.images.dtype == np.uint8
    with pytest.raises(NotImplementedError, match="fake_data"):
        input_data.DataSet(images, labels, fake_data=True)
    with pytest.raises(ValueError, match="images.shape"):
        input_data.DataSet(images, labels[:1])
    with pytest.raises(TypeError, match="Invalid image dtype"):
        input_data.DataSet(images, labels, dtype=tf.int32)


def test_extract_helpers_read_gzip_file_objects():
    imgs = np.random.RandomState(0).randint(0, 256, (3, 28, 28)).astype(np.uint8)
    labels = np.array([1, 0, 9], np.uint8)
    as_gz = lambda a: io.BytesIO(gzip.compress(idx_bytes(a)))  # noqa: E731
    got = input_data.extract_images(as_gz(imgs))
    assert got.shape == (3, 28, 28, 1) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[..., 0], imgs)
    np.testing.assert_array_equal(input_data.extract_labels(as_gz(labels)), labels)
    np.testing.assert_array_equal(input_data.extract_labels(as_gz(labels), one_hot=True), np.eye(10)[labels])
    with pytest.raises(ValueError, match="Invalid magic number 2049 in MNIST image file"):
        input_data.extract_images(as_gz(labels))
    with pytest.raises(ValueError, match="Invalid magic number 2051 in MNIST label file"):
        input_data.extract_labels(as_gz(imgs))
    np.testing.assert_array_equal(input_data.dense_to_one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_module_paths_and_packaging():
    import nbflow.examples.tutorials.mnist as pkg

    assert pkg.input_data is input_data
    for name in input_data.__all__:
        assert hasattr(input_data, name), name
    # setup.py's package list (find_packages over nbflow.*) ships the new packages
    code = ("from setuptools import find_packages; "
            "print(sorted(find_packages(include=['nbflow', 'nbflow.*'])))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for pkg_name in ("nbflow.examples", "nbflow.examples.tutorials", "nbflow.examples.tutorials.mnist",
                     "nbflow.platform"):
        assert "'%s'" % pkg_name in out, pkg_name
