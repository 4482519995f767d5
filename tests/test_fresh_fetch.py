"""Fetched outputs of kernels registered with ``fresh_outputs=True`` are handed out
without a copy (a new array each run); every fetched value stays the caller's:
the next run never writes into it."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends import registry
from nbflow.ops import linalg_ops, nn_softmax_ops



@pytest.mark.parametrize("shape", [[None, 7], [5, 7]])
def test_fetched_softmax_and_matmul_are_new_arrays_that_later_runs_leave_alone(shape):
    x = tf.placeholder(tf.float32, shape)
    w = tf.constant(np.arange(21, dtype=np.float32).reshape(7, 3) / 10)
    sm = tf.nn.softmax(x)
    mm = tf.matmul(x, w)
    both = tf.nn.softmax(mm) * 2.0  # the softmax feeds another op too
    rng = np.random.RandomState(0)
    a, b = rng.randn(5, 7).astype(np.float32), rng.randn(5, 7).astype(np.float32)
    with tf.Session() as sess:
        s1, m1, b1 = sess.run([sm, mm, both], {x: a})
        keep = s1.copy(), m1.copy(), b1.copy()
        s2, m2, b2 = sess.run([sm, mm, both], {x: b})
        assert s1 is not s2 and m1 is not m2
        for old, want in zip((s1, m1, b1), keep):
            np.testing.assert_array_equal(old, want)
        e = np.exp(b - b.max(1, keepdims=True))
        np.testing.assert_allclose(s2, e / e.sum(1, keepdims=True), rtol=1e-6)
        np.testing.assert_allclose(m2, b @ (np.arange(21, dtype=np.float32).reshape(7, 3) / 10), rtol=1e-5)


def test_the_registry_says_which_kernels_make_fresh_outputs():
    assert registry.makes_fresh_outputs(nn_softmax_ops.Softmax, "CPU")
    assert registry.makes_fresh_outputs(linalg_ops.MatMul, "cpu")
    assert not registry.makes_fresh_outputs(tf.identity(tf.constant(1.0)).op.op_def, "CPU")


def test_identity_of_a_fetched_softmax_still_copies():
    # Identity returns its input: its fetch is a copy, the softmax's a new array
    x = tf.placeholder(tf.float32, [2, 3])
    sm = tf.nn.softmax(x)
    ident = tf.identity(sm)
    with tf.Session() as sess:
        a = np.ones((2, 3), np.float32)
        s1, i1 = sess.run([sm, ident], {x: a})
        assert not np.shares_memory(s1, i1)
        sess.run([sm, ident], {x: 2 * a})
        np.testing.assert_allclose(i1, np.full((2, 3), 1 / 3, np.float32), rtol=1e-6)


def test_a_fetched_softmax_is_handed_out_without_a_copy():
    # Softmax takes its buffers from the memory plan (pooled outputs); fetched, it
    # makes a new array instead, and the fetch does not copy it (session 11 still copied)
    x = tf.placeholder(tf.float32, [4, 9])
    sm = tf.nn.softmax(x * 2.0)
    with tf.Session() as sess:
        sess.run(sm, {x: np.zeros((4, 9), np.float32)})
        plan = next(iter(sess._plans.values()))
        assert plan.fetch_is_fresh == [True]
        s1 = sess.run(sm, {x: np.ones((4, 9), np.float32)})
        s2 = sess.run(sm, {x: np.zeros((4, 9), np.float32)})
        np.testing.assert_allclose(s1, np.full((4, 9), 1 / 9, np.float32), rtol=1e-6)  # left alone
        assert not np.shares_memory(s1, s2)


@pytest.mark.parametrize("dtype,shape", [(np.float32, [3, 4]), (np.float64, [None, 4]), (np.int32, [3, 4]),
                                         (np.float16, [3, 4])])
def test_a_fetched_elementwise_op_is_a_new_array_without_a_copy(dtype, shape):
    # a single (unfused) element-wise op fetched: a new array each run, handed out as is
    x = tf.placeholder(tf.as_dtype(dtype), shape)
    y = tf.placeholder(tf.as_dtype(dtype), [4])
    out = x + y
    assert registry.makes_fresh_outputs(out.op.op_def, "CPU")
    a = np.arange(12, dtype=dtype).reshape(3, 4)
    b = np.arange(4, dtype=dtype)
    with tf.Session() as sess:
        first = sess.run(out, {x: a, y: b})
        plan = next(iter(sess._plans.values()))
        assert plan.fetch_is_fresh == [True]
        second = sess.run(out, {x: a * 2, y: b})
        np.testing.assert_array_equal(first, a + b)  # left alone by the second run
        np.testing.assert_array_equal(second, a * 2 + b)
        assert not np.shares_memory(first, second)
