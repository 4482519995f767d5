"""Eager execution (TF 2 style): modes, EagerTensor, eager Variables, errors.

Every test runs inside ``eager_mode()`` (the fixture), so eager execution never
leaks into the graph-mode tests of the rest of the suite.
"""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context


@pytest.fixture(autouse=True)
def eager():
    with context.eager_mode():
        yield


# -- switching modes ----------------------------------------------------------------------

def test_executing_eagerly_and_graph_inside():
    assert tf.executing_eagerly()
    with tf.Graph().as_default():
        assert not tf.executing_eagerly()
        c = tf.constant(1.0)
        assert type(c) is tf.Tensor
        with tf.Session() as sess:
            assert sess.run(c + 1) == 2.0
    assert tf.executing_eagerly()


def test_mode_switches_restore_graph_mode():
    context.disable_eager()
    assert not tf.executing_eagerly()
    context.enable_eager()
    assert tf.executing_eagerly()


def test_enable_eager_execution_must_come_first():
    with context.graph_mode():
        with tf.Graph().as_default() as g:
            pass
    # the default graph has ops: as TF, enabling eager afterwards is an error
    context.disable_eager()
    try:
        with tf.Graph().as_default():
            pass
        saved = tf.get_default_graph()
        tf.reset_default_graph()
        tf.constant(1.0)
        with pytest.raises(ValueError, match="must be called at program startup"):
            tf.enable_eager_execution()
        tf.reset_default_graph()
        tf.enable_eager_execution()
        assert tf.executing_eagerly()
    finally:
        context.enable_eager()
    del saved, g


def test_graph_only_calls_raise_tf_errors():
    with pytest.raises(RuntimeError, match=r"tf.placeholder\(\) is not compatible with eager execution"):
        tf.placeholder(tf.float32)
    x = tf.constant(1.0)
    with pytest.raises(RuntimeError, match="tf.gradients is not supported when eager execution is enabled"):
        tf.gradients(x, x)
    with pytest.raises(NotImplementedError, match="is .numpy"):
        x.eval()
    with pytest.raises(AttributeError, match="Tensor.op is meaningless"):
        x.op
    with pytest.raises(AttributeError, match="Tensor.name is meaningless"):
        x.name
    with pytest.raises(TypeError, match="Can not convert a EagerTensor"):
        with tf.Graph().as_default():
            tf.constant(0.0)
            tf.Session().run(x)


def test_compat_v1_and_v2():
    assert tf.compat.v1 is tf
    v2 = tf.compat.v2
    assert v2.random.normal([2]).shape == (2,)
    assert v2.GradientTape is tf.GradientTape
    for name in ("placeholder", "Session", "global_variables_initializer"):
        with pytest.raises(AttributeError):
            getattr(v2, name)


def test_graph_tensor_in_eager_op_is_an_error():
    with tf.Graph().as_default():
        g = tf.constant(1.0)
    with pytest.raises(TypeError, match="Graph tensors can't be used while executing eagerly"):
        tf.add(tf.constant(1.0), g)


# -- EagerTensor -------------------------------------------------------------------------

def test_printing_as_tf2():
    c = tf.constant(3) + tf.constant(5)  # the deck: print(c) -> tf.Tensor(8, shape=(), dtype=int32)
    assert str(c) == "tf.Tensor(8, shape=(), dtype=int32)"
    assert repr(c) == "<tf.Tensor: shape=(), dtype=int32, numpy=8>"
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert str(m) == "tf.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)"
    assert repr(m).startswith("<tf.Tensor: shape=(2, 2), dtype=float32, numpy=\narray([[1., 2.],")
    assert str(tf.constant([1, 2, 3])) == "tf.Tensor([1 2 3], shape=(3,), dtype=int32)"


def test_python_conversions_and_formatting():
    z = tf.constant(2.0) * 1.25
    assert "%4.1f" % z == " 2.5"
    assert "{:.2f}".format(z) == "2.50"
    assert float(z) == 2.5 and int(z) == 2 and bool(z)
    assert not bool(tf.constant(0))
    assert [0, 1, 2, 3][tf.constant(2)] == 2
    assert list(range(tf.constant(3))) == [0, 1, 2]
    with pytest.raises(ValueError):
        bool(tf.constant([1, 2]))


def test_shape_dtype_device_numpy():
    t = tf.constant(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert t.shape == tf.TensorShape([2, 3]) and t.shape.as_list() == [2, 3]
    assert t.dtype is tf.float64 and t.ndim == 2
    assert t.device.endswith("device:CPU:0")
    np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3))
    assert isinstance(tf.constant(1.5).numpy(), np.float32)
    assert len(t) == 2


