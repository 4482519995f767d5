"""Every op family runs eagerly through the same kernels as graph mode.

Each case runs once in a graph (Session) and once eagerly on the same values:
the results must agree, an eager result must not change when the op runs
again (eager tensors are values: no kernel may hand out a buffer it reuses),
and for float inputs the GradientTape's gradient of sum(outputs) must equal
tf.gradients' in graph mode.
"""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode

rng = np.random.RandomState(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return rng.standard_normal(shape).astype(np.float64)


def pos(*shape):
    return (rng.random_sample(shape) + 0.5).astype(np.float32)


def i32(hi, *shape):
    return rng.randint(0, hi, size=shape).astype(np.int32)


# (name, fn(*tensors), inputs, differentiable)
CASES = [
    ("add", lambda a, b: a + b, [f32(3, 4), f32(3, 4)], True),
    ("add_broadcast", lambda a, b: a + b, [f32(3, 4), f32(4)], True),
    ("sub_f64", lambda a, b: a - b, [f64(2, 3), f64(2, 3)], True),
    ("mul_scalar", lambda a: a * 2.5, [f32(5)], True),
    ("div", lambda a, b: a / b, [f32(3), pos(3)], True),
    ("pow", lambda a: a ** 2, [f32(3, 2)], True),
    ("pow_tensor", lambda a, b: tf.pow(a, b), [pos(4), f32(4)], True),
    ("max_min", lambda a, b: tf.maximum(a, b) + tf.minimum(a, b), [f32(6), f32(6)], True),
    ("squared_difference", lambda a, b: tf.squared_difference(a, b), [f32(2, 2), f32(2, 2)], True),
    ("unary_chain", lambda a: tf.exp(-tf.abs(a)) + tf.tanh(a) + tf.sigmoid(a) + tf.square(a), [f32(7)], True),
    ("log_sqrt", lambda a: tf.log(a) + tf.sqrt(a) + tf.rsqrt(a) + tf.reciprocal(a), [pos(3, 3)], True),
    ("activations", lambda a: tf.nn.relu(a) + tf.nn.relu6(a) + tf.nn.elu(a) + tf.nn.softplus(a)
     + tf.nn.leaky_relu(a) + tf.nn.selu(a) + tf.nn.softsign(a), [f32(4, 5)], True),
    ("trig", lambda a: tf.sin(a) * tf.cos(a), [f32(8)], True),
    ("rounding", lambda a: tf.floor(a) + tf.ceil(a) + tf.round(a) + tf.sign(a), [f32(6)], False),
    ("matmul", lambda a, b: tf.matmul(a, b), [f32(3, 4), f32(4, 5)], True),
    ("matmul_t", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True), [f32(4, 3), f32(5, 4)], True),
    ("batch_matmul", lambda a, b: tf.matmul(a, b), [f32(2, 3, 4), f32(2, 4, 2)], True),
    ("reduce_sum_axis", lambda a: tf.reduce_sum(a, axis=1), [f32(3, 4)], True),
    ("reduce_mean_keep", lambda a: tf.reduce_mean(a, axis=0, keepdims=True), [f32(3, 4)], True),
    ("reduce_all_kinds", lambda a: tf.reduce_max(a) + tf.reduce_min(a, 1)[0] + tf.reduce_prod(a[0]),
     [f32(2, 3)], True),
    ("logsumexp", lambda a: tf.reduce_logsumexp(a, axis=-1), [f32(3, 5)], True),
    ("argmax", lambda a: tf.argmax(a, axis=1), [f32(4, 6)], False),
    ("argmin", lambda a: tf.argmin(a, axis=0), [f32(4, 6)], False),
    ("reshape", lambda a: tf.reshape(a, [2, -1]), [f32(3, 4)], True),
    ("transpose", lambda a: tf.transpose(a, [1, 0, 2]), [f32(2, 3, 4)], True),
    ("expand_squeeze", lambda a: tf.squeeze(tf.expand_dims(a, 0) * 2.0, [0]), [f32(3)], True),
    ("concat", lambda a, b: tf.concat([a, b], axis=1), [f32(2, 3), f32(2, 2)], True),
    ("stack_unstack", lambda a: tf.stack(tf.unstack(a)[::-1]), [f32(3, 2)], True),
    ("split", lambda a: tf.split(a, 2, axis=1)[1], [f32(2, 4)], True),
    ("tile", lambda a: tf.tile(a, [2, 3]), [f32(2, 2)], True),
    ("pad", lambda a: tf.pad(a, [[1, 0], [0, 2]]), [f32(2, 3)], True),
    ("slice", lambda a: tf.slice(a, [1, 0], [2, 2]), [f32(3, 4)], True),
    ("strided_slice", lambda a: a[1:, ::2] + a[0, 1], [f32(3, 4)], True),
    ("gather", lambda a, i: tf.gather(a, i), [f32(5, 3), i32(5, 4)], True),
    ("gather_nd", lambda a, i: tf.gather_nd(a, i), [f32(3, 3), np.array([[0, 1], [2, 2]], np.int32)], True),
    ("one_hot", lambda i: tf.one_hot(i, 4), [i32(4, 5)], False),
    ("where", lambda a, b: tf.where(a > b, a, b), [f32(5), f32(5)], True),
    ("cast", lambda a: tf.cast(a * 10, tf.int32), [f32(4)], False),
    ("compare_logical", lambda a, b: tf.logical_and(tf.less(a, b), tf.logical_not(tf.equal(a, b))),
     [f32(5), f32(5)], False),
    ("softmax", lambda a: tf.nn.softmax(a), [f32(3, 5)], True),
    ("log_softmax", lambda a: tf.nn.log_softmax(a), [f32(3, 5)], True),
    ("softmax_xent", lambda a, b: tf.nn.softmax_cross_entropy_with_logits_v2(
        labels=tf.nn.softmax(b), logits=a), [f32(4, 3), f32(4, 3)], True),
    ("sparse_xent", lambda a, i: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=a),
     [f32(4, 3), i32(3, 4)], True),
    ("sigmoid_xent", lambda a, b: tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.sigmoid(b), logits=a),
     [f32(4), f32(4)], True),
    ("l2_loss", lambda a: tf.nn.l2_loss(a), [f32(3, 3)], True),
    ("bias_add", lambda a, b: tf.nn.bias_add(a, b), [f32(2, 3), f32(3)], True),
    ("conv2d", lambda x, w: tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME"),
     [f32(1, 5, 5, 2), f32(3, 3, 2, 3)], True),
    ("max_pool", lambda x: tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [f32(1, 4, 4, 2)], True),
    ("avg_pool", lambda x: tf.nn.avg_pool(x, [1, 2, 2, 1], [1, 1, 1, 1], "SAME"), [f32(1, 3, 3, 1)], True),
    ("moments", lambda x: tf.nn.moments(x, axes=[0])[1], [f32(6, 2)], True),
    ("batch_norm", lambda x, m, v: tf.nn.batch_normalization(x, m, v, None, None, 1e-3),
     [f32(4, 3), f32(3), pos(3)], True),
    ("cumsum", lambda a: tf.cumsum(a, axis=1), [f32(2, 4)], True),
    ("clip", lambda a: tf.clip_by_value(a, -0.5, 0.5) + tf.clip_by_norm(a, 1.0), [f32(5)], True),
    ("like_fill", lambda a: tf.zeros_like(a) + tf.ones_like(a) + tf.fill([2, 3], 2.0), [f32(2, 3)], False),
    ("range", lambda: tf.range(2, 11, 3), [], False),
    ("broadcast_to", lambda a: tf.broadcast_to(a, [3, 4]), [f32(4)], True),
    ("reverse", lambda a: tf.reverse(a, [1]), [f32(2, 3)], True),
    ("top_k", lambda a: tf.nn.top_k(a, 2).values, [f32(3, 5)], True),
    ("segment_sum", lambda a: tf.unsorted_segment_sum(a, [0, 1, 0], 2), [f32(3, 2)], True),
    ("boolean_mask", lambda a: tf.boolean_mask(a, [True, False, True]), [f32(3, 2)], True),
    ("l2_normalize", lambda a: tf.nn.l2_normalize(a, axis=1), [f32(2, 3)], True),
    ("embedding_lookup", lambda p, i: tf.nn.embedding_lookup(p, i), [f32(6, 2), i32(6, 3)], True),
    ("add_n", lambda a, b: tf.add_n([a, b, a]), [f32(3), f32(3)], True),
    ("empty", lambda a: tf.reduce_sum(a * 2.0, axis=0), [np.zeros((0, 3), np.float32)], True),
    ("size_one", lambda a: tf.nn.softmax(a), [f32(1, 1)], True),
]


