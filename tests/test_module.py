"""tf.Module (TF 2's module base class) in graph mode: naming, variable and
submodule tracking, with_name_scope, and the TF2 course deck's classes."""
import collections

import numpy as np
import pytest

import nbflow as tf


# -- the TF2 deck's classes (shared/seeds/003, "tf.Module을 이용해서 계층 정의하기"), verbatim --

class Dense(tf.Module):

    def __init__(self, in_features, out_features, name=None):

        super(Dense, self).__init__(name=name)

        # 가중치와 편향 정의
        self.w = tf.Variable(tf.random.normal([in_features, out_features]), name='w')
        self.b = tf.Variable(tf.zeros([out_features]), name='b')

    def __call__(self, x):

        y = tf.matmul(x, self.w) + self.b # 가중 합산
        return tf.nn.relu(y) # 활성화 함수 실행


# The deck's MLP, except for its one slip: it calls Dense(input_size=..., output_size=...),
# keywords the deck's own Dense does not take (TF raises a TypeError too); positional here.
class MLP(tf.Module):

    def __init__(self, input_size, sizes, name=None): # sizes에는 각 계층의 뉴런 개수가 정의되어 있음
        super(MLP, self).__init__(name=name)

        self.layers = [] # 계층의 리스트
        with self.name_scope:
            for size in sizes:
                self.layers.append(Dense(input_size, size)) # 각 계층 정의
                input_size = size

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers: # 각 계층을 순서대로 호출
            x = layer(x)
        return x


# A Dense that creates its variables in its own name scope (as Sonnet-style modules do).
class ScopedDense(tf.Module):
    def __init__(self, in_features, out_features, name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.w = tf.Variable(tf.random.normal([in_features, out_features]), name='w')
            self.b = tf.Variable(tf.zeros([out_features]), name='b')

    @tf.Module.with_name_scope
    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class ScopedMLP(tf.Module):
    def __init__(self, input_size, sizes, name=None):
        super().__init__(name=name)
        self.layers = []
        with self.name_scope:
            for size in sizes:
                self.layers.append(ScopedDense(input_size, size))
                input_size = size

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _forward(layers, x):
    for w, b in layers:
        x = np.maximum(x @ w + b, 0)
    return x


def test_deck_dense_runs_in_a_session():
    d = Dense(3, 2)
    assert d.name == "dense"
    assert [v.name for v in d.variables] == ["b:0", "w:0"]  # sorted by attribute name
    x = tf.placeholder(tf.float32, [None, 3])
    y = d(x)
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, b, out = sess.run([d.w, d.b, y], {x: xv})
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, _forward([(w, b)], xv), rtol=1e-5, atol=1e-6)


def test_deck_mlp_names_and_run():
    # As TF: the deck's Dense creates its variables in the scope it is built in
    # (MLP's), not in its own, so they are mlp/w, mlp/w_1 (graph names are unique).
    m = MLP(input_size=5, sizes=[4, 3])
    assert m.name == "mlp" and m.name_scope.name == "mlp/"
    assert [v.name for v in m.variables] == ["mlp/b:0", "mlp/w:0", "mlp/b_1:0", "mlp/w_1:0"]
    assert [l.name_scope.name for l in m.layers] == ["mlp/dense/", "mlp/dense_1/"]
    assert m.submodules == tuple(m.layers)
    x = tf.placeholder(tf.float32, [None, 5])
    y = m(x)
    assert y.op.name == "mlp/Relu_1"
    xv = np.random.RandomState(0).randn(3, 5).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        params = sess.run([(l.w, l.b) for l in m.layers])
        out = sess.run(y, {x: xv})
    np.testing.assert_allclose(out, _forward(params, xv), rtol=1e-5, atol=1e-5)


def test_scoped_mlp_variable_names():
    m = ScopedMLP(5, [4, 4, 2])
    assert m.name == "scoped_mlp"
    assert [v.name for v in m.variables] == [
        "scoped_mlp/scoped_dense/b:0", "scoped_mlp/scoped_dense/w:0", "scoped_mlp/scoped_dense_1/b:0",
        "scoped_mlp/scoped_dense_1/w:0", "scoped_mlp/scoped_dense_2/b:0", "scoped_mlp/scoped_dense_2/w:0"]


