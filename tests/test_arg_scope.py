"""tf.contrib.framework.arg_scope over the tf.contrib.layers functions
(hunkim's lab-10-7 builds its MLP inside one)."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.contrib.framework import add_arg_scope, arg_scope, arg_scoped_arguments, current_arg_scope, has_arg_scope
from nbflow.contrib.layers import batch_norm, conv2d, dropout, fully_connected


def test_defaults_explicit_arguments_and_nesting():
    x = tf.placeholder(tf.float32, [None, 4])
    with arg_scope([fully_connected], activation_fn=None, biases_initializer=None):
        a = fully_connected(x, 3, scope="a")
        b = fully_connected(x, 3, activation_fn=tf.nn.relu, scope="b")  # explicit wins
        with arg_scope([fully_connected], activation_fn=tf.nn.sigmoid):  # adds to the outer scope
            c = fully_connected(x, 3, scope="c")
    d = fully_connected(x, 3, scope="d")  # outside: the function's own defaults
    assert a.op.type == "MatMul" and b.op.type == "Relu" and c.op.type == "Sigmoid" and d.op.type == "Relu"
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["a/weights", "b/weights", "c/weights", "d/biases", "d/weights"]
    assert current_arg_scope() == {}


def test_reentering_a_captured_scope_and_errors():
    with arg_scope([conv2d, fully_connected], padding="VALID") as sc:
        pass
    x = tf.placeholder(tf.float32, [None, 5, 5, 1])
    with arg_scope(sc):
        y = conv2d(x, 2, [3, 3])
    assert y.shape.as_list() == [None, 3, 3, 2]
    with pytest.raises(ValueError, match="kwargs must be empty"):
        with arg_scope(sc, padding="SAME"):
            pass
    with pytest.raises(ValueError, match="is not decorated with @add_arg_scope"):
        with arg_scope([tf.nn.relu], name="r"):
            pass
    with pytest.raises(TypeError, match="list/tuple or reused scope"):
        with arg_scope(fully_connected, activation_fn=None):
            pass


def test_add_arg_scope_on_a_user_function():
    @add_arg_scope
    def scaled(x, factor=1.0, offset=0.0):
        return x * factor + offset
    assert has_arg_scope(scaled) and not has_arg_scope(lambda x: x)
    assert tuple(arg_scoped_arguments(scaled)) == ("factor", "offset")
    with arg_scope([scaled], factor=3.0):
        assert scaled(2.0) == 6.0
        assert scaled(2.0, offset=1.0) == 7.0
    assert scaled(2.0) == 2.0


def test_mlp_with_batch_norm_and_dropout_in_an_arg_scope_as_lab_10_7():
    x = tf.placeholder(tf.float32, [None, 6])
    y = tf.placeholder(tf.float32, [None, 3])
    train_mode = tf.placeholder(tf.bool, name="train_mode")
    bn_params = {"is_training": train_mode, "decay": 0.9, "updates_collections": None}
    with arg_scope([fully_connected], activation_fn=tf.nn.relu,
                   weights_initializer=tf.contrib.layers.xavier_initializer(), biases_initializer=None,
                   normalizer_fn=batch_norm, normalizer_params=bn_params):
        h1 = fully_connected(x, 8, scope="h1")
        h1 = dropout(h1, 0.7, is_training=train_mode)
        logits = fully_connected(h1, 3, activation_fn=None, scope="hypothesis")
    assert {v.op.name for v in tf.global_variables()} >= {"h1/weights", "h1/BatchNorm/beta",
                                                          "h1/BatchNorm/moving_mean", "hypothesis/weights"}
    cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=y))
    train = tf.train.AdamOptimizer(0.05).minimize(cost)
    rng = np.random.RandomState(0)
    xs = rng.randn(30, 6).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[np.argmax(xs[:, :3], 1)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(cost, {x: xs, y: ys, train_mode: False})
        for _ in range(60):
            sess.run(train, {x: xs, y: ys, train_mode: True})
        assert sess.run(cost, {x: xs, y: ys, train_mode: False}) < first / 2
        mm = sess.run(tf.get_default_graph().get_tensor_by_name("h1/BatchNorm/moving_mean:0"))
    assert np.any(mm != 0)  # updates_collections=None: the moving averages update in place