def _run_graph(fn, inputs, grads):
    with tf.Graph().as_default():
        ts = [tf.constant(x) for x in inputs]
        out = fn(*ts)
        fetch = [out]
        if grads:
            gs = tf.gradients(tf.reduce_sum(out), ts)
            fetch.append([g if g is not None else tf.zeros_like(t) for g, t in zip(gs, ts)])
        with tf.Session() as sess:
            return sess.run(fetch)


def _run_eager(fn, inputs, grads):
    ts = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        for t in ts:
            if t.dtype.is_floating:
                tape.watch(t)
        out = fn(*ts)
        total = tf.reduce_sum(out) if grads else None
    result = [out.numpy()]
    if grads:
        gs = tape.gradient(total, ts)
        result.append([g.numpy() if g is not None else np.zeros_like(x) for g, x in zip(gs, inputs)])
    return out, result


def _float_inputs(inputs):
    return [x for x in inputs if x.dtype.kind == "f"]


@pytest.mark.parametrize("name,fn,inputs,differentiable", CASES, ids=[c[0] for c in CASES])
def test_eager_matches_graph(name, fn, inputs, differentiable):
    grads = differentiable and bool(_float_inputs(inputs))
    expected = _run_graph(fn, inputs, grads)
    with eager_mode():
        out, got = _run_eager(fn, inputs, grads)
        assert type(out).__name__ == "EagerTensor"
        tol = dict(rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got[0], expected[0], **tol)
        if grads:
            for g, e in zip(got[1], expected[1]):
                np.testing.assert_allclose(g, e, **tol)
        # an eager result is a value: running the op again (other inputs) must not change it
        kept = got[0].copy()
        other = [x * 2 + 1 if x.dtype.kind == "f" else x for x in inputs]
        fn(*[tf.constant(x) for x in other])
        fn(*[tf.constant(x) for x in inputs])
        np.testing.assert_array_equal(out.numpy(), kept)
