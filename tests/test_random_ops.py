"""Random ops: distributions, TF 1.x seeding rules, one value per run, tf.random."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.ops import random_ops
from nbflow.ops.base import apply_op

MAXINT32 = 2 ** 31 - 1


def _rand_ops():
    return [op for op in tf.get_default_graph().get_operations()
            if op.type in ("RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
                           "RandomShuffle", "Multinomial")]


# -- distributions ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_uniform_statistics_and_range(dtype):
    u = tf.random_uniform([20000], dtype=dtype, seed=1)
    v = tf.random_uniform([4, 5000], minval=-3.0, maxval=5.0, dtype=dtype, seed=2)
    assert u.dtype is dtype and u.shape.as_list() == [20000] and v.shape.as_list() == [4, 5000]
    assert u.op.type == "Add" and u.name == "random_uniform:0"
    with tf.Session() as sess:
        a, b = sess.run([u, v])
    assert a.dtype == dtype.as_numpy_dtype and a.shape == (20000,)
    assert a.min() >= 0 and a.max() < 1
    assert abs(a.mean() - 0.5) < 0.01 and abs(a.std() - np.sqrt(1 / 12)) < 0.01
    assert b.min() >= -3 and b.max() < 5 and abs(b.mean() - 1.0) < 0.1


@pytest.mark.parametrize("op_cls,mean,std", [(random_ops.RandomUniform, 0.5, np.sqrt(1 / 12)),
                                              (random_ops.RandomStandardNormal, 0.0, 1.0),
                                              (random_ops.TruncatedNormal, 0.0, 0.8796)])
def test_float16_kernels(op_cls, mean, std):
    # the raw ops (tf.random_uniform's float16 scaling needs float16 element-wise math)
    r = apply_op(op_cls, [tf.constant([4000])], {"seed": 1, "seed2": 2, "T": tf.int32, "dtype": tf.float16})
    assert r.dtype is tf.float16
    with tf.Session() as sess:
        a = sess.run(r)
    assert a.dtype == np.float16 and a.shape == (4000,)
    assert abs(a.astype(np.float64).mean() - mean) < 0.06 and abs(a.astype(np.float64).std() - std) < 0.06


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_uniform_int(dtype):
    r = tf.random_uniform([3000], minval=2, maxval=7, dtype=dtype, seed=4)
    assert r.op.type == "RandomUniformInt" and r.dtype is dtype
    with tf.Session() as sess:
        a = sess.run(r)
    assert a.dtype == dtype.as_numpy_dtype
    assert set(np.unique(a).tolist()) == {2, 3, 4, 5, 6}
    counts = np.bincount(a)[2:]
    assert counts.min() > 450  # ~600 each


def test_uniform_int_errors():
    with pytest.raises(ValueError, match="Must specify maxval"):
        tf.random_uniform([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="minval < maxval"):
        tf.random_uniform([2], minval=5, maxval=5, dtype=tf.int32)
    with pytest.raises(ValueError, match="Invalid dtype"):
        tf.random_uniform([2], dtype=tf.bool)
    lo = tf.placeholder(tf.int32, [])
    r = tf.random_uniform([2], minval=lo, maxval=3, dtype=tf.int32)
    with tf.Session() as sess:
        assert set(sess.run(r, {lo: 1}).tolist()) <= {1, 2}
        with pytest.raises(tf.errors.InvalidArgumentError, match="Need minval < maxval: 4 >= 3"):
            sess.run(r, {lo: 4})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_normal_statistics(dtype):
    n = tf.random_normal([20000], mean=2.0, stddev=3.0, dtype=dtype, seed=5)
    assert n.name == "random_normal:0"
    assert n.op.inputs[0].op.inputs[0].op.type == "RandomStandardNormal"
    with tf.Session() as sess:
        a = sess.run(n)
    assert a.dtype == dtype.as_numpy_dtype
    assert abs(a.mean() - 2.0) < 0.1 and abs(a.std() - 3.0) < 0.1


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_truncated_normal_within_two_stddev(dtype):
    t = tf.truncated_normal([20000], mean=-1.0, stddev=0.5, dtype=dtype, seed=6)
    with tf.Session() as sess:
        a = sess.run(t)
    assert a.min() >= -1.0 - 1.0 and a.max() <= -1.0 + 1.0
    assert abs(a.mean() + 1.0) < 0.02
    # the standard deviation of a standard normal truncated to [-2, 2] is 0.8796
    assert abs(a.std() - 0.5 * 0.8796) < 0.01


def test_normal_rejects_integer_dtype():
    with pytest.raises(ValueError, match="Invalid dtype int32"):
        tf.random_normal([2], dtype=tf.int32)


def test_shapes_empty_scalar_and_dynamic():
    e = tf.random_uniform([0, 3])
    s = tf.random_normal([])
    x = tf.placeholder(tf.float32, [None, 3])
    d = tf.random_uniform(tf.shape(x), seed=7)
    shp = tf.placeholder(tf.int32, [2])
    d2 = tf.random_normal(shp, seed=8)
    assert d.shape.as_list() == [None, 3]  # the static shape follows tf.shape(x)
    assert d2.shape.as_list() == [None, None]
    with tf.Session() as sess:
        assert sess.run(e).shape == (0, 3)
        assert np.shape(sess.run(s)) == ()
        assert sess.run(d, {x: np.zeros((5, 3))}).shape == (5, 3)
        assert sess.run(d2, {shp: [2, 7]}).shape == (2, 7)
        assert sess.run(d2, {shp: [4, 1]}).shape == (4, 1)
    with pytest.raises(ValueError, match="partially known"):
        tf.random_uniform([None, 3])


# -- one value per run, a new value each run -------------------------------------------

def test_one_value_per_run_shared_by_consumers():
    r = tf.random_uniform([4, 3])
    with tf.Session() as sess:
        a, b, c = sess.run([r, r + 0, r * 1.0])
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        a2 = sess.run(r)
    assert not np.array_equal(a, a2)


def test_gradient_uses_the_same_sample():
    # y = mean + stddev * z: dy/dstddev summed is sum(z) = (sum(y) - n * mean) / stddev
    stddev = tf.placeholder(tf.float64, [])
    y = tf.random_normal([50], mean=1.0, stddev=stddev, dtype=tf.float64)
    (g,) = tf.gradients(tf.reduce_sum(y), stddev)
    with tf.Session() as sess:
        yv, gv = sess.run([y, g], {stddev: 2.0})
    np.testing.assert_allclose(gv, (yv.sum() - 50 * 1.0) / 2.0, rtol=1e-10)


def test_random_ops_are_not_differentiable():
    x = tf.placeholder(tf.float32, [3])
    with pytest.raises(LookupError):
        tf.gradients(tf.reduce_sum(tf.random_shuffle(x)), x)


# -- seeds ----------------------------------------------------------------------------------

def test_get_seed_rules():
    g = tf.get_default_graph()
    assert g.seed is None
    assert random_ops.get_seed(None) == (None, None)
    assert random_ops.get_seed(5) == (87654321, 5)
    assert random_ops.get_seed(2 ** 31 + 3) == (87654321, 4)  # truncated to int32 range
    tf.set_random_seed(42)
    assert g.seed == 42
    tf.constant(1.0)
    assert random_ops.get_seed(None) == (42, g._last_id)
    assert random_ops.get_seed(9) == (42, 9)
    tf.set_random_seed(0)
    assert random_ops.get_seed(0) == (0, MAXINT32)  # (0, 0) would mean "no seed"


def test_seed_attrs_on_ops():
    a = tf.random_uniform([2])
    b = tf.random_uniform([2], seed=3)
    ra, rb = _rand_ops()
    assert (ra.attrs["seed"], ra.attrs["seed2"]) == (0, 0)
    assert (rb.attrs["seed"], rb.attrs["seed2"]) == (87654321, 3)
    tf.set_random_seed(11)
    before = tf.get_default_graph()._last_id
    c = tf.random_normal([2])
    rc = _rand_ops()[2]
    # the op seed is the op counter after the shape/mean/stddev constants were made
    assert rc.attrs["seed"] == 11 and rc.attrs["seed2"] == before + 3
    del a, b, c


def _build_and_run(graph_seed, op_seed, runs=2):
    g = tf.Graph()
    with g.as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        tf.constant(0.0)  # shifts the op counter, identically in every build
        u = tf.random_uniform([5], seed=op_seed)
        n = tf.random_normal([5], seed=op_seed)
        with tf.Session(graph=g) as sess:
            return [sess.run([u, n]) for _ in range(runs)]


@pytest.mark.parametrize("graph_seed,op_seed", [(1, None), (None, 7), (3, 7)])
def test_reproducible_across_graphs_and_sessions(graph_seed, op_seed):
    first = _build_and_run(graph_seed, op_seed)
    second = _build_and_run(graph_seed, op_seed)
    for (u1, n1), (u2, n2) in zip(first, second):
        np.testing.assert_array_equal(u1, u2)
        np.testing.assert_array_equal(n1, n2)
    # a new value each run, and the two ops draw from different streams
    assert not np.array_equal(first[0][0], first[1][0])
    assert not np.array_equal(first[0][1], first[1][1])


def test_different_seeds_differ_and_no_seed_is_nondeterministic():
    a = _build_and_run(1, None, runs=1)[0][0]
    b = _build_and_run(2, None, runs=1)[0][0]
    c = _build_and_run(None, 7, runs=1)[0][0]
    d = _build_and_run(None, 8, runs=1)[0][0]
    assert not np.array_equal(a, b) and not np.array_equal(c, d)
    e = _build_and_run(None, None, runs=1)[0][0]
    f = _build_and_run(None, None, runs=1)[0][0]
    assert not np.array_equal(e, f)


def test_same_graph_two_sessions_restart_the_stream():
    tf.set_random_seed(123)
    r = tf.random_uniform([3])
    with tf.Session() as s1:
        a1, a2 = s1.run(r), s1.run(r)
    with tf.Session() as s2:
        b1 = s2.run(r)
    np.testing.assert_array_equal(a1, b1)
    assert not np.array_equal(a1, a2)


# -- shuffle and multinomial --------------------------------------------------------------------

def test_random_shuffle_permutes_rows():
    x = tf.placeholder(tf.int64, [None, 2])
    s = tf.random_shuffle(x, seed=1)
    assert s.op.type == "RandomShuffle" and s.shape.as_list() == [None, 2]
    v = np.arange(40).reshape(20, 2)
    with tf.Session() as sess:
        a = sess.run(s, {x: v})
        b = sess.run(s, {x: v})
        one = sess.run(s, {x: v[:1]})
        empty = sess.run(s, {x: v[:0]})
    assert sorted(a[:, 0].tolist()) == list(range(0, 40, 2))
    np.testing.assert_array_equal(a[:, 1], a[:, 0] + 1)  # rows stay whole
    assert not np.array_equal(a, v) and not np.array_equal(a, b)
    np.testing.assert_array_equal(one, v[:1])
    assert empty.shape == (0, 2)


def test_random_shuffle_scalar_and_float():
    s = tf.random_shuffle(tf.constant(3.5))
    f = tf.random_shuffle(tf.constant([1.0, 2.0, 3.0]))
    with tf.Session() as sess:
        assert sess.run(s) == 3.5
        assert sorted(sess.run(f).tolist()) == [1.0, 2.0, 3.0]


def test_multinomial_frequencies():
    logits = tf.constant(np.log([[0.2, 0.3, 0.5], [0.7, 0.3, 1e-30]]), dtype=tf.float32)
    m = tf.multinomial(logits, 4000, seed=3)
    assert m.op.type == "Multinomial" and m.dtype is tf.int64 and m.shape.as_list() == [2, 4000]
    assert m.op.name == "multinomial/Multinomial"
    with tf.Session() as sess:
        a = sess.run(m)
    f0 = np.bincount(a[0], minlength=3) / 4000.0
    f1 = np.bincount(a[1], minlength=3) / 4000.0
    np.testing.assert_allclose(f0, [0.2, 0.3, 0.5], atol=0.03)
    np.testing.assert_allclose(f1[:2], [0.7, 0.3], atol=0.03)


def test_categorical_masks_minus_inf_and_dtype():
    lg = tf.placeholder(tf.float64, [None, 4])
    c = tf.random.categorical(lg, 200, dtype=tf.int32, seed=2)
    assert c.dtype is tf.int32 and c.op.name == "categorical/Multinomial"
    v = np.array([[0.0, -np.inf, 0.0, -np.inf], [-np.inf, -np.inf, -np.inf, 3.0]])
    with tf.Session() as sess:
        a = sess.run(c, {lg: v})
        empty = sess.run(tf.multinomial(lg, 0), {lg: v})
    assert set(a[0].tolist()) == {0, 2}
    assert set(a[1].tolist()) == {3}
    assert empty.shape == (2, 0)


def test_multinomial_errors():
    with pytest.raises(ValueError, match="logits should be a matrix"):
        tf.multinomial(tf.constant([1.0, 2.0]), 3)
    with pytest.raises(TypeError, match="output_dtype"):
        tf.multinomial(tf.constant([[1.0, 2.0]]), 3, output_dtype=tf.float32)
    ns = tf.placeholder(tf.int32, [])
    m = tf.multinomial(tf.constant([[1.0, 2.0]]), ns)
    with tf.Session() as sess:
        assert sess.run(m, {ns: 5}).shape == (1, 5)
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples should be nonnegative"):
            sess.run(m, {ns: -1})


# -- namespaces ---------------------------------------------------------------------------------

def test_tf_random_namespace():
    assert tf.random.uniform is tf.random_uniform
    assert tf.random.normal is tf.random_normal
    assert tf.random.truncated_normal is tf.truncated_normal
    assert tf.random.shuffle is tf.random_shuffle
    assert tf.random.multinomial is tf.multinomial
    tf.random.set_seed(77)
    assert tf.get_default_graph().seed == 77
    tf.random.set_random_seed(78)
    assert tf.get_default_graph().seed == 78
    assert tf.get_seed(4) == (78, 4)
