"""Optimizer.minimize / compute_gradients with var_list in the forms TF 1.x programs pass."""
import numpy as np
import pytest

import nbflow as tf


def _model():
    weights = {"w2": tf.Variable(2.0, name="w2"), "w1": tf.Variable(1.0, name="w1")}
    biases = {"b1": tf.Variable(0.5, name="b1")}
    frozen = tf.Variable(3.0, name="frozen")
    loss = tf.square(weights["w1"] * weights["w2"] + biases["b1"] + frozen)
    return weights, biases, frozen, loss


@pytest.mark.parametrize("form", ["dict_values", "dict", "generator", "tuple", "nested", "set", "map"])
def test_var_list_forms_update_exactly_those_variables(form):
    with tf.Graph().as_default():
        weights, biases, frozen, loss = _model()
        var_list = {
            "dict_values": weights.values(),
            "dict": weights,
            "generator": (v for v in weights.values()),
            "tuple": tuple(weights.values()),
            "nested": [list(weights.values())[:1], (list(weights.values())[1],)],
            "set": set(weights.values()),
            "map": map(lambda k: weights[k], ["w2", "w1"]),
        }[form]
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss, var_list=var_list)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            w1, w2, b1, fr = sess.run([weights["w1"], weights["w2"], biases["b1"], frozen])
        # d loss / d w1 = 2 * (w1 w2 + b1 + frozen) * w2 = 2 * 5.5 * 2 = 22; d / d w2 = 11
        assert w1 == pytest.approx(1.0 - 0.22) and w2 == pytest.approx(2.0 - 0.11)
        assert (b1, fr) == (0.5, 3.0)


def test_compute_gradients_pairs_follow_tfs_flattening_order():
    with tf.Graph().as_default():
        weights, biases, frozen, loss = _model()
        opt = tf.train.AdamOptimizer()
        names = lambda gv: [v.op.name for _, v in gv]  # noqa: E731
        assert names(opt.compute_gradients(loss, var_list=weights.values())) == ["w2", "w1"]  # insertion order
        assert names(opt.compute_gradients(loss, var_list=weights)) == ["w1", "w2"]  # a dict: sorted keys
        assert names(opt.compute_gradients(loss, var_list={"a": [biases["b1"]], "b": weights})) == ["b1", "w1", "w2"]
        grads = dict((v.op.name, g) for g, v in opt.compute_gradients(loss, var_list=iter([frozen, biases["b1"]])))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(grads["frozen"]) == pytest.approx(11.0)


def test_empty_and_wrong_var_lists_raise_as_tf():
    with tf.Graph().as_default():
        weights, _, _, loss = _model()
        opt = tf.train.GradientDescentOptimizer(0.1)
        for empty in ([], {}.values(), (v for v in ())):
            with pytest.raises(ValueError, match="No variables to optimize."):
                opt.minimize(loss, var_list=empty)
        with pytest.raises(NotImplementedError, match="Trying to optimize unsupported type"):
            opt.minimize(loss, var_list=weights.keys())  # names, not variables
        with pytest.raises(NotImplementedError, match="Trying to optimize unsupported type"):
            opt.minimize(loss, var_list=[weights["w1"], 3.0])
