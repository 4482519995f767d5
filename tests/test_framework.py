"""Graph model, naming, scopes, collections, dtypes, shapes, printed forms."""
import numpy as np
import pytest

import nbflow as tf


def test_unique_names_follow_tf():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    c = a + b
    d = tf.add(a, b, name="MyAdd")
    e = tf.add(a, b, name="MyAdd")
    f = a + b
    assert [t.op.name for t in (a, b, c, d, e, f)] == ["Const", "Const_1", "add", "MyAdd", "MyAdd_1", "add_1"]
    assert c.name == "add:0"
    assert tf.add(a, b).op.name == "Add_2"  # TF compares names case-insensitively
    assert (a * b).op.name == "mul" and tf.multiply(a, b).op.name == "Mul_1"


def test_printed_forms():
    a = tf.constant(1.0)
    c = a + a
    assert str(c) == 'Tensor("add:0", shape=(), dtype=float32)'
    p = tf.placeholder(tf.float32, shape=[None, 784], name="x")
    assert str(p) == 'Tensor("x:0", shape=(?, 784), dtype=float32)'
    assert repr(p) == "<tf.Tensor 'x:0' shape=(?, 784) dtype=float32>"
    q = tf.placeholder(tf.int64)
    assert str(q) == 'Tensor("Placeholder:0", shape=<unknown>, dtype=int64)'
    assert repr(tf.float32) == "tf.float32"
    v = tf.Variable(tf.zeros([2]), name="v")
    assert repr(v) == "<tf.Variable 'v:0' shape=(2,) dtype=float32_ref>"


def test_name_scope_nesting_and_reentry():
    with tf.name_scope("outer"):
        a = tf.constant(1, name="a")
        with tf.name_scope("inner") as scope:
            b = tf.constant(2, name="b")
            assert scope == "outer/inner/"
        with tf.name_scope("inner"):
            c = tf.constant(3, name="c")
    with tf.name_scope("outer"):
        d = tf.constant(4, name="d")
    with tf.name_scope("outer/inner/"):
        e = tf.constant(5, name="e")
    assert a.op.name == "outer/a"
    assert b.op.name == "outer/inner/b"
    assert c.op.name == "outer/inner_1/c"
    assert d.op.name == "outer_1/d"
    assert e.op.name == "outer/inner/e"
    with tf.name_scope(None, "default", [a]):
        f = tf.constant(6, name="f")
    assert f.op.name == "default/f"


def test_graph_lookup_by_name():
    x = tf.placeholder(tf.float32, name="x")
    y = tf.identity(x, name="y")
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("y:0") is y
    assert g.get_operation_by_name("x") is x.op
    with pytest.raises(KeyError):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(KeyError):
        g.get_tensor_by_name("y:3")
    with pytest.raises(ValueError):
        g.get_tensor_by_name("y")
    assert g.as_graph_element("y") is y.op
    assert y.op.inputs[0] is x
    assert x.consumers() == [y.op]
    assert [op.name for op in g.get_operations()] == ["x", "y"]


def test_graph_as_default_and_reset():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(1.0)
        assert tf.get_default_graph() is g
    assert c.graph is g
    assert tf.get_default_graph() is not g
    old = tf.get_default_graph()
    tf.reset_default_graph()
    assert tf.get_default_graph() is not old
    with g.as_default():
        with pytest.raises(AssertionError):
            tf.reset_default_graph()


def test_finalize_blocks_new_ops():
    g = tf.Graph()
    with g.as_default():
        tf.constant(1.0)
        g.finalize()
        assert g.finalized
        with pytest.raises(RuntimeError, match="finalized"):
            tf.constant(2.0)


def test_ops_from_two_graphs_cannot_mix():
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        a = tf.constant(1.0)
    with g2.as_default():
        b = tf.constant(2.0)
        with pytest.raises(ValueError, match="same graph"):
            tf.add(a, b)


def test_control_dependencies():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    with tf.control_dependencies([a]):
        c = tf.identity(b)
        with tf.control_dependencies(None):
            d = tf.identity(b)
        with tf.control_dependencies([b.op]):
            e = tf.identity(a)
    assert c.op.control_inputs == [a.op]
    assert d.op.control_inputs == []
    # a is a data input of e, so it is not also a control input (as TF).
    assert e.op.control_inputs == [b.op]