def test_scoped_mlp_names_under_given_name():
    m = ScopedMLP(5, [4, 3], name="mlp")
    assert [v.name for v in m.variables] == ["mlp/scoped_dense/b:0", "mlp/scoped_dense/w:0",
                                             "mlp/scoped_dense_1/b:0", "mlp/scoped_dense_1/w:0"]
    assert len(m.trainable_variables) == 4
    assert [v.shape.as_list() for v in m.trainable_variables] == [[4], [5, 4], [3], [4, 3]]


def test_submodule_variable_names_dense_1():
    class Net(tf.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            with self.name_scope:
                self.layers = [ScopedDense(2, 3, name="dense"), ScopedDense(3, 1, name="dense")]

    m = Net(name="mlp")
    assert [v.name for v in m.variables] == ["mlp/dense/b:0", "mlp/dense/w:0", "mlp/dense_1/b:0", "mlp/dense_1/w:0"]
    assert [l.name for l in m.layers] == ["dense", "dense"]


def test_with_name_scope_names_ops():
    m = ScopedMLP(3, [2], name="mlp")
    y = m(tf.ones([1, 3]))
    ops = [op.name for op in tf.get_default_graph().get_operations()]
    assert "mlp/scoped_dense_2/MatMul" not in ops
    # The call re-enters the absolute scopes made at construction.
    assert "mlp/scoped_dense/MatMul" in ops and y.op.name == "mlp/scoped_dense/Relu"
    y2 = m(tf.ones([1, 3]))
    assert y2.op.name == "mlp/scoped_dense/Relu_1"
    # The deck's MLP: ops under mlp/
    d = MLP(3, [2], name="net")
    assert d(tf.ones([1, 3])).op.inputs[0].op.inputs[0].op.name == "net/MatMul"


def test_mlp_matmul_op_name():
    m = MLP(3, [2])
    y = m(tf.ones([1, 3]))
    ops = [op.name for op in tf.get_default_graph().get_operations()]
    assert "mlp/MatMul" in ops and "mlp/add" in ops and y.op.name == "mlp/Relu"


def test_with_name_scope_keeps_method_metadata():
    class M(tf.Module):
        @tf.Module.with_name_scope
        def forward(self, x):
            """doc"""
            return tf.identity(x, name="out")

    assert M.forward.__name__ == "forward" and M.forward.__doc__ == "doc"
    m = M()
    assert m.forward(tf.constant(1.0)).name == "m/out:0"


def test_default_names_and_unique_scopes():
    class MyModule(tf.Module):
        pass

    class HTTPServer(tf.Module):
        pass

    a, b = MyModule(), MyModule()
    assert a.name == b.name == "my_module"
    assert a.name_scope.name == "my_module/" and b.name_scope.name == "my_module_1/"
    assert HTTPServer().name == "http_server"
    assert tf.Module().name == "module"
    with tf.name_scope("outer"):
        c = MyModule(name="inner")
    assert c.name == "inner" and c.name_scope.name == "outer/inner/"
    with c.name_scope:
        v = tf.Variable(1.0, name="v")
    assert v.name == "outer/inner/v:0"


@pytest.mark.parametrize("bad", ["", "1abc", "a b", "a/b", "a-b", "mlp/"])
def test_invalid_names(bad):
    with pytest.raises(ValueError, match="is not a valid module name"):
        tf.Module(name=bad)


def test_name_scope_reentrant_and_nested():
    m = tf.Module(name="m")
    with m.name_scope as s1:
        with m.name_scope as s2:
            a = tf.constant(1.0, name="a")
        b = tf.constant(1.0, name="b")
    c = tf.constant(1.0, name="c")
    assert s1 == s2 == "m/"
    assert (a.op.name, b.op.name, c.op.name) == ("m/a", "m/b", "c")


def test_module_without_variables():
    class Act(tf.Module):
        def __call__(self, x):
            return tf.nn.relu(x)

    a = Act()
    assert a.variables == () and a.trainable_variables == () and a.submodules == ()
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(a(tf.constant([-1.0, 2.0]))), [0.0, 2.0])


