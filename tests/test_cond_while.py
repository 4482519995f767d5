"""tf.cond, tf.case and tf.while_loop: values, only-the-taken-branch semantics, gradients, errors."""
import collections

import numpy as np
import pytest

import nbflow as tf


def grad_error(x, x_value, y, extra=None):
    with tf.Session():
        return tf.test.compute_gradient_error(x, list(x_value.shape), y, y.shape.as_list(),
                                              x_init_value=x_value, extra_feed_dict=extra)


# -- cond -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_cond_picks_branch_by_fed_predicate(dtype):
    x = tf.placeholder(dtype, [None])
    y = tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0 + 1.0, lambda: tf.square(x))
    assert y.dtype is dtype and y.shape.as_list() == [None]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0]}), [3.0, 5.0])
        np.testing.assert_allclose(sess.run(y, {x: [-1.0, -2.0]}), [1.0, 4.0])
        assert sess.run(y, {x: np.zeros(0)}).shape == (0,)


def test_cond_runs_only_the_taken_branch():
    v = tf.Variable(0.0)
    p = tf.placeholder(tf.bool, [])
    out = tf.cond(p, lambda: tf.assign_add(v, 1.0), lambda: tf.assign_add(v, 10.0))
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(out, {p: True})
        sess.run(out, {p: True})
        assert sess.run(v) == 2.0
        sess.run(out, {p: False})
        assert sess.run(v) == 12.0


def test_cond_nested_structures_and_strict():
    p = tf.placeholder(tf.bool, [])
    Pair = collections.namedtuple("Pair", "a b")
    r = tf.cond(p, lambda: Pair(tf.constant(1), [tf.constant(2.0)]),
                lambda: Pair(tf.constant(3), [tf.constant(4.0)]))
    assert isinstance(r, Pair) and isinstance(r.b, list)
    single = tf.cond(p, lambda: [tf.constant(1.0)], lambda: [tf.constant(2.0)])
    assert isinstance(single, tf.Tensor)
    strict = tf.cond(p, lambda: [tf.constant(1.0)], lambda: [tf.constant(2.0)], strict=True)
    assert isinstance(strict, list)
    with tf.Session() as sess:
        got = sess.run(r, {p: False})
        assert got.a == 3 and got.b == [4.0]
        assert sess.run(single, {p: True}) == 1.0


def test_cond_output_shape_is_most_specific_compatible():
    p = tf.placeholder(tf.bool, [])
    r = tf.cond(p, lambda: tf.zeros([2, 3]), lambda: tf.zeros([2, 4]))
    assert r.shape.as_list() == [2, None]
    with tf.Session() as sess:
        assert sess.run(r, {p: False}).shape == (2, 4)


def test_cond_errors():
    p = tf.placeholder(tf.bool, [])
    with pytest.raises(TypeError, match="Python bool"):
        tf.cond(True, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="callable"):
        tf.cond(p, 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="same type"):
        tf.cond(p, lambda: tf.constant(1), lambda: tf.constant(1.0))
    with pytest.raises(ValueError, match="same structure"):
        tf.cond(p, lambda: (tf.constant(1.0), tf.constant(2.0)), lambda: tf.constant(1.0))
    with pytest.raises(TypeError, match="bool"):
        tf.cond(tf.constant(1.0), lambda: 1.0, lambda: 2.0)


def test_cond_gradient_matches_finite_differences():
    x = tf.placeholder(tf.float64, [3])
    w = tf.constant([0.5, -1.0, 2.0], tf.float64)
    pick = tf.placeholder(tf.bool, [])
    y = tf.cond(pick, lambda: tf.sin(x) * w, lambda: x * x * x)
    xv = np.array([0.3, -0.7, 1.1])
    for p in (True, False):
        assert grad_error(x, xv, y, {pick: p}) < 1e-6
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: xv, pick: True}), np.cos(xv) * [0.5, -1.0, 2.0])
        np.testing.assert_allclose(sess.run(g, {x: xv, pick: False}), 3 * xv ** 2)


def test_cond_gradient_flows_to_variables_through_optimizer():
    w = tf.Variable(3.0)
    p = tf.placeholder(tf.bool, [])
    loss = tf.cond(p, lambda: tf.square(w - 1.0), lambda: tf.square(w + 1.0))
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss)
    with tf.Session() as sess:
        sess.run(w.initializer)
        for _ in range(30):
            sess.run(train, {p: True})
        assert abs(sess.run(w) - 1.0) < 1e-3
        for _ in range(30):
            sess.run(train, {p: False})
        assert abs(sess.run(w) + 1.0) < 1e-3


