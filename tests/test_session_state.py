"""tf.Variable and the state a Session keeps: initializers, assignments,
uninitialized reads, independent sessions."""
import numpy as np
import pytest

import nbflow as tf


def test_variable_from_tensor_array_and_callable():
    a = tf.Variable(tf.constant([1.0, 2.0]), name="a")
    b = tf.Variable(np.arange(6, dtype=np.float64).reshape(2, 3), name="b")
    c = tf.Variable(lambda: tf.ones([3], dtype=tf.int32) * 7, name="c")
    d = tf.Variable(5, name="d")
    e = tf.Variable(2.0, dtype=tf.float64, name="e")
    assert (a.name, b.name, c.name, d.name) == ("a:0", "b:0", "c:0", "d:0")
    assert b.dtype == tf.float64 and b.shape.as_list() == [2, 3]
    assert c.dtype == tf.int32 and d.dtype == tf.int32 and e.dtype == tf.float64
    assert a.op.type == "VariableV2" and a.initializer.type == "Assign"
    assert a.initial_value.op.name == "Const"  # a Tensor initial value is used as is
    assert b.initial_value.op.name == "b/initial_value"
    assert c.initial_value.op.name.startswith("c/Initializer/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        av, bv, cv, dv, ev = sess.run([a, b, c, d, e])
    np.testing.assert_array_equal(av, [1.0, 2.0])
    np.testing.assert_array_equal(bv, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(cv, [7, 7, 7])
    assert dv == 5 and ev == 2.0 and ev.dtype == np.float64


def test_variable_names_are_uniquified_and_follow_name_scope():
    v1 = tf.Variable(0.0)
    v2 = tf.Variable(0.0)
    with tf.name_scope("block"):
        v3 = tf.Variable(0.0, name="w")
    assert (v1.name, v2.name, v3.name) == ("Variable:0", "Variable_1:0", "block/w:0")
    assert v3.value().name == "block/w/read:0"


def test_variable_argument_errors():
    with pytest.raises(ValueError, match="initial_value must be specified"):
        tf.Variable()
    with pytest.raises(ValueError, match="collections argument to Variable constructor must be a list"):
        tf.Variable(1.0, collections="mine")
    x = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match="initial_value must have a shape specified"):
        tf.Variable(x)


def test_trainable_and_collections():
    w = tf.Variable(1.0, name="w")
    s = tf.Variable(1.0, name="s", trainable=False)
    loc = tf.Variable(1.0, name="loc", trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    mine = tf.Variable(1.0, name="mine", collections=["mine"])
    assert w.trainable and not s.trainable
    assert tf.global_variables() == [w, s]
    assert tf.trainable_variables() == [w, mine]
    assert tf.local_variables() == [loc]
    assert tf.get_collection("mine") == [mine]
    assert tf.global_variables("w") == [w]  # the scope argument filters by name


def test_global_local_and_list_initializers():
    g = tf.Variable(1.0, name="g")
    loc = tf.Variable(2.0, name="loc", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    other = tf.Variable(3.0, name="other")
    init_g = tf.global_variables_initializer()
    init_l = tf.local_variables_initializer()
    assert init_g.name == "init" and init_l.name == "init_1"
    report = tf.report_uninitialized_variables()
    with tf.Session() as sess:
        assert list(sess.run(report)) == [b"g", b"other", b"loc"]
        sess.run(init_l)
        assert list(sess.run(report)) == [b"g", b"other"]
        sess.run(tf.variables_initializer([other]))
        assert list(sess.run(report)) == [b"g"]
        assert sess.run(tf.is_variable_initialized(g)) == False  # noqa: E712
        sess.run(init_g)
        out = sess.run(report)
        assert out.shape == (0,)
        assert sess.run(tf.is_variable_initialized(g)) == True  # noqa: E712
        assert sess.run([g, loc, other]) == [1.0, 2.0, 3.0]
    # an empty list gives a no-op
    assert tf.variables_initializer([]).type == "NoOp"


def test_initialized_value_chains_in_one_init_run():
    a = tf.Variable(tf.random_normal([3], seed=1), name="a")
    b = tf.Variable(a.initialized_value() * 2.0, name="b")
    c = tf.Variable(lambda: b.initialized_value() + 1.0, name="c")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        av, bv, cv = sess.run([a, b, c])
    np.testing.assert_allclose(bv, av * 2.0)
    np.testing.assert_allclose(cv, av * 2.0 + 1.0)


def test_variable_initialized_from_a_variable():
    a = tf.Variable([1.0, 2.0], name="a")
    b = tf.Variable(a, name="b")  # a Variable as initial value means its initialized value
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(b), [1.0, 2.0])


def test_assign_ops_and_state_persisting_across_runs():
    v = tf.Variable([1.0, 2.0], name="v")
    set_op = tf.assign(v, [10.0, 20.0])
    add = tf.assign_add(v, [1.0, 1.0])
    sub = v.assign_sub([0.5, 0.5])
    method = v.assign(v * 2.0)
    assert set_op.op.type == "Assign" and add.op.type == "AssignAdd" and sub.op.type == "AssignSub"
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(set_op), [10.0, 20.0])
        np.testing.assert_array_equal(sess.run(add), [11.0, 21.0])
        sess.run(add)
        np.testing.assert_array_equal(sess.run(sub), [11.5, 21.5])
        np.testing.assert_array_equal(sess.run(method), [23.0, 43.0])
        np.testing.assert_array_equal(sess.run(v), [23.0, 43.0])
        # fetched values are copies: a later update does not change them
        before = sess.run(v)
        sess.run(add)
        np.testing.assert_array_equal(before, [23.0, 43.0])


def test_assign_checks():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(ValueError):
        tf.assign(v, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="'Assign' Op requires that input 'ref' be a mutable tensor"):
        tf.assign(tf.constant(1.0), 2.0)
    with pytest.raises(TypeError, match="'AssignAdd' Op requires"):
        tf.assign_add(tf.constant(1.0) * 2.0, 2.0)
    with pytest.raises(TypeError, match="does not match"):
        tf.assign(v, tf.constant([1, 2]))  # int32 into float32: no implicit cast


def test_load_and_eval():
    v = tf.Variable(np.zeros((2, 2), np.float32), name="v")
    with tf.Session() as sess:
        v.load(np.eye(2), sess)
        np.testing.assert_array_equal(v.eval(session=sess), np.eye(2))
    with tf.Session() as sess:
        with sess.as_default():
            v.load([[1.0, 2.0], [3.0, 4.0]])
            np.testing.assert_array_equal(v.eval(), [[1.0, 2.0], [3.0, 4.0]])
            with pytest.raises(ValueError, match="Cannot feed value of shape"):
                v.load(np.ones(3))
    with pytest.raises(ValueError, match="default session"):
        v.load(np.eye(2))


def test_uninitialized_read_fails_before_any_kernel_and_names_the_variable():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    c = tf.Variable(3.0, name="c")
    bump_a = tf.assign_add(a, 1.0)
    set_c = tf.assign(c, 30.0)  # Assign does not read c: it may run uninitialized
    with tf.control_dependencies([bump_a, set_c]):
        total = tf.identity(b) + 1.0
    with tf.Session() as sess:
        sess.run(a.initializer)
        with pytest.raises(tf.errors.FailedPreconditionError, match="Attempting to use uninitialized value b") as e:
            sess.run(total)
        assert e.value.op.name == "b"
        # nothing ran: a was not bumped and c not assigned
        assert sess.run(a) == 1.0
        assert list(sess.run(tf.report_uninitialized_variables())) == [b"b", b"c"]
        sess.run(b.initializer)
        assert sess.run(total) == 3.0
        assert sess.run([a, c]) == [2.0, 30.0]


def test_two_sessions_on_one_graph_hold_independent_state():
    v = tf.Variable(0, name="counter")
    inc = tf.assign_add(v, 1)
    s1, s2 = tf.Session(), tf.Session()
    try:
        s1.run(v.initializer)
        for _ in range(3):
            s1.run(inc)
        with pytest.raises(tf.errors.FailedPreconditionError):
            s2.run(v)
        s2.run(v.initializer)
        s2.run(inc)
        assert s1.run(v) == 3 and s2.run(v) == 1
        # re-running the initializer resets the state of that session only
        s1.run(v.initializer)
        assert s1.run(v) == 0 and s2.run(v) == 1
    finally:
        s1.close()
        s2.close()


def test_state_is_gone_with_a_new_session():
    v = tf.Variable(5.0)
    inc = v.assign_add(1.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(inc)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(inc)


def test_variable_operators_and_conversion():
    v = tf.Variable([1.0, 2.0])
    y = v * 3.0 + 1.0
    z = tf.reduce_sum(v)
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(y), [4.0, 7.0])
        assert sess.run(z) == 3.0
        np.testing.assert_array_equal(sess.run(v[1]), 2.0)
    with pytest.raises(ValueError, match="Incompatible type conversion"):
        tf.convert_to_tensor(v, dtype=tf.float64)
    with pytest.raises(TypeError):
        bool(v)


def test_variable_with_validate_shape_false_changes_shape():
    v = tf.Variable([1.0, 2.0], validate_shape=False, name="v")
    grow = tf.assign(v, [1.0, 2.0, 3.0], validate_shape=False)
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(grow)
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0, 3.0])
