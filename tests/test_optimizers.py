"""tf.train optimizers (against numpy re-implementations of TF's update
formulas), the global step, learning-rate schedules and gradient clipping."""
import math

import numpy as np
import pytest

import nbflow as tf


# ---------------------------------------------------------------------------
# numpy references of TF's ApplyX kernels; state is a dict of slot arrays
# ---------------------------------------------------------------------------

def _h(x):
    """A Python-float hyper-parameter as the graph sees it: a float32 constant
    (cast to the variable's dtype), as in TF."""
    return float(np.float32(x))


def _ref_gd(w, g, s, lr=0.1):
    return w - _h(lr) * g


def _ref_momentum(w, g, s, lr=0.1, momentum=0.9, nesterov=False):
    lr, momentum = _h(lr), _h(momentum)
    a = s.setdefault("accum", np.zeros_like(w))
    a[...] = a * momentum + g
    if nesterov:
        return w - (g * lr + a * momentum * lr)
    return w - lr * a


def _ref_adam(w, g, s, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    m = s.setdefault("m", np.zeros_like(w))
    v = s.setdefault("v", np.zeros_like(w))
    # beta1_power / beta2_power are float32 variables multiplied by beta in float32
    s["b1p"] = b1p = s.get("b1p", np.float32(1)) * np.float32(b1)
    s["b2p"] = b2p = s.get("b2p", np.float32(1)) * np.float32(b2)
    lr, b1, b2, eps = _h(lr), _h(b1), _h(b2), _h(eps)
    lr_t = lr * math.sqrt(1 - float(b2p)) / (1 - float(b1p))
    m[...] = b1 * m + (1 - b1) * g
    v[...] = b2 * v + (1 - b2) * g * g
    return w - lr_t * m / (np.sqrt(v) + eps)


def _ref_rmsprop(w, g, s, lr=0.01, decay=0.9, momentum=0.0, eps=1e-10, centered=False):
    lr, decay, momentum, eps = _h(lr), _h(decay), _h(momentum), _h(eps)
    ms = s.setdefault("ms", np.ones_like(w))
    mom = s.setdefault("mom", np.zeros_like(w))
    ms[...] = decay * ms + (1 - decay) * g * g
    if centered:
        mg = s.setdefault("mg", np.zeros_like(w))
        mg[...] = decay * mg + (1 - decay) * g
        denom = np.sqrt(ms - mg * mg + eps)
    else:
        denom = np.sqrt(ms + eps)
    mom[...] = momentum * mom + lr * g / denom
    return w - mom


def _ref_adagrad(w, g, s, lr=0.1, init=0.1):
    # the accumulator's initial value is a constant of the variable's dtype (not rounded to float32)
    acc = s.setdefault("acc", np.full_like(w, init))
    acc += g * g
    return w - _h(lr) * g / np.sqrt(acc)


def _ref_adadelta(w, g, s, lr=1.0, rho=0.95, eps=1e-8):
    lr, rho, eps = _h(lr), _h(rho), _h(eps)
    acc = s.setdefault("acc", np.zeros_like(w))
    upd = s.setdefault("upd", np.zeros_like(w))
    acc[...] = rho * acc + (1 - rho) * g * g
    u = np.sqrt(upd + eps) / np.sqrt(acc + eps) * g
    upd[...] = rho * upd + (1 - rho) * u * u
    return w - lr * u


OPTIMIZERS = {
    "gd": (lambda: tf.train.GradientDescentOptimizer(0.1), _ref_gd),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.1, 0.9), _ref_momentum),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.05, 0.8, use_nesterov=True),
                 lambda w, g, s: _ref_momentum(w, g, s, 0.05, 0.8, True)),
    "adam": (lambda: tf.train.AdamOptimizer(0.01), _ref_adam),
    "adam_custom": (lambda: tf.train.AdamOptimizer(0.1, beta1=0.5, beta2=0.9, epsilon=1e-3),
                    lambda w, g, s: _ref_adam(w, g, s, 0.1, 0.5, 0.9, 1e-3)),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01), _ref_rmsprop),
    "rmsprop_momentum": (lambda: tf.train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, epsilon=1e-6),
                         lambda w, g, s: _ref_rmsprop(w, g, s, 0.01, 0.8, 0.5, 1e-6)),
    "rmsprop_centered": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.3, centered=True),
                         lambda w, g, s: _ref_rmsprop(w, g, s, 0.01, 0.9, 0.3, 1e-10, True)),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.1), _ref_adagrad),
    "adagrad_init": (lambda: tf.train.AdagradOptimizer(0.5, initial_accumulator_value=2.0),
                     lambda w, g, s: _ref_adagrad(w, g, s, 0.5, 2.0)),
    "adadelta": (lambda: tf.train.AdadeltaOptimizer(1.0), _ref_adadelta),
}


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("which", sorted(OPTIMIZERS))
def test_updates_match_numpy_reference(which, dtype):
    make, ref = OPTIMIZERS[which]
    npd = dtype.as_numpy_dtype
    rng = np.random.RandomState(0)
    w0 = rng.randn(2, 3)
    w = tf.Variable(w0.astype(npd), name="w")
    b = tf.Variable(np.array(0.5, npd), name="b")  # a scalar variable too
    gw = tf.placeholder(dtype, [2, 3])
    gb = tf.placeholder(dtype, [])
    train = make().apply_gradients([(gw, w), (gb, b)])
    state_w, state_b = {}, {}
    expect_w, expect_b = w0.copy(), np.float64(0.5)
    tol = 1e-5 if dtype == tf.float32 else 1e-12
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            g1, g2 = rng.randn(2, 3), rng.randn()
            sess.run(train, {gw: g1, gb: g2})
            expect_w = ref(expect_w, g1, state_w)
            expect_b = ref(np.array(expect_b), np.array(g2), state_b)
            got_w, got_b = sess.run([w, b])
            assert got_w.dtype == npd
            np.testing.assert_allclose(got_w, expect_w, rtol=tol, atol=tol)
            np.testing.assert_allclose(got_b, expect_b, rtol=tol, atol=tol)


