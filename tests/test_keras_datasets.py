"""tf.keras.datasets: mnist / fashion_mnist load_data from local files, TF's shapes and dtypes,
clear errors and never a download."""
import gzip
import os

import numpy as np
import pytest

import nbflow as tf
from nbflow.datasets import fashion_mnist as nb_fashion


def write_idx(path, arr):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


def make_idx_dir(directory, n_train=6, n_test=4):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.RandomState(0)
    parts = {
        "train-images-idx3-ubyte.gz": rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte.gz": rng.randint(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.randint(0, 10, n_test).astype(np.uint8),
    }
    for name, arr in parts.items():
        write_idx(os.path.join(directory, name), arr)
    return parts


def check_shapes(data, n_train, n_test):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (n_train, 28, 28) and x_test.shape == (n_test, 28, 28)
    assert y_train.shape == (n_train,) and y_test.shape == (n_test,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))


@pytest.fixture
def no_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("NBFLOW_MNIST_DIR", raising=False)
    monkeypatch.delenv(nb_fashion.ENV_VAR, raising=False)
    return tmp_path


def test_mnist_bundled_by_default(no_keras_home):
    data = tf.keras.datasets.mnist.load_data()
    check_shapes(data, 8000, 2000)
    assert set(np.unique(data[0][1])) == set(range(10))


def test_mnist_from_a_directory_npz_and_keras_home(no_keras_home):
    d = str(no_keras_home / "idx")
    parts = make_idx_dir(d)
    data = tf.keras.datasets.mnist.load_data(path=d)
    check_shapes(data, 6, 4)
    np.testing.assert_array_equal(data[0][0], parts["train-images-idx3-ubyte.gz"])
    npz = str(no_keras_home / "keras_home" / "datasets" / "mnist.npz")
    os.makedirs(os.path.dirname(npz))
    np.savez(npz, x_train=data[0][0], y_train=data[0][1], x_test=data[1][0], y_test=data[1][1])
    check_shapes(tf.keras.datasets.mnist.load_data(), 6, 4)        # ~/.keras/datasets/mnist.npz wins
    check_shapes(tf.keras.datasets.mnist.load_data("mnist.npz"), 6, 4)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        tf.keras.datasets.mnist.load_data(path=str(no_keras_home / "missing.npz"))


def test_fashion_mnist_missing_names_the_package(no_keras_home, monkeypatch):
    monkeypatch.setattr(nb_fashion, "DEFAULT_DIR", str(no_keras_home / "not-installed"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        tf.keras.datasets.fashion_mnist.load_data()


def test_fashion_mnist_from_env_dir_and_keras_dir(no_keras_home, monkeypatch):
    monkeypatch.setattr(nb_fashion, "DEFAULT_DIR", str(no_keras_home / "not-installed"))
    d = str(no_keras_home / "fashion")
    make_idx_dir(d, 5, 3)
    monkeypatch.setenv(nb_fashion.ENV_VAR, d)
    check_shapes(tf.keras.datasets.fashion_mnist.load_data(), 5, 3)
    monkeypatch.delenv(nb_fashion.ENV_VAR)
    make_idx_dir(str(no_keras_home / "keras_home" / "datasets" / "fashion-mnist"), 7, 2)
    check_shapes(tf.keras.datasets.fashion_mnist.load_data(), 7, 2)
    assert tf.keras.datasets.fashion_mnist.class_names[9] == "Ankle boot"


@pytest.mark.skipif(not os.path.isdir(nb_fashion.DEFAULT_DIR), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_debian_package():
    check_shapes(tf.keras.datasets.fashion_mnist.load_data(), 60000, 10000)


def test_load_data_feeds_tf_data():
    (x, y), _ = tf.keras.datasets.mnist.load_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(1000)
    assert ds.element_spec == (tf.TensorSpec([None, 28, 28], tf.uint8), tf.TensorSpec([None], tf.uint8))
    assert sum(b[0].shape[0] for b in ds.as_numpy_iterator()) == 8000
