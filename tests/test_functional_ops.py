"""tf.map_fn, tf.scan, tf.foldl, tf.foldr against numpy, with gradients."""
import numpy as np
import pytest

import nbflow as tf


def test_map_fn_values_shapes_and_gradient():
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.map_fn(lambda row: tf.reduce_sum(row * row) + row[0], x)
    assert y.shape.as_list() == [None]
    xv = np.random.RandomState(0).randn(4, 3)
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as sess:
        yv, gv = sess.run([y, g], {x: xv})
        np.testing.assert_allclose(yv, (xv ** 2).sum(1) + xv[:, 0])
        expect = 2 * xv
        expect[:, 0] += 1
        np.testing.assert_allclose(gv, expect)
        assert sess.run(y, {x: np.zeros((0, 3))}).shape == (0,)
        err = tf.test.compute_gradient_error(x, [4, 3], y, [4], x_init_value=xv)
    assert err < 1e-6


def test_map_fn_structures_and_dtype():
    a = tf.constant([1, 2, 3])
    b = tf.constant([10.0, 20.0, 30.0])
    out = tf.map_fn(lambda ab: (ab[0] * 2, ab[1] + 1.0), (a, b))
    s = tf.map_fn(lambda v: tf.cast(v, tf.float32) / 2.0, a, dtype=tf.float32)
    assert out[0].shape.as_list() == [3]
    with tf.Session() as sess:
        o, sv = sess.run([out, s])
    np.testing.assert_array_equal(o[0], [2, 4, 6])
    np.testing.assert_allclose(o[1], [11, 21, 31])
    np.testing.assert_allclose(sv, [0.5, 1.0, 1.5])
    with pytest.raises(TypeError, match="dtype"):
        tf.map_fn(lambda v: v * 2, a, dtype=tf.float32)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_cumulative_and_gradient(reverse):
    x = tf.placeholder(tf.float64, [5])
    y = tf.scan(lambda acc, v: acc * 0.5 + v, x, reverse=reverse)
    y0 = tf.scan(lambda acc, v: acc + v, x, initializer=tf.constant(100.0, tf.float64))
    xv = np.arange(1.0, 6.0)
    seq = xv[::-1] if reverse else xv
    ref, acc = [], None
    for v in seq:
        acc = v if acc is None else acc * 0.5 + v
        ref.append(acc)
    ref = np.array(ref[::-1] if reverse else ref)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: xv}), ref)
        np.testing.assert_allclose(sess.run(y0, {x: xv}), 100 + np.cumsum(xv))
        err = tf.test.compute_gradient_error(x, [5], y, [5], x_init_value=xv)
    assert err < 1e-6


def test_foldl_foldr():
    x = tf.constant([1.0, 2.0, 3.0, 4.0])
    l = tf.foldl(lambda a, v: a * 10.0 + v, x)
    r = tf.foldr(lambda a, v: a * 10.0 + v, x)
    s = tf.foldl(lambda a, v: a - v, x, initializer=tf.constant(0.0))
    with tf.Session() as sess:
        assert sess.run([l, r, s]) == [1234.0, 4321.0, -10.0]
