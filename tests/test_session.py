"""Session.run: fetch structures, feeds, errors before any kernel runs, plan reuse."""
import collections

import numpy as np
import pytest

import nbflow as tf


def test_fetch_structures():
    a = tf.constant(1.0)
    b = tf.constant([2, 3])
    Pair = collections.namedtuple("Pair", "x y")
    with tf.Session() as sess:
        assert sess.run(a) == 1.0
        assert isinstance(sess.run(a), np.float32)
        np.testing.assert_array_equal(sess.run(b), [2, 3])
        x, y = sess.run([a, b])
        assert x == 1.0 and list(y) == [2, 3]
        t = sess.run((a, b))
        assert isinstance(t, tuple)
        p = sess.run(Pair(a, b))
        assert isinstance(p, Pair) and p.x == 1.0
        d = sess.run({"a": a, "nested": [b, {"again": a}], "tup": (a,)})
        assert d["a"] == 1.0 and list(d["nested"][0]) == [2, 3] and d["nested"][1]["again"] == 1.0
        assert d["tup"] == (1.0,)
        assert sess.run("Const:0") == 1.0
        assert sess.run([a.op]) == [None]
        assert sess.run(a.op) is None
        od = sess.run(collections.OrderedDict([("z", a), ("b", b)]))
        assert list(od) == ["z", "b"] and isinstance(od, collections.OrderedDict)


def test_fetched_arrays_are_copies():
    x = tf.placeholder(tf.float32, [3])
    y = x * 2.0
    with tf.Session() as sess:
        r1 = sess.run(y, {x: [1, 2, 3]})
        r2 = sess.run(y, {x: [4, 5, 6]})
    np.testing.assert_array_equal(r1, [2, 4, 6])
    np.testing.assert_array_equal(r2, [8, 10, 12])


def test_feed_by_name_and_by_tensor():
    x = tf.placeholder(tf.float32, [None], name="x")
    y = x + 1.0
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {"x:0": [1.0]}), [2.0])
        np.testing.assert_array_equal(sess.run(y, {x: np.array([1.0, 2.0])}), [2.0, 3.0])


def test_feeding_a_non_placeholder_tensor():
    a = tf.constant(3.0)
    b = a * 2.0
    c = b + 1.0
    with tf.Session() as sess:
        assert sess.run(c) == 7.0
        assert sess.run(c, {b: 10.0}) == 11.0
        assert sess.run(b, {b: 5.0}) == 5.0


def test_feed_with_nested_tuple_keys():
    # Session.run: "If the key is a nested tuple of Tensors, the value should be a nested tuple with
    # the same structure" (MorvanZhou's 403_RNN_regression feeds an LSTMStateTuple).
    c = tf.placeholder(tf.float32, [None, 2])
    h = tf.placeholder(tf.float32, [None, 2])
    x = tf.placeholder(tf.float32, [])
    state = tf.nn.rnn_cell.LSTMStateTuple(c, h)
    out = c * 2.0 + h + x
    with tf.Session() as sess:
        value = tf.nn.rnn_cell.LSTMStateTuple(np.ones((1, 2)), np.full((1, 2), 3.0))
        np.testing.assert_allclose(sess.run(out, {state: value, x: 1.0}), [[6.0, 6.0]])
        np.testing.assert_allclose(sess.run(out, {(c, (h, x)): (np.zeros((1, 2)), (np.array([[1.0, 2.0]]), 0.5))}),
                                   [[1.5, 2.5]])
        with pytest.raises(ValueError, match="Key had 2 elements, but value had 1 elements"):
            sess.run(out, {state: (np.ones((1, 2)),), x: 1.0})
        with pytest.raises(ValueError, match="is not unique"):
            sess.run(out, {state: value, c: np.ones((1, 2)), x: 1.0})


def test_placeholder_with_default():
    d = tf.placeholder_with_default(tf.constant([1.0, 2.0]), shape=[None])
    y = d * 2.0
    assert d.shape.as_list() == [None]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), [2.0, 4.0])
        np.testing.assert_array_equal(sess.run(y, {d: [5.0, 6.0, 7.0]}), [10.0, 12.0, 14.0])


def test_feed_converts_dtype_and_checks_shape():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.Session() as sess:
        out = sess.run(x + 0.0, {x: np.array([1, 2], dtype=np.float64)})
        assert out.dtype == np.float32
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(3,\) for Tensor 'x:0'"):
            sess.run(x, {x: [1.0, 2.0, 3.0]})
    i = tf.placeholder(tf.int32, [None], name="i")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="'i:0'"):
            sess.run(i, {i: [1.5, 2.0]})
        with pytest.raises(ValueError, match="'i:0'"):
            sess.run(i, {i: ["a", "b"]})


