"""BlockLSTM / BlockLSTMGrad (nbflow/ops/block_rnn_ops.py): numpy reference, finite differences, edges, errors."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context
from nbflow.ops.block_rnn_ops import block_lstm


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference(steps, x, c, h, w, wci, wcf, wco, b, forget_bias=1.0, cell_clip=3.0, use_peephole=False):
    """TF's BlockLSTM in numpy: (i, cs, f, o, ci, co, h) [T, B, H], zero after ``steps``."""
    nt, nb, _ = x.shape
    n = c.shape[1]
    outs = [np.zeros((nt, nb, n), x.dtype) for _ in range(7)]
    if not use_peephole:
        wci = wcf = wco = np.zeros(n, x.dtype)
    for t in range(steps):
        g = np.concatenate([x[t], h], 1) @ w + b
        gi, gj, gf, go = (g[:, k * n:(k + 1) * n] for k in range(4))
        i = _sigmoid(gi + c * wci)
        f = _sigmoid(gf + forget_bias + c * wcf)
        ci = np.tanh(gj)
        c = i * ci + f * c
        if cell_clip > 0:
            c = np.clip(c, -cell_clip, cell_clip)
        o = _sigmoid(go + c * wco)
        co = np.tanh(c)
        h = o * co
        for out, v in zip(outs, (i, c, f, o, ci, co, h)):
            out[t] = v
    return outs


def _inputs(rng, nt, nb, ni, n, dtype, scale=0.5):
    r = lambda *s: (rng.standard_normal(s) * scale).astype(dtype)  # noqa: E731
    return [r(nt, nb, ni), r(nb, n), r(nb, n), r(ni + n, 4 * n), r(n), r(n), r(n), r(4 * n)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_peephole,cell_clip", [(False, -1.0), (True, 3.0), (True, 0.4), (False, 0.4)])
def test_block_lstm_matches_numpy(dtype, use_peephole, cell_clip):
    rng = np.random.default_rng(0)
    args = _inputs(rng, 5, 3, 4, 6, dtype, scale=1.0)
    outs = block_lstm(np.int64(5), *args, forget_bias=0.7, cell_clip=cell_clip, use_peephole=use_peephole)
    assert [o.shape.as_list() for o in outs] == [[5, 3, 6]] * 7 and outs[0].dtype == tf.as_dtype(dtype)
    with tf.Session() as sess:
        got = sess.run(list(outs))
    want = reference(5, *[a.astype(np.float64) for a in args], forget_bias=0.7, cell_clip=cell_clip,
                     use_peephole=use_peephole)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    for g, w_ in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w_, rtol=tol, atol=tol)


def test_seq_len_max_zeros_the_later_steps_and_their_gradients():
    rng = np.random.default_rng(1)
    args = _inputs(rng, 4, 2, 3, 5, np.float64)
    steps = tf.placeholder(tf.int64, [])
    outs = block_lstm(steps, *args, cell_clip=-1.0)
    loss = tf.reduce_sum(outs[6] * np.arange(1, 5.0).reshape(4, 1, 1)) + tf.reduce_sum(outs[1])
    x_grad = tf.gradients(loss, outs[0].op.inputs[1])[0]
    with tf.Session() as sess:
        for s in (0, 2, 4):
            got, gx = sess.run([list(outs), x_grad], {steps: s})
            for g, w_ in zip(got, reference(s, *args, cell_clip=-1.0)):
                np.testing.assert_allclose(g, w_, rtol=1e-12, atol=1e-12)
            assert np.all(gx[s:] == 0) and (s == 0 or np.all(gx[:s] != 0))
        with pytest.raises(tf.errors.InvalidArgumentError, match="seq_len_max must be in"):
            sess.run(outs[6], {steps: 5})


@pytest.mark.parametrize("use_peephole,cell_clip", [(False, -1.0), (True, -1.0), (True, 0.6)])
def test_block_lstm_gradients_finite_differences(use_peephole, cell_clip):
    rng = np.random.default_rng(2)
    nt, nb, ni, n = 4, 2, 3, 3
    values = _inputs(rng, nt, nb, ni, n, np.float64, scale=0.8)
    holders = [tf.placeholder(tf.float64, v.shape) for v in values]
    outs = block_lstm(np.int64(nt), *holders, forget_bias=0.5, cell_clip=cell_clip, use_peephole=use_peephole)
    # a loss that weighs every step's cs and h differently
    wc, wh = rng.standard_normal((2, nt, nb, n))
    loss = tf.reduce_sum(outs[1] * wc) + tf.reduce_sum(outs[6] * wh)
    checked = range(8) if use_peephole else (0, 1, 2, 3, 7)
    with tf.Session() as sess:
        for k in checked:
            feed = {p: v for j, (p, v) in enumerate(zip(holders, values)) if j != k}
            theory, numeric = tf.test.compute_gradient(holders[k], values[k].shape, loss, [],
                                                       x_init_value=values[k], extra_feed_dict=feed, delta=1e-5)
            np.testing.assert_allclose(theory, numeric, rtol=1e-6, atol=1e-8, err_msg=str(k))
    if not use_peephole:
        assert tf.gradients(loss, holders[4:7]) == [None, None, None]


def test_float32_gradients_match_float64():
    rng = np.random.default_rng(3)
    values = _inputs(rng, 6, 4, 5, 8, np.float64)
    results = []
    for dtype in (tf.float32, tf.float64):
        vs = [tf.constant(v.astype(dtype.as_numpy_dtype)) for v in values]
        outs = block_lstm(np.int64(6), *vs, cell_clip=-1.0, use_peephole=True)
        loss = tf.reduce_sum(outs[6] ** 2) + tf.reduce_sum(outs[1])
        with tf.Session() as sess:
            results.append(sess.run(tf.gradients(loss, vs)[1:]))
    for g32, g64 in zip(*results):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