def test_cond_with_dropout_gradient_replays_the_mask():
    x = tf.placeholder(tf.float64, [50])
    p = tf.placeholder(tf.bool, [])
    y = tf.cond(p, lambda: tf.nn.dropout(x, keep_prob=0.5, seed=3), lambda: x)
    (g,) = tf.gradients(tf.reduce_sum(y * 1.0), x)
    with tf.Session() as sess:
        yv, gv = sess.run([y, g], {x: np.ones(50), p: True})
    np.testing.assert_allclose(gv, yv)  # d(sum of dropout(x))/dx is the mask scaled, i.e. y at x=1


def test_nested_cond_and_cond_inside_while_body_capture_outer_tensors():
    x = tf.placeholder(tf.float32, [])
    a = tf.constant(10.0)
    r = tf.cond(x > 0, lambda: tf.cond(x > 5, lambda: a, lambda: x + a), lambda: -a)
    with tf.Session() as sess:
        assert sess.run(r, {x: 7.0}) == 10.0
        assert sess.run(r, {x: 1.0}) == 11.0
        assert sess.run(r, {x: -1.0}) == -10.0


def test_case_first_true_predicate_wins_and_default():
    x = tf.placeholder(tf.int32, [])
    r = tf.case([(x < 0, lambda: tf.constant(-1)), (x < 10, lambda: tf.constant(1))],
                default=lambda: tf.constant(100))
    with tf.Session() as sess:
        assert [sess.run(r, {x: v}) for v in (-5, 5, 50)] == [-1, 1, 100]


def test_case_exclusive_raises_when_two_predicates_hold():
    x = tf.placeholder(tf.int32, [])
    r = tf.case([(x < 10, lambda: tf.constant(1)), (x < 20, lambda: tf.constant(2))],
                default=lambda: tf.constant(0), exclusive=True)
    with tf.Session() as sess:
        assert sess.run(r, {x: 15}) == 2
        with pytest.raises(tf.errors.InvalidArgumentError, match="exclusive"):
            sess.run(r, {x: 5})


def test_assert_op():
    x = tf.placeholder(tf.float32, [])
    check = tf.Assert(x > 0, ["x must be positive, got", x])
    with tf.Session() as sess:
        sess.run(check, {x: 1.0})
        with pytest.raises(tf.errors.InvalidArgumentError, match="x must be positive"):
            sess.run(check, {x: -2.0})


# -- while_loop ----------------------------------------------------------------

def test_while_loop_counts_and_sums():
    i0 = tf.constant(0)
    total0 = tf.constant(0.0)
    i, total = tf.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s + tf.cast(i, tf.float32)),
                             [i0, total0])
    assert i.op.type == "While" and i.op.name == "while"
    with tf.Session() as sess:
        assert sess.run([i, total]) == [10, 45.0]


def test_while_loop_single_var_fed_limit_and_zero_iterations():
    n = tf.placeholder(tf.int32, [])
    r = tf.while_loop(lambda k: k < n, lambda k: k + 3, [tf.constant(0)])
    assert isinstance(r, tf.Tensor)
    with tf.Session() as sess:
        assert sess.run(r, {n: 10}) == 12
        assert sess.run(r, {n: -1}) == 0


def test_while_loop_maximum_iterations():
    r = tf.while_loop(lambda k: k < 1000, lambda k: k + 1, [tf.constant(0)], maximum_iterations=7)
    m = tf.placeholder(tf.int32, [])
    r2 = tf.while_loop(lambda k: tf.constant(True), lambda k: k * 2, [tf.constant(1)], maximum_iterations=m)
    with tf.Session() as sess:
        assert sess.run(r) == 7
        assert sess.run(r2, {m: 5}) == 32
        assert sess.run(r2, {m: 0}) == 1


def test_while_loop_shape_invariants():
    x0 = tf.zeros([1, 2])
    i0 = tf.constant(0)
    with pytest.raises(ValueError, match="shape_invariants"):
        tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.concat([x, x], 0)), [i0, x0])
    i, x = tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.concat([x, x], 0)), [i0, x0],
                         shape_invariants=[i0.shape, tf.TensorShape([None, 2])])
    assert x.shape.as_list() == [None, 2]
    with tf.Session() as sess:
        assert sess.run(x).shape == (8, 2)


def test_while_loop_nested_structure_and_namedtuple():
    State = collections.namedtuple("State", "c h")
    init = (tf.constant(0), State(tf.constant(1.0), tf.constant(2.0)))
    out = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, State(s.c * 2.0, s.h + s.c)), init)
    assert isinstance(out[1], State)
    with tf.Session() as sess:
        i, s = sess.run(out)
    assert i == 3 and s.c == 8.0 and s.h == 9.0