def test_adam_slots_and_beta_powers():
    w = tf.Variable([1.0, -1.0], name="w")
    g = tf.placeholder(tf.float32, [2])
    opt = tf.train.AdamOptimizer(0.01, beta1=0.8, beta2=0.99)
    train = opt.apply_gradients([(g, w)])
    assert [v.name for v in opt.variables()] == ["beta1_power:0", "beta2_power:0", "w/Adam:0", "w/Adam_1:0"]
    assert opt.get_slot_names() == ["m", "v"]
    m, v = opt.get_slot(w, "m"), opt.get_slot(w, "v")
    assert (m.name, v.name) == ("w/Adam:0", "w/Adam_1:0")
    assert opt.get_slot(w, "nothing") is None
    b1p, b2p = opt._get_beta_accumulators()
    for var in opt.variables():
        assert not var.trainable and var in tf.global_variables()
    assert tf.trainable_variables() == [w]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run([b1p, b2p]), [0.8, 0.99], rtol=1e-6)
        sess.run(train, {g: [0.5, -2.0]})
        sess.run(train, {g: [1.0, 1.0]})
        np.testing.assert_allclose(sess.run([b1p, b2p]), [0.8 ** 3, 0.99 ** 3], rtol=1e-6)
        np.testing.assert_allclose(sess.run(m), [0.2 * 0.5 * 0.8 + 0.2 * 1.0, 0.2 * -2.0 * 0.8 + 0.2 * 1.0],
                                   rtol=1e-6)
        np.testing.assert_allclose(sess.run(v), [0.01 * 0.25 * 0.99 + 0.01, 0.01 * 4.0 * 0.99 + 0.01], rtol=1e-6)


@pytest.mark.parametrize("make,names", [
    (lambda: tf.train.GradientDescentOptimizer(0.1), []),
    (lambda: tf.train.MomentumOptimizer(0.1, 0.9), ["w/Momentum:0"]),
    (lambda: tf.train.RMSPropOptimizer(0.1), ["w/RMSProp:0", "w/RMSProp_1:0"]),
    (lambda: tf.train.RMSPropOptimizer(0.1, centered=True), ["w/RMSProp:0", "w/RMSProp_1:0", "w/RMSProp_2:0"]),
    (lambda: tf.train.AdagradOptimizer(0.1), ["w/Adagrad:0"]),
    (lambda: tf.train.AdadeltaOptimizer(0.1), ["w/Adadelta:0", "w/Adadelta_1:0"]),
])
def test_slot_variable_names(make, names):
    with tf.variable_scope("net"):
        w = tf.get_variable("w", [2])
    opt = make()
    opt.minimize(tf.reduce_sum(w * w))
    assert [v.name for v in opt.variables()] == ["net/" + n for n in names]
    slots = {"w/RMSProp:0": "rms", "w/Momentum:0": "momentum", "w/Adagrad:0": "accumulator",
             "w/Adadelta:0": "accum", "w/Adadelta_1:0": "accum_update"}
    for n in names:
        if n in slots:
            assert opt.get_slot(w, slots[n]).name == "net/" + n


