"""tf.train.ExponentialMovingAverage and tf.nn.batch_norm_with_global_normalization
(pkmital's tutorials: batch norm with moving statistics under tf.cond)."""
import numpy as np
import pytest

import nbflow as tf


def test_ema_of_variables_and_tensor_matches_numpy():
    v0 = tf.Variable(10.0, name="v0")
    v1 = tf.Variable([1.0, 2.0], name="v1")
    t = tf.multiply(v1, 3.0, name="scaled")
    ema = tf.train.ExponentialMovingAverage(0.25)
    update = ema.apply([v0, v1, t])
    assert ema.name == "ExponentialMovingAverage"
    assert ema.average(v0).op.name == "v0/ExponentialMovingAverage"
    assert ema.average(t).op.name == "scaled/ExponentialMovingAverage"
    assert ema.average_name(v1) == "v1/ExponentialMovingAverage"
    assert ema.average(tf.constant(1.0)) is None
    assert all(not v.trainable for v in [ema.average(v0), ema.average(v1), ema.average(t)])
    assert set(tf.moving_average_variables()) == {v0, v1}
    assert ema.average(v0) in tf.global_variables() and ema.average(v0) not in tf.trainable_variables()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # a variable's shadow starts at its initial value, a tensor's at zeros
        np.testing.assert_allclose(sess.run(ema.average(v1)), [1.0, 2.0])
        np.testing.assert_allclose(sess.run(ema.average(t)), [0.0, 0.0])
        s0, s1, st = 10.0, np.array([1.0, 2.0]), np.zeros(2)
        for step in range(3):
            sess.run(tf.assign_add(v0, 1.0))
            sess.run(tf.assign(v1, [step + 5.0, -step]))
            sess.run(update)
            x0, x1 = sess.run([v0, v1])
            s0 = 0.25 * s0 + 0.75 * x0
            s1 = 0.25 * s1 + 0.75 * x1
            st = 0.25 * st + 0.75 * 3 * x1
            a0, a1, at = sess.run([ema.average(v0), ema.average(v1), ema.average(t)])
            np.testing.assert_allclose(a0, s0, rtol=1e-6)
            np.testing.assert_allclose(a1, s1, rtol=1e-6)
            np.testing.assert_allclose(at, st, rtol=1e-6)


def test_ema_num_updates_caps_decay():
    v = tf.Variable(0.0, name="v")
    step = tf.Variable(0, trainable=False)
    ema = tf.train.ExponentialMovingAverage(0.99, num_updates=step)
    update = ema.apply()  # default: the trainable variables
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(v, 10.0))
        sess.run(update)
        # decay = min(0.99, (1 + 0) / (10 + 0)) = 0.1
        np.testing.assert_allclose(sess.run(ema.average(v)), 0.1 * 0.0 + 0.9 * 10.0, rtol=1e-6)