def test_nested_while_loops():
    def outer_body(i, acc):
        j, inner = tf.while_loop(lambda j, a: j < i, lambda j, a: (j + 1, a + 1.0), [tf.constant(0), acc])
        return i + 1, inner
    i, acc = tf.while_loop(lambda i, a: i < 5, outer_body, [tf.constant(0), tf.constant(0.0)])
    with tf.Session() as sess:
        assert sess.run(acc) == 0 + 1 + 2 + 3 + 4


def test_while_body_reads_variables_and_fed_tensors_each_run():
    w = tf.Variable(2.0)
    x = tf.placeholder(tf.float32, [])
    r = tf.while_loop(lambda k, y: k < 3, lambda k, y: (k + 1, y * w + x), [tf.constant(0), tf.constant(1.0)])
    with tf.Session() as sess:
        sess.run(w.initializer)
        assert sess.run(r[1], {x: 0.0}) == 8.0
        sess.run(tf.assign(w, 3.0))
        assert sess.run(r[1], {x: 1.0}) == 40.0  # ((1*3+1)*3+1)*3+1


def test_variables_created_in_a_while_body_live_outside_it():
    def body(k, y):
        v = tf.get_variable("scale", [], initializer=tf.constant_initializer(2.0))
        return k + 1, y * v
    r = tf.while_loop(lambda k, y: k < 4, body, [tf.constant(0), tf.constant(1.0)])
    (v,) = tf.global_variables()
    assert v.name == "scale:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(r[1]) == 16.0


def test_while_loop_errors():
    with pytest.raises(TypeError, match="callable"):
        tf.while_loop(1, lambda k: k, [tf.constant(0)])
    with pytest.raises(TypeError, match="dtype"):
        tf.while_loop(lambda k: k < 3, lambda k: tf.cast(k, tf.float32), [tf.constant(0)])
    with pytest.raises(TypeError, match="bool"):
        tf.while_loop(lambda k: k, lambda k: k + 1, [tf.constant(0)])
    with pytest.raises(ValueError, match="No loop variables"):
        tf.while_loop(lambda: True, lambda: (), [])
    r = tf.while_loop(lambda k: k < 3, lambda k: k + 1, [tf.constant(0)])
    inner = [op for op in tf.get_default_graph().get_operations() if op.type == "_FuncArg"][0]
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="only inside"):
            sess.run(inner.outputs[0])
        assert sess.run(r) == 3


def test_while_gradient_with_respect_to_initial_value_and_captured_tensor():
    x = tf.placeholder(tf.float64, [3])
    w = tf.placeholder(tf.float64, [3])
    _, y = tf.while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, tf.tanh(y * w) + 0.1 * y), [tf.constant(0), x])
    xv = np.array([0.2, -0.4, 0.9])
    wv = np.array([1.3, 0.7, -0.5])
    # central differences with delta 1e-3 through four tanh layers: error ~1e-5
    assert grad_error(x, xv, y, {w: wv}) < 1e-4
    assert grad_error(w, wv, y, {x: xv}) < 1e-4


def test_while_gradient_through_matmul_recurrence_matches_unrolled():
    rng = np.random.RandomState(0)
    h0 = tf.placeholder(tf.float64, [2, 4])
    W = tf.Variable(rng.randn(4, 4) * 0.5)
    _, h = tf.while_loop(lambda i, h: i < 5, lambda i, h: (i + 1, tf.tanh(tf.matmul(h, W))), [tf.constant(0), h0])
    loss = tf.reduce_sum(h * h)
    gw, gh = tf.gradients(loss, [W, h0])
    hu = h0
    for _ in range(5):
        hu = tf.tanh(tf.matmul(hu, W))
    gwu, ghu = tf.gradients(tf.reduce_sum(hu * hu), [W, h0])
    hv = rng.randn(2, 4)
    with tf.Session() as sess:
        sess.run(W.initializer)
        a = sess.run([loss, gw, gh], {h0: hv})
        b = sess.run([tf.reduce_sum(hu * hu), gwu, ghu], {h0: hv})
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-10)


def test_while_gradient_with_maximum_iterations_and_zero_steps():
    x = tf.placeholder(tf.float64, [])
    m = tf.placeholder(tf.int32, [])
    y = tf.while_loop(lambda v: tf.constant(True), lambda v: v * 3.0, [x], maximum_iterations=m)
    (g,) = tf.gradients(y, x)
    with tf.Session() as sess:
        assert sess.run(g, {x: 2.0, m: 3}) == 27.0
        assert sess.run(g, {x: 2.0, m: 0}) == 1.0


def test_while_gradient_trains_a_variable():
    w = tf.Variable(0.5, dtype=tf.float64)
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * w), [tf.constant(0), tf.constant(1.0, tf.float64)])
    loss = tf.square(y - 8.0)  # w -> 2
    train = tf.train.GradientDescentOptimizer(0.005).minimize(loss)
    with tf.Session() as sess:
        sess.run(w.initializer)
        for _ in range(300):
            sess.run(train)
        assert abs(sess.run(w) - 2.0) < 1e-3