def test_missing_feed_is_invalid_argument_naming_placeholder():
    x = tf.placeholder(tf.float32, [None, 3], name="images")
    y = x * 2.0
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"You must feed a value for placeholder tensor 'images' with dtype float "
                                 r"and shape \[\?,3\]"):
            sess.run(y)


def test_bad_feed_runs_nothing():
    v = tf.Variable(0.0, name="counter")
    x = tf.placeholder(tf.float32, [2], name="x")
    inc = tf.assign_add(v, 1.0)
    with tf.control_dependencies([inc]):
        y = x * 2.0
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(ValueError):
            sess.run(y, {x: [1.0, 2.0, 3.0]})
        other = tf.placeholder(tf.float32, name="other")
        z = y + other
        with pytest.raises(tf.errors.InvalidArgumentError):
            sess.run(z, {x: [1.0, 2.0]})  # "other" missing
        assert sess.run(v) == 0.0
        sess.run(y, {x: [1.0, 2.0]})
        assert sess.run(v) == 1.0


def test_uninitialized_variable_is_failed_precondition_before_any_kernel():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    bump = tf.assign_add(a, 1.0)
    with tf.control_dependencies([bump]):
        total = tf.identity(b) + 1.0
    with tf.Session() as sess:
        sess.run(a.initializer)
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value b"):
            sess.run(total)
        assert sess.run(a) == 1.0  # the assign_add did not run
        assert isinstance(tf.errors.FailedPreconditionError(None, None, "m"), tf.errors.OpError)


def test_fetch_from_another_graph_is_rejected():
    g = tf.Graph()
    with g.as_default():
        other = tf.constant(1.0)
    tf.constant(2.0)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="not an element of this graph"):
            sess.run(other)


def test_bad_fetches():
    tf.constant(1.0)
    with tf.Session() as sess:
        with pytest.raises(TypeError):
            sess.run(None)
        with pytest.raises(TypeError):
            sess.run(3)
        with pytest.raises(ValueError, match="cannot be interpreted as a Tensor"):
            sess.run("missing:0")  # TF 1.15: ValueError (a KeyError before nbflow followed it)


def test_plans_are_cached_per_feed_shape():
    x = tf.placeholder(tf.float32, [None])
    y = x * 2.0
    with tf.Session() as sess:
        sess.run(y, {x: [1.0]})
        sess.run(y, {x: [2.0]})
        assert len(sess._plans) == 1
        np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [2.0, 4.0])
        assert len(sess._plans) == 2


def test_each_op_runs_once_per_run():
    v = tf.Variable(0.0)
    inc = tf.assign_add(v, 1.0)
    a = inc * 1.0
    b = inc * 2.0
    with tf.Session() as sess:
        sess.run(v.initializer)
        ra, rb = sess.run([a, b])
        assert (ra, rb) == (1.0, 2.0)


def test_eval_and_run_with_default_session():
    a = tf.constant(2.0)
    v = tf.Variable(3.0)
    with tf.Session():
        v.initializer.run()
        assert a.eval() == 2.0
        assert v.eval() == 3.0
    with pytest.raises(ValueError, match="No default session"):
        a.eval()
    sess = tf.Session()
    with sess.as_default():
        assert (a * 2.0).eval() == 4.0
    assert a.eval(session=sess) == 2.0


def test_interactive_session_is_default():
    a = tf.constant(5.0)
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        assert a.eval() == 5.0
    finally:
        sess.close()
    assert tf.get_default_session() is not sess


def test_session_with_explicit_graph_and_config():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(4.0)
    config = tf.ConfigProto(allow_soft_placement=True, log_device_placement=False)
    with tf.Session(graph=g, config=config) as sess:
        assert sess.graph is g
        assert sess.run(c) == 4.0
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(c)


def test_run_options_and_metadata_are_accepted():
    c = tf.constant(1.0)
    with tf.Session() as sess:
        md = tf.RunMetadata()
        assert sess.run(c, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md) == 1.0


def test_runtime_error_names_the_op():
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.placeholder(tf.float32, [None, 2])
    y = tf.matmul(x, w, name="bad_matmul")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="bad_matmul"):
            sess.run(y, {x: np.ones((2, 3)), w: np.ones((4, 2))})