def test_rmsprop_slot_starts_at_one_and_adagrad_at_initial_value():
    w = tf.Variable([1.0, 2.0], name="w")
    rms = tf.train.RMSPropOptimizer(0.1)
    ada = tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.25)
    loss = tf.reduce_sum(w)
    rms.minimize(loss)
    ada.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(rms.get_slot(w, "rms")), [1.0, 1.0])
        np.testing.assert_array_equal(sess.run(rms.get_slot(w, "momentum")), [0.0, 0.0])
        np.testing.assert_array_equal(sess.run(ada.get_slot(w, "accumulator")), [0.25, 0.25])


def test_training_op_names_and_update_ops():
    w = tf.Variable([1.0], name="w")
    loss = tf.reduce_sum(w * w)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert isinstance(train, tf.Operation)
    assert train.name == "GradientDescent" and train.type == "NoOp"
    g = tf.get_default_graph()
    upd = g.get_operation_by_name("GradientDescent/update_w/ApplyGradientDescent")
    assert upd.inputs[0].op is w.op and upd in train.control_inputs
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [train]
    adam = tf.train.AdamOptimizer().minimize(loss, name="my_adam")
    assert adam.name == "my_adam"
    assert g.get_operation_by_name("my_adam/update_w/ApplyAdam").type == "ApplyAdam"
    train2 = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert train2.name == "GradientDescent_1"


def test_global_step_is_incremented_by_apply_gradients():
    w = tf.Variable(3.0, name="w")
    step = tf.train.get_or_create_global_step()
    train = tf.train.MomentumOptimizer(0.1, 0.5).minimize(tf.square(w), global_step=step)
    assert train.name == "Momentum" and train.type == "AssignAdd"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train)
        assert tf.train.global_step(sess, step) == 4
        assert isinstance(tf.train.global_step(sess, step), int)


def test_learning_rate_as_placeholder_and_tensor():
    w = tf.Variable([1.0, 1.0], name="w")
    lr = tf.placeholder(tf.float32, [])
    step = tf.train.get_or_create_global_step()
    decayed = tf.train.exponential_decay(0.5, step, decay_steps=1, decay_rate=0.5)
    loss = tf.reduce_sum(w * tf.constant([1.0, 2.0]))  # gradient [1, 2]
    t_ph = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    t_dec = tf.train.GradientDescentOptimizer(decayed).minimize(loss, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(t_ph, {lr: 0.1})
        sess.run(t_ph, {lr: 0.25})
        np.testing.assert_allclose(sess.run(w), [1 - 0.35, 1 - 0.7], rtol=1e-6)
        sess.run(t_dec)  # lr 0.5 at step 0
        sess.run(t_dec)  # lr 0.25 at step 1
        np.testing.assert_allclose(sess.run(w), [1 - 0.35 - 0.75, 1 - 0.7 - 1.5], rtol=1e-6)


def test_learning_rate_float64_tensor_for_float32_variable_is_cast():
    w = tf.Variable([2.0], name="w")
    lr = tf.constant(0.5, dtype=tf.float64)
    train = tf.train.MomentumOptimizer(lr, tf.constant(0.0, tf.float64)).minimize(tf.reduce_sum(w))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), [1.5])


