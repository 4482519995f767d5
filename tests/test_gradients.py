"""tf.gradients mechanics: aggregation, unconnected inputs, stop_gradient, registry."""
import numpy as np
import pytest

import nbflow as tf


def test_aggregates_with_addn_under_gradients_scope():
    x = tf.placeholder(tf.float32, [], name="x")
    y = x * x + x
    (g,) = tf.gradients(y, x)
    assert g.op.name.startswith("gradients/")
    names = [op.type for op in tf.get_default_graph().get_operations() if op.name.startswith("gradients")]
    assert "AddN" in names
    with tf.Session() as sess:
        assert sess.run(g, {x: 3.0}) == 7.0


def test_multiple_ys_and_xs():
    a = tf.placeholder(tf.float64, [2])
    b = tf.placeholder(tf.float64, [2])
    y1 = tf.reduce_sum(a * b)
    y2 = tf.reduce_sum(a * 3.0)
    ga, gb = tf.gradients([y1, y2], [a, b])
    with tf.Session() as sess:
        va, vb = sess.run([ga, gb], {a: [1.0, 2.0], b: [5.0, 7.0]})
    np.testing.assert_allclose(va, [8.0, 10.0])
    np.testing.assert_allclose(vb, [1.0, 2.0])


def test_unconnected_is_none_or_zero():
    x = tf.placeholder(tf.float32, [3])
    z = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(x * 2.0)
    assert tf.gradients(y, [z]) == [None]
    (gz,) = tf.gradients(y, [z], unconnected_gradients="zero")
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(gz, {z: [1, 2, 3]}), [0, 0, 0])


def test_stop_gradient_and_stop_gradients_argument():
    x = tf.placeholder(tf.float32, [])
    y = tf.stop_gradient(x * 2.0) * x
    (g,) = tf.gradients(y, x)
    with tf.Session() as sess:
        assert sess.run(g, {x: 3.0}) == 6.0  # only the right factor
    a = tf.placeholder(tf.float32, [])
    b = a * 2.0
    c = b * a
    (ga,) = tf.gradients(c, a, stop_gradients=[b])
    with tf.Session() as sess:
        assert sess.run(ga, {a: 3.0}) == 6.0


def test_no_gradient_through_integer_tensors():
    x = tf.placeholder(tf.float32, [])
    i = tf.cast(x, tf.int32)
    y = tf.cast(i, tf.float32) * x
    (g,) = tf.gradients(y, x)
    with tf.Session() as sess:
        assert sess.run(g, {x: 2.5}) == 2.0  # d/dx of (const 2) * x
    with pytest.raises(TypeError):
        tf.gradients(i, x)


def test_grad_ys():
    x = tf.placeholder(tf.float32, [2])
    y = x * 3.0
    (g,) = tf.gradients(y, x, grad_ys=tf.constant([1.0, 10.0]))
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {x: [0, 0]}), [3.0, 30.0])


def test_gradient_with_respect_to_variable():
    w = tf.Variable([1.0, 2.0], name="w")
    loss = tf.reduce_sum(w * w)
    (g,) = tf.gradients(loss, [w])
    with tf.Session() as sess:
        sess.run(w.initializer)
        np.testing.assert_array_equal(sess.run(g), [2.0, 4.0])


def test_register_gradient_and_override_map():
    @tf.RegisterGradient("NbflowTestDoubleGrad")
    def _double(op, grad):
        return grad * 2.0

    x = tf.placeholder(tf.float32, [])
    g = tf.get_default_graph()
    with g.gradient_override_map({"Identity": "NbflowTestDoubleGrad"}):
        y = tf.identity(x)
    (gx,) = tf.gradients(y, x)
    with tf.Session() as sess:
        assert sess.run(gx, {x: 1.0}) == 2.0
    with pytest.raises(KeyError):
        tf.RegisterGradient("NbflowTestDoubleGrad")(lambda op, g: g)


def test_missing_gradient_is_lookup_error():
    from nbflow.ops.base import Op, apply_op

    class NbflowTestNoGradOp(Op):
        type = "NbflowTestNoGradOp"

        @classmethod
        def infer(cls, ctx):
            return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    x = tf.placeholder(tf.float32, [])
    y = apply_op(NbflowTestNoGradOp, [x])
    with pytest.raises(LookupError, match="No gradient defined for operation"):
        tf.gradients(y, x)
    tf.NotDifferentiable("NbflowTestNoGradOp")
    assert tf.gradients(y, x) == [None]


def test_second_derivative():
    x = tf.placeholder(tf.float64, [])
    y = x * x * x
    (g,) = tf.gradients(y, x)
    (h,) = tf.gradients(g, x)
    with tf.Session() as sess:
        assert sess.run([g, h], {x: 2.0}) == [12.0, 12.0]


def test_gradient_checker_detects_a_wrong_gradient():
    @tf.RegisterGradient("NbflowTestWrongGrad")
    def _wrong(op, grad):
        return grad * 3.0

    x = tf.placeholder(tf.float64, [3])
    with tf.get_default_graph().gradient_override_map({"Identity": "NbflowTestWrongGrad"}):
        y = tf.identity(x)
    with tf.Session():
        err = tf.test.compute_gradient_error(x, [3], y, [3])
    assert err > 1.0
    z = x * x
    with tf.Session():
        assert tf.test.compute_gradient_error(x, [3], z, [3]) < 1e-6


def test_broadcast_gradient_reduces_to_input_shape():
    a = tf.placeholder(tf.float64, [None, 3])
    b = tf.placeholder(tf.float64, [3])
    c = tf.placeholder(tf.float64, [])
    y = tf.reduce_sum(a * b + c)
    ga, gb, gc = tf.gradients(y, [a, b, c])
    assert gb.shape.as_list() == [3]
    with tf.Session() as sess:
        va, vb, vc = sess.run([ga, gb, gc], {a: np.ones((4, 3)), b: [1.0, 2.0, 3.0], c: 0.5})
    np.testing.assert_allclose(va, np.tile([1.0, 2.0, 3.0], (4, 1)))
    np.testing.assert_allclose(vb, [4.0, 4.0, 4.0])
    assert vc == 12.0