def test_ema_zero_debias_of_a_tensor():
    x = tf.placeholder(tf.float32, [2])
    t = tf.identity(x, name="stat")
    ema = tf.train.ExponentialMovingAverage(0.9, zero_debias=True)
    update = ema.apply([t])
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["stat/ExponentialMovingAverage", "stat/ExponentialMovingAverage/biased",
                     "stat/ExponentialMovingAverage/local_step"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        biased = np.zeros(2)
        for k, val in enumerate([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], 1):
            sess.run(update, {x: val})
            biased = 0.9 * biased + 0.1 * np.array(val)
            np.testing.assert_allclose(sess.run(ema.average(t)), biased / (1 - 0.9 ** k), rtol=1e-5)


def test_ema_errors_and_variables_to_restore():
    v = tf.Variable(1.0, name="w")
    other = tf.Variable(2.0, name="other", trainable=False)
    with pytest.raises(TypeError, match="must be half, float, or double"):
        tf.train.ExponentialMovingAverage(0.9).apply([tf.Variable(1, name="i")])
    ema = tf.train.ExponentialMovingAverage(0.9)
    assert ema.average_name(v) == "w/ExponentialMovingAverage"  # before apply: the name it will get
    ema.apply([v, other])
    ema.apply([v])  # applying again reuses the shadow
    assert set(tf.moving_average_variables()) == {v, other}  # every averaged Variable, trainable or not
    restore = ema.variables_to_restore()
    assert restore["w/ExponentialMovingAverage"] is v
    assert restore["other/ExponentialMovingAverage"] is other
    plain = tf.Variable(3.0, name="plain", trainable=False)
    assert ema.variables_to_restore()["plain"] is plain


def test_ema_batch_norm_under_cond_as_in_tutorials():
    # pkmital's libs/batch_norm.py: moments, an EMA of them, tf.cond on phase_train.
    x = tf.placeholder(tf.float32, [None, 2, 2, 3])
    phase_train = tf.placeholder(tf.bool)
    with tf.variable_scope("bn"):
        beta = tf.Variable(tf.constant(0.0, shape=[3]), name="beta")
        gamma = tf.Variable(tf.constant(1.0, shape=[3]), name="gamma")
        batch_mean, batch_var = tf.nn.moments(x, [0, 1, 2], name="moments")
        ema = tf.train.ExponentialMovingAverage(decay=0.9)
        ema_apply_op = ema.apply([batch_mean, batch_var])
        ema_mean, ema_var = ema.average(batch_mean), ema.average(batch_var)

        def mean_var_with_update():
            with tf.control_dependencies([ema_apply_op]):
                return tf.identity(batch_mean), tf.identity(batch_var)
        mean, var = tf.cond(phase_train, mean_var_with_update, lambda: (ema_mean, ema_var))
        normed = tf.nn.batch_norm_with_global_normalization(x, mean, var, beta, gamma, 1e-3, True)
    loss = tf.reduce_sum(tf.square(normed))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    xv = np.random.RandomState(0).randn(4, 2, 2, 3).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, _ = sess.run([normed, train], {x: xv, phase_train: True})
        m, v = xv.mean(axis=(0, 1, 2)), xv.var(axis=(0, 1, 2))
        np.testing.assert_allclose(out, (xv - m) / np.sqrt(v + 1e-3), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sess.run(ema_mean), 0.1 * m, rtol=1e-5, atol=1e-7)
        # ema_apply_op is outside the cond: as in TF ("operations created outside of true_fn and
        # false_fn ... are executed unconditionally") it runs before the If, whichever branch is taken.
        test_out = sess.run(normed, {x: xv, phase_train: False})
        g = sess.run(gamma)
        np.testing.assert_allclose(test_out, (xv - 0.19 * m) / np.sqrt(0.19 * v + 1e-3) * g + sess.run(beta),
                                   rtol=1e-4, atol=1e-5)
        # the If op carries the dependency; the op inside the branch no longer does
        if_op = mean.op
        assert ema_apply_op in if_op.control_inputs


def test_batch_norm_with_global_normalization_arguments():
    x = np.random.RandomState(1).randn(2, 3, 3, 4).astype(np.float32)
    m, v = np.float32([0.1, 0.2, 0.3, 0.4]), np.float32([1.0, 2.0, 0.5, 1.5])
    beta, gamma = np.float32([1, 2, 3, 4]), np.float32([2, 2, 0.5, 0.5])
    scaled = tf.nn.batch_norm_with_global_normalization(x, m, v, beta, gamma, 0.01, True)
    unscaled = tf.nn.batch_norm_with_global_normalization(input=x, mean=m, variance=v, beta=beta, gamma=gamma,
                                                          variance_epsilon=0.01, scale_after_normalization=False)
    with tf.Session() as sess:
        a, b = sess.run([scaled, unscaled])
    np.testing.assert_allclose(a, (x - m) / np.sqrt(v + 0.01) * gamma + beta, rtol=1e-5)
    np.testing.assert_allclose(b, (x - m) / np.sqrt(v + 0.01) + beta, rtol=1e-5)
    with pytest.raises(ValueError, match="Cannot specify both 't' and 'input'"):
        tf.nn.batch_norm_with_global_normalization(x, m, v, beta, gamma, 0.01, True, input=x)
