"""``map`` followed by ``batch``: element-wise map functions run once per batch.

The fused path must give exactly the batches that mapping element by element and
stacking gives, trace the user's function once, and stay off for functions whose
result depends on more than one position (or whose constants would broadcast
into the batch dimension).
"""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context


@pytest.fixture(autouse=True)
def eager():
    with context.eager_mode():
        yield


def _data():
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, size=(50, 6)).astype(np.float32), rng.randint(0, 10, size=50).astype(np.int64)


def _batches(ds):
    return [[np.asarray(t) for t in b] for b in ds]


def _elementwise_reference(x, y, fn, batch):
    """Map each element by itself (a one-element batch each), then stack per batch."""
    outs = [[np.asarray(t) for t in fn(tf.constant(x[i]), tf.constant(y[i]))] for i in range(len(x))]
    return [[np.stack([o[k] for o in outs[i:i + batch]]) for k in range(2)] for i in range(0, len(x), batch)]


@pytest.mark.parametrize("fn", [
    lambda a, b: (a / 255.0, b),
    lambda a, b: (tf.nn.relu(a * 2.0 - 100.0) + tf.constant([1, 2, 3, 4, 5, 6], tf.float32), b + 1),
    lambda a, b: (tf.sqrt(a) + 1.0, tf.identity(b) * 2),
], ids=["scale", "broadcast-constant", "identity"])
def test_fused_batches_equal_element_by_element(fn):
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).map(fn).batch(16)
    assert ds._input._fn.batched() is not None  # the fused path is taken
    got = _batches(ds)
    want = _elementwise_reference(x, y, fn, 16)
    assert len(got) == len(want) == 4
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


def test_user_function_traced_once_and_shuffle_order_kept():
    calls = []

    def fn(a, b):
        calls.append(1)
        return a * 0.5, b

    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(50, seed=3).map(fn).batch(8, drop_remainder=True)
    fused = _batches(ds)
    assert len(calls) == 1
    plain = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(50, seed=3).batch(8, drop_remainder=True)
    for f, p in zip(fused, _batches(plain)):
        np.testing.assert_array_equal(f[0], p[0] * 0.5)
        np.testing.assert_array_equal(f[1], p[1])


@pytest.mark.parametrize("fn", [
    lambda a, b: (a / tf.reduce_max(a), b),                                      # a reduction: per element
    lambda a, b: (tf.reshape(a, [2, 3]), b),                                      # shapes of one element
    lambda a, b: (a + tf.constant(np.arange(12, dtype=np.float32).reshape(2, 6)), b),  # rank 2 > rank 1
    lambda a, b: (a * tf.cast(b, tf.float32), b),  # a per-element scalar times a vector: [B, 6] * [B] misaligns
], ids=["reduction", "reshape", "constant-of-higher-rank", "mixed-ranks"])
def test_functions_that_are_not_element_wise_keep_the_plain_path(fn):
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).map(fn).batch(16)
    assert ds._input._fn.batched() is None
    got = _batches(ds)
    outs = [[np.asarray(t) for t in fn(tf.constant(x[i]), tf.constant(y[i]))] for i in range(len(x))]
    np.testing.assert_array_equal(got[0][0], np.stack([o[0] for o in outs[:16]]))