def test_control_dependency_runs_the_update_first():
    v = tf.Variable(0.0)
    inc = tf.assign_add(v, 1.0)
    with tf.control_dependencies([inc]):
        read = tf.identity(v)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(read) == 1.0
        assert sess.run(read) == 2.0


def test_collections():
    tf.add_to_collection("stuff", 1)
    tf.add_to_collections(["stuff", "other"], 2)
    assert tf.get_collection("stuff") == [1, 2]
    ref = tf.get_collection_ref("other")
    ref.append(3)
    assert tf.get_collection("other") == [2, 3]
    assert tf.get_collection("missing") == []
    with tf.name_scope("a"):
        x = tf.constant(1.0, name="x")
    y = tf.constant(1.0, name="y")
    tf.add_to_collection(tf.GraphKeys.LOSSES, x)
    tf.add_to_collection(tf.GraphKeys.LOSSES, y)
    assert tf.get_collection(tf.GraphKeys.LOSSES, scope="a") == [x]
    w = tf.Variable(1.0, name="w")
    s = tf.Variable(1.0, name="s", trainable=False)
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [w, s]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) == [w]
    assert tf.GraphKeys.UPDATE_OPS == "update_ops"


def test_tensor_bool_len_iter_raise():
    t = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError, match="bool"):
        bool(t)
    with pytest.raises(TypeError):
        if t:
            pass
    with pytest.raises(TypeError):
        len(t)
    with pytest.raises(TypeError, match="iterate"):
        list(tf.placeholder(tf.float32, [None]))
    assert len(list(t)) == 2


def test_tensor_equality_is_identity_and_hashable():
    a = tf.constant(1.0)
    b = tf.constant(1.0)
    assert a == a and a != b
    assert len({a, b}) == 2


def test_shape_and_set_shape():
    p = tf.placeholder(tf.float32, [None, 3])
    assert p.get_shape().as_list() == [None, 3]
    assert p.shape.ndims == 2 and not p.shape.is_fully_defined()
    p.set_shape([5, 3])
    assert p.shape.as_list() == [5, 3]
    with pytest.raises(ValueError):
        p.set_shape([4, 3])
    u = tf.placeholder(tf.float32)
    assert u.shape.ndims is None
    with pytest.raises(ValueError):
        u.shape.as_list()


def test_tensor_shape_api():
    s = tf.TensorShape([None, 3])
    assert s.merge_with([2, None]).as_list() == [2, 3]
    assert s.is_compatible_with([7, 3]) and not s.is_compatible_with([7, 4])
    assert s[1].value == 3 and s[0].value is None
    assert str(s) == "(?, 3)"
    assert tf.TensorShape([]).num_elements() == 1
    assert tf.TensorShape([2, 5]).num_elements() == 10
    assert tf.TensorShape(None).ndims is None
    assert tf.TensorShape([1, 2]) == tf.TensorShape([1, 2])
    assert tf.TensorShape([4]).concatenate([5]).as_list() == [4, 5]
    assert tf.dimension_value(tf.Dimension(3)) == 3


@pytest.mark.parametrize("name,np_type", [
    ("float16", np.float16), ("float32", np.float32), ("float64", np.float64), ("int8", np.int8),
    ("int16", np.int16), ("int32", np.int32), ("int64", np.int64), ("uint8", np.uint8), ("bool", np.bool_),
])
def test_dtypes(name, np_type):
    dt = getattr(tf, name)
    assert dt.name == name
    assert dt.as_numpy_dtype is np_type
    assert tf.as_dtype(np_type) is dt
    assert tf.as_dtype(name) is dt
    assert dt == np_type and dt == name


def test_dtype_properties():
    assert tf.float32.is_floating and not tf.float32.is_integer
    assert tf.int32.is_integer and tf.uint8.is_unsigned
    assert tf.float64 is tf.double and tf.float16 is tf.half
    assert tf.int32.max == 2 ** 31 - 1
    with pytest.raises(TypeError):
        tf.as_dtype("complex-ish")


