"""tf.GradientTape: recording, nests, persistence, higher order, jacobians.

Gradients come from the same registered gradient functions as tf.gradients
(test_eager_ops.py compares the two on every op family); here the tape's own
behaviour, checked against finite differences and closed forms.
"""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context


@pytest.fixture(autouse=True)
def eager():
    with context.eager_mode():
        yield


def numeric_grad(f, x, eps=1e-3):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_watch_constant_and_finite_differences():
    x0 = np.array([[0.3, -1.2], [2.0, 0.5]])
    x = tf.constant(x0)

    def f(v):
        return tf.reduce_sum(tf.tanh(v) * tf.exp(v * 0.5) + v ** 2)

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    g = tape.gradient(y, x)
    np.testing.assert_allclose(g.numpy(), numeric_grad(lambda a: float(f(tf.constant(a))), x0), rtol=1e-6)


def test_unwatched_constant_has_no_gradient():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None


def test_trainable_variables_watched_automatically():
    w = tf.Variable(2.0)
    frozen = tf.Variable(5.0, trainable=False)
    with tf.GradientTape() as tape:
        y = w * w * frozen
    gw, gf = tape.gradient(y, [w, frozen])
    assert float(gw) == 20.0 and gf is None
    assert tape.watched_variables() == (w,)


def test_watch_accessed_variables_false():
    w, u = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(u)
        y = w * u
    gw, gu = tape.gradient(y, [w, u])
    assert gw is None and float(gu) == 2.0


def test_persistent_tape_and_single_use_error():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y, z = x * x, x * x * x
    assert float(tape.gradient(y, x)) == 6.0
    assert float(tape.gradient(z, x)) == 27.0
    with tf.GradientTape() as once:
        once.watch(x)
        y = x * x
    once.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used to compute one set"):
        once.gradient(y, x)


def test_nested_tapes_second_derivative():
    x = tf.Variable(1.5)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert float(dy) == pytest.approx(3 * 1.5 ** 2)
    assert float(d2y) == pytest.approx(6 * 1.5)


def test_second_derivative_through_nonlinear_ops():
    x0 = 0.7
    x = tf.constant(x0)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = tf.sigmoid(x) * tf.sin(x)
        g = t1.gradient(y, x)
    h = t2.gradient(g, x)

    def f(v):
        return 1 / (1 + np.exp(-v)) * np.sin(v)
    eps = 1e-3
    assert float(h) == pytest.approx((f(x0 + eps) - 2 * f(x0) + f(x0 - eps)) / eps ** 2, rel=1e-3)


def test_stop_recording_and_reset():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * x  # not recorded
        w = y + z
    assert float(tape.gradient(w, x)) == 4.0  # only through y
    with tf.GradientTape() as tape2:
        tape2.watch(x)
        a = x * 100.0
        tape2.reset()
        tape2.watch(x)
        b = x * 3.0
    assert float(tape2.gradient(b, x)) == 3.0
    del a


def test_nested_targets_and_sources():
    x, y = tf.Variable(1.0), tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        a = x * y
        b = x + y
    grads = tape.gradient({"a": a, "b": [b]}, {"x": x, "y": (y,)})
    assert float(grads["x"]) == 3.0 and float(grads["y"][0]) == 2.0
    gl = tape.gradient([a, b], [x, y])
    assert [float(g) for g in gl] == [3.0, 2.0]


def test_output_gradients():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=tf.constant([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, 0.0, 12.0])


def test_unconnected_gradients():
    x, u = tf.Variable([1.0, 2.0]), tf.Variable([[3.0]])
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(x * 2.0)
        tape.watch(u)
    assert tape.gradient(y, u) is None
    z = tape.gradient(y, u, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(z.numpy(), [[0.0]])
    z2 = tape.gradient(y, u, unconnected_gradients="zero")
    assert z2.shape == (1, 1)


def test_jacobian_and_batch_jacobian():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    j = tape.jacobian(y, x)
    np.testing.assert_array_equal(j.numpy(), np.diag([2.0, 4.0, 6.0]))
    xb = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    with tf.GradientTape() as tape:
        tape.watch(xb)
        yb = tf.matmul(xb, w)  # [2, 2]
    bj = tape.batch_jacobian(yb, xb)
    assert bj.shape == (2, 2, 3)
    np.testing.assert_array_equal(bj.numpy(), np.stack([w.numpy().T, w.numpy().T]))


def test_gradient_through_control_flow():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.cond(x > 2.0, lambda: x * x, lambda: x)
        z = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x), (tf.constant(0), tf.constant(1.0)))[1]
        total = y + z  # x^2 + x^3
    assert float(tape.gradient(total, x)) == pytest.approx(2 * 3 + 3 * 9)


def test_gradient_through_python_loops_and_map_fn():
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        s = tf.constant(0.0)
        for k in range(3):
            s = s + tf.reduce_sum(w * float(k))
        m = tf.reduce_sum(tf.map_fn(lambda r: r * r, w))
        total = s + m
    np.testing.assert_allclose(tape.gradient(total, w).numpy(), [3 + 2, 3 + 4])


def test_gradient_through_rnn_cell_and_dynamic_rnn():
    rng = np.random.RandomState(0)
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    x = tf.constant(rng.standard_normal((2, 4, 5)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        loss = tf.reduce_sum(outputs * outputs)
    variables = cell.trainable_variables
    assert len(variables) == 2
    grads = tape.gradient(loss, [x] + list(variables))
    assert all(g is not None for g in grads)
    assert grads[0].shape == (2, 4, 5)


def test_float_checks_and_errors():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    with pytest.raises(ValueError, match="None is not a valid source"):
        tape.gradient(y, [None])
    with tf.GradientTape() as tape:
        pass
    with pytest.raises(ValueError, match="re-enter"):
        with tape:
            with tape:
                pass


def test_optimizer_step_with_tape_matches_graph_mode():
    rng = np.random.RandomState(1)
    x0 = rng.standard_normal((8, 3)).astype(np.float32)
    w0 = rng.standard_normal((3, 2)).astype(np.float32)
    y0 = rng.standard_normal((8, 2)).astype(np.float32)
    with context.graph_mode(), tf.Graph().as_default():
        w = tf.Variable(w0)
        loss = tf.reduce_mean(tf.square(tf.matmul(x0, w) - y0))
        train = tf.train.AdamOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            expected = sess.run(w)
    w = tf.Variable(w0)
    opt = tf.train.AdamOptimizer(0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x0, w) - y0))
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w]))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert opt.get_slot(w, "m").name == "Variable/Adam:0"
    opt.minimize(lambda: tf.reduce_sum(w * w), var_list=[w])
    with pytest.raises(RuntimeError, match="should be a function when eager"):
        opt.minimize(tf.reduce_sum(w * w), var_list=[w])
