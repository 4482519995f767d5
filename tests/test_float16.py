"""float16 tensors: element-wise math computes in float32 and rounds back."""
import numpy as np

import nbflow as tf


def test_float16_elementwise_chain_and_casts():
    x = tf.placeholder(tf.float16, [4])
    y = tf.exp(x) * 2.0 + 1.0
    up = tf.cast(x, tf.float32) * 3.0
    down = tf.cast(tf.constant([0.1, 0.2, 0.3, 0.4]), tf.float16)
    cmp = x > tf.constant(1.0, tf.float16)
    xv = np.array([0, 0.5, 1, 2], np.float16)
    with tf.Session() as sess:
        gy, gup, gdown, gcmp = sess.run([y, up, down, cmp], {x: xv})
    assert gy.dtype == np.float16 and gup.dtype == np.float32 and gdown.dtype == np.float16
    np.testing.assert_allclose(gy, (np.exp(xv.astype(np.float32)) * 2 + 1).astype(np.float16), rtol=1e-3)
    np.testing.assert_array_equal(gup, xv.astype(np.float32) * 3)
    np.testing.assert_array_equal(gdown, np.array([0.1, 0.2, 0.3, 0.4], np.float32).astype(np.float16))
    np.testing.assert_array_equal(gcmp, xv > 1)


def test_float16_gradient():
    x = tf.placeholder(tf.float16, [3])
    (g,) = tf.gradients(tf.reduce_sum(x * x), x)
    with tf.Session() as sess:
        got = sess.run(g, {x: np.array([1, 2, 3], np.float16)})
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, [2, 4, 6])
