"""Graph.finalize(): a read-only graph still runs, saves and restores; nothing can be added."""
import os

import numpy as np
import pytest

import nbflow as tf

MSG = "Graph is finalized and cannot be modified."


def _model():
    x = tf.placeholder("float", [None, 2], name="x")
    w = tf.Variable(tf.ones([2, 1]), name="w")
    loss = tf.reduce_mean(tf.matmul(x, w))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    return x, w, loss, train


def test_finalized_graph_runs_saves_and_restores(tmp_path):
    g = tf.Graph()
    with g.as_default():
        x, w, loss, train = _model()
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
        summary = tf.summary.scalar("loss", loss)
        assert not g.finalized
        g.finalize()
        assert g.finalized
        g.finalize()  # idempotent
        with tf.Session() as sess:
            sess.run(init)
            sess.run(train, {x: np.ones((4, 2))})
            np.testing.assert_allclose(sess.run(w), [[0.5], [0.5]])
            # new fetch sets and feed shapes need new plans, not new ops
            assert sess.run(loss, {x: np.ones((1, 2))}) == pytest.approx(1.0)
            path = saver.save(sess, str(tmp_path / "model"))
            sess.run(train, {x: np.ones((3, 2))})
            saver.restore(sess, path)
            np.testing.assert_allclose(w.eval(), [[0.5], [0.5]])
            writer = tf.summary.FileWriter(str(tmp_path), sess.graph)
            writer.add_summary(sess.run(summary, {x: np.ones((1, 2))}), 1)
            writer.close()
    assert os.listdir(str(tmp_path))


@pytest.mark.parametrize("what", [
    "constant", "operator", "variable", "get_variable", "dense", "saver", "initializer", "gradients", "minimize",
    "assign", "collection",
])
def test_every_way_of_adding_to_a_finalized_graph_raises(what):
    g = tf.Graph()
    with g.as_default():
        x, w, loss, _ = _model()
        g.finalize()
        n_ops = len(g.get_operations())
        actions = {
            "constant": lambda: tf.constant(1.0),
            "operator": lambda: x + 1.0,
            "variable": lambda: tf.Variable(1.0),
            "get_variable": lambda: tf.get_variable("v", [1]),
            "dense": lambda: tf.layers.dense(x, 3),
            "saver": lambda: tf.train.Saver(),
            "initializer": lambda: tf.global_variables_initializer(),
            "gradients": lambda: tf.gradients(loss, [w]),
            "minimize": lambda: tf.train.AdamOptimizer().minimize(loss),
            "assign": lambda: w.assign(tf.zeros([2, 1])),
            "collection": lambda: tf.add_to_collection("mine", 1),
        }
        with pytest.raises(RuntimeError) as e:
            actions[what]()
        assert str(e.value) == MSG
        assert len(g.get_operations()) == n_ops
        assert tf.get_collection("mine") == []


def test_reading_a_finalized_graph_is_allowed():
    g = tf.Graph()
    with g.as_default():
        x, w, loss, train = _model()
        g.finalize()
        assert g.get_tensor_by_name("x:0") is x
        assert g.get_operation_by_name("w") is w.op
        assert tf.trainable_variables() == [w]
        assert tf.get_collection_ref("new_key") == []  # as TF: get_collection_ref does not check
        assert len(g.as_graph_def().node) == len(g.get_operations())
        with tf.name_scope("scope"):  # names are not ops
            pass


def test_other_graphs_are_unaffected():
    g = tf.Graph()
    g.finalize()
    with tf.Graph().as_default():
        assert tf.constant(1.0) is not None
