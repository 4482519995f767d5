"""top_k (TopKV2), sort, argsort and unique (Unique) against numpy, with gradients."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.ops import array_ops
from nbflow.ops.sort_ops import top_k

needs_transpose = pytest.mark.skipif(not hasattr(array_ops, "transpose"),
                                     reason="sorting along a non-last axis needs tf.transpose (array_ops)")


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def grad_error(f, shape, value=None):
    x = tf.placeholder(tf.float64, shape)
    y = f(x)
    if value is None:
        value = np.random.RandomState(2).permutation(int(np.prod(shape))).reshape(shape) / 7.0
    with tf.Session():
        return tf.test.compute_gradient_error(x, shape, y, y.shape.as_list(), x_init_value=value, delta=1e-5)


def np_stable_desc(x, axis=-1):
    """numpy's stable descending argsort (ties: lower index first)."""
    return np.argsort(-x.astype(np.float64), axis, kind="stable")


# -- top_k ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.int32], ids=["float32", "int32"])
def test_top_k_against_numpy(dtype):
    rng = np.random.RandomState(0)
    xv = rng.randint(-4, 5, (2, 3, 7)).astype(dtype)  # many ties
    x = tf.placeholder(tf.as_dtype(dtype), [None, 3, 7])
    outs = {k: top_k(x, k) for k in (0, 1, 3, 7)}
    for k, o in outs.items():
        assert o.values.shape.as_list() == [None, 3, k] and o.values.dtype == tf.as_dtype(dtype)
        assert o.indices.dtype == tf.int32 and o.values.op.type == "TopKV2"
    got = run(outs, {x: xv})
    order = np_stable_desc(xv)
    for k, (values, indices) in got.items():
        np.testing.assert_array_equal(indices, order[..., :k])
        np.testing.assert_array_equal(values, np.take_along_axis(xv, order[..., :k], -1))
        assert values.dtype == dtype and indices.dtype == np.int32


def test_long_rows_with_ties():
    # rows longer than the insertion-sorted runs (16): the merge passes and both
    # top_k strategies (a small k keeps a running buffer; a large k sorts)
    xv = np.random.RandomState(5).randint(-3, 4, (4, 53)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 53])
    order = np_stable_desc(xv)
    for k in (5, 16, 17, 53):
        v, i = run(top_k(x, k), {x: xv})
        np.testing.assert_array_equal(i, order[:, :k])
        np.testing.assert_array_equal(v, np.take_along_axis(xv, order[:, :k], -1))
    a, ia = run([tf.sort(x), tf.argsort(x)], {x: xv})
    np.testing.assert_array_equal(a, np.sort(xv, -1))
    np.testing.assert_array_equal(ia, np.argsort(xv, -1, kind="stable"))


def test_top_k_ties_lower_index_first_and_defaults():
    v, i = run(top_k([1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0], k=3))
    assert v.tolist() == [1, 1, 1] and i.tolist() == [0, 1, 3]
    v, i = run(top_k(tf.constant([3.0, 9.0, 2.0])))  # k=1
    assert v.tolist() == [9.0] and i.tolist() == [1]
    res = top_k(tf.constant([[1.0, 5.0, 3.0]]), k=2, sorted=True, name="best")
    assert res.values.op.name == "best" and res.values.op.attrs["sorted"] is True
    v, i = run(res)
    assert v.tolist() == [[5.0, 3.0]] and i.tolist() == [[1, 2]]


