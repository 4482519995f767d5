"""tf.nn.dynamic_rnn: one While op over the cell; checked against static_rnn and finite differences."""
import numpy as np

import nbflow as tf


def test_dynamic_rnn_matches_static_rnn_values_and_gradients():
    rng = np.random.RandomState(1)
    x = tf.placeholder(tf.float64, [None, 5, 3])
    lengths = tf.placeholder(tf.int32, [None])
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float64)
    assert out.shape.as_list() == [None, 5, 4] and out.op.graph is x.graph
    assert [v.op.name for v in tf.trainable_variables()] == ["rnn/basic_lstm_cell/kernel", "rnn/basic_lstm_cell/bias"]
    outs_s, state_s = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), sequence_length=lengths, dtype=tf.float64)
    loss = tf.reduce_sum(out * out) + tf.reduce_sum(state.c * state.h)
    loss_s = tf.reduce_sum(tf.stack(outs_s, 1) ** 2) + tf.reduce_sum(state_s.c * state_s.h)
    xs = tf.trainable_variables() + [x]
    g, g_s = tf.gradients(loss, xs), tf.gradients(loss_s, xs)
    feed = {x: rng.randn(3, 5, 3), lengths: [5, 2, 0]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a = sess.run([out, state, loss] + g, feed)
        b = sess.run([tf.stack(outs_s, 1), state_s, loss_s] + g_s, feed)
    np.testing.assert_allclose(a[0], b[0], atol=1e-12)
    np.testing.assert_allclose(a[1].h, b[1].h, atol=1e-12)
    assert np.all(a[0][2] == 0) and np.all(a[0][1, 2:] == 0)
    for u, v in zip(a[2:], b[2:]):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)


def test_dynamic_rnn_time_major_gradient_check_and_initial_state():
    x = tf.placeholder(tf.float64, [4, 2, 3])
    cell = tf.nn.rnn_cell.GRUCell(3)
    h0 = tf.placeholder(tf.float64, [2, 3])
    out, h = tf.nn.dynamic_rnn(cell, x, initial_state=h0, time_major=True)
    assert out.shape.as_list() == [4, 2, 3]
    rng = np.random.RandomState(2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        err_x = tf.test.compute_gradient_error(x, [4, 2, 3], out, [4, 2, 3], x_init_value=rng.randn(4, 2, 3),
                                               extra_feed_dict={h0: rng.randn(2, 3)})
        err_h = tf.test.compute_gradient_error(h0, [2, 3], h, [2, 3], x_init_value=rng.randn(2, 3),
                                               extra_feed_dict={x: rng.randn(4, 2, 3)})
    assert err_x < 1e-6 and err_h < 1e-6


def test_old_rnn_names():
    from nbflow.ops import rnn

    assert tf.contrib.rnn.rnn is tf.nn.static_rnn and rnn.rnn is tf.nn.static_rnn
    assert rnn.dynamic_rnn is tf.nn.dynamic_rnn
