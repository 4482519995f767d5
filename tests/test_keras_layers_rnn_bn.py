"""tf.keras.layers: BatchNormalization (moving statistics in each mode) and the
recurrent layers (SimpleRNN, LSTM, GRU) against numpy references of Keras' equations."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode
from keras_layers_util import check_all, check_gradients, run_eager, run_graph

L = tf.keras.layers
rng = np.random.RandomState(1)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- BatchNormalization ------------------------------------------------------------------------
def bn_weights(c, dtype=np.float32):
    return [rng.rand(c).astype(dtype) + 0.5, rng.randn(c).astype(dtype), rng.randn(c).astype(dtype),
            rng.rand(c).astype(dtype) + 0.5]


@pytest.mark.parametrize("shape,dtype", [((6, 3), np.float32), ((2, 3, 4, 3), np.float32),
                                         ((2, 3, 4, 3), np.float64), ((5, 4, 3), np.float64)])
def test_batch_norm_inference_and_training_outputs(shape, dtype):
    x = rng.randn(*shape).astype(dtype)
    g, b, mm, mv = w = bn_weights(shape[-1], dtype)
    eps = 1e-3
    name = np.dtype(dtype).name
    ref = (x - mm) / np.sqrt(mv + eps) * g + b
    check_all(lambda: L.BatchNormalization(epsilon=eps, dtype=name), x, ref, w, rtol=1e-4, atol=1e-5)
    axes = tuple(range(len(shape) - 1))
    ref_t = (x - x.mean(axes)) / np.sqrt(x.var(axes) + eps) * g + b
    # graph mode and tf.function see the same weights; eager's first call moved the moving stats (unused here)
    check_all(lambda: L.BatchNormalization(epsilon=eps, dtype=name), x, ref_t, w, rtol=1e-4, atol=1e-5,
              training=True)


def _moving_ref(x, mm, mv, momentum, unbiased):
    axes = tuple(range(x.ndim - 1))
    n = x.size // x.shape[-1]
    var = x.var(axes) * (n / (n - 1) if unbiased else 1)
    return mm - (mm - x.mean(axes)) * (1 - momentum), mv - (mv - var) * (1 - momentum)


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 3, 3)])
def test_batch_norm_moving_statistics_eager_function_graph(shape):
    x = rng.randn(*shape).astype(np.float32)
    w = bn_weights(shape[-1])
    unbiased = len(shape) == 4  # the fused kernel moves toward the unbiased variance, as TF's
    once = _moving_ref(x, w[2], w[3], 0.9, unbiased)
    twice = _moving_ref(x, once[0], once[1], 0.9, unbiased)
    with eager_mode():
        bn = L.BatchNormalization(momentum=0.9)
        bn(x)
        bn.set_weights(w)
        bn(x, training=False)
        np.testing.assert_allclose(bn.moving_mean.numpy(), w[2])
        bn(x, training=True)
        np.testing.assert_allclose(bn.moving_mean.numpy(), once[0], rtol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), once[1], rtol=1e-5)
        assert bn.updates == []

        @tf.function
        def f(inp):
            return bn(inp, training=True)

        bn.set_weights(w)
        f(x)
        f(x)
        np.testing.assert_allclose(bn.moving_mean.numpy(), twice[0], rtol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), twice[1], rtol=1e-5)
        bn.trainable = False  # TF 2: a frozen BatchNormalization normalizes with the moving statistics
        before = bn.moving_mean.numpy().copy()
        bn(x, training=True)
        np.testing.assert_array_equal(bn.moving_mean.numpy(), before)
    with tf.Graph().as_default():
        ph = tf.placeholder(tf.float32, [None] + list(shape[1:]))
        bn = L.BatchNormalization(momentum=0.9)
        y = bn(ph, training=True)
        assert len(bn.updates) == 2
        assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == bn.updates
        assert [v.name for v in bn.non_trainable_weights] == ["batch_normalization/moving_mean:0",
                                                              "batch_normalization/moving_variance:0"]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            with s.as_default():
                bn.set_weights(w)
            s.run(y, {ph: x})
            np.testing.assert_allclose(s.run(bn.moving_mean), w[2])  # nothing runs the updates
            s.run([y] + bn.updates, {ph: x})
            np.testing.assert_allclose(s.run(bn.moving_mean), once[0], rtol=1e-5)
            np.testing.assert_allclose(s.run(bn.moving_variance), once[1], rtol=1e-5)


def test_batch_norm_bool_tensor_training_in_a_graph():
    x = rng.randn(6, 2).astype(np.float32)
    with tf.Graph().as_default():
        ph, t = tf.placeholder(tf.float32, [None, 2]), tf.placeholder(tf.bool, [])
        bn = L.BatchNormalization(momentum=0.5, epsilon=1e-3)
        y = bn(ph, training=t)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            out = s.run([y] + bn.updates, {ph: x, t: False})[0]
            np.testing.assert_allclose(out, x / np.sqrt(1 + 1e-3), rtol=1e-5)
            np.testing.assert_allclose(s.run(bn.moving_mean), 0)
            out = s.run([y] + bn.updates, {ph: x, t: True})[0]
            np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(s.run(bn.moving_mean), x.mean(0) * 0.5, rtol=1e-5)


def test_batch_norm_gradients():
    check_gradients(lambda: L.BatchNormalization(dtype="float64"), rng.randn(4, 2), training=True, tol=1e-4)


# -- recurrent layers ---------------------------------------------------------------------------
def simple_rnn_ref(x, w, h=None):
    k, rk, b = w
    h = np.zeros((x.shape[0], k.shape[1]), x.dtype) if h is None else h
    outs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ k + b + h @ rk)
        outs.append(h)
    return np.stack(outs, 1), [h]


def lstm_ref(x, w):
    k, rk, b = w
    u = rk.shape[0]
    h = c = np.zeros((x.shape[0], u), x.dtype)
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ k + h @ rk + b
        i, f, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * np.tanh(z[:, 2 * u:3 * u])
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), [h, c]


def gru_ref(x, w, reset_after=True):
    k, rk, b = w
    u = rk.shape[0]
    h = np.zeros((x.shape[0], u), x.dtype)
    outs = []
    for t in range(x.shape[1]):
        if reset_after:
            mx = x[:, t] @ k + b[0]
            inner = h @ rk + b[1]
            z = sigmoid(mx[:, :u] + inner[:, :u])
            r = sigmoid(mx[:, u:2 * u] + inner[:, u:2 * u])
            hh = np.tanh(mx[:, 2 * u:] + r * inner[:, 2 * u:])
        else:
            mx = x[:, t] @ k + b
            inner = h @ rk[:, :2 * u]
            z = sigmoid(mx[:, :u] + inner[:, :u])
            r = sigmoid(mx[:, u:2 * u] + inner[:, u:])
            hh = np.tanh(mx[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), [h]


def rnn_weights(kind, f, u, dtype=np.float32, reset_after=True):
    g = {"simple": 1, "lstm": 4, "gru": 3}[kind]
    b = rng.randn(2, g * u) if kind == "gru" and reset_after else rng.randn(g * u)
    return [(rng.randn(f, g * u) * 0.5).astype(dtype), (rng.randn(u, g * u) * 0.5).astype(dtype),
            b.astype(dtype)]


CASES = [("simple", L.SimpleRNN, simple_rnn_ref, {}), ("lstm", L.LSTM, lstm_ref, {}),
         ("gru", L.GRU, gru_ref, {}), ("gru", L.GRU, lambda x, w: gru_ref(x, w, False), {"reset_after": False})]


@pytest.mark.parametrize("kind,cls,ref,extra", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recurrent_layers_against_numpy(kind, cls, ref, extra, dtype):
    x = rng.randn(3, 5, 4).astype(dtype)
    w = rnn_weights(kind, 4, 2, dtype, extra.get("reset_after", True))
    seq, states = ref(x, w)
    name = np.dtype(dtype).name
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    check_all(lambda: cls(2, dtype=name, **extra), x, states[0], w, **tol)
    check_all(lambda: cls(2, return_sequences=True, return_state=True, dtype=name, **extra), x,
              [seq] + states, w, **tol)
    back_seq, back_states = ref(x[:, ::-1], w)
    check_all(lambda: cls(2, go_backwards=True, return_sequences=True, dtype=name, **extra), x, back_seq, w, **tol)


@pytest.mark.parametrize("kind,cls,ref,extra", CASES)
def test_recurrent_gradients(kind, cls, ref, extra):
    w = rnn_weights(kind, 2, 2, np.float64, extra.get("reset_after", True))
    check_gradients(lambda: cls(2, return_sequences=True, dtype="float64", **extra), rng.randn(2, 3, 2), w,
                    tol=1e-5)


def test_recurrent_shapes_names_and_defaults():
    with eager_mode():
        tf.keras.backend.clear_session()
        lstm = L.LSTM(3, return_sequences=True, return_state=True)
        out = lstm(np.ones((2, 4, 5), np.float32))
        assert [o.shape.as_list() for o in out] == [[2, 4, 3], [2, 3], [2, 3]]
        assert [s.as_list() for s in lstm.compute_output_shape((None, 4, 5))] == [[None, 4, 3], [None, 3],
                                                                                  [None, 3]]
        assert [v.name for v in lstm.weights] == ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0",
                                                  "lstm/lstm_cell/bias:0"]
        k, rk, b = lstm.get_weights()
        assert k.shape == (5, 12) and rk.shape == (3, 12)
        np.testing.assert_allclose(rk @ rk.T, np.eye(3), atol=1e-5)  # orthogonal recurrent kernel
        np.testing.assert_array_equal(b, [0] * 3 + [1] * 3 + [0] * 6)  # unit_forget_bias
        gru = L.GRU(2)
        gru(np.ones((1, 1, 1), np.float32))  # size-1 edges
        assert gru.get_weights()[2].shape == (2, 6)
        assert L.GRU(2).name == "gru_1"
        assert gru.units == 2 and gru.cell.name == "gru_cell"
        assert L.SimpleRNN(3).compute_output_shape((None, 7, 2)).as_list() == [None, 3]
        x = rng.randn(2, 3, 4).astype(np.float32)
        h0 = rng.randn(2, 2).astype(np.float32)
        layer = L.SimpleRNN(2)
        layer(x)
        w = layer.get_weights()
        np.testing.assert_allclose(layer(x, initial_state=[h0]).numpy(), simple_rnn_ref(x, w, h0)[1][0],
                                   rtol=1e-5, atol=1e-6)  # float32 sums near 0: rtol alone fails across CPUs


def test_recurrent_unknown_batch_and_time_in_a_graph():
    x = rng.randn(2, 6, 3).astype(np.float32)
    w = rnn_weights("lstm", 3, 2)
    with tf.Graph().as_default():
        ph = tf.placeholder(tf.float32, [None, None, 3])
        layer = L.LSTM(2, return_sequences=True)
        y = layer(ph)
        assert y.shape.as_list() == [None, None, 2]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            with s.as_default():
                layer.set_weights(w)
            np.testing.assert_allclose(s.run(y, {ph: x}), lstm_ref(x, w)[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(s.run(y, {ph: x[:1, :2]}), lstm_ref(x[:1, :2], w)[0], rtol=1e-5,
                                       atol=1e-6)
    out, _ = run_eager(lambda: L.LSTM(2), x, w)
    np.testing.assert_allclose(out, lstm_ref(x, w)[1][0], rtol=1e-5, atol=1e-6)
    out, _ = run_graph(lambda: L.GRU(1), x[:, :1])
    assert out.shape == (2, 1)


def test_training_step_with_a_tape_eagerly_and_in_a_tf_function():
    x = rng.randn(4, 3, 2).astype(np.float32)
    y = rng.randn(4, 1).astype(np.float32)
    with eager_mode():
        tf.keras.backend.clear_session()
        rnn, head = L.GRU(3), L.Dense(1)
        opt = tf.keras.optimizers.SGD(0.1)

        def loss_fn():
            return tf.reduce_mean(tf.square(head(rnn(x)) - y))

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = loss_fn()
            variables = rnn.trainable_variables + head.trainable_variables
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        with tf.GradientTape() as tape:
            first = loss_fn()
        grads = tape.gradient(first, rnn.trainable_variables)
        assert all(g is not None for g in grads) and len(grads) == 3
        losses = [float(step()) for _ in range(20)]
        assert losses[-1] < losses[0] and abs(losses[0] - float(first)) < 1e-5