def test_top_k_k_from_a_placeholder_and_errors():
    x = tf.placeholder(tf.float32, [2, 4])
    k = tf.placeholder(tf.int32, [])
    out = top_k(x, k)
    assert out.values.shape.as_list() == [2, None]
    xv = np.array([[4.0, 1.0, 3.0, 2.0], [0.0, 5.0, 6.0, -1.0]], np.float32)
    v, i = run(out, {x: xv, k: 2})
    assert v.tolist() == [[4.0, 3.0], [6.0, 5.0]] and i.tolist() == [[0, 2], [2, 1]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least k columns"):
        run(out, {x: xv, k: 5})
    with pytest.raises(ValueError, match="at least k columns"):
        top_k(tf.zeros([2, 3]), 4)
    with pytest.raises(ValueError, match="k >= 0"):
        top_k(tf.zeros([2, 3]), -1)
    with pytest.raises(ValueError):
        top_k(tf.constant(1.0), 1)
    with pytest.raises(TypeError):
        top_k(tf.constant([True, False]), 1)


def test_top_k_empty_rows_and_nan():
    x = tf.placeholder(tf.float32, [None, 3])
    v, i = run(top_k(x, 2), {x: np.zeros((0, 3), np.float32)})
    assert v.shape == (0, 2) and i.shape == (0, 2)
    v, i = run(top_k(tf.constant([1.0, np.nan, 3.0]), 2))  # NaN counts as the largest
    assert np.isnan(v[0]) and v[1] == 3.0 and i.tolist() == [1, 2]


def test_top_k_gradient():
    assert grad_error(lambda x: top_k(x, 2).values, (3, 5)) < 1e-6
    assert grad_error(lambda x: top_k(x, 4).values * tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64), (2, 2, 4)) < 1e-6
    x = tf.placeholder(tf.float64, [None, 4])
    y = top_k(x, 2).values
    (g,) = tf.gradients(y * y, x)
    (gg,) = tf.gradients(tf.reduce_sum(g * g), x)  # through the scatter's own gradient
    gv, ggv = run([g, gg], {x: [[1.0, 4.0, 2.0, 3.0]]})
    np.testing.assert_array_equal(gv, [[0.0, 8.0, 0.0, 6.0]])
    np.testing.assert_array_equal(ggv, [[0.0, 32.0, 0.0, 24.0]])
    # the indices output has no gradient
    assert tf.gradients(tf.cast(top_k(x, 2).indices, tf.float64), x) == [None]


# -- sort / argsort ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8], ids=["float32", "int32", "uint8"])
def test_sort_and_argsort_last_axis(dtype):
    rng = np.random.RandomState(1)
    xv = rng.randint(0 if dtype == np.uint8 else -5, 6, (3, 8)).astype(dtype)
    x = tf.placeholder(tf.as_dtype(dtype), [None, 8])
    asc, desc = tf.sort(x), tf.sort(x, direction="DESCENDING")
    iasc, idesc = tf.argsort(x), tf.argsort(x, direction="DESCENDING", stable=True)
    assert asc.dtype == tf.as_dtype(dtype) and iasc.dtype == tf.int32 and asc.shape.as_list() == [None, 8]
    a, d, ia, idd = run([asc, desc, iasc, idesc], {x: xv})
    np.testing.assert_array_equal(a, np.sort(xv, -1))
    np.testing.assert_array_equal(d, np.flip(np.sort(xv, -1), -1))
    np.testing.assert_array_equal(ia, np.argsort(xv, -1, kind="stable"))  # stable ascending
    np.testing.assert_array_equal(idd, np_stable_desc(xv))                 # stable descending
    assert a.dtype == dtype


def test_sort_integer_extremes_are_exact():
    info = np.iinfo(np.int32)
    v = np.array([3, info.min, info.max, 0, -1, info.min], np.int32)
    np.testing.assert_array_equal(run(tf.sort(v)), np.sort(v))
    np.testing.assert_array_equal(run(tf.sort(v, direction="DESCENDING")), np.sort(v)[::-1])
    np.testing.assert_array_equal(run(tf.argsort(v)), np.argsort(v, kind="stable"))
    u = np.array([255, 0, 7, 255], np.uint8)
    np.testing.assert_array_equal(run(tf.sort(u)), [0, 7, 255, 255])


@needs_transpose
def test_sort_along_other_axes():
    xv = np.random.RandomState(2).randn(3, 4, 5).astype(np.float32)
    for axis in (0, 1, -2):
        a, i = run([tf.sort(xv, axis=axis), tf.argsort(xv, axis=axis, direction="DESCENDING")])
        np.testing.assert_array_equal(a, np.sort(xv, axis))
        np.testing.assert_array_equal(i, np.argsort(-xv, axis, kind="stable"))
    assert grad_error(lambda x: tf.sort(x, axis=0) * tf.constant([[1.0], [2.0], [3.0]], tf.float64), (3, 2)) < 1e-6


