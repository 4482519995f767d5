"""Reductions (Sum, Mean, Max, Min, Prod, Any, All, EuclideanNorm), ArgMax/ArgMin,
Cumsum/Cumprod, reduce_logsumexp and count_nonzero against numpy, with gradients."""
import numpy as np
import pytest
from scipy.special import logsumexp as np_logsumexp

import nbflow as tf


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def grad_error(f, shape, value=None, delta=1e-5):
    x = tf.placeholder(tf.float64, shape)
    y = f(x)
    if value is None:
        value = np.random.RandomState(2).uniform(0.5, 1.5, shape)
    with tf.Session():
        return tf.test.compute_gradient_error(x, shape, y, y.shape.as_list(), x_init_value=value, delta=delta)


REDUCE = {
    "reduce_sum": (tf.reduce_sum, np.sum, "Sum"),
    "reduce_mean": (tf.reduce_mean, np.mean, "Mean"),
    "reduce_max": (tf.reduce_max, np.max, "Max"),
    "reduce_min": (tf.reduce_min, np.min, "Min"),
    "reduce_prod": (tf.reduce_prod, np.prod, "Prod"),
}
AXES = [None, 0, 1, -1, [0, 2], (1, 2), [-3, -1], []]


@pytest.mark.parametrize("name", sorted(REDUCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32], ids=["float32", "float64", "int32"])
def test_reductions_against_numpy(name, dtype):
    fn, ref, op_type = REDUCE[name]
    rng = np.random.RandomState(0)
    xv = (rng.uniform(0.5, 1.5, (2, 3, 4)) if dtype != np.int32 else rng.randint(-3, 4, (2, 3, 4))).astype(dtype)
    x = tf.placeholder(tf.as_dtype(dtype), [2, 3, 4])
    fetches = {}
    for axis in AXES:
        for keep in (False, True):
            t = fn(x, axis, keepdims=keep)
            assert t.op.type == op_type and t.dtype == tf.as_dtype(dtype)
            np_axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
            want = ref(xv, axis=np_axis, keepdims=keep)
            if name == "reduce_mean" and dtype == np.int32:
                total = np.sum(xv, axis=np_axis, keepdims=keep)
                count = xv.size // max(np.size(total), 1)
                want = np.trunc(total / count)  # C division: toward zero
            assert t.shape.as_list() == list(np.shape(want)), (axis, keep)
            fetches[(str(axis), keep)] = (t, want)
    got = run({k: t for k, (t, _) in fetches.items()}, {x: xv})
    for k, (_, want) in fetches.items():
        assert got[k].dtype == dtype
        np.testing.assert_allclose(got[k], want, rtol=1e-6, err_msg=str(k))


def test_any_all():
    v = np.array([[[True, False], [False, False]], [[True, True], [False, True]]])
    x = tf.placeholder(tf.bool, [None, 2, 2])
    for axis in (None, 0, -1, [0, 2]):
        npa = tuple(axis) if isinstance(axis, list) else axis
        a, b = run([tf.reduce_any(x, axis), tf.reduce_all(x, axis, keepdims=True)], {x: v})
        np.testing.assert_array_equal(a, np.any(v, axis=npa))
        np.testing.assert_array_equal(b, np.all(v, axis=npa, keepdims=True))
    assert tf.reduce_any(x).op.type == "Any" and tf.reduce_all(x).op.type == "All"
    with pytest.raises(TypeError):
        tf.reduce_any(tf.constant([1.0]))
    with pytest.raises(TypeError):
        tf.reduce_sum(tf.constant([True]))


def test_keep_dims_and_reduction_indices_aliases():
    xv = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = tf.constant(xv)
    a = tf.reduce_sum(x, 1, keep_dims=True)
    b = tf.reduce_max(x, reduction_indices=[0, 2])
    c = tf.reduce_mean(x, reduction_indices=-1, keep_dims=True)
    assert a.shape.as_list() == [2, 1, 4] and b.shape.as_list() == [3] and c.shape.as_list() == [2, 3, 1]
    ga, gb, gc = run([a, b, c])
    np.testing.assert_array_equal(ga, xv.sum(1, keepdims=True))
    np.testing.assert_array_equal(gb, xv.max((0, 2)))
    np.testing.assert_allclose(gc, xv.mean(-1, keepdims=True))
    with pytest.raises(ValueError, match="both"):
        tf.reduce_sum(x, axis=0, reduction_indices=0)


