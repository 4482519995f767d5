"""tf.contrib.layers: layer functions, batch_norm, initializers, regularizers (TF 1.15)."""
import numpy as np
import pytest

import nbflow as tf

layers = tf.contrib.layers


def _names(variables):
    return [v.op.name for v in variables]


def _run_init(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


# -- fully_connected ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_fully_connected_names_collections_and_values(dtype, rng):
    x = tf.placeholder(dtype, [None, 4])
    h = layers.fully_connected(x, 3)
    y = layers.fully_connected(h, 2, activation_fn=None, scope="logits")
    assert h.op.name == "fully_connected/Relu" and y.op.name == "logits/BiasAdd"
    assert h.shape.as_list() == [None, 3] and y.dtype is dtype
    names = ["fully_connected/weights", "fully_connected/biases", "logits/weights", "logits/biases"]
    assert _names(tf.trainable_variables()) == names
    assert _names(tf.model_variables()) == names  # contrib's variables are model variables
    assert _names(tf.global_variables()) == names
    v = rng.randn(5, 4).astype(dtype.as_numpy_dtype)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w0, b0, w1, b1 = sess.run(tf.trainable_variables())
        got = sess.run(y, {x: v})
    np.testing.assert_array_equal(b0, 0)
    limit = np.sqrt(6.0 / 7)  # xavier (Glorot) uniform
    assert 0 < np.abs(w0).max() <= limit
    ref = np.maximum(v @ w0 + b0, 0) @ w1 + b1
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype is tf.float32 else 1e-12)