def test_sort_argument_errors():
    with pytest.raises(ValueError, match="direction"):
        tf.sort([1.0, 2.0], direction="UP")
    with pytest.raises(ValueError, match="constant scalar"):
        tf.sort([1.0, 2.0], axis=tf.placeholder(tf.int32, []))
    with pytest.raises(ValueError):
        tf.sort([1.0, 2.0], axis=1)
    with pytest.raises(ValueError):
        tf.sort(tf.constant(1.0))
    with pytest.raises(TypeError):
        tf.sort([True, False])


def test_sort_gradient():
    assert grad_error(lambda x: tf.sort(x) * tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64), (2, 4)) < 1e-6
    assert grad_error(lambda x: tf.sort(x, direction="DESCENDING") * tf.constant([1.0, 2.0, 3.0], tf.float64),
                      (3,)) < 1e-6


def test_sort_with_unknown_batch_and_names():
    x = tf.placeholder(tf.float64, [None, 3])
    s = tf.sort(x, name="my_sort")
    assert s.op.name.startswith("my_sort/")
    assert any(op.type == "TopKV2" for op in tf.get_default_graph().get_operations())
    np.testing.assert_array_equal(run(s, {x: [[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]]}), [[1, 2, 3], [-1, 0, 5]])


# -- unique -------------------------------------------------------------------------------

def test_unique_order_of_first_appearance():
    y, idx = run(tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8]))
    assert y.tolist() == [1, 2, 4, 7, 8] and idx.tolist() == [0, 0, 1, 2, 2, 2, 3, 4, 4]
    v = np.array([5.0, -1.0, 5.0, 3.0, -1.0, 0.0], np.float32)
    out = tf.unique(v)
    assert out.y.op.type == "Unique" and out.y.shape.as_list() == [None] and out.idx.shape.as_list() == [6]
    y, idx = run(out)
    assert y.tolist() == [5.0, -1.0, 3.0, 0.0] and idx.tolist() == [0, 1, 0, 2, 1, 3]
    assert y.dtype == np.float32 and idx.dtype == np.int32
    np.testing.assert_array_equal(y[idx], v)


def test_unique_random_against_numpy():
    dtype = np.float32
    v = np.random.RandomState(4).randint(0, 10, 50).astype(dtype)
    x = tf.placeholder(tf.as_dtype(dtype), [None])
    y, idx = run(tf.unique(x, out_idx=tf.int64), {x: v})
    _, first = np.unique(v, return_index=True)
    assert y.tolist() == v[np.sort(first)].tolist()
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(y[idx], v)


def test_unique_edges():
    x = tf.placeholder(tf.float32, [None])
    y, idx = run(tf.unique(x), {x: np.zeros(0, np.float32)})
    assert y.shape == (0,) and idx.shape == (0,)
    v = np.random.RandomState(6).randint(0, 30, 200).astype(np.float32)
    v[::17] = np.nan
    y, idx = run(tf.unique(v))
    finite = v[~np.isnan(v)]
    _, first = np.unique(finite, return_index=True)
    np.testing.assert_array_equal(y[~np.isnan(y)], finite[np.sort(first)])  # order of first appearance
    assert np.isnan(y).sum() == np.isnan(v).sum()
    np.testing.assert_array_equal(y[idx], v)  # (assert_array_equal treats NaN == NaN)
    y, idx = run(tf.unique(tf.constant([np.nan, 1.0, np.nan])))  # every NaN is distinct
    assert np.isnan(y[0]) and y[1] == 1.0 and np.isnan(y[2]) and idx.tolist() == [0, 1, 2]
    y, idx = run(tf.unique(tf.constant([True, False, True])))
    assert y.tolist() == [True, False] and idx.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="1D"):
        tf.unique(tf.zeros([2, 2]))
    with pytest.raises(TypeError):
        tf.unique([1, 2], out_idx=tf.float32)
    # the data-dependent length flows into later ops
    y, _ = tf.unique(tf.constant([3, 3, 1]))
    assert run(tf.reduce_sum(y * 2)) == 8
