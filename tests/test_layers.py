"""tf.layers: Dense, Conv2D, pooling, Flatten, Dropout, BatchNormalization (TF 1.x API)."""
import numpy as np
import pytest

import nbflow as tf


def _names(variables):
    return [v.op.name for v in variables]


def _np_conv2d(x, w, stride, padding, dilation=1):
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    ekh, ekw = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    if padding == "same":
        oh, ow = -(-h // stride), -(-wd // stride)
        ph = max((oh - 1) * stride + ekh - h, 0)
        pw = max((ow - 1) * stride + ekw - wd, 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    else:
        oh, ow = (h - ekh) // stride + 1, (wd - ekw) // stride + 1
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + ekh:dilation, j * stride:j * stride + ekw:dilation, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


# -- Dense ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_dense_matches_numpy_and_names_variables(dtype, rng):
    x = tf.placeholder(dtype, [None, 4])
    h = tf.layers.dense(x, 3, activation=tf.nn.relu)
    y = tf.layers.dense(h, 2)
    assert h.op.name == "dense/Relu" and y.op.name == "dense_1/BiasAdd"
    assert y.shape.as_list() == [None, 2] and y.dtype is dtype
    assert _names(tf.trainable_variables()) == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert all(v.dtype.base_dtype is dtype for v in tf.global_variables())
    v = rng.randn(5, 4).astype(dtype.as_numpy_dtype)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k0, b0, k1, b1 = sess.run(tf.trainable_variables())
        got = sess.run(y, {x: v})
    np.testing.assert_array_equal(b0, 0)  # zeros bias; glorot_uniform kernel within its limit
    assert np.abs(k0).max() <= np.sqrt(6 / 7) and np.abs(k0).max() > 0
    ref = np.maximum(v @ k0 + b0, 0) @ k1 + b1
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype is tf.float32 else 1e-12)


def test_dense_options_rank3_and_string_activation(rng):
    x = tf.placeholder(tf.float32, [None, 2, 3])
    y = tf.layers.dense(x, 4, activation="tanh", use_bias=False,
                        kernel_initializer=tf.constant_initializer(np.arange(12).reshape(3, 4) / 10.))
    assert y.shape.as_list() == [None, 2, 4]
    assert _names(tf.global_variables()) == ["dense/kernel"]
    v = rng.randn(2, 2, 3).astype(np.float32)
    np.testing.assert_allclose(_run_init(y, {x: v}),
                               np.tanh(v @ (np.arange(12).reshape(3, 4) / 10.)), rtol=1e-5, atol=1e-6)
    z = tf.placeholder(tf.float32, None)
    with pytest.raises(ValueError, match="last dimension of the inputs to `Dense` should be defined"):
        tf.layers.dense(z, 2)
    with pytest.raises(ValueError, match="last dimension"):
        tf.layers.dense(tf.placeholder(tf.float32, [2, None]), 2)
    with pytest.raises(TypeError, match="non-floating point"):
        tf.layers.dense(tf.placeholder(tf.int32, [2, 3]), 2)
    with pytest.raises(ValueError, match="Unknown activation"):
        tf.layers.Dense(2, activation="swishy")


def _run_init(fetches, feed=None):
    """Initialize the variables, then run ``fetches`` once."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_dense_reuse_and_sharing():
    x = tf.placeholder(tf.float32, [None, 3])
    a = tf.layers.dense(x, 2, name="shared")
    b = tf.layers.dense(x, 2, name="shared", reuse=True)
    assert _names(tf.global_variables()) == ["shared/kernel", "shared/bias"]
    assert a.op.name == "shared/BiasAdd" and b.op.name == "shared_1/BiasAdd"
    with pytest.raises(ValueError, match="already exists"):
        tf.layers.dense(x, 2, name="shared")
    with tf.variable_scope("model"):
        tf.layers.dense(x, 2)
    with tf.variable_scope("model", reuse=True):
        tf.layers.dense(x, 2)
    with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
        tf.layers.dense(x, 2, name="dense")
    assert _names(tf.global_variables()) == ["shared/kernel", "shared/bias", "model/dense/kernel", "model/dense/bias"]
    with pytest.raises(ValueError, match="does not exist"):
        tf.layers.dense(x, 2, name="other", reuse=True)


def test_dense_layer_object_reuses_its_variables(rng):
    layer = tf.layers.Dense(3, name="proj")
    assert layer.name == "proj" and not layer.built and layer.variables == []
    x1 = tf.placeholder(tf.float32, [None, 2])
    x2 = tf.placeholder(tf.float32, [None, 2])
    y1, y2 = layer(x1), layer.apply(x2)
    assert layer.built and y2.op.name == "proj/BiasAdd_1"
    assert layer.trainable_variables == layer.trainable_weights == [layer.kernel, layer.bias]
    assert layer.variables == layer.weights and layer.non_trainable_variables == []
    assert _names(tf.global_variables()) == ["proj/kernel", "proj/bias"] and layer.count_params() == 9
    unnamed = tf.layers.Dense(1)
    assert unnamed.name == "dense_1"  # TF numbers layer objects from 1
    unnamed(x1)
    assert _names(unnamed.variables) == ["dense/kernel", "dense/bias"] and unnamed.scope_name == "dense"
    frozen = tf.layers.Dense(2, trainable=False)
    frozen(x1)
    assert frozen.trainable_variables == [] and len(frozen.non_trainable_variables) == 2
    assert not any(v in tf.trainable_variables() for v in frozen.variables)
    v = rng.randn(3, 2).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([y1, y2], {x1: v, x2: v})
    np.testing.assert_array_equal(a, b)


def test_dense_regularizers_and_initializer_from_scope():
    x = tf.placeholder(tf.float64, [None, 2])
    with tf.variable_scope("net", initializer=tf.ones_initializer()):
        y = tf.layers.dense(x, 2, kernel_regularizer=lambda w: 0.5 * tf.reduce_sum(w * w),
                            bias_initializer=tf.constant_initializer(0.25))
    tf.layers.dense(x, 2, name="net/dense", reuse=True, kernel_regularizer=lambda w: tf.reduce_sum(w))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1 and losses[0].op.name.startswith("net/dense/kernel/Regularizer/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(losses[0]), 2.0)
        np.testing.assert_allclose(sess.run(y, {x: [[1., 2.]]}), [[3.25, 3.25]])


def test_dense_gradients(rng):
    x = tf.placeholder(tf.float64, [3, 2])
    y = tf.layers.dense(x, 2, activation=tf.nn.tanh)
    layer_vars = tf.trainable_variables()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err = tf.test.compute_gradient_error(x, [3, 2], y, [3, 2], x_init_value=rng.randn(3, 2), delta=1e-5)
        assert err < 1e-8
        # w.r.t. the kernel: feed its read snapshot
        kernel = layer_vars[0].value()
        kv = sess.run(kernel)
        err = tf.test.compute_gradient_error(kernel, [2, 2], y, [3, 2], x_init_value=kv, delta=1e-5,
                                             extra_feed_dict={x: rng.randn(3, 2)})
        assert err < 1e-8


# -- Conv2D ----------------------------------------------------------------------------------

@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("SAME", 2, 1), ("same", 1, 2)])
def test_conv2d_matches_numpy(padding, strides, dilation, rng):
    x = tf.placeholder(tf.float32, [None, 6, 5, 2])
    y = tf.layers.conv2d(x, 3, (3, 2), strides=strides, padding=padding, dilation_rate=dilation,
                         activation=tf.nn.relu, bias_initializer=tf.constant_initializer(0.1))
    assert y.op.name == "conv2d/Relu" and y.op.inputs[0].op.inputs[0].op.name == "conv2d/Conv2D"
    assert _names(tf.global_variables()) == ["conv2d/kernel", "conv2d/bias"]
    assert tf.global_variables()[0].shape.as_list() == [3, 2, 2, 3]
    v = rng.randn(2, 6, 5, 2).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel = sess.run(tf.global_variables()[0])
        got = sess.run(y, {x: v})
    ref = np.maximum(_np_conv2d(v.astype(np.float64), kernel, strides, padding.lower(), dilation) + 0.1, 0)
    assert got.shape == ref.shape and y.shape.as_list()[1:] == list(ref.shape[1:])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_conv2d_class_float64_gradient_and_errors(rng):
    layer = tf.layers.Conv2D(2, 2, padding="same", use_bias=True, name="c")
    x = tf.placeholder(tf.float64, [1, 3, 3, 2])
    y = layer(x)
    assert layer.kernel.dtype.base_dtype is tf.float64 and _names(layer.variables) == ["c/kernel", "c/bias"]
    assert layer.compute_output_shape([None, 3, 3, 2]).as_list() == [None, 3, 3, 2]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err = tf.test.compute_gradient_error(x, [1, 3, 3, 2], y, [1, 3, 3, 2], x_init_value=rng.randn(1, 3, 3, 2))
    assert err < 1e-8
    with pytest.raises(NotImplementedError, match="channels_first"):
        tf.layers.conv2d(x, 2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="padding"):
        tf.layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        tf.layers.Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="dilation_rate"):
        tf.layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="channel dimension of the inputs should be defined"):
        tf.layers.conv2d(tf.placeholder(tf.float32, [1, 3, 3, None]), 2, 3)
    with pytest.raises(ValueError, match="expected ndim=4"):
        tf.layers.conv2d(tf.placeholder(tf.float32, [1, 3, 3]), 2, 3)


# -- pooling and flatten ------------------------------------------------------------------------

@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_layers_match_numpy(padding, rng):
    v = rng.randn(2, 4, 5, 3).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 4, 5, 3])
    mp = tf.layers.max_pooling2d(x, 2, 2, padding=padding)
    ap = tf.layers.AveragePooling2D((2, 2), strides=2, padding=padding.upper())(x)
    assert mp.op.name == "max_pooling2d/MaxPool" and ap.op.name == "average_pooling2d/AvgPool"
    got_m, got_a = tf.Session().run([mp, ap], {x: v})
    cols = 3 if padding == "same" else 2
    assert got_m.shape == (2, 2, cols, 3) and mp.shape.as_list() == [None, 2, cols, 3]
    for j in range(cols):
        win = v[:, :, 2 * j:2 * j + 2, :].reshape(2, 2, 2, -1, 3)  # rows pair up exactly (4 rows)
        np.testing.assert_allclose(got_m[:, :, j], win.max(axis=(2, 3)), rtol=1e-6)
        np.testing.assert_allclose(got_a[:, :, j], win.mean(axis=(2, 3)), rtol=1e-6)
    assert tf.global_variables() == []


def test_flatten_shapes(rng):
    v = rng.randn(2, 3, 4).astype(np.float32)
    x_static = tf.placeholder(tf.float32, [None, 3, 4])
    x_dyn = tf.placeholder(tf.float32, [2, None, 4])
    x_unknown = tf.placeholder(tf.float32, None)
    f1, f2, f3 = tf.layers.flatten(x_static), tf.layers.Flatten()(x_dyn), tf.layers.flatten(x_unknown)
    assert f1.shape.as_list() == [None, 12] and f1.op.name == "flatten/Reshape"
    assert f2.shape.as_list()[0] == 2
    got = tf.Session().run([f1, f2, f3], {x_static: v, x_dyn: v, x_unknown: v})
    for g in got:
        np.testing.assert_array_equal(g, v.reshape(2, 12))
    assert tf.Session().run(tf.layers.flatten(tf.constant([1., 2.]))).shape == (2, 1)


# -- Dropout ---------------------------------------------------------------------------------------

def test_dropout_training_switch(rng):
    v = np.ones((200, 50), np.float32)
    x = tf.placeholder(tf.float32, [None, 50])
    assert tf.layers.dropout(x, 0.3).op.type == "Identity"  # training=False by default
    dropped = tf.layers.dropout(x, 0.3, training=True, seed=1)
    training = tf.placeholder_with_default(False, [])
    switched = tf.layers.Dropout(rate=0.3, seed=2)(x, training=training)
    assert switched.shape.as_list() == [None, 50]
    with tf.Session() as sess:
        d = sess.run(dropped, {x: v})
        assert set(np.unique(d)) <= {0.0, np.float32(1 / 0.7)}
        assert 0.25 < (d == 0).mean() < 0.35
        np.testing.assert_array_equal(sess.run(switched, {x: v}), v)
        s = sess.run(switched, {x: v, training: True})
        assert 0.25 < (s == 0).mean() < 0.35
    with pytest.raises(TypeError, match="bool"):
        tf.layers.dropout(x, training=tf.placeholder(tf.float32, []))


def test_dropout_noise_shape(rng):
    x = tf.placeholder(tf.float32, [None, 4, 6])
    d = tf.layers.dropout(x, 0.5, noise_shape=[None, 1, 6], training=True, seed=3)
    out = tf.Session().run(d, {x: np.ones((3, 4, 6), np.float32)})
    assert (out == out[:, :1, :]).all()  # one mask per (batch, channel), shared along axis 1


# -- BatchNormalization -------------------------------------------------------------------------------

def _train_bn(x_shape, axis, dtype, rng, momentum=0.9, steps=3, **kw):
    """Train a few SGD steps with the update ops as control dependencies; return
    (batches, moving mean/var after each step, layer)."""
    x = tf.placeholder(dtype, [None] + list(x_shape[1:]))
    layer = tf.layers.BatchNormalization(axis=axis, momentum=momentum, **kw)
    y = layer(x, training=True)
    loss = tf.reduce_sum(tf.square(y - 1.0))
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(update_ops) == 2 and layer.updates == update_ops
    with tf.control_dependencies(update_ops):
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    batches = [(rng.randn(*x_shape) * (i + 1) + i).astype(dtype.as_numpy_dtype) for i in range(steps)]
    stats = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for b in batches:
            sess.run(train, {x: b})
            stats.append(sess.run([layer.moving_mean, layer.moving_variance]))
        gamma = sess.run(layer.gamma)
    return batches, stats, layer, gamma


@pytest.mark.parametrize("case", ["2d-f32", "4d-fused-f32", "4d-f64", "4d-axis1"])
def test_batch_norm_update_ops_track_moving_statistics(case, rng):
    shape, axis, dtype, unbiased = {
        "2d-f32": ((8, 3), -1, tf.float32, False),
        "4d-fused-f32": ((2, 3, 2, 4), -1, tf.float32, True),  # TF's fused kernel: unbiased variance
        "4d-f64": ((2, 3, 2, 4), 3, tf.float64, False),  # float64 is never fused in TF
        "4d-axis1": ((2, 4, 3, 2), 1, tf.float32, True),  # fused NCHW in TF
    }[case]
    batches, stats, layer, gamma = _train_bn(shape, axis, dtype, rng)
    ax = axis % len(shape)
    red = tuple(i for i in range(len(shape)) if i != ax)
    mm, mv = np.zeros(shape[ax]), np.ones(shape[ax])
    for b, (got_m, got_v) in zip(batches, stats):
        b = b.astype(np.float64)
        mm = 0.9 * mm + 0.1 * b.mean(red)
        mv = 0.9 * mv + 0.1 * b.var(red, ddof=1 if unbiased else 0)
        np.testing.assert_allclose(got_m, mm, rtol=1e-5)
        np.testing.assert_allclose(got_v, mv, rtol=1e-5)
    assert not np.allclose(gamma, 1)  # the train op ran too
    assert layer.fused == unbiased
    names = ["batch_normalization/" + n for n in ("gamma", "beta", "moving_mean", "moving_variance")]
    assert _names(tf.global_variables()) == names
    assert _names(tf.trainable_variables()) == names[:2]
    assert _names(layer.non_trainable_variables) == names[2:]
    assert tf.moving_average_variables() == []  # as TF 1.15's layer (ExponentialMovingAverage owns that collection)
    assert all(v.dtype.base_dtype is dtype for v in tf.global_variables())


@pytest.mark.parametrize("rank", [2, 4])
def test_batch_norm_inference_uses_moving_statistics(rank, rng):
    shape = (5, 3) if rank == 2 else (2, 2, 3, 3)
    v = rng.randn(*shape).astype(np.float32)
    mm, mv = rng.randn(3).astype(np.float32), (rng.rand(3) + 0.5).astype(np.float32)
    g, b = rng.rand(3).astype(np.float32) + 0.5, rng.randn(3).astype(np.float32)
    x = tf.placeholder(tf.float32, [None] + list(shape[1:]))
    y = tf.layers.batch_normalization(
        x, epsilon=0.01, moving_mean_initializer=tf.constant_initializer(mm),
        moving_variance_initializer=tf.constant_initializer(mv), gamma_initializer=tf.constant_initializer(g),
        beta_initializer=tf.constant_initializer(b))
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []  # training=False: no updates
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(y, {x: v})
    np.testing.assert_allclose(got, (v - mm) / np.sqrt(mv + 0.01) * g + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rank", [2, 4])
def test_batch_norm_tensor_training_switch(rank, rng):
    shape = (6, 3) if rank == 2 else (2, 3, 2, 3)
    red = tuple(range(rank - 1))
    v = (rng.randn(*shape) * 2 + 1).astype(np.float32)
    x = tf.placeholder(tf.float32, [None] + list(shape[1:]))
    training = tf.placeholder_with_default(False, [], name="training")
    layer = tf.layers.BatchNormalization(momentum=0.5, center=False, scale=False)
    y = layer(x, training=training)
    assert layer.gamma is None and layer.beta is None
    assert _names(layer.variables) == ["batch_normalization/moving_mean", "batch_normalization/moving_variance"]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, _ = sess.run([y, updates], {x: v})  # inference: moving stats (0, 1), no update
        np.testing.assert_allclose(out, v / np.sqrt(1 + 1e-3), rtol=1e-5)
        np.testing.assert_array_equal(sess.run(layer.moving_mean), 0)
        np.testing.assert_array_equal(sess.run(layer.moving_variance), 1)
        out, _ = sess.run([y, updates], {x: v, training: True})
        ref = (v - v.mean(red)) / np.sqrt(v.var(red) + 1e-3)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sess.run(layer.moving_mean), 0.5 * v.mean(red), rtol=1e-5, atol=1e-6)
        var = v.var(red, ddof=1 if rank == 4 else 0)
        np.testing.assert_allclose(sess.run(layer.moving_variance), 0.5 + 0.5 * var, rtol=1e-5)


def test_batch_norm_gradient_and_reuse(rng):
    x = tf.placeholder(tf.float64, [4, 2])
    y = tf.layers.batch_normalization(x, training=True, name="bn",
                                      gamma_initializer=tf.constant_initializer([1.5, 0.5]))
    y2 = tf.layers.batch_normalization(x, training=False, name="bn", reuse=True)
    assert len(tf.global_variables()) == 4 and len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 2
    assert y.op.name.startswith("bn/") and y2.op.name.startswith("bn_1/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err = tf.test.compute_gradient_error(x, [4, 2], y, [4, 2], x_init_value=rng.randn(4, 2), delta=1e-5)
    assert err < 1e-7
    with pytest.raises(NotImplementedError, match="renorm"):
        tf.layers.batch_normalization(x, renorm=True)
    with pytest.raises(ValueError, match="Invalid axis"):
        tf.layers.batch_normalization(x, axis=2)
    with pytest.raises(ValueError, match="undefined `axis` dimension"):
        tf.layers.batch_normalization(tf.placeholder(tf.float32, [None, None]))


def test_batch_norm_fused_gradient_in_a_conv_net(rng):
    """conv -> batch norm (fused kernel) -> relu -> pool -> flatten -> dense trains end to end."""
    x = tf.placeholder(tf.float32, [None, 6, 6, 1])
    labels = tf.placeholder(tf.int32, [None])
    training = tf.placeholder_with_default(True, [])
    h = tf.layers.conv2d(x, 4, 3, padding="same", use_bias=False)
    h = tf.nn.relu(tf.layers.batch_normalization(h, training=training))
    h = tf.layers.flatten(tf.layers.max_pooling2d(h, 2, 2))
    logits = tf.layers.dense(tf.layers.dropout(h, 0.1, training=training), 2)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.AdamOptimizer(0.05).minimize(loss)
    assert any(op.type == "FusedBatchNormGradV3" for op in tf.get_default_graph().get_operations())
    v = rng.randn(16, 6, 6, 1).astype(np.float32)
    lab = (v[:, :3].sum(axis=(1, 2, 3)) > v[:, 3:].sum(axis=(1, 2, 3))).astype(np.int32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: v, labels: lab})
        for _ in range(30):
            sess.run(train, {x: v, labels: lab})
        assert sess.run(loss, {x: v, labels: lab}) < 0.5 * first
        sess.run(loss, {x: v, labels: lab, training: False})


def test_unimplemented_layers_say_so():
    assert not hasattr(tf.layers, "conv3d")
    with pytest.raises(NotImplementedError, match="tf.layers.conv3d is not implemented"):
        tf.layers.conv3d
    assert tf.layers.Layer is not None and tf.layers.MaxPool2D is tf.layers.MaxPooling2D


def test_custom_layer_subclass(rng):
    class ScaleShift(tf.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", [input_shape.as_list()[-1]], initializer=tf.ones_initializer())
            self.add_update(tf.no_op(name="my_update"))
            super().build(input_shape)

        def call(self, inputs):
            return inputs * self.w

    layer = ScaleShift()
    assert layer.name == "scale_shift_1"
    x = tf.placeholder(tf.float64, [None, 3])
    y = layer(x)
    assert _names(layer.trainable_weights) == ["scale_shift/w"] and layer.w.dtype.base_dtype is tf.float64
    assert y.op.name == "scale_shift/mul" and len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 1
    v = rng.randn(2, 3)
    np.testing.assert_array_equal(_run_init(y, {x: v}), v)
    with pytest.raises(TypeError, match="Keyword argument not understood"):
        ScaleShift(units=3)
