"""tf.function (TF 2): tracing, retracing, captures, variables, control flow, gradients."""
import collections

import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context


@pytest.fixture(autouse=True)
def eager():
    with context.eager_mode():
        yield


def _np(x):
    return np.asarray(x)


def test_results_equal_eager_execution():
    def fn(x, y):
        h = tf.nn.relu(tf.matmul(x, y) - 0.5)
        return tf.reduce_sum(h, axis=1) * 2.0, tf.exp(-h)

    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((4, 3)).astype(np.float32))
    y = tf.constant(rng.standard_normal((3, 5)).astype(np.float32))
    f = tf.function(fn)
    got, want = f(x, y), fn(x, y)
    for g, w in zip(got, want):
        assert isinstance(g, type(w))
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6)
    np.testing.assert_allclose(f(x, y)[0].numpy(), want[0].numpy(), rtol=1e-6)  # the cached plan
    assert f.experimental_get_tracing_count() == 1


def test_decorator_forms_and_python_function():
    @tf.function
    def a(x):
        return x + 1

    @tf.function(jit_compile=True, autograph=False)
    def b(x):
        return x + 2

    assert a(tf.constant(1.0)).numpy() == 2.0
    assert b(tf.constant(1.0)).numpy() == 3.0
    assert a.python_function(3) == 4
    assert tf.function(experimental_compile=True)(lambda x: x * 3)(tf.constant(2)).numpy() == 6


def test_retracing_on_dtype_shape_and_python_value():
    @tf.function
    def f(x, n):
        for _ in range(n):  # Python control flow over a Python value: unrolled in the trace
            x = x * 2
        return x

    assert f(tf.constant(1.0), 3).numpy() == 8.0
    assert f(tf.constant(2.0), 3).numpy() == 16.0
    assert f.experimental_get_tracing_count() == 1
    f(tf.constant([1.0, 2.0]), 3)           # new shape
    assert f.experimental_get_tracing_count() == 2
    f(tf.constant(1, dtype=tf.int32), 3)    # new dtype
    assert f.experimental_get_tracing_count() == 3
    assert f(tf.constant(1.0), 2).numpy() == 4.0  # new Python value
    assert f.experimental_get_tracing_count() == 4
    f(tf.constant(5.0), 2)
    f(np.float32(1.0) * np.ones(2, np.float32), 3)  # a numpy array is a tensor argument
    assert f.experimental_get_tracing_count() == 4


def test_input_signature():
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.float32)])
    def f(x):
        return tf.reduce_sum(x) + tf.cast(tf.shape(x)[0], tf.float32)

    assert f(tf.constant([1.0, 2.0])).numpy() == 5.0
    assert f(tf.constant([1.0, 2.0, 3.0])).numpy() == 9.0
    assert f([1.0, 1.0]).numpy() == 4.0   # Python values are converted to the spec's dtype
    assert f.experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="incompatible with input_signature"):
        f(tf.constant([[1.0]]))
    with pytest.raises(ValueError, match="incompatible with input_signature"):
        f(tf.constant([1, 2]))
    with pytest.raises(TypeError):
        f(tf.constant([1.0]), tf.constant([1.0]))
    cf = f.get_concrete_function()
    assert cf.inputs[0].shape.as_list() == [None]


def test_relax_shapes():
    for kw in ({"experimental_relax_shapes": True}, {"reduce_retracing": True}):
        @tf.function(**kw)
        def f(x):
            return x * 2

        f(tf.ones([2]))
        f(tf.ones([3]))
        np.testing.assert_array_equal(f(tf.ones([4])).numpy(), [2, 2, 2, 2])
        f(tf.ones([7]))
        assert f.experimental_get_tracing_count() == 2


def test_methods_bind_per_instance():
    class Scale:
        def __init__(self, k):
            self.k = k

        @tf.function
        def __call__(self, x):
            return x * self.k

    a, b = Scale(2.0), Scale(3.0)
    assert a(tf.constant(1.0)).numpy() == 2.0
    assert b(tf.constant(1.0)).numpy() == 3.0
    assert a.__call__ is a.__call__
    assert a.__call__.experimental_get_tracing_count() == 1


