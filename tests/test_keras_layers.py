"""tf.keras.layers: the Layer base (names, weights, freezing, losses, configs) and the
core, convolution, pooling, merge and embedding layers against numpy references,
eagerly, in a tf.function and in a TF 1 graph; gradients by finite differences."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode
from keras_layers_util import check_all, check_gradients, run_eager, run_graph

L = tf.keras.layers
rng = np.random.RandomState(0)


@pytest.fixture
def eager():
    with eager_mode():
        tf.keras.backend.clear_session()
        yield


# -- numpy references ------------------------------------------------------------------------
def conv2d_ref(x, k, stride=(1, 1), padding="valid"):
    n, h, w, c = x.shape
    kh, kw, _, o = k.shape
    if padding == "same":
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
        ph = max((oh - 1) * stride[0] + kh - h, 0)
        pw = max((ow - 1) * stride[1] + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, oh, ow, o), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


def conv2d_transpose_ref(x, k, stride, out_hw):
    n, h, w, c = x.shape
    kh, kw, o, _ = k.shape
    full = np.zeros((n, (h - 1) * stride[0] + kh, (w - 1) * stride[1] + kw, o), x.dtype)
    for i in range(h):
        for j in range(w):
            full[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :] += np.einsum(
                "nc,abOc->nabO", x[:, i, j, :], k)
    out = np.zeros((n,) + tuple(out_hw) + (o,), x.dtype)
    pads = [max(full.shape[1 + d] - out_hw[d], 0) // 2 for d in range(2)]
    hh = min(out_hw[0], full.shape[1] - pads[0])
    ww = min(out_hw[1], full.shape[2] - pads[1])
    out[:, :hh, :ww] = full[:, pads[0]:pads[0] + hh, pads[1]:pads[1] + ww]
    return out


def pool_ref(x, size, stride, fn):
    n, h, w, c = x.shape
    oh, ow = (h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1
    out = np.zeros((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = fn(x[:, i * stride[0]:i * stride[0] + size[0], j * stride[1]:j * stride[1] + size[1]],
                              axis=(1, 2))
    return out


# -- the Layer base ----------------------------------------------------------------------------
def test_names_are_unique_per_class_and_weights_named_after_the_layer(eager):
    a, b, c = L.Dense(2), L.Dense(2), L.Conv2D(1, 1)
    assert (a.name, b.name, c.name) == ("dense", "dense_1", "conv2d")
    named = L.Dense(2, name="head")
    a(np.ones((1, 3), np.float32))
    b(np.ones((1, 3), np.float32))
    named(np.ones((1, 3), np.float32))
    assert [v.name for v in a.weights] == ["dense/kernel:0", "dense/bias:0"]
    assert [v.name for v in b.weights] == ["dense_1/kernel:0", "dense_1/bias:0"]
    assert named.weights[0].name == "head/kernel:0"
    assert L.MaxPooling2D().name == "max_pooling2d"
    assert L.BatchNormalization().name == "batch_normalization"
    tf.keras.backend.clear_session()
    assert L.Dense(1).name == "dense"


def test_names_in_a_graph_and_inside_a_tf_function():
    with tf.Graph().as_default():
        d = L.Dense(2)
        d2 = L.Dense(2)
        y = d2(d(tf.placeholder(tf.float32, [None, 3])))
        assert [v.name for v in d.weights + d2.weights] == [
            "dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"]
        assert y.op.name.startswith("dense_1/")
        assert len(tf.global_variables()) == 4 and len(tf.trainable_variables()) == 4
    with eager_mode():
        tf.keras.backend.clear_session()
        layer = L.Dense(2)

        @tf.function
        def f(x):
            return layer(x)

        f(np.ones((2, 3), np.float32))
        f(np.ones((2, 3), np.float32))
        assert [v.name for v in layer.weights] == ["dense/kernel:0", "dense/bias:0"]
        assert hasattr(layer.kernel, "numpy")  # an eager variable lifted out of the trace


def test_nested_layers_track_weights_and_freeze(eager):
    class Block(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = L.Dense(3)
            self.norm = L.BatchNormalization()

        def build(self, input_shape):
            self.scale = self.add_weight("scale", shape=(), initializer="ones")

        def call(self, x, training=None):
            return self.norm(self.inner(x), training=training) * self.scale

        def compute_output_shape(self, input_shape):
            return self.inner.compute_output_shape(input_shape)

    block = Block()
    block(np.ones((4, 2), np.float32), training=True)
    names = [v.name for v in block.weights]
    assert names == ["block/scale:0", "block/dense/kernel:0", "block/dense/bias:0",
                     "block/batch_normalization/gamma:0", "block/batch_normalization/beta:0",
                     "block/batch_normalization/moving_mean:0", "block/batch_normalization/moving_variance:0"]
    assert len(block.trainable_weights) == 5 and len(block.non_trainable_weights) == 2
    assert block.submodules[0] is block.inner or block.inner in block.submodules
    block.trainable = False
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 7
    assert not block.inner.trainable
    block.inner.trainable = True
    assert block.trainable_weights == []  # the frozen parent hides them
    assert len(block.inner.trainable_weights) == 2
    assert block.count_params() == 1 + 2 * 3 + 3 + 4 * 3


def test_get_set_weights_and_count_params(eager):
    d = L.Dense(3, input_shape=(4,))
    with pytest.raises(ValueError, match="isn't built"):
        d.count_params()
    d(np.zeros((1, 4), np.float32))
    w = [rng.randn(4, 3).astype(np.float32), rng.randn(3).astype(np.float32)]
    d.set_weights(w)
    for a, b in zip(d.get_weights(), w):
        np.testing.assert_array_equal(a, b)
    assert d.count_params() == 15
    with pytest.raises(ValueError, match="expecting 2 weights"):
        d.set_weights(w[:1])
    with pytest.raises(ValueError, match="not compatible"):
        d.set_weights([w[0].T, w[1]])
    d2 = L.Dense(3, weights=w)
    np.testing.assert_allclose(d2(np.ones((1, 4), np.float32)).numpy(), np.ones((1, 4)) @ w[0] + w[1], rtol=1e-6)


def test_regularization_losses_eager_function_and_graph(eager):
    w = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    d = L.Dense(3, kernel_regularizer=tf.keras.regularizers.l2(0.01), bias_regularizer="l1",
                activity_regularizer=tf.keras.regularizers.L1L2(l1=0.1))
    x = np.ones((4, 2), np.float32)
    y = d(x)
    d.set_weights([w, np.array([1, -2, 3], np.float32)])
    y = d(x).numpy()
    losses = [float(v) for v in d.losses]
    assert len(losses) == 3
    np.testing.assert_allclose(losses[0], 0.01 * (w ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(losses[1], 0.01 * 6, rtol=1e-6)
    np.testing.assert_allclose(losses[2], 0.1 * np.abs(y).sum() / 4, rtol=1e-6)
    d(x)
    assert len(d.losses) == 3  # activity losses are the latest call's

    @tf.function
    def f(inp):
        d(inp)
        return tf.add_n(d.losses)

    np.testing.assert_allclose(f(x).numpy(), sum(losses), rtol=1e-6)
    d.add_loss(lambda: tf.constant(2.0))
    assert len(d.losses) == 4

    with tf.Graph().as_default():
        g = L.Dense(3, kernel_regularizer="l2")
        g(tf.placeholder(tf.float32, [None, 2]))
        assert len(g.losses) == 1
        assert tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES) == g.losses
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            k = s.run(g.kernel)
            np.testing.assert_allclose(s.run(g.losses[0]), 0.01 * (k ** 2).sum(), rtol=1e-6)


def test_training_argument_is_passed_only_when_call_takes_it(eager):
    seen = []

    class T(L.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

        def compute_output_shape(self, s):
            return s

    class Outer(L.Layer):
        def __init__(self):
            super().__init__()
            self.t = T()

        def call(self, x):
            return self.t(x)

        def compute_output_shape(self, s):
            return s

    T()(np.ones(2, np.float32))
    T()(np.ones(2, np.float32), training=True)
    Outer()(np.ones(2, np.float32), training=True)  # Outer's call takes no training: dropped
    assert seen == [0, True, True]  # the outer call's training reaches inner layers
    L.Dense(1)(np.ones((1, 1), np.float32), training=True)  # accepted and dropped


def test_symbolic_inputs_go_to_the_hook(eager):
    class Sym:
        _keras_symbolic = True

    class Hooked(L.Dense):
        def _call_symbolic(self, inputs, args, kwargs):
            return ("symbolic", inputs, kwargs)

    assert Hooked(2)(Sym())[0] == "symbolic"
    with pytest.raises(NotImplementedError):
        L.Dense(2)(Sym())


def test_autocast_and_float64(eager):
    y = L.Dense(2)(np.ones((1, 3)))  # float64 numpy in, float32 layer (TF 2 autocast)
    assert y.dtype == tf.float32
    y = L.Dense(2, dtype="float64")(np.ones((1, 3), np.float32))
    assert y.dtype == tf.float64


def test_tf1_graph_layer_dtype_follows_the_first_input():
    with tf.Graph().as_default():
        d = L.Dense(2)
        assert d(tf.placeholder(tf.float64, [None, 3])).dtype == tf.float64  # TF 1: follows the input
        assert d.dtype == "float64"


@pytest.mark.parametrize("layer", [
    lambda: L.Dense(3, activation="relu", kernel_regularizer="l2", name="d"),
    lambda: L.Conv2D(2, 3, strides=2, padding="same", activation="tanh"),
    lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=1),
    lambda: L.MaxPooling2D(3, strides=2, padding="same"),
    lambda: L.AveragePooling2D(),
    lambda: L.GlobalAveragePooling2D(keepdims=True),
    lambda: L.Flatten(), lambda: L.Reshape((2, -1)), lambda: L.Dropout(0.3, seed=3),
    lambda: L.BatchNormalization(momentum=0.9, epsilon=1e-2),
    lambda: L.Embedding(10, 4, input_length=5), lambda: L.Activation("softmax"), lambda: L.Concatenate(axis=1),
    lambda: L.LSTM(3, return_sequences=True, unit_forget_bias=False), lambda: L.GRU(2, reset_after=False),
    lambda: L.SimpleRNN(4, go_backwards=True), lambda: L.InputLayer(input_shape=(3,)),
])
def test_config_round_trip(eager, layer):
    a = layer()
    config = a.get_config()
    b = type(a).from_config(config)
    assert b.get_config() == config


# -- layers against numpy ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense(dtype):
    x = rng.randn(5, 4).astype(dtype)
    w = [rng.randn(4, 3).astype(dtype), rng.randn(3).astype(dtype)]
    name = np.dtype(dtype).name
    check_all(lambda: L.Dense(3, activation="relu", dtype=name), x, np.maximum(x @ w[0] + w[1], 0), w)
    x3 = rng.randn(2, 5, 4).astype(dtype)
    check_all(lambda: L.Dense(3, use_bias=False, dtype=name), x3, x3 @ w[0], w[:1])


def test_dense_gradients_and_size_one_edges():
    check_gradients(lambda: L.Dense(2, activation="tanh", dtype="float64"), rng.randn(3, 2))
    x = rng.randn(1, 1).astype(np.float32)
    w = [np.array([[2.0]], np.float32), np.array([0.5], np.float32)]
    check_all(lambda: L.Dense(1), x, x * 2 + 0.5, w)


@pytest.mark.parametrize("stride,padding", [((1, 1), "valid"), ((2, 2), "same"), ((2, 1), "valid")])
def test_conv2d(stride, padding):
    x = rng.randn(2, 6, 5, 3).astype(np.float32)
    w = [rng.randn(3, 2, 3, 4).astype(np.float32), rng.randn(4).astype(np.float32)]
    ref = conv2d_ref(x, w[0], stride, padding) + w[1]
    check_all(lambda: L.Conv2D(4, (3, 2), strides=stride, padding=padding), x, ref, w, rtol=1e-4, atol=1e-5)
    layer = L.Conv2D(4, (3, 2), strides=stride, padding=padding)
    assert layer.compute_output_shape((None, 6, 5, 3)).as_list() == [None] + list(ref.shape[1:])


def test_conv2d_gradients():
    check_gradients(lambda: L.Conv2D(2, 2, strides=2, padding="same", dtype="float64"), rng.randn(1, 3, 3, 2))


@pytest.mark.parametrize("stride,padding,out_pad", [((2, 2), "valid", None), ((2, 2), "same", None),
                                                     ((2, 3), "valid", (1, 2)), ((1, 1), "same", None)])
def test_conv2d_transpose(stride, padding, out_pad):
    x = rng.randn(2, 3, 4, 3).astype(np.float32)
    w = [rng.randn(3, 2, 5, 3).astype(np.float32), rng.randn(5).astype(np.float32)]
    layer = L.Conv2DTranspose(5, (3, 2), strides=stride, padding=padding, output_padding=out_pad)
    out_shape = layer.compute_output_shape((None, 3, 4, 3)).as_list()
    ref = conv2d_transpose_ref(x, w[0], stride, out_shape[1:3]) + w[1]
    check_all(lambda: L.Conv2DTranspose(5, (3, 2), strides=stride, padding=padding, output_padding=out_pad),
              x, ref, w, rtol=1e-4, atol=1e-5)


def test_conv2d_transpose_gradients():
    check_gradients(lambda: L.Conv2DTranspose(2, 2, strides=2, dtype="float64"), rng.randn(1, 2, 2, 2))


def test_pooling():
    x = rng.randn(2, 6, 5, 3).astype(np.float32)
    check_all(lambda: L.MaxPooling2D((2, 2)), x, pool_ref(x, (2, 2), (2, 2), np.max))
    check_all(lambda: L.AveragePooling2D((3, 2), strides=(1, 2)), x, pool_ref(x, (3, 2), (1, 2), np.mean),
              rtol=1e-5)
    check_all(lambda: L.GlobalAveragePooling2D(), x, x.mean(axis=(1, 2)), rtol=1e-5)
    check_all(lambda: L.GlobalMaxPooling2D(), x, x.max(axis=(1, 2)))
    y, _ = run_eager(lambda: L.MaxPooling2D(4, strides=3, padding="same"), x)
    assert list(y.shape) == L.MaxPooling2D(4, strides=3, padding="same").compute_output_shape(x.shape).as_list()
    assert L.GlobalMaxPooling2D(keepdims=True).compute_output_shape((None, 4, 4, 3)).as_list() == [None, 1, 1, 3]


def test_flatten_reshape_activation():
    x = rng.randn(3, 2, 4).astype(np.float32)
    check_all(lambda: L.Flatten(), x, x.reshape(3, 8))
    check_all(lambda: L.Flatten(), x[:, 0, 0], x[:, 0, 0].reshape(3, 1))
    check_all(lambda: L.Reshape((4, -1)), x, x.reshape(3, 4, 2))
    assert L.Reshape((4, -1)).compute_output_shape((None, 2, 4)).as_list() == [None, 4, 2]
    e = np.exp(x - x.max(-1, keepdims=True))
    check_all(lambda: L.Activation("softmax"), x, e / e.sum(-1, keepdims=True), rtol=1e-5)
    check_all(lambda: L.Activation("swish"), x, x / (1 + np.exp(-x)), rtol=1e-5)
    check_all(lambda: L.Activation("elu"), x, np.where(x > 0, x, np.exp(x) - 1), rtol=1e-5)
    check_all(lambda: L.Activation("softplus"), x, np.log1p(np.exp(x)), rtol=1e-5)
    with pytest.raises(ValueError, match="Unknown activation"):
        L.Activation("nope")


def test_merge_layers():
    a, b, c = (rng.randn(3, 4).astype(np.float32) for _ in range(3))
    check_all(lambda: L.Add(), [a, b, c], a + b + c)
    check_all(lambda: L.Multiply(), [a, b], a * b)
    check_all(lambda: L.Concatenate(), [a, b], np.concatenate([a, b], -1))
    assert L.Concatenate().compute_output_shape([(None, 4), (None, 2)]).as_list() == [None, 6]
    assert L.Add().compute_output_shape([(None, 4), (None, 4)]).as_list() == [None, 4]
    with pytest.raises(ValueError, match="list of inputs"):
        L.Add().compute_output_shape(tf.TensorShape([None, 4]))


def test_embedding():
    table = rng.randn(6, 3).astype(np.float32)
    ids = np.array([[0, 5, 2], [1, 1, 4]])
    check_all(lambda: L.Embedding(6, 3), ids, table[ids], [table])
    check_all(lambda: L.Embedding(6, 3), ids.astype(np.float32), table[ids], [table])
    assert L.Embedding(6, 3).compute_output_shape((None, 3)).as_list() == [None, 3, 3]


def test_dropout_training_and_inference(eager):
    x = np.ones((200, 50), np.float32)
    layer = L.Dropout(0.4, seed=1)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    y = layer(x, training=True).numpy()
    assert np.all((y == 0) | np.isclose(y, 1 / 0.6))
    assert abs((y == 0).mean() - 0.4) < 0.02
    tf.keras.backend.set_learning_phase(1)
    try:
        assert (layer(x).numpy() == 0).any()
    finally:
        tf.keras.backend.clear_session()

    @tf.function
    def f(inp, training):
        return layer(inp, training=training)

    assert (f(x, True).numpy() == 0).any()
    np.testing.assert_array_equal(f(x, False).numpy(), x)


def test_dropout_graph_with_a_bool_tensor():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 10])
        t = tf.placeholder(tf.bool, [])
        y = L.Dropout(0.5, seed=2)(x, training=t)
        with tf.Session() as s:
            ones = np.ones((20, 10), np.float32)
            np.testing.assert_array_equal(s.run(y, {x: ones, t: False}), ones)
            assert (s.run(y, {x: ones, t: True}) == 0).any()


def test_unknown_batch_in_graph_mode():
    x = rng.randn(3, 4, 4, 2).astype(np.float32)
    for make in (lambda: L.Conv2D(2, 2), lambda: L.Flatten(), lambda: L.Reshape((-1,)),
                 lambda: L.Conv2DTranspose(2, 2, strides=2), lambda: L.GlobalAveragePooling2D()):
        y, _ = run_graph(make, x)
        assert y.shape[0] == 3