def test_var_list_and_none_gradients():
    a = tf.Variable([1.0], name="a")
    b = tf.Variable([1.0], name="b")
    unused = tf.Variable([1.0], name="unused")
    loss = tf.reduce_sum(a * 2.0 + b * 3.0)
    opt = tf.train.AdamOptimizer(0.1)
    gv = opt.compute_gradients(loss)
    assert [v for _, v in gv] == [a, b, unused]
    assert gv[2][0] is None and gv[0][0] is not None
    train = opt.apply_gradients(gv)
    # no slots for a variable without a gradient
    assert opt.get_slot(unused, "m") is None
    only_b = tf.train.GradientDescentOptimizer(1.0).minimize(loss, var_list=[b])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        va, vb, vu = sess.run([a, b, unused])
        assert va < 1.0 and vb < 1.0 and vu == 1.0
        sess.run(only_b)
        np.testing.assert_allclose(sess.run([a, b]), [va, vb - 3.0], rtol=1e-6)


def test_no_gradients_errors():
    a = tf.Variable([1.0], name="a")
    b = tf.Variable([1.0], name="b")
    loss = tf.reduce_sum(b * 2.0)
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.minimize(loss, var_list=[a])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, a), (None, b)])
    with pytest.raises(ValueError, match="No variables provided"):
        opt.apply_gradients([])
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="No variables to optimize"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.constant(1.0) * 2.0)


def test_argument_errors():
    w = tf.Variable([1.0], name="w")
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        tf.train.GradientDescentOptimizer(0.1, name="")
    with pytest.raises(ValueError, match="Invalid type 'int32'"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.constant(1) * 2)
    with pytest.raises(ValueError, match="gate_gradients must be one of"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w), gate_gradients=7)
    with pytest.raises(TypeError, match="has dtype float64 but variable w:0 has dtype float32"):
        tf.train.GradientDescentOptimizer(0.1).apply_gradients([(tf.constant([1.0], tf.float64), w)])
    with pytest.raises(ValueError, match="incompatible with variable"):
        tf.train.GradientDescentOptimizer(0.1).apply_gradients([(tf.constant([1.0, 2.0]), w)])
    with pytest.raises(NotImplementedError, match="Trying to update a Tensor"):
        tf.train.GradientDescentOptimizer(0.1).apply_gradients([(tf.constant([1.0]), tf.constant([2.0]))])


def test_apply_ops_reject_bad_inputs():
    from nbflow.train import optimizers as O

    w = tf.Variable([1.0, 2.0], name="w")
    with pytest.raises(ValueError, match="alpha is not a scalar"):
        O._apply(O.ApplyGradientDescent, [w, tf.constant([0.1, 0.1]), tf.constant([1.0, 1.0])], {})
    with pytest.raises(ValueError, match="var and delta do not have the same shape"):
        O._apply(O.ApplyGradientDescent, [w, 0.1, tf.constant([1.0, 1.0, 1.0])], {})
    with pytest.raises(TypeError, match="Input 'delta' of 'ApplyGradientDescent' Op has type float64"):
        O._apply(O.ApplyGradientDescent, [w, 0.1, tf.constant([1.0, 1.0], tf.float64)], {})
    with pytest.raises(TypeError, match="needs a Variable"):
        O._apply(O.ApplyGradientDescent, [tf.constant([1.0, 2.0]), 0.1, tf.constant([1.0, 1.0])], {})
    # shapes known only when running are checked then
    g = tf.placeholder(tf.float32, [None])
    upd = O._apply(O.ApplyGradientDescent, [w, 0.1, g], {})
    with tf.Session() as sess:
        sess.run(w.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="var and delta do not have the same shape"):
            sess.run(upd, {g: [1.0, 2.0, 3.0]})
        np.testing.assert_allclose(sess.run(upd, {g: [1.0, 1.0]}), [0.9, 1.9], rtol=1e-6)


def test_uninitialized_slot_is_a_failed_precondition():
    w = tf.Variable([1.0], name="w")
    train = tf.train.AdamOptimizer().minimize(tf.reduce_sum(w * w))
    with tf.Session() as sess:
        sess.run(w.initializer)
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value (w/Adam|beta)"):
            sess.run(train)
        assert sess.run(w) == 1.0


def test_variable_with_unknown_shape_gets_slots_at_run_time():
    w = tf.Variable(tf.constant([1.0, 2.0, 3.0]), validate_shape=False, name="w")
    assert w.shape.ndims is None
    opt = tf.train.MomentumOptimizer(0.1, 0.5)
    train = opt.minimize(tf.reduce_sum(w * w))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        sess.run(train)
        expect, s = np.array([1.0, 2.0, 3.0]), {}
        for _ in range(2):
            expect = _ref_momentum(expect, 2 * expect, s, 0.1, 0.5)
        np.testing.assert_allclose(sess.run(w), expect, rtol=1e-6)
        np.testing.assert_allclose(sess.run(opt.get_slot(w, "momentum")), s["accum"], rtol=1e-6)