def test_nested_inputs_and_outputs():
    Pair = collections.namedtuple("Pair", "a b")

    @tf.function
    def f(d, p, flag=True):
        s = d["x"] + d["y"][0]
        return {"sum": s, "pair": Pair(p.a * 2, None), "flag": flag, "list": [s, 3]}

    out = f({"x": tf.constant(1.0), "y": [tf.constant(2.0)]}, Pair(tf.constant(5.0), 7), flag="yes")
    assert out["sum"].numpy() == 3.0
    assert isinstance(out["pair"], Pair) and out["pair"].a.numpy() == 10.0 and out["pair"].b is None
    assert out["flag"] == "yes" and out["list"][1] == 3 and out["list"][0].numpy() == 3.0

    @tf.function
    def nothing(x):
        x + 1

    assert nothing(tf.constant(1.0)) is None


def test_captured_eager_tensors_and_variables():
    c = tf.constant([1.0, 2.0])
    v = tf.Variable([10.0, 20.0])

    @tf.function
    def f(x):
        v.assign_add(x * c)
        return v.read_value() + 0.0, v * 1.0

    before = v.value()
    after, again = f(tf.constant(1.0))
    np.testing.assert_array_equal(after.numpy(), [11.0, 22.0])   # the read after the update sees it
    np.testing.assert_array_equal(again.numpy(), [11.0, 22.0])
    np.testing.assert_array_equal(v.numpy(), [11.0, 22.0])       # visible outside
    np.testing.assert_array_equal(before.numpy(), [10.0, 20.0])  # an earlier read keeps its value
    f(tf.constant(2.0))
    np.testing.assert_array_equal(v.numpy(), [13.0, 26.0])

    @tf.function
    def update_only():
        v.assign([0.0, 0.0])   # no output depends on it: it runs anyway

    update_only()
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])


def test_variables_created_on_first_call_only():
    class Dense:
        def __init__(self):
            self.w = None

        @tf.function
        def __call__(self, x):
            if self.w is None:
                self.w = tf.Variable(tf.ones([2, 1]) * 2.0)
            return tf.matmul(x, self.w)

    d = Dense()
    assert d(tf.constant([[1.0, 1.0]])).numpy()[0, 0] == 4.0
    assert d(tf.constant([[1.0, 2.0], [0.0, 1.0]])).numpy()[1, 0] == 2.0   # retrace, no new variable
    assert isinstance(d.w, tf.Variable)

    @tf.function
    def bad(x):
        w = tf.Variable(1.0)
        return x * w

    bad(tf.constant(1.0))
    with pytest.raises(ValueError, match="singleton tf.Variables created on the first call"):
        bad(tf.constant([1.0]))


def test_cond_and_while_loop_inside():
    @tf.function
    def f(x):
        y = tf.cond(x > 0, lambda: x * 2, lambda: -x)
        i, s = tf.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s + x), [0, tf.constant(0.0)])
        return y, s

    y, s = f(tf.constant(3.0))
    assert y.numpy() == 6.0 and s.numpy() == 12.0
    y, s = f(tf.constant(-1.0))
    assert y.numpy() == 1.0 and s.numpy() == -4.0


def _train_data():
    rng = np.random.default_rng(1)
    return (tf.constant(rng.standard_normal((16, 3)).astype(np.float32)),
            tf.constant(rng.standard_normal((16, 1)).astype(np.float32)))


def test_gradient_tape_inside_train_step():
    x, y = _train_data()
    w0, b0 = np.full((3, 1), 0.1, np.float32), np.zeros([1], np.float32)
    w, b = tf.Variable(w0), tf.Variable(b0)
    opt = tf.train.GradientDescentOptimizer(0.1)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        grads = tape.gradient(loss, [w, b])
        opt.apply_gradients(zip(grads, [w, b]))
        return loss

    losses = [float(train_step(x, y)) for _ in range(5)]
    assert train_step.experimental_get_tracing_count() == 1
    # the same steps eagerly
    we, be = tf.Variable(w0), tf.Variable(b0)
    want = []
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, we) + be - y))
        gw, gb = tape.gradient(loss, [we, be])
        we.assign_sub(0.1 * gw)
        be.assign_sub(0.1 * gb)
        want.append(float(loss))
    np.testing.assert_allclose(losses, want, rtol=1e-5)
    np.testing.assert_allclose(w.numpy(), we.numpy(), rtol=1e-5)
    assert losses[-1] < losses[0]


