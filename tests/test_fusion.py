"""Element-wise fusion: kernel counts are asserted (fusion regressions are silent
otherwise), and results are identical with every pass switched off."""
import numpy as np
import pytest

import nbflow as tf


@pytest.fixture(autouse=True)
def all_passes_on(monkeypatch):
    """These tests count kernels: run them with every pass on, whatever the environment says."""
    monkeypatch.delenv("NBFLOW_DISABLE_PASSES", raising=False)


def _plan(sess, fetches, feed):
    sess.run(fetches, feed)
    return sess.plan_for(fetches, feed)


def _run_all_ways(fetches, feed):
    out = {}
    for disabled in ([], ["fusion"], ["fold"], ["cse"], ["identity"], ["fusion", "fold", "cse", "identity"]):
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
    ref = results[("fusion", "fold", "cse", "identity")]
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
    ref = results[("fusion", "fold", "cse", "identity")]
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


def test_common_subexpressions_run_once():
    x = tf.placeholder(tf.float32, [4])
    a = tf.exp(x)
    b = tf.exp(x)  # same op type, same input: computed once
    c = tf.identity(a)  # forwarded: no step
    out = tf.reduce_sum(c) + tf.reduce_sum(b)
    feed = {x: np.arange(4.0)}
    results = _run_all_ways(out, feed)
    for r in results.values():
        np.testing.assert_allclose(r, 2 * np.exp(np.arange(4.0)).sum(), rtol=1e-6)
    config = tf.ConfigProto(nbflow_disabled_passes=["fusion"])
    with tf.Session(config=config) as sess:
        plan = sess.plan_for(out, feed)
    ran = [op.type for op in plan.step_ops]
    assert ran.count("Exp") == 1 and "Identity" not in ran
    assert ran.count("Sum") == 1  # the two reductions became one too


def test_cse_keeps_stateful_ops_apart():
    v = tf.Variable(0.0)
    inc1 = tf.assign_add(v, 1.0)
    inc2 = tf.assign_add(v, 1.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run([inc1, inc2])
        assert sess.run(v) == 2.0
    if hasattr(tf, "random_uniform"):
        r1, r2 = tf.random_uniform([50]), tf.random_uniform([50])  # same inputs, different draws
        with tf.Session() as sess:
            a, b = sess.run([r1, r2])
        assert not np.array_equal(a, b)


def test_memory_planner_reuses_dead_buffers():
    x = tf.placeholder(tf.float32, [1000])
    y = x
    for _ in range(10):
        y = tf.exp(-tf.abs(y))  # 20 unfused element-wise steps
    config = tf.ConfigProto(nbflow_disabled_passes=["fusion"])
    feed = {x: np.linspace(-1, 1, 1000)}
    with tf.Session(config=config) as sess:
        got = sess.run(y, feed)
        plan = sess.plan_for(y, feed)
    # a chain needs two live buffers at a time (input and output of a step)
    assert plan.memory.bytes_allocated <= 3 * 4000
    assert plan.memory.bytes_reused >= 15 * 4000
    ref = np.linspace(-1, 1, 1000).astype(np.float32)
    for _ in range(10):
        ref = np.exp(-np.abs(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    no_memory = tf.ConfigProto(nbflow_disabled_passes=["fusion", "memory"])
    with tf.Session(config=no_memory) as sess:
        np.testing.assert_array_equal(sess.run(y, feed), got)


def test_memory_planner_keeps_fetched_and_aliased_values():
    x = tf.placeholder(tf.float32, [4, 4])
    a = tf.exp(x)
    view = tf.reshape(a, [16])  # may alias a's buffer
    b = tf.exp(-x)
    c = tf.exp(b)
    d = view * 2.0
    config = tf.ConfigProto(nbflow_disabled_passes=["fusion"])
    feed = {x: np.arange(16.0).reshape(4, 4) / 16}
    with tf.Session(config=config) as sess:
        va, vc, vd = sess.run([a, c, d], feed)
    xv = feed[x].astype(np.float32)
    np.testing.assert_allclose(va, np.exp(xv), rtol=1e-6)
    np.testing.assert_allclose(vc, np.exp(np.exp(-xv)), rtol=1e-6)
    np.testing.assert_allclose(vd, 2 * np.exp(xv).reshape(16), rtol=1e-6)


def test_loss_reduction_fuses_into_the_chain():
    p = tf.placeholder(tf.float32, [None, 5])
    t = tf.placeholder(tf.float32, [None, 5])
    loss = tf.reduce_mean(tf.square(p - t))
    total = tf.reduce_sum((p - t) * 2.0, axis=[0, 1], keepdims=True)
    feed = {p: np.random.RandomState(0).randn(7, 5), t: np.ones((7, 5))}
    results = _run_all_ways([loss, total], feed)
    diff = (feed[p] - 1.0).astype(np.float32)
    for r in results.values():
        np.testing.assert_allclose(r[0], np.mean(diff ** 2), rtol=1e-5)
        np.testing.assert_allclose(r[1], np.sum(diff * 2).reshape(1, 1), rtol=1e-5)
        assert np.shape(r[1]) == (1, 1)
    with tf.Session() as sess:
        plan = _plan(sess, [loss, total], feed)
    assert len(plan.steps) == 1  # sub, square, mul, both reductions: one loop
    (group,) = plan.fused_groups
    assert {op.type for op in group.reductions} == {"Mean", "Sum"}


def test_row_reductions_are_not_fused_as_full_ones():
    x = tf.placeholder(tf.float64, [3, 4])
    rows = tf.reduce_sum(tf.exp(x), axis=1)
    feed = {x: np.arange(12.0).reshape(3, 4) / 10}
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(rows, feed), np.exp(feed[x]).sum(axis=1))
