"""tf.layers.Conv2DTranspose / tf.layers.conv2d_transpose (NHWC) against numpy."""
import numpy as np
import pytest

import nbflow as tf


def _out_len(n, k, s, padding, out_pad=None):
    if out_pad is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + out_pad


def np_conv2d_transpose(x, w, stride, padding, out_pad=(None, None)):
    """Scatter every input pixel times the kernel into the output (TF's placement:
    'same' crops the leading half of the total padding of the matching convolution)."""
    n, h, wd, c = x.shape
    kh, kw, f, c2 = w.shape
    assert c == c2
    oh, ow = _out_len(h, kh, stride, padding, out_pad[0]), _out_len(wd, kw, stride, padding, out_pad[1])
    if padding == "same":
        th = max((-(-oh // stride) - 1) * stride + kh - oh, 0)
        tw = max((-(-ow // stride) - 1) * stride + kw - ow, 0)
        top, left = th // 2, tw // 2
    else:
        top = left = 0
    full = np.zeros((n, top + oh + (h - 1) * stride + kh, left + ow + (wd - 1) * stride + kw, f))
    for i in range(h):
        for j in range(wd):
            full[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :] += np.einsum(
                "nc,abfc->nabf", x[:, i, j, :], w)
    return full[:, top:top + oh, left:left + ow, :]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride, kernel", [(1, 3), (2, 3), (2, 4), (3, 2), (2, 1)])
def test_conv2d_transpose_matches_numpy(dtype, padding, stride, kernel, rng):
    x = tf.placeholder(dtype, [None, 4, 5, 3])
    y = tf.layers.conv2d_transpose(x, 2, kernel, strides=stride, padding=padding, activation=tf.nn.relu)
    oh, ow = _out_len(4, kernel, stride, padding), _out_len(5, kernel, stride, padding)
    assert y.shape.as_list() == [None, oh, ow, 2] and y.dtype is dtype
    assert y.op.name == "conv2d_transpose/Relu"
    names = [v.op.name for v in tf.trainable_variables()]
    assert names == ["conv2d_transpose/kernel", "conv2d_transpose/bias"]
    kernel_var = tf.trainable_variables()[0]
    assert kernel_var.shape.as_list() == [kernel, kernel, 2, 3]
    types = {op.type for op in tf.get_default_graph().get_operations()}
    assert "Conv2DBackpropInput" in types
    v = rng.randn(2, 4, 5, 3).astype(dtype.as_numpy_dtype)
    bias = np.array([0.1, -0.2])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.trainable_variables()[1].assign(bias))
        k = sess.run(kernel_var)
        got = sess.run(y, {x: v})
    ref = np.maximum(np_conv2d_transpose(v.astype(np.float64), k.astype(np.float64), stride, padding) + bias, 0)
    assert got.shape == (2, oh, ow, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype is tf.float32 else 1e-11,
                               atol=1e-5 if dtype is tf.float32 else 1e-12)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_output_padding_and_unknown_spatial_dims(padding, rng):
    x = tf.placeholder(tf.float64, [None, None, None, 2])
    layer = tf.layers.Conv2DTranspose(3, 3, strides=2, padding=padding, output_padding=1, use_bias=False)
    y = layer(x)
    assert y.shape.as_list() == [None, None, None, 3]
    assert layer.compute_output_shape([7, 3, 4, 2]).as_list() == [7, _out_len(3, 3, 2, padding, 1),
                                                                  _out_len(4, 3, 2, padding, 1), 3]
    v = rng.randn(1, 3, 4, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k = sess.run(layer.kernel)
        got = sess.run(y, {x: v})
        got2 = sess.run(y, {x: rng.randn(2, 2, 1, 2)})
    np.testing.assert_allclose(got, np_conv2d_transpose(v, k, 2, padding, (1, 1)), rtol=1e-11, atol=1e-12)
    assert got2.shape == (2, _out_len(2, 3, 2, padding, 1), _out_len(1, 3, 2, padding, 1), 3)


def test_unknown_spatial_dims_without_output_padding(rng):
    x = tf.placeholder(tf.float32, [None, None, 3, 1])
    y = tf.layers.conv2d_transpose(x, 1, [2, 3], strides=(2, 1), padding="valid")
    assert y.shape.as_list() == [None, None, 5, 1]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(y, {x: np.ones((1, 4, 3, 1), np.float32)}).shape == (1, 8, 5, 1)
        assert sess.run(y, {x: np.ones((0, 4, 3, 1), np.float32)}).shape == (0, 8, 5, 1)  # an empty batch
        (g,) = tf.gradients(tf.reduce_sum(y), x)
        assert sess.run(g, {x: np.ones((0, 2, 3, 1), np.float32)}).shape == (0, 2, 3, 1)


def test_gradients_match_finite_differences(rng):
    x = tf.placeholder(tf.float64, [2, 3, 3, 2])
    layer = tf.layers.Conv2DTranspose(2, 3, strides=2, padding="same", activation=tf.nn.tanh,
                                      bias_initializer=tf.constant_initializer(0.1))
    y = layer(x)
    v = rng.randn(2, 3, 3, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err_x = tf.test.compute_gradient_error(x, [2, 3, 3, 2], y, [2, 6, 6, 2], x_init_value=v, delta=1e-5)
        k = sess.run(layer.kernel)
        err_k = tf.test.compute_gradient_error(layer.kernel, [3, 3, 2, 2], y, [2, 6, 6, 2], x_init_value=k,
                                               delta=1e-5, extra_feed_dict={x: v})
        err_b = tf.test.compute_gradient_error(layer.bias, [2], y, [2, 6, 6, 2], x_init_value=np.array([.1, .2]),
                                               delta=1e-5, extra_feed_dict={x: v})
    assert max(err_x, err_k, err_b) < 1e-7, (err_x, err_k, err_b)


def test_sharing_reuse_and_size1_edges(rng):
    x = tf.placeholder(tf.float32, [1, 1, 1, 1])
    a = tf.layers.conv2d_transpose(x, 1, 1, name="up")
    b = tf.layers.conv2d_transpose(x, 1, 1, name="up", reuse=True)
    with pytest.raises(ValueError, match="already exists"):
        tf.layers.conv2d_transpose(x, 1, 1, name="up")
    assert [v.op.name for v in tf.global_variables()] == ["up/kernel", "up/bias"]
    layer = tf.layers.Convolution2DTranspose(4, (1, 2), strides=(1, 2))
    c = layer(x)
    c2 = layer(x)
    assert layer.name == "conv2d_transpose_1" and c.shape.as_list() == [1, 1, 2, 4]
    assert len(tf.global_variables()) == 4
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        va, vb, vc, vc2 = sess.run([a, b, c, c2], {x: [[[[2.0]]]]})
    np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(vc, vc2)


def test_argument_errors():
    x = tf.placeholder(tf.float32, [None, 4, 4, 3])
    with pytest.raises(NotImplementedError, match="channels_first"):
        tf.layers.conv2d_transpose(x, 2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="must be greater than output padding"):
        tf.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        tf.layers.Conv2DTranspose(2, 3, padding="full")
    with pytest.raises(ValueError, match="rank 4"):
        tf.layers.conv2d_transpose(tf.placeholder(tf.float32, [None, 4, 3]), 2, 3)
    with pytest.raises(ValueError, match="channel dimension"):
        tf.layers.conv2d_transpose(tf.placeholder(tf.float32, [None, 4, 4, None]), 2, 3)
    with pytest.raises(ValueError, match="dilation_rate"):
        tf.layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2)
