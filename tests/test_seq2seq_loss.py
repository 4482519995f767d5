"""tf.contrib.seq2seq.sequence_loss (hunkim's lab-12 RNN programs)."""
import numpy as np
import pytest

import nbflow as tf


def _xent(logits, targets):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, targets[..., None], -1)[..., 0]


def test_sequence_loss_reductions_match_numpy():
    rng = np.random.RandomState(0)
    logits = rng.randn(3, 4, 5).astype(np.float32)
    targets = rng.randint(0, 5, size=(3, 4)).astype(np.int32)
    weights = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [2, 1, 1, 1]], np.float32)
    lg = tf.placeholder(tf.float32, [None, None, 5])
    tg = tf.placeholder(tf.int32, [None, None])
    w = tf.placeholder(tf.float32, [None, None])
    ce = _xent(logits.astype(np.float64), targets) * weights
    cases = {
        "both": (dict(), ce.sum() / weights.sum()),
        "per_step": (dict(average_across_timesteps=False), ce.sum(0) / weights.sum(0)),
        "per_example": (dict(average_across_batch=False), ce.sum(1) / weights.sum(1)),
        "none": (dict(average_across_timesteps=False, average_across_batch=False), ce),
        "sum_both": (dict(average_across_timesteps=False, average_across_batch=False, sum_over_timesteps=True,
                          sum_over_batch=True), ce.sum() / np.count_nonzero(weights)),
        "sum_steps": (dict(average_across_timesteps=False, sum_over_timesteps=True, average_across_batch=False),
                      ce.sum(1) / np.count_nonzero(weights, axis=1)),
    }
    losses = {k: tf.contrib.seq2seq.sequence_loss(lg, tg, w, **kw) for k, (kw, _) in cases.items()}
    (grad,) = tf.gradients(losses["both"], lg)
    with tf.Session() as sess:
        got, g = sess.run([losses, grad], {lg: logits, tg: targets, w: weights})
    for k, (_, want) in cases.items():
        np.testing.assert_allclose(got[k], want, rtol=1e-5, err_msg=k)
    sm = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want_g = (sm - np.eye(5)[targets]) * weights[..., None] / weights.sum()
    np.testing.assert_allclose(g, want_g, rtol=1e-4, atol=1e-6)


def test_sequence_loss_as_in_hello_rnn():
    # lab-12-1: outputs of a dynamic_rnn reshaped to [batch, steps, classes], weights of ones.
    x = tf.placeholder(tf.float32, [None, 6, 5])
    y = tf.placeholder(tf.int32, [None, 6])
    cell = tf.contrib.rnn.BasicLSTMCell(num_units=5, state_is_tuple=True)
    outputs, _ = tf.nn.dynamic_rnn(cell, x, initial_state=cell.zero_state(1, tf.float32), dtype=tf.float32)
    outputs = tf.reshape(tf.contrib.layers.fully_connected(tf.reshape(outputs, [-1, 5]), 5, activation_fn=None),
                         [1, 6, 5])
    loss = tf.reduce_mean(tf.contrib.seq2seq.sequence_loss(logits=outputs, targets=y, weights=tf.ones([1, 6])))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    xs = np.eye(5, dtype=np.float32)[[[0, 1, 0, 2, 3, 3]]]
    ys = [[1, 0, 2, 3, 3, 4]]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(50):
            sess.run(train, {x: xs, y: ys})
        assert sess.run(loss, {x: xs, y: ys}) < first / 4


def test_sequence_loss_errors_and_unavailable_names():
    with pytest.raises(ValueError, match=r"Logits must be a \[batch_size x sequence_length x logits_size\]"):
        tf.contrib.seq2seq.sequence_loss(tf.zeros([2, 3]), tf.zeros([2, 3], tf.int32), tf.ones([2, 3]))
    with pytest.raises(ValueError, match="average_across_timesteps and sum_over_timesteps"):
        tf.contrib.seq2seq.sequence_loss(tf.zeros([2, 3, 4]), tf.zeros([2, 3], tf.int32), tf.ones([2, 3]),
                                         sum_over_timesteps=True)
    with pytest.raises(NotImplementedError, match="tf.contrib.seq2seq.BasicDecoder is not implemented"):
        tf.contrib.seq2seq.BasicDecoder