def test_trainable_filtering_and_dedup():
    class M(tf.Module):
        def __init__(self):
            super().__init__()
            with self.name_scope:
                self.w = tf.Variable(tf.ones([2]), name="w")
                self.step = tf.Variable(0, trainable=False, name="step")
            self.alias = self.w  # the same variable through two attributes: listed once
            self.pair = (self.w, self.step)

    m = M()
    assert [v.name for v in m.variables] == ["m/w:0", "m/step:0"]  # alias < pair < step < w
    assert [v.name for v in m.trainable_variables] == ["m/w:0"]


def test_containers_of_modules_and_order():
    leaf = [tf.Module(name="l%d" % i) for i in range(6)]

    class Holder(tf.Module):
        def __init__(self):
            super().__init__()
            self.z_dict = {"b": leaf[1], "a": leaf[0]}         # dict by sorted key
            self.a_tuple = (leaf[2], [leaf[3]])                # nested list in a tuple
            self.m_named = collections.namedtuple("P", "x y")(leaf[4], 7)
            self.n_none = None

    h = Holder()
    leaf[2].child = leaf[5]  # found through a submodule, after every direct attribute
    assert h.submodules == (leaf[2], leaf[3], leaf[4], leaf[0], leaf[1], leaf[5])
    assert leaf[2].submodules == (leaf[5],)
    paths = dict((m.name, p) for p, m in h._flatten(predicate=lambda x: isinstance(x, tf.Module), with_path=True))
    assert paths == {"l0": ("z_dict", "a"), "l1": ("z_dict", "b"), "l2": ("a_tuple", 0), "l3": ("a_tuple", 1, 0),
                     "l4": ("m_named", 0), "l5": ("a_tuple", 0, "child")}


def test_variables_breadth_first_through_containers():
    class Inner(tf.Module):
        def __init__(self, name):
            super().__init__(name=name)
            with self.name_scope:
                self.v = tf.Variable(1.0, name="v")

    class Outer(tf.Module):
        def __init__(self):
            super().__init__(name="outer")
            with self.name_scope:
                self.own = tf.Variable(2.0, name="own")
                self.mods = {"y": Inner("y"), "x": Inner("x")}
                self.extra = [tf.Variable(3.0, name="extra0"), tf.Variable(4.0, name="extra1", trainable=False)]

    o = Outer()
    assert [v.name for v in o.variables] == ["outer/extra0:0", "outer/extra1:0", "outer/own:0",
                                             "outer/x/v:0", "outer/y/v:0"]
    assert [v.name for v in o.trainable_variables] == ["outer/extra0:0", "outer/own:0", "outer/x/v:0", "outer/y/v:0"]
    with tf.Session() as sess:
        sess.run(tf.variables_initializer(o.variables))
        assert sess.run(list(o.variables)) == [3.0, 4.0, 2.0, 1.0, 1.0]


def test_shared_submodule_listed_once_and_cycles():
    shared = tf.Module(name="shared")
    a, b = tf.Module(name="a"), tf.Module(name="b")
    a.s, b.s = shared, shared
    root = tf.Module(name="root")
    root.children = [a, b]
    assert root.submodules == (a, b, shared)
    a.parent = root  # a cycle
    assert root.submodules == (a, b, shared)
    with_path = list(root._flatten(predicate=lambda x: isinstance(x, tf.Module), with_path=True))
    assert [p for p, _ in with_path][:3] == [("children", 0), ("children", 1), ("children", 0, "parent")]


def test_flatten_non_recursive_and_predicate_none():
    m = tf.Module(name="m")
    m.sub = tf.Module(name="sub")
    m.sub.x = 5
    m.k = 3
    leaves = list(m._flatten(recursive=False))
    assert 3 in leaves and m.sub in leaves and 5 not in leaves
    assert 5 in list(m._flatten())


def test_gradients_through_module_trainable_variables():
    m = ScopedMLP(3, [2], name="mlp")
    x = tf.constant(np.ones((4, 3), np.float32))
    loss = tf.reduce_sum(m(x))
    grads = tf.gradients(loss, list(m.trainable_variables))
    assert len(grads) == 2 and all(g is not None for g in grads)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=list(m.trainable_variables))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