def test_bad_axis_is_a_graph_time_error():
    with pytest.raises(ValueError, match="Invalid reduction dimension"):
        tf.reduce_sum(tf.zeros([2, 3]), 2)
    with pytest.raises(ValueError, match="Invalid reduction dimension"):
        tf.reduce_max(tf.zeros([2, 3]), -3)


def test_empty_reductions_follow_tf():
    x = tf.placeholder(tf.float32, [None, 3])
    e = np.zeros((0, 3), np.float32)
    s, m, mx, mn, p = run([tf.reduce_sum(x), tf.reduce_mean(x), tf.reduce_max(x), tf.reduce_min(x),
                           tf.reduce_prod(x)], {x: e})
    assert s == 0.0 and np.isnan(m) and mx == -np.inf and mn == np.inf and p == 1.0
    cols = run([tf.reduce_sum(x, 0), tf.reduce_mean(x, 0), tf.reduce_max(x, 0)], {x: e})
    np.testing.assert_array_equal(cols[0], [0, 0, 0])
    assert np.all(np.isnan(cols[1]))
    np.testing.assert_array_equal(cols[2], [-np.inf] * 3)
    assert run(tf.reduce_sum(x, 1), {x: e}).shape == (0,)
    b = tf.placeholder(tf.bool, [None])
    assert run(tf.reduce_any(b), {b: np.zeros(0, bool)}) == False  # noqa: E712
    assert run(tf.reduce_all(b), {b: np.zeros(0, bool)}) == True  # noqa: E712
    i = tf.placeholder(tf.int32, [None])
    assert run(tf.reduce_max(i), {i: np.zeros(0, np.int32)}) == np.iinfo(np.int32).min


def test_size_one_and_scalar_reductions():
    assert run(tf.reduce_sum(tf.constant(5.0))) == 5.0
    assert run(tf.reduce_mean(tf.constant([[7.0]]), [0, 1])) == 7.0
    np.testing.assert_array_equal(run(tf.reduce_max(tf.constant([[1.0, -2.0]]), 0)), [1.0, -2.0])
    # reducing over no axes returns the input
    np.testing.assert_array_equal(run(tf.reduce_sum(tf.constant([[1, 2], [3, 4]]), [])), [[1, 2], [3, 4]])


def test_unknown_dims_and_axes_from_a_placeholder():
    x = tf.placeholder(tf.float32, [None, None, 4])
    ax = tf.placeholder(tf.int32, [None])
    t1 = tf.reduce_sum(x, [0, 2])
    t2 = tf.reduce_sum(x, ax)
    t3 = tf.reduce_mean(x, ax, keepdims=True)
    assert t1.shape.as_list() == [None] and t2.shape.ndims is None and t3.shape.as_list() == [None, None, None]
    xv = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    g1, g2, g3 = run([t1, t2, t3], {x: xv, ax: [0, 2]})
    np.testing.assert_array_equal(g1, xv.sum((0, 2)))
    np.testing.assert_array_equal(g2, xv.sum((0, 2)))
    np.testing.assert_allclose(g3, xv.mean((0, 2), keepdims=True))
    u = tf.placeholder(tf.float64)  # unknown rank
    np.testing.assert_array_equal(run(tf.reduce_max(u, 1), {u: xv}), xv.max(1))
    np.testing.assert_array_equal(run(tf.reduce_min(u), {u: xv}), xv.min())


def test_nan_propagates_through_max_min():
    v = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], np.float32)
    mx, mn = run([tf.reduce_max(v, 1), tf.reduce_min(v, 1)])
    assert np.isnan(mx[0]) and mx[1] == 3.0 and np.isnan(mn[0]) and mn[1] == 1.0


def test_float16_reductions():
    v = np.array([[1.5, 2.25], [3.0, -1.0]], np.float16)
    s, m = run([tf.reduce_sum(v, 0), tf.reduce_mean(v)])
    assert s.dtype == np.float16 and m.dtype == np.float16
    np.testing.assert_array_equal(s, v.astype(np.float32).sum(0))
    assert m == np.float16(5.75 / 4)


def test_large_float32_sum_is_accurate():
    v = np.random.RandomState(0).uniform(0, 1, 100000).astype(np.float32)
    exact = v.astype(np.float64).sum()
    assert abs(run(tf.reduce_sum(v)) - exact) < 1e-6 * exact