def test_numpy_interop_both_ways():
    t = tf.constant([1.0, 2.0, 3.0])
    assert np.sum(t) == 6.0
    a = np.asarray(t)
    assert a.dtype == np.float32
    r = np.array([1.0, 1.0, 1.0], np.float32) + t  # numpy defers to the tensor's operator
    assert type(r).__name__ == "EagerTensor"
    np.testing.assert_array_equal(r.numpy(), [2, 3, 4])
    u = tf.exp(np.zeros(2, np.float32))
    np.testing.assert_array_equal(u.numpy(), [1, 1])


def test_operators_indexing_iteration():
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((a @ a).numpy(), [[7, 10], [15, 22]])
    np.testing.assert_array_equal((-a + 1 - a * 2 / 4).numpy(), -np.array([[1, 2], [3, 4]]) + 1 - np.array(
        [[1, 2], [3, 4]]) * 0.5)
    np.testing.assert_array_equal(a[1].numpy(), [3, 4])
    np.testing.assert_array_equal(a[:, 0].numpy(), [1, 3])
    assert float(a[1, 1]) == 4.0
    rows = [r.numpy().tolist() for r in a]
    assert rows == [[1, 2], [3, 4]]
    np.testing.assert_array_equal((a > 2).numpy(), [[False, False], [True, True]])
    assert (tf.constant(7) // 2).numpy() == 3 and (tf.constant(7) % 4).numpy() == 3
    assert (tf.constant(2.0) ** 3).numpy() == 8.0


def test_equality_tf1_identity_and_tf2_elementwise():
    a, b = tf.constant([1, 2]), tf.constant([1, 3])
    assert (a == b) is False and (a == a) is True  # TF 1.x eager: identity
    assert hash(a) == id(a)
    with context.eager_mode(tensor_equality=True):
        eq = a == b
        np.testing.assert_array_equal(eq.numpy(), [True, False])
        np.testing.assert_array_equal((a != b).numpy(), [False, True])
        assert (a == None) is False  # noqa: E711
        with pytest.raises(TypeError, match="unhashable"):
            hash(a)
        assert {a.ref(): 1}[a.ref()] == 1 and a.ref().deref() is a


def test_enable_v2_behavior_turns_on_equality():
    saved = context.tensor_equality_enabled()
    try:
        tf.enable_v2_behavior()
        assert tf.executing_eagerly()
        assert bool(tf.constant(1) == tf.constant(1))
    finally:
        context.set_tensor_equality(saved)


# -- eager Variables ----------------------------------------------------------------------

def test_variable_basics():
    v = tf.Variable([1.0, 2.0], name="w")
    assert v.name == "w:0" and v.trainable and v.dtype is tf.float32 and v.shape == (2,)
    assert repr(v) == "<tf.Variable 'w:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    v.assign([3.0, 4.0])
    np.testing.assert_array_equal(v.numpy(), [3, 4])
    v.assign_add([1.0, 1.0])
    v.assign_sub(tf.constant([0.5, 0.5]))
    np.testing.assert_array_equal(v.read_value().numpy(), [3.5, 4.5])
    assert v.assign([0.0, 0.0], read_value=False) is None
    np.testing.assert_array_equal((v + 1).numpy(), [1, 1])


def test_variable_initializers_names_and_scopes():
    v = tf.Variable(lambda: tf.ones([2, 2]), trainable=False)
    assert v.name == "Variable:0" and not v.trainable
    with tf.name_scope("mlp"):
        with tf.name_scope("dense"):
            w = tf.Variable(tf.zeros([3]), name="w")
    assert w.name == "mlp/dense/w:0"
    # TF 2: eager name scopes are not uniquified
    with tf.name_scope("mlp"):
        w2 = tf.Variable(0.0, name="w")
    assert w2.name == "mlp/w:0"
    i = tf.Variable(3)
    assert i.dtype is tf.int32
    d = tf.Variable(1.0, dtype=tf.float64)
    assert d.dtype is tf.float64
    f = tf.Variable(tf.constant(2.0) * 3)
    assert float(f) == 6.0 and "%4.1f" % f == " 6.0"


def test_reads_are_values_updates_copy_on_write():
    v = tf.Variable([1.0, 2.0])
    before = v.read_value()
    arr = v.numpy()
    v.assign_add([10.0, 10.0])
    np.testing.assert_array_equal(before.numpy(), [1, 2])
    np.testing.assert_array_equal(arr, [1, 2])
    np.testing.assert_array_equal(v.numpy(), [11, 12])


def test_optimizer_updates_copy_on_write_too():
    # the Apply* ops' variables (their n_refs leading inputs) are ref inputs like Assign's
    v = tf.Variable([1.0, 2.0])
    before = v.read_value()
    tf.compat.v1.train.GradientDescentOptimizer(0.5).apply_gradients([(tf.constant([1.0, 1.0]), v)])
    np.testing.assert_array_equal(before.numpy(), [1, 2])
    np.testing.assert_array_equal(v.numpy(), [0.5, 1.5])


def test_failed_assign_changes_nothing():
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Assign"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(TypeError):
        v.assign(tf.constant([1, 2]))
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        v.assign_add([1.0])
    np.testing.assert_array_equal(v.numpy(), [1, 2])


# -- errors as TF 2 ----------------------------------------------------------------------

def test_shape_and_dtype_errors_name_the_op():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[Op:MatMul\]"):
        tf.matmul(tf.ones([3, 4]), tf.ones([5, 6]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[Op:Add"):
        tf.constant(1) + tf.constant(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Reshape"):
        tf.reshape(tf.ones([2, 3]), [4, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        tf.constant(1) // tf.constant(0)


def test_devices_in_eager_code():
    with tf.device("CPU:0"):
        a = tf.constant([1.0]) + 1
    assert a.device.endswith("CPU:0")
    with tf.device("/gpu:0"):  # no GPU: soft placement on the CPU, as TF 2 by default
        b = tf.constant([1.0]) * 2
    assert b.device.endswith("CPU:0")
    np.testing.assert_array_equal(b.numpy(), [2])


# -- random numbers -------------------------------------------------------------------------

def test_random_seeds_as_tf2():
    tf.random.set_seed(1234)
    a1, a2 = tf.random.uniform([3]), tf.random.uniform([3])
    tf.random.set_seed(1234)
    b1, b2 = tf.random.uniform([3]), tf.random.uniform([3])
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    np.testing.assert_array_equal(a2.numpy(), b2.numpy())
    assert not np.array_equal(a1.numpy(), a2.numpy())
    s1 = tf.random.normal([4], seed=7)
    s2 = tf.random.normal([4], seed=7)
    assert not np.array_equal(s1.numpy(), s2.numpy())  # one stream per op seed, as TF 2
    tf.random.set_seed(1234)
    np.testing.assert_array_equal(tf.random.normal([4], seed=7).numpy(), s1.numpy())


# -- control flow runs as Python ---------------------------------------------------------------

def test_control_flow_eagerly():
    x = tf.constant(3.0)
    assert float(tf.cond(x > 2, lambda: x * 2, lambda: x)) == 6.0
    assert int(tf.while_loop(lambda i: i < 10, lambda i: i + 1, [tf.constant(0)])) == 10
    i, s = tf.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s + tf.cast(i, tf.float32)),
                         (tf.constant(0), tf.constant(0.0)))
    assert int(i) == 4 and float(s) == 6.0
    np.testing.assert_array_equal(tf.map_fn(lambda r: r * 2, tf.constant([[1.0], [2.0]])).numpy(), [[2], [4]])
    np.testing.assert_array_equal(tf.scan(lambda a, r: a + r, tf.constant([1.0, 2.0, 3.0])).numpy(), [1, 3, 6])
    assert tf.group(x) is None and tf.no_op() is None
    with tf.control_dependencies([x]):
        assert float(tf.identity(x)) == 3.0


def test_deck_define_by_run_snippet(capsys):
    w = tf.Variable(2.0, name="weight")
    b = tf.Variable(0.7, name="bias")
    for x in [1.0, 0.6, -1.8]:
        z = w * x + b
        print("x=%4.1f --> z=%4.1f" % (x, z))
    assert capsys.readouterr().out.splitlines() == ["x= 1.0 --> z= 2.7", "x= 0.6 --> z= 1.9",
                                                   "x=-1.8 --> z=-2.9"]


def test_tf1_helpers_run_eagerly(capsys):
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    tf.print("x:", x, output_stream=__import__("sys").stdout)
    assert capsys.readouterr().out == "x: [[1 2]\n [3 4]]\n"
    d = tf.nn.dropout(tf.ones([50, 50]), rate=0.5)
    values = set(np.unique(d.numpy()).tolist())
    assert values <= {0.0, 2.0} and len(values) == 2
    assert tf.layers.dense(x, 3).shape == (2, 3)
    assert tf.contrib.layers.fully_connected(x, 2).shape == (2, 2)
    v = tf.get_variable("eager_gv", shape=[2], initializer=tf.zeros_initializer())
    assert v.name == "eager_gv:0" and v.numpy().tolist() == [0.0, 0.0]
    assert int(tf.size(x)) == 4 and tf.shape(x).numpy().tolist() == [2, 2]
    assert tf.constant(["a", "bc"]).numpy().tolist() == [b"a", b"bc"]
    assert float(tf.train.exponential_decay(0.1, 10, 5, 0.5)) == pytest.approx(0.025)