def test_fully_connected_options(rng):
    x = tf.placeholder(tf.float32, [None, 2, 3])  # rank 3: along the last axis
    reg = layers.l2_regularizer(0.5)
    y = layers.fully_connected(x, 4, activation_fn=tf.nn.tanh, biases_initializer=None, weights_regularizer=reg,
                               weights_initializer=tf.constant_initializer(np.arange(12).reshape(3, 4) / 10.),
                               variables_collections=["mine"], outputs_collections="outs", trainable=False)
    assert y.shape.as_list() == [None, 2, 4]
    assert _names(tf.global_variables()) == ["fully_connected/weights"] and tf.trainable_variables() == []
    assert _names(tf.get_collection("mine")) == ["fully_connected/weights"]
    assert tf.get_collection("outs") == [y]
    (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert loss.op.name == "fully_connected/kernel/Regularizer/l2_regularizer"
    w = np.arange(12).reshape(3, 4) / 10.
    v = rng.randn(3, 2, 3).astype(np.float32)
    got, lv = _run_init([y, loss], {x: v})
    np.testing.assert_allclose(got, np.tanh(v @ w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lv, 0.5 * (w ** 2).sum() / 2, rtol=1e-6)
    z = layers.fully_connected(x, 2, variables_collections={"biases": ["bias_coll"]}, scope="fc2")
    assert _names(tf.get_collection("bias_coll")) == ["fc2/biases"] and z.op.type == "Relu"
    with pytest.raises(ValueError, match="num_outputs type should be"):
        layers.fully_connected(x, 2.0)


def test_fully_connected_reuse_and_normalizer():
    x = tf.placeholder(tf.float32, [None, 3])
    a = layers.fully_connected(x, 2, scope="fc")
    b = layers.fully_connected(x, 2, scope="fc", reuse=True)
    with pytest.raises(ValueError, match="already exists"):
        layers.fully_connected(x, 2, scope="fc")
    assert len(tf.global_variables()) == 2
    n = layers.fully_connected(x, 2, normalizer_fn=layers.batch_norm, normalizer_params={"scale": True},
                               scope="bn_fc")
    assert _names(tf.global_variables())[2:] == [
        "bn_fc/weights", "bn_fc/BatchNorm/beta", "bn_fc/BatchNorm/gamma", "bn_fc/BatchNorm/moving_mean",
        "bn_fc/BatchNorm/moving_variance"]  # a normalizer replaces the biases (rank 2: the fused path's order)
    assert n.op.name == "bn_fc/Relu"
    va, vb = _run_init([a, b], {x: np.ones((2, 3), np.float32)})
    np.testing.assert_array_equal(va, vb)


def test_fully_connected_gradient(rng):
    x = tf.placeholder(tf.float64, [3, 4])
    y = layers.fully_connected(x, 2, activation_fn=tf.nn.softplus)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err = tf.test.compute_gradient_error(x, [3, 4], y, [3, 2], x_init_value=rng.randn(3, 4))
    assert err < 1e-6


# -- convolutions, pooling, flatten, dropout ----------------------------------------------------------------

def _np_conv_same(x, w, stride=1):
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    oh, ow = -(-h // stride), -(-wd // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = np.tensordot(xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw], w, 3)
    return out


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_conv2d_pool_flatten_match_numpy(dtype, rng):
    x = tf.placeholder(dtype, [None, 6, 6, 2])
    c = layers.conv2d(x, 3, [3, 3])
    p = layers.max_pool2d(c, [2, 2])
    a = layers.avg_pool2d(c, 3, stride=3, padding="SAME")
    f = layers.flatten(p)
    c2 = layers.conv2d(x, 2, 3, stride=2, activation_fn=None, scope="strided")
    assert c.op.name == "Conv/Relu" and p.op.name == "MaxPool2D/MaxPool" and a.op.name == "AvgPool2D/AvgPool"
    assert f.shape.as_list() == [None, 27] and p.shape.as_list() == [None, 3, 3, 3]
    assert _names(tf.global_variables()) == ["Conv/weights", "Conv/biases", "strided/weights", "strided/biases"]
    assert tf.global_variables()[0].shape.as_list() == [3, 3, 2, 3]
    v = rng.randn(2, 6, 6, 2).astype(dtype.as_numpy_dtype)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, b, w2, b2 = sess.run(tf.global_variables())
        vc, vp, va, vf, vc2 = sess.run([c, p, a, f, c2], {x: v})
    tol = dict(rtol=1e-5, atol=1e-5) if dtype is tf.float32 else dict(rtol=1e-12, atol=1e-12)
    ref = np.maximum(_np_conv_same(v, w) + b, 0)
    np.testing.assert_allclose(vc, ref, **tol)
    np.testing.assert_allclose(vc2, _np_conv_same(v, w2, 2) + b2, **tol)
    refp = ref.reshape(2, 3, 2, 3, 2, 3).max(axis=(2, 4))
    np.testing.assert_allclose(vp, refp, **tol)
    np.testing.assert_allclose(va, ref.reshape(2, 2, 3, 2, 3, 3).mean(axis=(2, 4)), **tol)
    np.testing.assert_allclose(vf, refp.reshape(2, -1), **tol)


def test_conv2d_transpose_contrib(rng):
    x = tf.placeholder(tf.float32, [None, 3, 3, 4])
    y = layers.conv2d_transpose(x, 2, 3, stride=2)
    assert y.shape.as_list() == [None, 6, 6, 2] and y.op.name == "Conv2d_transpose/Relu"
    assert _names(tf.global_variables()) == ["Conv2d_transpose/weights", "Conv2d_transpose/biases"]
    assert tf.global_variables()[0].shape.as_list() == [3, 3, 2, 4]
    z = layers.conv2d_transpose(x, 1, [2, 2], stride=1, padding="VALID", activation_fn=None,
                                normalizer_fn=layers.batch_norm)
    assert z.shape.as_list() == [None, 4, 4, 1] and "Conv2d_transpose_1/biases" not in _names(tf.global_variables())
    out = _run_init(y, {x: rng.randn(2, 3, 3, 4).astype(np.float32)})
    assert out.shape == (2, 6, 6, 2) and np.all(out >= 0)
    with pytest.raises(ValueError, match="data_format has to be either NCHW or NHWC"):
        layers.conv2d_transpose(x, 2, 3, data_format="NWC")


def test_conv_and_pool_argument_errors():
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    with pytest.raises(NotImplementedError, match="channels_first"):
        layers.conv2d(x, 3, 3, data_format="NCHW")
    with pytest.raises(ValueError, match="Invalid data_format"):
        layers.conv2d(x, 3, 3, data_format="HWC")
    with pytest.raises(ValueError, match="Convolution expects input with rank 4, got 3"):
        layers.conv2d(tf.placeholder(tf.float32, [None, 6, 2]), 3, 3)
    with pytest.raises(NotImplementedError, match="Conv1D"):
        layers.convolution(tf.placeholder(tf.float32, [None, 6, 2]), 3, 3)
    with pytest.raises(ValueError, match="data_format has to be either NCHW or NHWC"):
        layers.max_pool2d(x, 2, data_format="NWC")
    with pytest.raises(NotImplementedError, match="channels_first"):
        layers.avg_pool2d(x, 2, data_format="NCHW")


def test_repeat_stack_one_hot():
    x = tf.placeholder(tf.float32, [None, 8, 8, 2])
    y = layers.repeat(x, 2, layers.conv2d, 4, [3, 3], scope="conv1")
    z = layers.stack(tf.placeholder(tf.float32, [None, 5]), layers.fully_connected, [4, (3, tf.nn.tanh)], scope="fc")
    assert y.op.name == "conv1/conv1_2/Relu" and z.op.name == "fc/fc_2/Tanh"
    assert _names(tf.global_variables()) == [
        "conv1/conv1_1/weights", "conv1/conv1_1/biases", "conv1/conv1_2/weights", "conv1/conv1_2/biases",
        "fc/fc_1/weights", "fc/fc_1/biases", "fc/fc_2/weights", "fc/fc_2/biases"]
    oh = layers.one_hot_encoding(tf.constant([2, 0]), 3, on_value=5.0)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(oh), [[0, 0, 5], [5, 0, 0]])
    with pytest.raises(ValueError, match="stack_args need to be a list or tuple"):
        layers.stack(x, layers.conv2d, 3)


def test_dropout_keep_prob_and_is_training(rng):
    x = tf.placeholder(tf.float32, [200, 50])
    keep = tf.placeholder(tf.float32, [])
    training = tf.placeholder(tf.bool, [])
    a = layers.dropout(x, keep_prob=keep)
    b = layers.dropout(x, 0.5, is_training=False)
    c = layers.dropout(x, 0.25, is_training=training, seed=1)
    assert a.op.name.startswith("Dropout/") and b.op.name.startswith("Dropout_1/")
    v = np.ones((200, 50), np.float32)
    with tf.Session() as sess:
        va = sess.run(a, {x: v, keep: 0.8})
        vb = sess.run(b, {x: v})
        vc_train = sess.run(c, {x: v, training: True})
        vc_test = sess.run(c, {x: v, training: False})
    assert set(np.unique(va)) <= {0.0, np.float32(1 / 0.8)} and abs((va > 0).mean() - 0.8) < 0.02
    np.testing.assert_array_equal(vb, v)
    assert set(np.unique(vc_train)) <= {0.0, 4.0} and abs((vc_train > 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(vc_test, v)


# -- batch_norm -----------------------------------------------------------------------------------

def _bn_ref(v, axes, eps=1e-3, beta=0.0, gamma=1.0):
    m, var = v.mean(axis=axes), v.var(axis=axes)
    return (v - m) / np.sqrt(var + eps) * gamma + beta, m, var


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("shape", [(16, 3), (4, 3, 3, 2)])
def test_batch_norm_default_training_and_updates(dtype, shape, rng):
    """Rank 2 uses the fused kernel (TF's _fused_batch_norm), rank 4 the core layer;
    both update the moving variance with the unbiased batch variance for float32."""
    x = tf.placeholder(dtype, [None] + list(shape[1:]))
    y = layers.batch_norm(x)
    c = shape[-1]
    assert _names(tf.global_variables()) == ["BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance"]
    assert _names(tf.trainable_variables()) == ["BatchNorm/beta"]  # scale=False: no gamma
    assert _names(tf.model_variables()) == _names(tf.global_variables())
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2 and updates[0].op.name == "BatchNorm/AssignMovingAvg"
    v = (rng.randn(*shape) * 2 + 1).astype(dtype.as_numpy_dtype)
    axes = tuple(range(len(shape) - 1))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(y, {x: v})
        sess.run(updates, {x: v})
        mm, mv = sess.run(tf.global_variables()[1:])
    v64 = v.astype(np.float64)
    ref, m, var = _bn_ref(v64, axes)
    tol = 2e-4 if dtype is tf.float32 else 1e-9
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    n = v64.size // c
    unbiased = dtype is tf.float32 or len(shape) == 2  # fused kernel semantics (float64 rank 4: moments)
    np.testing.assert_allclose(mm, 0.001 * m, rtol=tol, atol=1e-7)
    np.testing.assert_allclose(mv, 0.999 + 0.001 * var * (n / (n - 1) if unbiased else 1), rtol=tol)


@pytest.mark.parametrize("fused", [None, False])
def test_batch_norm_updates_collections_none_and_inference(fused, rng):
    x = tf.placeholder(tf.float64, [None, 3])
    training = tf.placeholder(tf.bool, [])
    y = layers.batch_norm(x, decay=0.5, scale=True, updates_collections=None, is_training=training, fused=fused,
                          param_initializers={"gamma": tf.constant_initializer(2.0)})
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    mm_var, mv_var = tf.global_variables()[2:]
    v = rng.randn(8, 3) + 3
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(y, {x: v, training: True})  # the updates run with the output
        mm, mv = sess.run([mm_var, mv_var])
        inferred = sess.run(y, {x: v, training: False})  # no update when not training
        mm2, mv2 = sess.run([mm_var, mv_var])
    ref, m, var = _bn_ref(v, (0,), gamma=2.0)
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    np.testing.assert_allclose(mm, 0.5 * m, rtol=1e-12)
    batch_var = var * 8 / 7 if fused is None else var  # fused: unbiased; moments: biased (as TF)
    np.testing.assert_allclose(mv, 0.5 + 0.5 * batch_var, rtol=1e-12)
    np.testing.assert_array_equal([mm2, mv2], [mm, mv])
    np.testing.assert_allclose(inferred, (v - mm) / np.sqrt(mv + 1e-3) * 2.0, rtol=1e-9)


def test_batch_norm_custom_updates_collection_nchw_and_errors(rng):
    x = tf.placeholder(tf.float32, [None, 2, 3, 3])
    y = layers.batch_norm(x, updates_collections="my_updates", data_format="NCHW", center=False)
    assert len(tf.get_collection("my_updates")) == 2 and tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    assert _names(tf.global_variables()) == ["BatchNorm/moving_mean", "BatchNorm/moving_variance"]
    v = rng.randn(4, 2, 3, 3).astype(np.float32)
    got = _run_init(y, {x: v})
    v64 = v.astype(np.float64)
    ref = (v64 - v64.mean((0, 2, 3), keepdims=True)) / np.sqrt(v64.var((0, 2, 3), keepdims=True) + 1e-3)
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=2e-4)
    for kw, what in (({"batch_weights": tf.ones([4])}, "batch_weights"),
                     ({"zero_debias_moving_mean": True}, "zero_debias"), ({"renorm": True}, "renorm")):
        with pytest.raises(NotImplementedError, match=what):
            layers.batch_norm(x, **kw)
    with pytest.raises(ValueError, match="data_format has to be either NCHW or NHWC"):
        layers.batch_norm(tf.placeholder(tf.float32, [None, 3, 2]), data_format="NWC")
    with pytest.raises(ValueError, match="undefined rank"):
        layers.batch_norm(tf.placeholder(tf.float32), updates_collections=None)


@pytest.mark.parametrize("shape", [(5, 3), (2, 2, 2, 3)])
def test_batch_norm_not_training_uses_moving_statistics(shape, rng):
    x = tf.placeholder(tf.float32, shape)
    y = layers.batch_norm(x, is_training=False, center=False, activation_fn=tf.nn.relu,
                          param_initializers={"moving_mean": tf.constant_initializer(0.5),
                                              "moving_variance": tf.constant_initializer(4.0)})
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == [] and y.op.type == "Relu"
    v = rng.randn(*shape).astype(np.float32)
    np.testing.assert_allclose(_run_init(y, {x: v}), np.maximum((v - 0.5) / np.sqrt(4.001), 0), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("kw", [{}, {"fused": False, "updates_collections": None}])
def test_batch_norm_gradient(kw, rng):
    x = tf.placeholder(tf.float64, [6, 2])
    y = layers.batch_norm(x, scale=True, **kw)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err = tf.test.compute_gradient_error(x, [6, 2], y, [6, 2], x_init_value=rng.randn(6, 2), delta=1e-5)
    assert err < 1e-6


# -- initializers ------------------------------------------------------------------------------------

def test_xavier_and_variance_scaling_initializers():
    def draw(init, shape, dtype=tf.float32):
        with tf.Graph().as_default():
            t = init(shape, dtype=dtype)
            with tf.Session() as sess:
                return sess.run(t)

    w = draw(layers.xavier_initializer(seed=1), [200, 300])
    limit = np.sqrt(6.0 / 500)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.02 * limit
    assert layers.xavier_initializer_conv2d is layers.xavier_initializer
    n = draw(layers.xavier_initializer(uniform=False, seed=2), [200, 300], tf.float64)
    std = np.sqrt(1.3 / 250)  # contrib's truncated-normal stddev
    assert n.dtype == np.float64 and np.abs(n).max() <= 2 * std + 1e-12
    assert abs(n.std() - std * 0.8796) < 0.02 * std
    conv = [3, 3, 16, 32]
    for mode, fan in (("FAN_IN", 9 * 16), ("FAN_OUT", 9 * 32), ("FAN_AVG", 9 * 24)):
        u = draw(layers.variance_scaling_initializer(factor=2.0, mode=mode, uniform=True, seed=3), conv)
        lim = np.sqrt(3 * 2.0 / fan)
        assert np.abs(u).max() <= lim and np.abs(u).max() > 0.98 * lim
    he = draw(layers.variance_scaling_initializer(seed=4), [400, 100])  # He: truncated, fan_in
    assert np.abs(he).max() <= 2 * np.sqrt(1.3 * 2 / 400) + 1e-7
    np.testing.assert_array_equal(draw(layers.xavier_initializer(seed=5), [3]),
                                  draw(layers.xavier_initializer(seed=5), [3]))
    scalar = draw(layers.xavier_initializer(seed=6), [])
    assert scalar.shape == () and abs(scalar) <= np.sqrt(3)
    with pytest.raises(TypeError, match="non-floating point"):
        layers.xavier_initializer(dtype=tf.int32)
    with pytest.raises(TypeError, match="Unknown mode"):
        layers.variance_scaling_initializer(mode="fan_in")


def test_initializer_with_get_variable():
    with tf.variable_scope("s", initializer=layers.xavier_initializer(seed=0)):
        v = tf.get_variable("v", [10, 10], dtype=tf.float64)
    val = _run_init(v)
    assert val.dtype == np.float64 and np.abs(val).max() <= np.sqrt(6 / 20)


# -- regularizers --------------------------------------------------------------------------------------

def test_regularizers_values_and_names():
    w = tf.constant([[1.0, -2.0], [3.0, -0.5]])
    l1 = layers.l1_regularizer(0.1)(w)
    l2 = layers.l2_regularizer(0.2)(w)
    both = layers.l1_l2_regularizer(0.1, 0.2)(w)
    summed = layers.sum_regularizer([layers.l1_regularizer(0.1), None, layers.l2_regularizer(0.2)])(w)
    assert l1.op.name == "l1_regularizer" and l2.op.name == "l2_regularizer"
    assert both.op.name == "l1_l2_regularizer" and summed.op.name == "sum_regularizer"
    with tf.Session() as sess:
        v1, v2, vb, vs = sess.run([l1, l2, both, summed])
    np.testing.assert_allclose(v1, 0.1 * 6.5, rtol=1e-6)
    np.testing.assert_allclose(v2, 0.2 * (1 + 4 + 9 + 0.25) / 2, rtol=1e-6)
    np.testing.assert_allclose([vb, vs], [v1 + v2] * 2, rtol=1e-6)
    assert layers.l2_regularizer(0.0)(w) is None
    assert layers.sum_regularizer([None]) is None
    assert layers.l1_l2_regularizer(0.0, 0.3)(w).op.name.startswith("l1_l2_regularizer")
    with pytest.raises(ValueError, match="scale cannot be an integer"):
        layers.l2_regularizer(1)
    with pytest.raises(ValueError, match="less than 0"):
        layers.l1_regularizer(-0.1)
    with pytest.raises(ValueError, match="scale_l1 cannot be an integer"):
        layers.l1_l2_regularizer(1, 0.5)


def test_apply_regularization_and_get_regularization_loss():
    a = tf.Variable([1.0, 2.0], name="a")
    b = tf.Variable([[3.0]], name="b")
    penalty = layers.apply_regularization(layers.l2_regularizer(0.5), [a, b])
    assert penalty.op.name == "get_regularization_penalty"
    assert tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES) == [penalty]
    total = tf.losses.get_regularization_loss()
    with pytest.raises(ValueError, match="No weights to regularize"):
        layers.apply_regularization(layers.l2_regularizer(0.5))
    tf.add_to_collection(tf.GraphKeys.WEIGHTS, b)
    from_collection = layers.apply_regularization(layers.l1_regularizer(1.0))
    zero = layers.apply_regularization(layers.l2_regularizer(0.0), [a])
    with pytest.raises(ValueError, match="must return a scalar"):
        layers.apply_regularization(lambda w: w, [a])
    vp, vt, vc, vz = _run_init([penalty, total, from_collection, zero])
    np.testing.assert_allclose([vp, vt, vc, vz], [0.5 * (1 + 4 + 9) / 2, 0.5 * 14 / 2, 3.0, 0.0], rtol=1e-6)


def test_unknown_names_raise():
    with pytest.raises(NotImplementedError, match="tf.contrib.layers.layer_norm is not implemented"):
        layers.layer_norm
    assert not hasattr(tf.contrib.layers, "separable_conv2d")
    with pytest.raises(NotImplementedError, match="tf.contrib.slim is not implemented"):
        tf.contrib.slim
