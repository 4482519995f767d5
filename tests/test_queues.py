"""tf.FIFOQueue: enqueue(_many), dequeue(_many), size, close, and a feeding thread."""
import threading

import numpy as np
import pytest

import nbflow as tf


def test_fifo_order_size_and_close():
    q = tf.FIFOQueue(10, [tf.float32, tf.int32], shapes=[[2], []])
    x = tf.placeholder(tf.float32, [2])
    i = tf.placeholder(tf.int32, [])
    enq = q.enqueue([x, i])
    vec, idx = q.dequeue()
    assert vec.shape.as_list() == [2] and idx.dtype is tf.int32
    with tf.Session() as sess:
        for k in range(3):
            sess.run(enq, {x: [k, k + 0.5], i: k})
        assert sess.run(q.size()) == 3
        got = [sess.run([vec, idx]) for _ in range(3)]
        assert [int(g[1]) for g in got] == [0, 1, 2]
        np.testing.assert_array_equal(got[2][0], [2.0, 2.5])
        sess.run(q.close())
        with pytest.raises(tf.errors.OutOfRangeError, match="closed"):
            sess.run(idx)
        with pytest.raises(tf.errors.CancelledError):
            sess.run(enq, {x: [0, 0], i: 0})


def test_enqueue_many_and_dequeue_many_feed_a_training_loop():
    data = np.arange(24, dtype=np.float32).reshape(12, 2)
    labels = np.arange(12, dtype=np.int64)
    q = tf.FIFOQueue(100, [tf.float32, tf.int64], shapes=[[2], []])
    enq = q.enqueue_many([tf.constant(data), tf.constant(labels)])
    xb, yb = q.dequeue_many(4)
    assert xb.shape.as_list() == [4, 2]
    w = tf.Variable(tf.zeros([2, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(xb, w) - tf.cast(tf.reshape(yb, [-1, 1]), tf.float32)))
    (g,) = tf.gradients(loss, [w])
    step = tf.assign_sub(w, 0.001 * g)
    with tf.Session() as sess:
        sess.run(w.initializer)
        sess.run(enq)
        seen = []
        for _ in range(3):
            _, ys = sess.run([step, yb])
            seen.extend(ys.tolist())
        assert seen == list(range(12))
        assert sess.run(q.size()) == 0


def test_dequeue_waits_for_another_thread():
    q = tf.FIFOQueue(2, tf.float32, shapes=[[]])
    v = tf.placeholder(tf.float32, [])
    enq = q.enqueue(v)
    deq = q.dequeue()
    with tf.Session() as sess:
        def producer():
            for k in range(5):
                sess.run(enq, {v: float(k)})  # blocks while the queue is full
            sess.run(q.close())

        t = threading.Thread(target=producer)
        t.start()
        got = []
        while True:
            try:
                got.append(float(sess.run(deq)))
            except tf.errors.OutOfRangeError:
                break
        t.join(timeout=10)
    assert got == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_named_components():
    q = tf.FIFOQueue(5, [tf.int32, tf.float32], names=["a", "b"], shapes=[[], []])
    enq = q.enqueue({"a": 3, "b": 1.5})
    out = q.dequeue()
    with tf.Session() as sess:
        sess.run(enq)
        got = sess.run(out)
    assert got == {"a": 3, "b": 1.5}


def test_cancel_fails_a_blocked_enqueue():
    q = tf.FIFOQueue(1, tf.float32, shapes=[[]])
    enq = q.enqueue(1.0)
    cancel = q.close(cancel_pending_enqueues=True)
    errors = []
    with tf.Session() as sess:
        sess.run(enq)

        def blocked():
            try:
                sess.run(enq)
            except tf.errors.CancelledError as e:
                errors.append(e)
        t = threading.Thread(target=blocked)
        t.start()
        t.join(0.2)
        assert t.is_alive()  # waiting for room
        sess.run(cancel)
        t.join(5)
    assert not t.is_alive() and len(errors) == 1 and "cancelled" in str(errors[0])