def test_gradient_tape_inside_options():
    v = tf.Variable(2.0)
    u = tf.Variable(5.0)

    @tf.function
    def f(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x * v + v
        gx, gv, gu = tape.gradient(y, [x, v, u])
        gz = tape.gradient(y, u, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        go = tape.gradient(y, x, output_gradients=tf.constant(3.0))
        return gx, gv, gu, gz, go

    gx, gv, gu, gz, go = f(tf.constant(3.0))
    assert gx.numpy() == 12.0 and gv.numpy() == 10.0 and gu is None and gz.numpy() == 0.0
    assert go.numpy() == 36.0


def test_tape_gradient_through_a_function_call():
    w = tf.Variable([[0.5], [-1.0]])

    def model(x):
        return tf.reduce_sum(tf.tanh(tf.matmul(x, w)) * x[:, :1])

    f = tf.function(model)
    x = tf.constant([[1.0, 2.0], [0.5, -0.3]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = f(x) * 2.0
    gx, gw = tape.gradient(y, [x, w])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y2 = model(x) * 2.0
    ex, ew = tape.gradient(y2, [x, w])
    np.testing.assert_allclose(y.numpy(), y2.numpy(), rtol=1e-6)
    np.testing.assert_allclose(gx.numpy(), ex.numpy(), rtol=1e-5)
    np.testing.assert_allclose(gw.numpy(), ew.numpy(), rtol=1e-5)


def test_tape_gradient_through_call_with_control_flow():
    @tf.function
    def f(x):
        return tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * x), [0, tf.constant(1.0)])[1]

    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert y.numpy() == 8.0
    assert tape.gradient(y, x).numpy() == pytest.approx(12.0)


def test_graph_mode_calls_inline():
    with context.graph_mode(), tf.Graph().as_default():
        @tf.function
        def f(x):
            return x * 2 + 1

        p = tf.placeholder(tf.float32, [None])
        out = f(p)
        assert isinstance(out, tf.Tensor) and out.graph is tf.get_default_graph()
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(out, {p: [1.0, 2.0]}), [3.0, 5.0])
        assert f.experimental_get_tracing_count() == 0


def test_get_concrete_function():
    @tf.function
    def f(x, k):
        return {"y": x * k}

    cf = f.get_concrete_function(tf.TensorSpec([None, 2], tf.float32, name="x"), 3.0)
    assert len(cf.inputs) == 1 and cf.inputs[0].shape.as_list() == [None, 2]
    assert isinstance(cf.graph, tf.Graph) and len(cf.outputs) == 1
    assert set(cf.structured_outputs) == {"y"}
    out = cf(tf.ones([4, 2]))
    np.testing.assert_array_equal(out["y"].numpy(), np.full((4, 2), 3.0))
    f(tf.ones([5, 2]), 3.0)   # served by the concrete function's trace
    assert f.experimental_get_tracing_count() == 1
    assert f.get_concrete_function(tf.ones([1, 2]), 3.0) is cf


def test_tensor_spec():
    s = tf.TensorSpec([None, 3], tf.int32, "a")
    assert s.shape.as_list() == [None, 3] and s.dtype is tf.int32 and s.name == "a"
    assert s == tf.TensorSpec([None, 3], tf.int32, "a") and s != tf.TensorSpec([2, 3], tf.int32, "a")
    assert s.is_compatible_with(tf.constant(np.zeros((2, 3), np.int32)))
    assert "TensorSpec(shape=(None, 3), dtype=tf.int32" in repr(s)


def test_read_before_update_keeps_its_value():
    v = tf.Variable(1.0)

    @tf.function
    def f():
        x = v.read_value()
        v.assign_add(1.0)
        return x * 1.0, x, v.read_value()

    a, b, c = f()
    assert (a.numpy(), b.numpy(), c.numpy()) == (1.0, 1.0, 2.0)
    assert v.numpy() == 2.0