def test_while_back_prop_false_gives_no_gradient():
    x = tf.placeholder(tf.float32, [])
    y = tf.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, [x], back_prop=False)
    assert tf.gradients(y, x) == [None]


def test_while_gradient_of_shape_varying_variable_is_a_clear_error():
    x = tf.placeholder(tf.float64, [1])
    _, y = tf.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, tf.concat([y, y * 2.0], 0)),
                         [tf.constant(0), x], shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0]}), [1, 2, 2, 4])
        with pytest.raises(tf.errors.InvalidArgumentError, match="changes shape"):
            sess.run(g, {x: [1.0]})


def test_gradient_through_nested_while_and_cond_in_body_matches_unrolled():
    x = tf.placeholder(tf.float64, [2])
    w = tf.constant([0.7, -1.2], tf.float64)

    def inner(v):
        return tf.while_loop(lambda j, u: j < 2, lambda j, u: (j + 1, tf.sin(u * w) + u), [tf.constant(0), v])[1]

    def body(i, v):
        v = inner(v)
        v = tf.cond(tf.equal(i % 2, 0), lambda: v * v, lambda: tf.tanh(v))
        return i + 1, v
    _, y = tf.while_loop(lambda i, v: i < 3, body, [tf.constant(0), x])
    u = x
    for i in range(3):
        for _ in range(2):
            u = tf.sin(u * w) + u
        u = u * u if i % 2 == 0 else tf.tanh(u)
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    (gu,) = tf.gradients(tf.reduce_sum(u), x)
    xv = np.array([0.3, -0.2])
    with tf.Session() as sess:
        a, b = sess.run([[y, g], [u, gu]], {x: xv})
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-10)


def test_while_gradient_with_dropout_in_body_uses_the_forward_masks():
    x = tf.placeholder(tf.float64, [40])
    _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.nn.dropout(v, keep_prob=0.5, seed=1) + 1.0),
                         [tf.constant(0), x])
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as sess:
        yv, gv = sess.run([y, g], {x: np.ones(40)})
    # Each element survives all three masks with weight 2**3, or has zero gradient; the
    # forward value then is 2*(2*(2*1+1)+1)+1 = 15.
    assert set(np.unique(gv)) <= {0.0, 8.0}
    np.testing.assert_array_equal(gv == 8.0, yv == 15.0)


def test_tensor_array_says_it_is_not_implemented():
    assert not hasattr(tf, "TensorArray")
    with pytest.raises(NotImplementedError, match="tf.TensorArray is not implemented.*while_loop"):
        tf.TensorArray(tf.float32, size=3)
    with pytest.raises(AttributeError, match="no attribute"):
        tf.no_such_thing


def test_none_is_not_a_tensor_value():
    # TF: make_tensor_proto raises "None values not supported." (pkmital's libs/batch_norm.py
    # returns ema.average(...) taken before ema.apply, which is None, from a cond branch)
    with pytest.raises(ValueError, match="None values not supported"):
        tf.convert_to_tensor(None)
    with pytest.raises(ValueError, match="None values not supported"):
        tf.constant(None)
    with pytest.raises(ValueError, match="None values not supported"):
        tf.cond(tf.placeholder(tf.bool), lambda: (tf.constant(1.0), tf.constant(2.0)), lambda: (None, None))


def test_cond_branch_control_dependency_on_outside_op():
    # TF 1.x's batch-norm idiom: a branch op depends on an op built outside the cond. As in TF
    # ("operations created outside of true_fn and false_fn ... are executed unconditionally"),
    # the outside op runs before the If, whichever branch is taken.
    counter = tf.Variable(0.0)
    bump = tf.assign_add(counter, 1.0)
    pred = tf.placeholder(tf.bool)

    def true_fn():
        with tf.control_dependencies([bump]):
            return tf.identity(counter) * 10.0
    out = tf.cond(pred, true_fn, lambda: tf.identity(counter))
    assert bump.op in out.op.control_inputs
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(out, {pred: True}) == 10.0
        assert sess.run(out, {pred: False}) == 2.0


def test_while_body_control_dependency_on_outside_op():
    counter = tf.Variable(0.0)
    bump = tf.assign_add(counter, 1.0)

    def body(i, acc):
        with tf.control_dependencies([bump]):
            return i + 1, acc + tf.identity(counter)
    _, acc = tf.while_loop(lambda i, acc: i < 3, body, [tf.constant(0), tf.constant(0.0)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # the outside op runs once, before the loop (TF pulls it in as a loop input)
        assert sess.run(acc) == 3.0
        assert sess.run(counter) == 1.0

