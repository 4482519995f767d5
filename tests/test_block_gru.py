"""BlockGRU / BlockGRUGrad (nbflow/ops/block_rnn_ops.py): numpy reference, finite differences, edges, errors;
dynamic_rnn / static_rnn over GRUCell as one BlockGRU, equal to the step-by-step path."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.ops.block_rnn_ops import block_gru
from test_rnn_fused import RNG, _compare, _dynamic, _static


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference(steps, x, h, w_ru, w_c, b_ru, b_c):
    """GRUCell over the first ``steps`` steps in numpy: (r, u, c, h) [T, B, H], zero after."""
    nt, nb, _ = x.shape
    n = h.shape[1]
    outs = [np.zeros((nt, nb, n), x.dtype) for _ in range(4)]
    for t in range(steps):
        ru = _sigmoid(np.concatenate([x[t], h], 1) @ w_ru + b_ru)
        r, u = ru[:, :n], ru[:, n:]
        c = np.tanh(np.concatenate([x[t], r * h], 1) @ w_c + b_c)
        h = u * h + (1 - u) * c
        for out, v in zip(outs, (r, u, c, h)):
            out[t] = v
    return outs


def _inputs(rng, nt, nb, ni, n, dtype, scale=0.7):
    r = lambda *s: (rng.standard_normal(s) * scale).astype(dtype)  # noqa: E731
    return [r(nt, nb, ni), r(nb, n), r(ni + n, 2 * n), r(ni + n, n), r(2 * n), r(n)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_gru_matches_numpy(dtype):
    args = _inputs(np.random.default_rng(0), 5, 3, 4, 6, dtype)
    steps = tf.placeholder(tf.int64, [])
    outs = block_gru(steps, *args)
    assert [o.shape.as_list() for o in outs] == [[5, 3, 6]] * 4
    tol = 2e-6 if dtype == np.float32 else 1e-12
    with tf.Session() as sess:
        for s in (5, 2, 0):
            got = sess.run(list(outs), {steps: s})
            for g, w_ in zip(got, reference(s, *[a.astype(np.float64) for a in args])):
                assert g.dtype == dtype
                np.testing.assert_allclose(g, w_, rtol=tol, atol=tol)


def test_block_gru_gradients_finite_differences():
    rng = np.random.default_rng(2)
    values = _inputs(rng, 4, 2, 3, 3, np.float64)
    holders = [tf.placeholder(tf.float64, v.shape) for v in values]
    outs = block_gru(np.int64(3), *holders)  # the last step is not run: no gradient from it
    loss = tf.reduce_sum(outs[3] * rng.standard_normal((4, 2, 3)))
    with tf.Session() as sess:
        for k in range(6):
            feed = {p: v for j, (p, v) in enumerate(zip(holders, values)) if j != k}
            theory, numeric = tf.test.compute_gradient(holders[k], values[k].shape, loss, [],
                                                       x_init_value=values[k], extra_feed_dict=feed, delta=1e-5)
            np.testing.assert_allclose(theory, numeric, rtol=1e-6, atol=1e-8, err_msg=str(k))


def test_block_gru_unknown_dims_and_empty():
    x = tf.placeholder(tf.float32, [None, None, 2])
    h = tf.placeholder(tf.float32, [None, 3])
    rng = np.random.default_rng(3)
    w_ru, w_c, b_ru, b_c = (rng.standard_normal(s).astype(np.float32) for s in ((5, 6), (5, 3), 6, 3))
    steps = tf.placeholder(tf.int64, [])
    outs = block_gru(steps, x, h, w_ru, w_c, b_ru, b_c)
    grads = tf.gradients(tf.reduce_sum(outs[3]), [x, h])
    with tf.Session() as sess:
        for nt, nb in ((1, 1), (0, 2), (2, 0), (3, 4)):
            xv, hv = rng.standard_normal((nt, nb, 2)).astype(np.float32), rng.standard_normal((nb, 3)).astype(
                np.float32)
            got = sess.run(list(outs) + grads, {x: xv, h: hv, steps: nt})
            for g, want in zip(got, reference(nt, xv, hv, w_ru, w_c, b_ru, b_c)):
                np.testing.assert_allclose(g, want, rtol=2e-6, atol=2e-6)
            assert got[4].shape == (nt, nb, 2) and got[5].shape == (nb, 3)


def test_block_gru_bad_inputs():
    x, h, w_ru, w_c, b_ru, b_c = _inputs(np.random.default_rng(4), 2, 3, 4, 5, np.float32)
    with pytest.raises(ValueError, match="w_c.dims\\(0\\) must be input size"):
        block_gru(np.int64(2), x, h, w_ru, w_c[1:], b_ru, b_c)
    with pytest.raises(ValueError, match="b_ru.dims\\(0\\) must be 2 \\* cell size"):
        block_gru(np.int64(2), x, h, w_ru, w_c, b_ru[1:], b_c)
    with pytest.raises(TypeError, match="h_prev of .* has dtype float64"):
        block_gru(np.int64(2), x, h.astype(np.float64), w_ru, w_c, b_ru, b_c)
    outs = block_gru(np.int64(3), x, h, w_ru, w_c, b_ru, b_c, name="gru_run")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="seq_len_max must be in"):
            sess.run(outs[3])


# -- dispatch ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("run", [_dynamic, _static])
def test_gru_cell_fused_equals_step_by_step(dtype, run):
    lengths = tf.placeholder(tf.int32, [None])
    lv = [4, 0, 2] if run is _dynamic else [4, 1, 2]
    _compare(lambda: tf.nn.rnn_cell.GRUCell(5), run, RNG.randn(3, 4, 2).astype(dtype.as_numpy_dtype), dtype,
             feeds={lengths: lv}, dtype=dtype, sequence_length=lengths, op_type="BlockGRU")


def test_gru_cell_time_major_initial_state():
    h0 = tf.placeholder(tf.float64, [None, 3])
    _compare(lambda: tf.nn.rnn_cell.GRUCell(3, bias_initializer=tf.constant_initializer(0.3)), _dynamic,
             RNG.randn(4, 2, 3), tf.float64, feeds={h0: RNG.randn(2, 3)}, extra_xs=[h0], initial_state=h0,
             time_major=True, op_type="BlockGRU")


@pytest.mark.parametrize("run", [_dynamic, _static])
def test_gru_block_cell_fused_and_step_by_step(run):
    _compare(lambda: tf.contrib.rnn.GRUBlockCell(4), run, RNG.randn(2, 3, 2), tf.float64, dtype=tf.float64,
             op_type="BlockGRU")
    assert [v.op.name for v in tf.trainable_variables("fused")] == [
        "fused_0/rnn/gru_cell/gates/kernel", "fused_0/rnn/gru_cell/gates/bias",
        "fused_0/rnn/gru_cell/candidate/kernel", "fused_0/rnn/gru_cell/candidate/bias"]


def test_gru_block_cell_equals_gru_cell_and_initial_values():
    x, h = tf.placeholder(tf.float32, [None, 3]), tf.placeholder(tf.float32, [None, 4])
    block, plain = tf.contrib.rnn.GRUBlockCell(cell_size=4), tf.nn.rnn_cell.GRUCell(4, name="plain")
    out_b, _ = block(x, h)
    out_p, _ = plain(x, h)
    feed = {x: RNG.randn(2, 3), h: RNG.randn(2, 4)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert np.all(sess.run(block.weights[1]) == 1.0) and np.all(sess.run(block.weights[3]) == 0.0)
        for a, b in zip(block.weights, plain.weights):
            b.load(sess.run(a), sess)
        np.testing.assert_allclose(*sess.run([out_b, out_p], feed), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="exactly one of num_units and cell_size"):
        tf.contrib.rnn.GRUBlockCell(3, cell_size=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [20, 25])
def test_block_gru_rows_split_across_threads_match_one_thread(monkeypatch, dtype, batch):
    """Above GRU_PARALLEL_MIN_ELEMENTS (lowered here) the recurrences run by rows on the
    threads (kernels/cpu/gru_parallel.py): 20 rows are blocks of 12 + 8, 25 rows 18 + 7."""
    import numba

    from nbflow.backends.cpu import rnn as cpu_rnn
    from nbflow.kernels.cpu import gru_parallel

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    calls = []
    for name in ("forward_steps", "backward_steps"):
        real = getattr(gru_parallel, name)
        monkeypatch.setattr(gru_parallel, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    monkeypatch.setattr(cpu_rnn, "GRU_PARALLEL_MIN_ELEMENTS", 1)
    values = _inputs(np.random.default_rng(5), 4, batch, 3, 5, dtype)
    holders = [tf.placeholder(tf.as_dtype(dtype), v.shape) for v in values]
    outs = block_gru(np.int64(4), *holders)
    loss = tf.reduce_sum(outs[3] * np.random.default_rng(6).standard_normal((4, batch, 5)).astype(dtype))
    fetches = list(outs) + tf.gradients(loss, holders)
    feed = dict(zip(holders, values))
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            with tf.Session() as sess:
                results.append(sess.run(fetches, feed))
    finally:
        numba.set_num_threads(before)
    assert calls == ["forward_steps", "backward_steps"]  # only the two-thread run
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=tol, atol=tol)
    for got, want in zip(results[1][:4], reference(4, *[v.astype(np.float64) for v in values])):
        np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-12, atol=2e-6)