def test_constant_dtypes_follow_tf():
    assert tf.constant(1.0).dtype is tf.float32
    assert tf.constant(1).dtype is tf.int32
    assert tf.constant([1.5, 2]).dtype is tf.float32
    assert tf.constant(np.float64(1)).dtype is tf.float64
    assert tf.constant(np.arange(3)).dtype is tf.int64
    assert tf.constant(True).dtype is tf.bool
    assert tf.constant(0, shape=[2, 3]).shape.as_list() == [2, 3]
    assert tf.constant(7, tf.float32).dtype is tf.float32
    with pytest.raises(TypeError):
        tf.constant(1.5, dtype=tf.int32)


def test_device_scopes_merge_like_tf():
    with tf.device("/job:worker/task:1"):
        with tf.device("/cpu:0"):
            a = tf.constant(1.0)
        with tf.device("/device:GPU:1"):
            b = tf.constant(1.0)
        c = tf.constant(1.0)
    with tf.device(None):
        d = tf.constant(1.0)
    with tf.device(lambda op: "/cpu:0" if op.type == "Const" else ""):
        e = tf.constant(1.0)
    assert a.device == "/job:worker/task:1/device:CPU:0"
    assert b.device == "/job:worker/task:1/device:GPU:1"
    assert c.device == "/job:worker/task:1"
    assert d.device == ""
    assert e.device == "/device:CPU:0"
    spec = tf.DeviceSpec.from_string("/job:ps/replica:0/task:2/device:CPU:*")
    assert (spec.job, spec.replica, spec.task, spec.device_type, spec.device_index) == ("ps", 0, 2, "CPU", None)


def test_compat_v1_is_the_same_api():
    assert tf.compat.v1.placeholder is tf.placeholder
    assert tf.compat.v1.Session is tf.Session
    tf.disable_v2_behavior()
    tf.disable_eager_execution()
    assert not tf.executing_eagerly()


def test_operators_build_expected_ops():
    a = tf.constant(6.0)
    b = tf.constant(4.0)
    cases = {
        "add": a + b, "sub": a - b, "mul": a * b, "truediv": a / b, "pow": a ** b,
        "Neg": -a, "Abs": abs(a), "Less": a < b, "LessEqual": a <= b, "Greater": a > b,
        "GreaterEqual": a >= b,
    }
    for name, t in cases.items():
        assert t.op.name == name, (name, t.op.name)
    with tf.Session() as sess:
        got = sess.run({k: v for k, v in cases.items()})
    assert got["add"] == 10 and got["sub"] == 2 and got["mul"] == 24 and got["truediv"] == 1.5
    assert got["pow"] == 1296 and got["Neg"] == -6 and got["Abs"] == 6
    assert got["Less"] == False and got["Greater"] == True  # noqa: E712
    ia, ib = tf.constant(7), tf.constant(-2)
    with tf.Session() as sess:
        fd, md, td = sess.run([ia // ib, ia % ib, ia / ib])
    assert fd == 7 // -2 and md == 7 % -2 and td == 7 / -2
    assert (ia / ib).dtype is tf.float64
    m = tf.constant([[1.0, 2.0]]) @ tf.constant([[3.0], [4.0]])
    rs = 2.0 - tf.constant(5.0)
    with tf.Session() as sess:
        assert sess.run(m)[0, 0] == 11.0
        assert sess.run(rs) == -3.0
        assert sess.run(np.float32(3) * tf.constant(2.0)) == 6.0
    t, f = tf.constant(True), tf.constant(False)
    with tf.Session() as sess:
        assert sess.run([t & f, t | f, ~t, t ^ f]) == [False, True, False, True]


def test_as_graph_def_lists_nodes_inputs_and_devices():
    a = tf.constant(1.0, name="a")
    with tf.device("/cpu:0"):
        b = tf.add(a, a, name="b")
    with tf.control_dependencies([b]):
        tf.no_op(name="after")
    gd = tf.get_default_graph().as_graph_def()
    nodes = {n.name: n for n in gd.node}
    assert nodes["b"].op == "Add" and list(nodes["b"].input) == ["a", "a"]
    assert nodes["b"].device == "/device:CPU:0"
    assert list(nodes["after"].input) == ["^b"]
    with tf.Session() as sess:
        assert len(sess.graph_def.node) == 3