def test_constraint_is_applied_after_the_update():
    w = tf.Variable([1.0, -1.0], name="w", constraint=lambda x: tf.clip_by_value(x, -0.5, 0.5))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w * tf.constant([-10.0, 1.0])))
    with tf.Session() as sess:
        sess.run(w.initializer)
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), [0.5, -0.5])


@pytest.mark.parametrize("make", [
    lambda: tf.train.GradientDescentOptimizer(0.1),
    lambda: tf.train.AdamOptimizer(0.1),
    lambda: tf.train.RMSPropOptimizer(0.02, momentum=0.5),
    lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    lambda: tf.train.AdagradOptimizer(0.5),
    lambda: tf.train.AdadeltaOptimizer(1.0, epsilon=1e-4),
])
def test_loss_decreases_on_linear_regression(make):
    rng = np.random.RandomState(1)
    xs = rng.randn(64, 3).astype(np.float32)
    true_w = np.array([[1.0], [-2.0], [0.5]], np.float32)
    ys = xs @ true_w + 0.3
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.get_variable("w", [3, 1], initializer=tf.zeros_initializer())
    b = tf.get_variable("b", [1], initializer=tf.zeros_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    train = make().minimize(loss, global_step=tf.train.get_or_create_global_step())
    feed = {x: xs, y: ys}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, feed)
        losses = []
        for _ in range(60):
            sess.run(train, feed)
            losses.append(sess.run(loss, feed))
        assert losses[-1] < 0.25 * first
        assert losses[-1] < losses[len(losses) // 2]
        assert tf.train.global_step(sess, tf.train.get_global_step()) == 60


@pytest.mark.parametrize("reverse", [False, True])
def test_updates_wait_for_every_gradient(reverse):
    # dL/dW1 reads W2 (dh = dy @ W2^T): W2's in-place update must come after it,
    # whatever the order of var_list
    rng = np.random.RandomState(0)
    X = rng.randn(4, 3)
    W1v, W2v = rng.randn(3, 2), rng.randn(2, 1)
    W1 = tf.Variable(W1v, name="W1")
    W2 = tf.Variable(W2v, name="W2")
    loss = tf.reduce_sum(tf.matmul(tf.matmul(tf.constant(X), W1), W2))
    var_list = [W2, W1] if reverse else [W1, W2]
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss, var_list=var_list)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        w1, w2 = sess.run([W1, W2])
    dh = np.ones((4, 1)) @ W2v.T
    np.testing.assert_allclose(w1, W1v - 0.25 * X.T @ dh, rtol=1e-12)
    np.testing.assert_allclose(w2, W2v - 0.25 * (X @ W1v).T @ np.ones((4, 1)), rtol=1e-12)


def test_loss_fetched_with_the_train_op_is_the_value_before_the_update():
    w = tf.Variable([1.0, 2.0], name="w")
    loss = tf.reduce_sum(w) + tf.nn.l2_loss(w)  # l2_loss(w)'s value feeds no gradient
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(w.initializer)
        _, before = sess.run([train, loss])
        assert before == pytest.approx(3.0 + 2.5)
        after = sess.run(loss)
    w_new = np.array([1.0, 2.0]) - 0.1 * (1 + np.array([1.0, 2.0]))
    assert after == pytest.approx(w_new.sum() + 0.5 * (w_new ** 2).sum(), rel=1e-6)


def test_gate_graph_and_callable_loss():
    w = tf.Variable([2.0], name="w")
    opt = tf.train.GradientDescentOptimizer(0.25)
    train = opt.minimize(lambda: tf.reduce_sum(w * w), gate_gradients=tf.train.Optimizer.GATE_GRAPH)
    with tf.Session() as sess:
        sess.run(w.initializer)
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), [1.0])


# ---------------------------------------------------------------------------
# global step
# ---------------------------------------------------------------------------