# -- gradients of reductions ----------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(REDUCE))
@pytest.mark.parametrize("axis,keep", [(None, False), (1, True), ([0, 2], False), (-1, False)])
def test_reduction_gradients(name, axis, keep):
    fn = REDUCE[name][0]
    # distinct values: max/min have a unique winner
    value = np.random.RandomState(4).permutation(24).reshape(2, 3, 4) / 10.0 + 0.5
    assert grad_error(lambda x: fn(x, axis, keepdims=keep), (2, 3, 4), value) < 1e-6


def test_max_gradient_splits_ties():
    x = tf.placeholder(tf.float64, [2, 3])
    (g,) = tf.gradients(tf.reduce_max(x, 1), x)
    np.testing.assert_allclose(run(g, {x: [[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]}), [[0, 0.5, 0.5], [1, 0, 0]])


@pytest.mark.parametrize("value", [
    [[1.5, 0.0, 2.0], [0.7, 1.2, 0.9]],   # one zero in a row
    [[0.0, 0.0, 2.0], [0.0, 1.2, 0.9]],   # two zeros in a row
    [[0.0, 0.0, 0.0], [1.1, 1.2, 0.9]],
], ids=["one_zero", "two_zeros", "all_zeros"])
def test_prod_gradient_with_zeros(value):
    value = np.array(value)
    x = tf.placeholder(tf.float64, [2, 3])
    (g,) = tf.gradients(tf.reduce_prod(x, 1), x)
    got = run(g, {x: value})
    want = np.array([[np.prod(np.delete(row, j)) for j in range(3)] for row in value])
    np.testing.assert_allclose(got, want)
    assert np.all(np.isfinite(got))
    assert grad_error(lambda t: tf.reduce_prod(t, 1), (2, 3), value) < 1e-6
    assert grad_error(lambda t: tf.reduce_prod(t), (2, 3), value) < 1e-6


def test_mean_gradient_with_unknown_dims():
    x = tf.placeholder(tf.float64, [None, 3])
    (g,) = tf.gradients(tf.reduce_mean(x), x)
    np.testing.assert_allclose(run(g, {x: np.ones((4, 3))}), np.full((4, 3), 1 / 12))
    (g2,) = tf.gradients(tf.reduce_sum(x, 0), x)
    np.testing.assert_array_equal(run(g2, {x: np.ones((2, 3))}), np.ones((2, 3)))


# -- argmax / argmin ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32], ids=["float32", "float64", "int32"])
def test_argmax_argmin(dtype):
    rng = np.random.RandomState(1)
    xv = rng.randint(-5, 6, (3, 4, 5)).astype(dtype)  # plenty of ties: the first index wins
    x = tf.placeholder(tf.as_dtype(dtype), [None, 4, 5])
    fetches = {}
    for axis in (0, 1, 2, -1, -3):
        fetches[("max", axis)] = (tf.argmax(x, axis), np.argmax(xv, axis))
        fetches[("min", axis)] = (tf.argmin(x, axis), np.argmin(xv, axis))
    got = run({k: t for k, (t, _) in fetches.items()}, {x: xv})
    for k, (t, want) in fetches.items():
        assert t.dtype == tf.int64 and got[k].dtype == np.int64
        np.testing.assert_array_equal(got[k], want, err_msg=str(k))
    assert tf.argmax(x, 1).shape.as_list() == [None, 5]
    assert tf.argmax(x, 1).op.type == "ArgMax" and tf.argmin(x, 1).op.type == "ArgMin"


def test_argmax_options():
    v = np.array([[1.0, 9.0, 9.0], [7.0, 2.0, 7.0]], np.float32)
    a = tf.argmax(v)  # axis defaults to 0
    b = tf.argmax(v, dimension=1)  # TF1's name for axis
    c = tf.argmin(v, axis=1, output_type=tf.int32)
    d = tf.arg_max(v, 1)
    assert c.dtype == tf.int32
    ga, gb, gc, gd = run([a, b, c, d])
    assert ga.tolist() == [1, 0, 0] and gb.tolist() == [1, 0] and gc.tolist() == [0, 1] and gd.tolist() == [1, 0]
    assert gc.dtype == np.int32
    with pytest.raises(ValueError, match="both"):
        tf.argmax(v, axis=0, dimension=0)
    with pytest.raises(ValueError):
        tf.argmax(v, 2)
    with pytest.raises(TypeError):
        tf.argmax(v, 0, output_type=tf.float32)
    with pytest.raises(ValueError, match="empty"):
        tf.argmax(tf.zeros([0, 3]), 0)
    # axis from a placeholder; empty reduced axis at run time
    ax = tf.placeholder(tf.int32, [])
    assert run(tf.argmax(v, ax), {ax: 1}).tolist() == [1, 0]
    p = tf.placeholder(tf.float32, [None])
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        run(tf.argmax(p), {p: np.zeros(0, np.float32)})
    # NaN wins, as numpy
    assert run(tf.argmax(tf.constant([1.0, np.nan, 5.0]))) == 1


# -- cumsum / cumprod ------------------------------------------------------------------------

def _np_scan(f, x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    y = f(x, axis=axis)
    if exclusive:
        ident = 0 if f is np.cumsum else 1
        y = np.concatenate([np.full_like(np.take(y, [0], axis), ident), np.delete(y, -1, axis)], axis)
    return np.flip(y, axis) if reverse else y


@pytest.mark.parametrize("which", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32], ids=["float32", "float64", "int32"])
def test_scans_against_numpy(which, dtype):
    fn, ref = (tf.cumsum, np.cumsum) if which == "cumsum" else (tf.cumprod, np.cumprod)
    rng = np.random.RandomState(2)
    xv = (rng.uniform(0.5, 1.5, (2, 3, 4)) if dtype != np.int32 else rng.randint(-3, 4, (2, 3, 4))).astype(dtype)
    x = tf.placeholder(tf.as_dtype(dtype), [None, 3, 4])
    fetches = {}
    for axis in (0, 1, 2, -1):
        for exclusive in (False, True):
            for reverse in (False, True):
                t = fn(x, axis, exclusive=exclusive, reverse=reverse)
                assert t.op.type == which.capitalize() and t.shape.as_list() == [None, 3, 4]
                fetches[(axis, exclusive, reverse)] = (t, _np_scan(ref, xv, axis, exclusive, reverse))
    got = run({k: t for k, (t, _) in fetches.items()}, {x: xv})
    for k, (_, want) in fetches.items():
        assert got[k].dtype == dtype
        np.testing.assert_allclose(got[k], want, rtol=1e-6, err_msg=str(k))


def test_scan_defaults_edges_and_errors():
    assert run(tf.cumsum([1, 2, 3])).tolist() == [1, 3, 6]
    assert run(tf.cumsum([1, 2, 3], exclusive=True)).tolist() == [0, 1, 3]
    assert run(tf.cumsum([1, 2, 3], reverse=True)).tolist() == [6, 5, 3]
    assert run(tf.cumsum([1, 2, 3], exclusive=True, reverse=True)).tolist() == [5, 3, 0]
    assert run(tf.cumprod([2.0, 3.0, 4.0], exclusive=True)).tolist() == [1.0, 2.0, 6.0]
    p = tf.placeholder(tf.float32, [None, 2])
    assert run(tf.cumsum(p, 0), {p: np.zeros((0, 2), np.float32)}).shape == (0, 2)
    assert run(tf.cumprod(p, 1, exclusive=True), {p: [[5.0, 6.0]]}).tolist() == [[1.0, 5.0]]
    ax = tf.placeholder(tf.int32, [])
    assert run(tf.cumsum(p, ax), {p: [[1.0, 2.0], [3.0, 4.0]], ax: 1}).tolist() == [[1.0, 3.0], [3.0, 7.0]]
    with pytest.raises(ValueError):
        tf.cumsum(tf.zeros([2, 3]), 2)
    with pytest.raises(ValueError):
        tf.cumsum(tf.constant(1.0))
    with pytest.raises(TypeError):
        tf.cumsum(tf.constant([True]))


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradients(exclusive, reverse):
    for axis in (0, 1):
        assert grad_error(lambda x: tf.cumsum(x, axis, exclusive, reverse), (3, 4)) < 1e-6
        assert grad_error(lambda x: tf.cumprod(x, axis, exclusive, reverse), (3, 4)) < 1e-6


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumprod_gradient_with_zeros(exclusive, reverse):
    # rows with no zero, one zero, two zeros, a zero first and last
    value = np.array([[1.5, 0.8, 1.2, 0.7, 1.1],
                      [1.5, 0.0, 1.2, 0.7, 1.1],
                      [0.9, 0.0, 1.2, 0.0, 1.1],
                      [0.0, 1.3, 0.6, 1.4, 0.0]])
    x = tf.placeholder(tf.float64, [4, 5])
    (g,) = tf.gradients(tf.cumprod(x, 1, exclusive, reverse), x)
    got = run(g, {x: value})
    assert np.all(np.isfinite(got))
    assert grad_error(lambda t: tf.cumprod(t, 1, exclusive, reverse), (4, 5), value) < 1e-6


# -- logsumexp, count_nonzero, euclidean norm -----------------------------------------------

def test_reduce_logsumexp():
    rng = np.random.RandomState(3)
    xv = rng.randn(2, 3, 4).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3, 4])
    fetches = {}
    for axis in (None, 1, -1, [0, 2]):
        for keep in (False, True):
            npa = tuple(axis) if isinstance(axis, list) else axis
            t = tf.reduce_logsumexp(x, axis, keepdims=keep)
            assert t.dtype == tf.float32
            fetches[(str(axis), keep)] = (t, np_logsumexp(xv, axis=npa, keepdims=keep))
    got = run({k: t for k, (t, _) in fetches.items()}, {x: xv})
    for k, (_, want) in fetches.items():
        assert got[k].shape == np.shape(want)
        np.testing.assert_allclose(got[k], want, rtol=1e-5, err_msg=str(k))
    # stable at large magnitudes; all -inf rows give -inf, an inf gives inf
    big = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, -np.inf], [np.inf, 1.0]], np.float32)
    out = run(tf.reduce_logsumexp(big, 1))
    np.testing.assert_allclose(out[:2], [1000.0 + np.log(2), -1000.0 + np.log(2)], rtol=1e-6)
    assert out[2] == -np.inf and out[3] == np.inf
    assert run(tf.reduce_logsumexp(big[:, :1], reduction_indices=1, keep_dims=True)).shape == (4, 1)
    with pytest.raises(TypeError):
        tf.reduce_logsumexp(tf.constant([1, 2]))


