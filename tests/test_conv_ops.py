"""conv2d, its backprop ops, max_pool and avg_pool against numpy references."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.ops import conv_ops


def _pad_amounts(size, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return (size - eff) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return out, total // 2, total - total // 2


def ref_conv2d(x, f, strides, padding, dilations=(1, 1)):
    n, h, w, c = x.shape
    kh, kw, _, o = f.shape
    sh, sw = strides
    dh, dw = dilations
    oh, pt, pb = _pad_amounts(h, kh, sh, dh, padding)
    ow, pl, pr = _pad_amounts(w, kw, sw, dw, padding)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + (kh - 1) * dh + 1:dh, j * sw:j * sw + (kw - 1) * dw + 1:dw, :]
            out[:, i, j, :] = np.tensordot(patch, f, axes=([1, 2, 3], [0, 1, 2]))
    return out


def ref_pool(x, k, s, padding, kind):
    n, h, w, c = x.shape
    oh, pt, _ = _pad_amounts(h, k, s, 1, padding)
    ow, pl, _ = _pad_amounts(w, k, s, 1, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s - pt, j * s - pl
            win = x[:, max(y0, 0):min(y0 + k, h), max(x0, 0):min(x0 + k, w), :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides", [(1, 1), (2, 2), (2, 1)])
def test_conv2d_matches_numpy(dtype, padding, strides):
    rng = np.random.RandomState(0)
    xv = rng.randn(2, 7, 6, 3).astype(dtype)
    fv = rng.randn(3, 2, 3, 4).astype(dtype)
    x = tf.placeholder(dtype, [None, 7, 6, 3])
    y = conv_ops.conv2d(x, tf.constant(fv), strides=[1, strides[0], strides[1], 1], padding=padding)
    ref = ref_conv2d(xv.astype(np.float64), fv.astype(np.float64), strides, padding)
    assert y.shape.as_list() == [None] + list(ref.shape[1:])
    with tf.Session() as sess:
        got = sess.run(y, {x: xv})
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)


def test_conv2d_dilations_and_size_one_edges():
    rng = np.random.RandomState(1)
    xv = rng.randn(1, 8, 8, 2)
    fv = rng.randn(3, 3, 2, 1)
    y = conv_ops.conv2d(tf.constant(xv), tf.constant(fv), strides=1, padding="SAME", dilations=2)
    one = conv_ops.conv2d(tf.constant(xv[:, :1, :1]), tf.constant(fv[:1, :1]), strides=1, padding="VALID")
    with tf.Session() as sess:
        got, got_one = sess.run([y, one])
    np.testing.assert_allclose(got, ref_conv2d(xv, fv, (1, 1), "SAME", (2, 2)), rtol=1e-10)
    np.testing.assert_allclose(got_one, xv[:, :1, :1] @ fv[0, 0], rtol=1e-10)


def test_conv2d_errors():
    x = tf.placeholder(tf.float32, [1, 5, 5, 3])
    with pytest.raises(ValueError, match="depth"):
        conv_ops.conv2d(x, tf.zeros([3, 3, 2, 4]), strides=1, padding="SAME")
    with pytest.raises(ValueError, match="NHWC"):
        conv_ops.conv2d(x, tf.zeros([3, 3, 3, 4]), strides=1, padding="SAME", data_format="NCHW")
    with pytest.raises(ValueError, match="padding"):
        conv_ops.conv2d(x, tf.zeros([3, 3, 3, 4]), strides=1, padding="FULL")


@pytest.mark.parametrize("padding,stride", [("SAME", 1), ("VALID", 2), ("SAME", 2)])
def test_conv2d_gradients(padding, stride):
    rng = np.random.RandomState(2)
    xv = rng.randn(2, 5, 4, 2)
    fv = rng.randn(3, 3, 2, 3)
    x = tf.placeholder(tf.float64, xv.shape)
    f = tf.placeholder(tf.float64, fv.shape)
    y = conv_ops.conv2d(x, f, strides=stride, padding=padding)
    with tf.Session():
        ex = tf.test.compute_gradient_error(x, xv.shape, y, y.shape.as_list(), x_init_value=xv,
                                            extra_feed_dict={f: fv})
        ef = tf.test.compute_gradient_error(f, fv.shape, y, y.shape.as_list(), x_init_value=fv,
                                            extra_feed_dict={x: xv})
    assert ex < 1e-6 and ef < 1e-6


def test_conv2d_transpose_is_the_input_gradient():
    rng = np.random.RandomState(3)
    fv = rng.randn(3, 3, 2, 4)
    dy = rng.randn(1, 3, 3, 4)
    t = conv_ops.conv2d_transpose(tf.constant(dy), tf.constant(fv), [1, 6, 6, 2], strides=[1, 2, 2, 1],
                                  padding="SAME")
    x = tf.placeholder(tf.float64, [1, 6, 6, 2])
    (g,) = tf.gradients(conv_ops.conv2d(x, tf.constant(fv), strides=2, padding="SAME"), x,
                        grad_ys=tf.constant(dy))
    with tf.Session() as sess:
        a, b = sess.run([t, g], {x: np.zeros((1, 6, 6, 2))})
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert t.shape.as_list() == [1, 6, 6, 2]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding,k,s", [("VALID", 2, 2), ("SAME", 3, 2), ("SAME", 2, 1)])
def test_pooling_matches_numpy(kind, padding, k, s):
    rng = np.random.RandomState(4)
    xv = rng.randn(2, 5, 6, 3).astype(np.float32)
    fn = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    y = fn(tf.constant(xv), ksize=[1, k, k, 1], strides=[1, s, s, 1], padding=padding)
    with tf.Session() as sess:
        got = sess.run(y)
    np.testing.assert_allclose(got, ref_pool(xv.astype(np.float64), k, s, padding, kind), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_gradients(kind):
    rng = np.random.RandomState(5)
    xv = rng.permutation(2 * 4 * 5 * 2).reshape(2, 4, 5, 2) / 7.0  # distinct values: max is unique
    x = tf.placeholder(tf.float64, xv.shape)
    fn = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    y = fn(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    with tf.Session():
        err = tf.test.compute_gradient_error(x, xv.shape, y, y.shape.as_list(), x_init_value=xv, delta=1e-4)
    assert err < 1e-6