def test_get_or_create_global_step():
    assert tf.train.get_global_step() is None
    step = tf.train.get_or_create_global_step()
    assert step.name == "global_step:0" and step.dtype == tf.int64 and step.shape.ndims == 0
    assert not step.trainable
    assert tf.get_collection(tf.GraphKeys.GLOBAL_STEP) == [step]
    assert step in tf.global_variables()
    assert tf.train.get_or_create_global_step() is step
    assert tf.train.get_global_step() is step
    with pytest.raises(ValueError, match='"global_step" already exists.'):
        tf.train.create_global_step()
    with tf.Session() as sess:
        sess.run(step.initializer)
        assert tf.train.global_step(sess, step) == 0


def test_create_global_step_ignores_name_scope_and_other_graphs():
    with tf.name_scope("ns"):
        step = tf.train.create_global_step()
    assert step.name == "global_step:0"
    g = tf.Graph()
    assert tf.train.get_global_step(g) is None
    other = tf.train.get_or_create_global_step(g)
    assert other.graph is g and other is not step


def test_global_step_found_by_name_and_checked():
    v = tf.Variable(0, name="global_step", trainable=False)
    found = tf.train.get_global_step()
    assert found.name == "global_step:0" and found.op is v.op
    tf.reset_default_graph()
    tf.Variable(0.0, name="global_step")
    with pytest.raises(TypeError, match='Existing "global_step" does not have integer type'):
        tf.train.get_global_step()
    tf.reset_default_graph()
    tf.Variable([0, 0], name="global_step")
    with pytest.raises(TypeError, match='Existing "global_step" is not scalar'):
        tf.train.get_global_step()


# ---------------------------------------------------------------------------
# learning-rate schedules
# ---------------------------------------------------------------------------

STEPS = [0, 1, 4, 5, 9, 10, 11, 25]


def _schedule_values(make):
    step = tf.placeholder(tf.int64, [])
    lr = make(step)
    with tf.Session() as sess:
        return [float(sess.run(lr, {step: s})) for s in STEPS], lr


