"""tf.group, tf.no_op, tf.tuple."""
import numpy as np

import nbflow as tf


def test_group_runs_everything_and_fetches_none():
    a = tf.Variable(0.0)
    b = tf.Variable(0.0)
    g = tf.group(tf.assign_add(a, 1.0), [tf.assign_add(b, 2.0)], name="both")
    assert g.type == "NoOp" and g.name == "both"
    assert g.outputs == []
    with tf.Session() as sess:
        sess.run([a.initializer, b.initializer])
        assert sess.run(g) is None
        assert sess.run([a, b]) == [1.0, 2.0]


def test_no_op_and_control_dependency_on_it():
    v = tf.Variable(1.0)
    with tf.control_dependencies([tf.assign(v, 5.0)]):
        done = tf.no_op(name="done")
    with tf.control_dependencies([done]):
        read = tf.identity(v)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(read) == 5.0


def test_tuple_gates_on_all_inputs():
    v = tf.Variable(0.0)
    inc = tf.assign_add(v, 1.0)
    x = tf.constant([1.0, 2.0])
    t1, t2 = tf.tuple([x * 2.0, inc])
    with tf.Session() as sess:
        sess.run(v.initializer)
        r1, r2 = sess.run([t1, t2])
    np.testing.assert_array_equal(r1, [2.0, 4.0])
    assert r2 == 1.0
