"""Element-wise fusion: kernel counts are asserted (fusion regressions are silent
otherwise), and results are identical with every pass switched off."""
import numpy as np
import pytest

import nbflow as tf


def _plan(sess, fetches, feed):
    sess.run(fetches, feed)
    return sess.plan_for(fetches, feed)


def _run_all_ways(fetches, feed):
    out = {}
    for disabled in ([], ["fusion"], ["fold"], ["fusion", "fold"]):
        with tf.Session(config=tf.ConfigProto(nbflow_disabled_passes=disabled)) as sess:
            out[tuple(disabled)] = sess.run(fetches, feed)
    return out


def test_forward_chain_is_one_kernel():
    x = tf.placeholder(tf.float32, [None])
    s = tf.placeholder(tf.float32, [])
    b = tf.placeholder(tf.float32, [])
    y = tf.placeholder(tf.float32, [None])
    z = tf.placeholder(tf.float32, [None])
    out = (tf.maximum(x * s + b, 0.0) * y - z) ** 2
    feed = {x: np.linspace(-1, 1, 7), s: 2.0, b: 0.5, y: np.arange(7.0), z: np.ones(7)}
    with tf.Session() as sess:
        plan = _plan(sess, out, feed)
        assert len(plan.steps) == 1 and len(plan.fused_groups) == 1
        assert len(plan.fused_groups[0].ops) == 6
        got = sess.run(out, feed)
    xv = feed[x]
    ref = (np.maximum(xv * 2.0 + 0.5, 0) * feed[y] - feed[z]) ** 2
    np.testing.assert_allclose(got, ref.astype(np.float32), rtol=1e-6)


def test_bias_broadcast_and_multiple_outputs():
    x = tf.placeholder(tf.float64, [None, 4])
    bias = tf.placeholder(tf.float64, [4])
    h = tf.tanh(x + bias)
    a = h * 2.0
    c = h - 1.0
    total = tf.reduce_sum(a) + tf.reduce_sum(c)
    feed = {x: np.random.RandomState(0).randn(3, 4), bias: np.arange(4.0)}
    results = _run_all_ways([h, total], feed)
    ref = results[("fusion", "fold")]
    for r in results.values():
        np.testing.assert_allclose(r[0], ref[0])
        np.testing.assert_allclose(r[1], ref[1])
    with tf.Session() as sess:
        plan = _plan(sess, [h, total], feed)
    (group,) = plan.fused_groups
    # h is fetched, a and c feed reductions: three outputs of one kernel.
    assert len(group.outputs) == 3


def test_gradient_chain_fuses_and_matches_unfused():
    x = tf.placeholder(tf.float64, [5, 3])
    w = tf.placeholder(tf.float64, [3])
    y = tf.reduce_sum(tf.sigmoid(x * w) * tf.exp(-x))
    grads = tf.gradients(y, [x, w])
    feed = {x: np.random.RandomState(1).randn(5, 3), w: np.array([0.5, -1.0, 2.0])}
    results = _run_all_ways(grads, feed)
    ref = results[("fusion", "fold")]
    for r in results.values():
        for a, b in zip(r, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    with tf.Session() as sess:
        plan = _plan(sess, grads, feed)
    with tf.Session(config=tf.ConfigProto(nbflow_disabled_passes=["fusion"])) as sess:
        unfused = _plan(sess, grads, feed)
    assert len(plan.steps) < len(unfused.steps) // 2


def test_convexity_is_kept():
    # a -> (reduce, outside) -> b ; a and b must not be fused across the reduction.
    x = tf.placeholder(tf.float32, [4])
    a = x * 2.0
    m = tf.reduce_sum(a)
    b = a + m  # depends on a directly and through m
    with tf.Session() as sess:
        got = sess.run(b, {x: np.arange(4.0)})
    np.testing.assert_allclose(got, np.arange(4.0) * 2 + 12.0)


def test_unknown_pass_name_is_rejected():
    tf.constant(1.0)
    with pytest.raises(ValueError, match="Unknown optimizer pass"):
        with tf.Session(config=tf.ConfigProto(nbflow_disabled_passes=["nonsense"])) as sess:
            sess.run(tf.constant(2.0))


def test_explain_lists_fused_groups_and_sources():
    x = tf.placeholder(tf.float32, [8])
    y = tf.exp(x) * 2.0 + 1.0
    with tf.Session():
        text = tf.explain(y, {x: np.zeros(8)}, file=False)
    assert "fused[3 ops]" in text and "source:" in text and ".py" in text