def test_reduce_logsumexp_gradient_is_softmax():
    assert grad_error(lambda x: tf.reduce_logsumexp(x, 1), (2, 3)) < 1e-6
    assert grad_error(lambda x: tf.reduce_logsumexp(x, [0, 2], keepdims=True), (2, 2, 3)) < 1e-6
    x = tf.placeholder(tf.float64, [2, 3])
    (g,) = tf.gradients(tf.reduce_logsumexp(x, 1), x)
    v = np.array([[1000.0, 999.0, 0.0], [1.0, 2.0, 3.0]])
    e = np.exp(v - v.max(1, keepdims=True))
    np.testing.assert_allclose(run(g, {x: v}), e / e.sum(1, keepdims=True), rtol=1e-12)


def test_count_nonzero():
    v = np.array([[0, 1, 2], [0, 0, 3]], np.int32)
    a, b, c = run([tf.count_nonzero(v), tf.count_nonzero(v, 1), tf.count_nonzero(v, 0, keepdims=True,
                                                                                  dtype=tf.int32)])
    assert a == 3 and a.dtype == np.int64
    assert b.tolist() == [2, 1] and c.tolist() == [[0, 1, 2]] and c.dtype == np.int32
    assert run(tf.count_nonzero(tf.constant([True, False, True]))) == 2
    assert run(tf.count_nonzero(tf.constant([0.0, -0.0, 0.5, np.nan]))) == 2


def test_reduce_euclidean_norm():
    v = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, 2.0]])
    a, b = run([tf.reduce_euclidean_norm(v, 1), tf.reduce_euclidean_norm(v)])
    np.testing.assert_allclose(a, [5.0, 3.0])
    np.testing.assert_allclose(b, np.sqrt(34.0))
    assert tf.reduce_euclidean_norm(v).op.type == "EuclideanNorm"
    # over size-1 axes it is |x|, not x
    np.testing.assert_array_equal(run(tf.reduce_euclidean_norm(tf.constant([[-2.0]]), 1, keepdims=True)), [[2.0]])
    assert run(tf.reduce_euclidean_norm(tf.constant([3, 4]))) == 5
    assert grad_error(lambda x: tf.reduce_euclidean_norm(x, 1), (2, 3)) < 1e-6
    x = tf.placeholder(tf.float64, [2])
    (g,) = tf.gradients(tf.reduce_euclidean_norm(x), x)
    np.testing.assert_array_equal(run(g, {x: [0.0, 0.0]}), [0.0, 0.0])  # a subgradient, not NaN
