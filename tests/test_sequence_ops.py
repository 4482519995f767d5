"""tf.reverse_sequence against a numpy reference, with its gradient; bidirectional_dynamic_rnn with lengths."""
import numpy as np
import pytest

import nbflow as tf


def reference(x, lengths, seq_axis, batch_axis):
    out = x.copy()
    for b, n in enumerate(lengths):
        src = [slice(None)] * x.ndim
        src[batch_axis] = b
        src[seq_axis] = slice(0, n)
        dst = list(src)
        dst[seq_axis] = slice(n - 1, None, -1) if n else slice(0, 0)
        out[tuple(src)] = x[tuple(dst)]
    return out


@pytest.mark.parametrize("shape,seq_axis,batch_axis", [((3, 5), 1, 0), ((5, 3, 2), 0, 1), ((4, 3, 5, 2), 2, 1),
                                                       ((3, 4, 2, 5), 1, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reverse_sequence_matches_numpy(shape, seq_axis, batch_axis, dtype):
    rng = np.random.RandomState(0)
    xv = rng.randn(*shape).astype(dtype)
    lengths = rng.randint(0, shape[seq_axis] + 1, size=shape[batch_axis])
    x = tf.placeholder(dtype, [None] * len(shape))
    y = tf.reverse_sequence(x, tf.constant(lengths, tf.int64), seq_axis=seq_axis, batch_axis=batch_axis)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: xv}), reference(xv, lengths, seq_axis, batch_axis))


def test_reverse_sequence_gradient_empty_batch_and_errors():
    x = tf.placeholder(tf.float64, [3, 4])
    lengths = tf.placeholder(tf.int32, [3])
    y = tf.reverse_sequence(x, lengths, seq_axis=1) * tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64)
    xv = np.random.RandomState(1).randn(3, 4)
    with tf.Session() as sess:
        err = tf.test.compute_gradient_error(x, [3, 4], y, [3, 4], x_init_value=xv, extra_feed_dict={lengths: [4, 0, 2]})
        assert err < 1e-8
        with pytest.raises(tf.errors.InvalidArgumentError, match="seq_lengths must be in"):
            sess.run(y, {x: xv, lengths: [5, 0, 1]})
        z = tf.placeholder(tf.float32, [None, 4])
        e = tf.reverse_sequence(z, tf.zeros([0], tf.int32), seq_axis=1)
        assert sess.run(e, {z: np.zeros((0, 4), np.float32)}).shape == (0, 4)
    with pytest.raises(ValueError, match="seq_dim and batch_dim must differ"):
        tf.reverse_sequence(x, lengths, seq_axis=0, batch_axis=0)
    with pytest.raises(ValueError, match="len\\(seq_lengths\\)"):
        tf.reverse_sequence(x, tf.constant([1, 2]), seq_axis=1)


def test_bidirectional_dynamic_rnn_with_lengths_matches_static():
    x = tf.placeholder(tf.float64, [3, 4, 2])
    lengths = tf.constant([4, 1, 3])
    fw, bw = tf.nn.rnn_cell.GRUCell(3, name="fw"), tf.nn.rnn_cell.GRUCell(3, name="bw")
    (of, ob), _ = tf.nn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=lengths, dtype=tf.float64)
    outs, _, _ = tf.nn.static_bidirectional_rnn(fw, bw, tf.unstack(x, axis=1), sequence_length=lengths,
                                                dtype=tf.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b, s = sess.run([of, ob, tf.stack(outs, 1)], {x: np.random.RandomState(2).randn(3, 4, 2)})
    np.testing.assert_allclose(np.concatenate([a, b], -1), s, atol=1e-12)