def test_unknown_dims_batch_one_and_empty():
    x = tf.placeholder(tf.float32, [None, None, 3])
    c = tf.placeholder(tf.float32, [None, 4])
    h = tf.placeholder(tf.float32, [None, 4])
    steps = tf.placeholder(tf.int64, [])
    rng = np.random.default_rng(4)
    w, wci, wcf, wco, b = (rng.standard_normal(s).astype(np.float32) for s in ((7, 16), 4, 4, 4, 16))
    outs = block_lstm(steps, x, c, h, w, wci, wcf, wco, b)
    assert outs[6].shape.as_list() == [None, None, 4]
    loss = tf.reduce_sum(outs[6]) + tf.reduce_sum(outs[1])
    grads = tf.gradients(loss, [x, c, h])
    with tf.Session() as sess:
        for nt, nb in ((1, 1), (3, 1), (1, 5), (0, 2), (2, 0)):
            xv, cv, hv = (rng.standard_normal(s).astype(np.float32) for s in ((nt, nb, 3), (nb, 4), (nb, 4)))
            got = sess.run(list(outs) + grads, {x: xv, c: cv, h: hv, steps: nt})
            for g, want in zip(got, reference(nt, xv, cv, hv, w, wci, wcf, wco, b)):
                np.testing.assert_allclose(g, want, rtol=2e-6, atol=2e-6)
            assert got[7].shape == (nt, nb, 3) and got[8].shape == (nb, 4)
            if nt == 0:
                assert not np.any(got[8]) and not np.any(got[9])


def test_eager_block_lstm_and_gradient_tape():
    rng = np.random.default_rng(5)
    values = _inputs(rng, 3, 2, 3, 4, np.float64)
    want = reference(3, *values)
    with tf.Graph().as_default():
        holders = [tf.constant(v) for v in values]
        outs = block_lstm(np.int64(3), *holders)
        g_graph = tf.gradients(tf.reduce_sum(outs[6]), holders[3])[0]
        with tf.Session() as sess:
            g_graph = sess.run(g_graph)
    with context.eager_mode():
        w = tf.Variable(values[3])
        with tf.GradientTape() as tape:
            outs = block_lstm(np.int64(3), values[0], values[1], values[2], w, *values[4:])
            loss = tf.reduce_sum(outs[6])
        np.testing.assert_allclose(outs[6].numpy(), want[6], rtol=1e-12)
        np.testing.assert_allclose(tape.gradient(loss, w).numpy(), g_graph, rtol=1e-10)


def test_bad_inputs_name_the_op():
    rng = np.random.default_rng(6)
    x, c, h, w, wci, wcf, wco, b = _inputs(rng, 2, 3, 4, 5, np.float32)
    with pytest.raises(ValueError, match="w.dims\\(0\\) must be input size \\+ cell size"):
        block_lstm(np.int64(2), x, c, h, w[1:], wci, wcf, wco, b, name="lstm_bad")
    with pytest.raises(ValueError, match="batch size"):
        block_lstm(np.int64(2), x, c[1:], h, w, wci, wcf, wco, b)
    with pytest.raises(ValueError, match="4 \\* cell size"):
        block_lstm(np.int64(2), x, c, h, w, wci, wcf, wco, b[1:])
    with pytest.raises(TypeError, match="dtype float64, x has float32"):
        block_lstm(np.int64(2), x, c.astype(np.float64), h, w, wci, wcf, wco, b)
    with pytest.raises(TypeError, match="float32 or float64"):
        block_lstm(np.int64(2), x.astype(np.int32), c, h, w, wci, wcf, wco, b)
    cp = tf.placeholder(tf.float32, [None, None])
    outs = block_lstm(np.int64(2), x, cp, h, w, wci, wcf, wco, b, name="lstm_run")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="lstm_run") as e:
            sess.run(outs[6], {cp: c[:, :4]})
        assert "cell size" in str(e.value)


def test_gradient_op_from_separate_arrays():
    """BlockLSTMGrad fed forward outputs that are not views of one buffer (copied into one)."""
    from nbflow.ops.base import apply_op
    from nbflow.ops.block_rnn_ops import BlockLSTMGrad

    rng = np.random.default_rng(7)
    args = _inputs(rng, 3, 2, 3, 4, np.float64)
    outs = block_lstm(np.int64(3), *args, cell_clip=-1.0)
    hg = rng.standard_normal((3, 2, 4))
    inputs = outs[0].op.inputs[1:]
    want = tf.gradients(outs[6], [inputs[k] for k in (0, 1, 2, 3, 7)], grad_ys=tf.constant(hg))
    with tf.Session() as sess:
        fwd = sess.run(list(outs))
        want = sess.run(want)
    consts = [tf.constant(np.int64(3))] + [tf.constant(a) for a in args] + [tf.constant(v.copy()) for v in fwd]
    got = apply_op(BlockLSTMGrad, consts + [tf.constant(np.zeros_like(hg)), tf.constant(hg)],
                   {"forget_bias": 1.0, "cell_clip": -1.0, "use_peephole": False, "T": tf.float64})
    with tf.Session() as sess:
        got = sess.run(got)
    for k, w_ in zip((0, 1, 2, 3, 7), want):
        np.testing.assert_allclose(got[k], w_, rtol=1e-12, atol=1e-12)