def test_state_persists_and_sessions_are_independent():
    v = tf.Variable(10.0)
    inc = v.assign_add(5.0)
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(inc)
    s1.run(inc)
    assert s1.run(v) == 20.0
    assert s2.run(v) == 10.0


def test_make_callable():
    x = tf.placeholder(tf.float32, [])
    y = x * 3.0
    with tf.Session() as sess:
        f = sess.make_callable(y, [x])
        assert f(2.0) == 6.0


def test_plans_survive_graph_growth_but_not_changes_to_their_ops():
    x = tf.placeholder(tf.float32, [2])
    y = x * 2.0
    feed = {x: [1.0, 2.0]}
    with tf.Session() as sess:
        sess.run(y, feed)
        plans = len(sess._plans)
        for i in range(5):  # a loop that builds ops each iteration (as GAN tutorials do)
            tf.random_uniform([2], name="noise_%d" % i)
            np.testing.assert_array_equal(sess.run(y, feed), [2.0, 4.0])
        assert len(sess._plans) == plans  # the plan of y was reused every time
        v = tf.Variable([0.0, 0.0])
        sess.run(v.initializer)
        bump = tf.assign_add(v, [1.0, 1.0])
        y.op._add_control_input(bump.op)  # an existing op changes: its plan is rebuilt
        sess.run(y, feed)
        np.testing.assert_array_equal(sess.run(v), [1.0, 1.0])


def test_one_session_run_from_many_threads_returns_each_threads_own_results():
    import threading

    # Fetch sets whose plans reuse buffers: a MatMul output, a fused group with a
    # reduction (memory planner on), and a training step on a variable.
    x = tf.placeholder(tf.float32, [96, 96])
    y = tf.matmul(x, x)
    z = tf.nn.relu(x * 3.0 - 1.0) + tf.reduce_sum(x, axis=0)
    v = tf.Variable(tf.zeros([96]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, tf.reshape(v, [96, 1]))))
    train = tf.train.GradientDescentOptimizer(1e-4).minimize(loss)
    errors_seen = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())

        def work(seed):
            rng = np.random.default_rng(seed)
            for i in range(90):
                a = rng.standard_normal((96, 96)).astype(np.float32)
                if i % 3 == 0:
                    out, want = sess.run(y, {x: a}), a @ a
                elif i % 3 == 1:
                    out, want = sess.run(z, {x: a}), np.maximum(a * 3.0 - 1.0, 0) + a.sum(axis=0)
                else:
                    _, out = sess.run([train, x], {x: a})  # a fed value fetched back, next to a training step
                    want = a
                if not np.allclose(out, want, rtol=1e-4, atol=1e-3):
                    errors_seen.append(float(np.abs(out - want).max()))
        threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert np.all(np.isfinite(sess.run(v)))
    assert not errors_seen, "%d wrong results, max error %g" % (len(errors_seen), max(errors_seen))


INT_DTYPES = [tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=[d.name for d in INT_DTYPES])
def test_integer_feeds_that_do_not_fit_are_rejected_not_wrapped(dtype):
    info = np.iinfo(dtype.as_numpy_dtype)
    x = tf.placeholder(dtype, [None])
    y = tf.identity(x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [info.min, info.max]}), [info.min, info.max])
        for bad in ([info.min - 1], [info.max + 1], np.array([info.max], np.float64) * 4, [2 ** 70]):
            with pytest.raises(ValueError, match="out of range for %s" % dtype.name):
                sess.run(y, {x: bad})
        with pytest.raises(ValueError, match="non-integral"):
            sess.run(y, {x: [1.5]})


def test_float_feeds_that_overflow_or_are_complex_are_rejected():
    x = tf.placeholder(tf.float32, [None])
    y = tf.identity(x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1.0, np.inf, 3e38]}), np.float32([1.0, np.inf, 3e38]))
        with pytest.raises(ValueError, match="out of range for float32"):
            sess.run(y, {x: [1e39]})
        with pytest.raises(ValueError, match="complex values"):
            sess.run(y, {x: [1 + 2j]})
        np.testing.assert_array_equal(sess.run(y, {x: np.array([2 + 0j])}), [2.0])


def test_out_of_memory_is_resource_exhausted_and_names_the_op():
    n = tf.placeholder(tf.int32, [])
    big = tf.fill(tf.stack([n, n]), 1.0, name="huge_fill") * 2.0
    with tf.Session() as sess:
        with pytest.raises(tf.errors.ResourceExhaustedError, match="huge_fill|OOM"):
            sess.run(big, {n: 2 ** 30})