@pytest.mark.parametrize("name,make,ref", [
    ("exponential", lambda s: tf.train.exponential_decay(0.1, s, 5, 0.5),
     lambda t: 0.1 * 0.5 ** (t / 5)),
    ("exponential_staircase", lambda s: tf.train.exponential_decay(0.1, s, 5, 0.5, staircase=True),
     lambda t: 0.1 * 0.5 ** (t // 5)),
    ("natural_exp", lambda s: tf.train.natural_exp_decay(0.1, s, 5, 0.5),
     lambda t: 0.1 * math.exp(-0.5 * t / 5)),
    ("natural_exp_staircase", lambda s: tf.train.natural_exp_decay(0.1, s, 5, 0.5, staircase=True),
     lambda t: 0.1 * math.exp(-0.5 * (t // 5))),
    ("inverse_time", lambda s: tf.train.inverse_time_decay(0.1, s, 5, 0.5),
     lambda t: 0.1 / (1 + 0.5 * t / 5)),
    ("inverse_time_staircase", lambda s: tf.train.inverse_time_decay(0.1, s, 5, 0.5, staircase=True),
     lambda t: 0.1 / (1 + 0.5 * (t // 5))),
    ("polynomial", lambda s: tf.train.polynomial_decay(0.1, s, 10, 0.01, power=2.0),
     lambda t: (0.1 - 0.01) * (1 - min(t, 10) / 10) ** 2 + 0.01),
    ("polynomial_cycle", lambda s: tf.train.polynomial_decay(0.1, s, 10, 0.01, cycle=True),
     lambda t: (0.1 - 0.01) * (1 - t / (10 * max(1, math.ceil(t / 10)))) + 0.01),
    ("cosine", lambda s: tf.train.cosine_decay(0.1, s, 10, alpha=0.1),
     lambda t: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(t, 10) / 10)) + 0.1)),
    ("piecewise", lambda s: tf.train.piecewise_constant(s, [4, 10], [1.0, 0.5, 0.1]),
     lambda t: 1.0 if t <= 4 else (0.5 if t <= 10 else 0.1)),
])
def test_learning_rate_schedules(name, make, ref):
    got, lr = _schedule_values(make)
    np.testing.assert_allclose(got, [ref(t) for t in STEPS], rtol=1e-5)
    assert lr.dtype == tf.float32


def test_cosine_decay_restarts_and_linear_cosine_decay():
    got, _ = _schedule_values(lambda s: tf.train.cosine_decay_restarts(1.0, s, 4, t_mul=2.0, m_mul=0.5))

    def sgdr(t):
        i, start, period = 0, 0, 4
        while t >= start + period:
            start, period, i = start + period, period * 2, i + 1
        frac = (t - start) / period
        return 0.5 ** i * 0.5 * (1 + math.cos(math.pi * frac))
    np.testing.assert_allclose(got, [sgdr(t) for t in STEPS], rtol=1e-5, atol=1e-7)
    got, _ = _schedule_values(lambda s: tf.train.linear_cosine_decay(1.0, s, 10))

    def lin_cos(t):
        t = min(t, 10)
        return (0.0 + (10 - t) / 10) * 0.5 * (1 + math.cos(math.pi * 2 * 0.5 * t / 10)) + 0.001
    np.testing.assert_allclose(got, [lin_cos(t) for t in STEPS], rtol=1e-5, atol=1e-7)


def test_schedules_with_a_global_step_variable_and_float64():
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(tf.constant(1.0, tf.float64), step, 2, 0.1, staircase=True)
    assert lr.dtype == tf.float64 and lr.name == "ExponentialDecay:0"
    inc = tf.assign_add(step, 1)
    with tf.Session() as sess:
        sess.run(step.initializer)
        seen = []
        for _ in range(5):
            seen.append(sess.run(lr))
            sess.run(inc)
    # as in TF, the Python float decay_rate becomes a float32 constant before the cast to float64
    np.testing.assert_allclose(seen, [1.0, 1.0, 0.1, 0.1, 0.01], rtol=1e-7)
    assert seen[2] == np.float64(np.float32(0.1))


def test_schedule_errors():
    with pytest.raises(ValueError, match="global_step is required for exponential_decay"):
        tf.train.exponential_decay(0.1, None, 10, 0.5)
    with pytest.raises(ValueError, match="The length of boundaries should be 1 less than the length of values"):
        tf.train.piecewise_constant(tf.constant(1), [1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="Boundaries \\(float32\\) must have the same dtype as x \\(int32\\)"):
        tf.train.piecewise_constant(tf.constant(1), [1.5], [0.1, 0.2])
    with pytest.raises(ValueError, match="Values must have elements all with the same dtype"):
        tf.train.piecewise_constant(tf.constant(1), [1], [0.1, 2])


def test_piecewise_constant_promotes_int32_boundaries_for_int64_steps():
    step = tf.constant(7, tf.int64)
    lr = tf.train.piecewise_constant(step, [5, 10], [1.0, 0.5, 0.25])
    with tf.Session() as sess:
        assert sess.run(lr) == 0.5


# ---------------------------------------------------------------------------
# clipping
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_by_norm_values(dtype):
    t = tf.constant(np.array([[3.0, 4.0], [0.3, 0.4]], dtype))
    over = tf.clip_by_norm(t, 1.0)               # norm 5.0249 > 1: scaled down
    under = tf.clip_by_norm(t, 10.0)             # unchanged
    rows = tf.clip_by_norm(t, 1.0, axes=[1])     # per row: the first is scaled, the second kept
    zero = tf.clip_by_norm(tf.zeros([3], dtype=tf.as_dtype(dtype)), 1.0)
    assert over.name == "clip_by_norm:0"
    with tf.Session() as sess:
        o, u, r, z = sess.run([over, under, rows, zero])
    a = np.array([[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(o, a / np.linalg.norm(a), rtol=1e-6)
    np.testing.assert_allclose(u, a, rtol=1e-6)
    np.testing.assert_allclose(r, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    np.testing.assert_array_equal(z, [0, 0, 0])
    assert o.dtype == dtype


def test_clip_by_norm_with_unknown_shape_and_tensor_clip_norm():
    x = tf.placeholder(tf.float32, [None])
    c = tf.placeholder(tf.float32, [])
    y = tf.clip_by_norm(x, c)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [6.0, 8.0], c: 5.0}), [3.0, 4.0], rtol=1e-6)
        np.testing.assert_allclose(sess.run(y, {x: [6.0], c: 7.0}), [6.0], rtol=1e-6)
        assert sess.run(y, {x: np.zeros(0, np.float32), c: 1.0}).shape == (0,)


@pytest.mark.parametrize("axes,value", [(None, [[3.0, 4.0], [1.0, 2.0]]), ([1], [[3.0, 4.0], [0.1, 0.2]]),
                                        (None, [[0.1, 0.2], [0.3, 0.1]])])
def test_clip_by_norm_gradient(axes, value):
    x = tf.placeholder(tf.float64, [2, 2])
    y = tf.clip_by_norm(x, 1.0, axes=axes)
    with tf.Session():
        err = tf.test.compute_gradient_error(x, [2, 2], y, [2, 2], x_init_value=np.array(value), delta=1e-6)
    assert err < 1e-6


def test_clip_by_norm_gradient_at_zero_is_finite():
    x = tf.placeholder(tf.float64, [3])
    (g,) = tf.gradients(tf.reduce_sum(tf.clip_by_norm(x, 1.0)), [x])
    with tf.Session() as sess:
        gv = sess.run(g, {x: np.zeros(3)})
    assert np.all(np.isfinite(gv))


def test_global_norm_and_clip_by_global_norm():
    a = tf.constant([3.0, 4.0])
    b = tf.constant([[12.0]])
    n = tf.global_norm([a, None, b])
    clipped, norm = tf.clip_by_global_norm([a, None, b], 6.5)
    kept, norm2 = tf.clip_by_global_norm([a, b], 100.0)
    assert clipped[1] is None
    assert n.name == "global_norm/global_norm:0"
    assert clipped[0].name == "clip_by_global_norm/clip_by_global_norm/_0:0"
    with tf.Session() as sess:
        nv, c0, c2, normv, k0, k1 = sess.run([n, clipped[0], clipped[2], norm, kept[0], kept[1]])
    assert nv == pytest.approx(13.0) and normv == pytest.approx(13.0)
    np.testing.assert_allclose(c0, [1.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(c2, [[6.0]], rtol=1e-6)
    np.testing.assert_allclose(k0, [3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(k1, [[12.0]], rtol=1e-6)


def test_clip_by_global_norm_use_norm_and_non_finite():
    a = tf.constant([1.0, 2.0])
    clipped, norm = tf.clip_by_global_norm([a], 1.0, use_norm=tf.constant(4.0))
    inf_clipped, _ = tf.clip_by_global_norm([tf.constant([np.inf, 1.0])], 1.0)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(clipped[0]), [0.25, 0.5])
        assert sess.run(norm) == 4.0
        assert np.all(np.isnan(sess.run(inf_clipped[0])))


def test_clip_by_global_norm_gradient():
    x = tf.placeholder(tf.float64, [3])
    clipped, _ = tf.clip_by_global_norm([x, x * 2.0], 1.0)
    y = clipped[0] + clipped[1]
    with tf.Session():
        err = tf.test.compute_gradient_error(x, [3], y, [3], x_init_value=np.array([0.5, -1.0, 2.0]),
                                             delta=1e-6)
    assert err < 1e-6


def test_clip_errors_and_average_norm():
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        tf.global_norm(tf.constant([1.0]))
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        tf.clip_by_global_norm(tf.constant([1.0]), 1.0)
    with pytest.raises(ValueError):
        tf.clip_by_norm(tf.constant([1.0, 2.0]), tf.constant([1.0, 1.0, 1.0]))
    t = tf.constant([3.0, 4.0])
    avg = tf.clip_by_average_norm(t, 1.0)   # norm / size = 2.5 > 1: scaled by 1 / 2.5
    keep = tf.clip_by_average_norm(t, 3.0)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(avg), [1.2, 1.6], rtol=1e-6)
        np.testing.assert_allclose(sess.run(keep), [3.0, 4.0], rtol=1e-6)


def test_training_with_clipped_gradients():
    w = tf.Variable([10.0, -10.0], name="w")
    loss = tf.reduce_sum(w * w)
    opt = tf.train.GradientDescentOptimizer(0.1)
    grads, variables = zip(*opt.compute_gradients(loss))
    clipped, norm = tf.clip_by_global_norm(grads, 1.0)
    train = opt.apply_gradients(zip(clipped, variables))
    with tf.Session() as sess:
        sess.run(w.initializer)
        sess.run(train)
        step = 0.1 / math.sqrt(2)
        np.testing.assert_allclose(sess.run(w), [10.0 - step, -10.0 + step], rtol=1e-6)
