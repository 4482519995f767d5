"""tf.nn.depthwise_conv2d against a direct numpy loop, with gradient checks."""
import numpy as np
import pytest

import nbflow as tf


def reference(x, f, stride, padding):
    n, h, w, c = x.shape
    fh, fw, _, m = f.shape
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + fh - h, 0)
        pw = max((ow - 1) * stride + fw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - fh) // stride + 1, (w - fw) // stride + 1
    out = np.zeros((n, oh, ow, c * m), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + fh, j * stride:j * stride + fw, :]
            for ch in range(c):
                for k in range(m):
                    out[:, i, j, ch * m + k] = (patch[..., ch] * f[:, :, ch, k]).sum(axis=(1, 2))
    return out


@pytest.mark.parametrize("padding,stride", [("SAME", 1), ("VALID", 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_conv2d_matches_numpy(padding, stride, dtype):
    rng = np.random.RandomState(0)
    xv = rng.randn(2, 6, 5, 3).astype(dtype)
    fv = rng.randn(3, 2, 3, 2).astype(dtype)
    x = tf.placeholder(dtype, [None, 6, 5, 3])
    y = tf.nn.depthwise_conv2d(x, fv, strides=[1, stride, stride, 1], padding=padding)
    with tf.Session() as sess:
        got = sess.run(y, {x: xv})
    np.testing.assert_allclose(got, reference(xv, fv, stride, padding), rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_depthwise_conv2d_gradients_and_errors():
    rng = np.random.RandomState(1)
    x = tf.placeholder(tf.float64, [1, 4, 4, 2])
    f = tf.placeholder(tf.float64, [2, 2, 2, 3])
    y = tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME")
    xv, fv = rng.randn(1, 4, 4, 2), rng.randn(2, 2, 2, 3)
    with tf.Session():
        assert tf.test.compute_gradient_error(x, [1, 4, 4, 2], y, [1, 4, 4, 6], x_init_value=xv,
                                              extra_feed_dict={f: fv}) < 1e-6
        assert tf.test.compute_gradient_error(f, [2, 2, 2, 3], y, [1, 4, 4, 6], x_init_value=fv,
                                              extra_feed_dict={x: xv}) < 1e-6
    with pytest.raises(ValueError, match="channels"):
        tf.nn.depthwise_conv2d(x, tf.zeros([2, 2, 3, 1], tf.float64), [1, 1, 1, 1], "SAME")
    with pytest.raises(NotImplementedError, match="NHWC"):
        tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME", data_format="NCHW")
