"""GPU BlockLSTM / BlockGRU and their gradients (nbflow/backends/cuda/rnn.py) under the CUDA
simulator, compared with the CPU kernels. Run by tests/test_cuda_sim.py (not collected
directly). Shapes stay tiny: the simulator runs every thread in Python."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.ops.block_rnn_ops import block_gru, block_lstm

from cuda_sim_cases import GPU, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


def _arrays(rng, shapes, dtype, scale=0.7):
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]


def _loss_weights(rng, shape, dtype):
    return tf.constant(rng.standard_normal(shape).astype(dtype))


def _lstm_case(dtype, nt, nb, ni, n, steps, peephole, clip, fed_steps=False):
    rng = np.random.default_rng(1)
    shapes = [(nt, nb, ni), (nb, n), (nb, n), (ni + n, 4 * n), (n,), (n,), (n,), (4 * n,)]
    values = _arrays(rng, shapes, dtype, scale=1.0 if clip > 0 else 0.7)
    wh, wc = rng.standard_normal((nt, nb, n)), rng.standard_normal((nt, nb, n))

    def build():
        tdt = tf.as_dtype(dtype)
        holders = [tf.placeholder(tdt, s) for s in shapes]
        steps_t = tf.placeholder(tf.int64, []) if fed_steps else np.int64(steps)
        outs = block_lstm(steps_t, *holders, forget_bias=0.6, cell_clip=clip, use_peephole=peephole)
        loss = tf.reduce_sum(outs[6] * tf.constant(wh.astype(dtype))) + \
            tf.reduce_sum(outs[1] * tf.constant(wc.astype(dtype)))
        wrt = holders if peephole else holders[:4] + holders[7:]
        grads = tf.gradients(loss, wrt)
        feeds = dict(zip(holders, values))
        if fed_steps:
            feeds[steps_t] = np.int64(steps)
        return list(outs) + grads, lambda: feeds
    return build


@pytest.mark.parametrize("dtype,peephole,clip", [(np.float32, False, -1.0), (np.float64, True, 0.5),
                                                  (np.float32, True, 0.5)])
def test_block_lstm_and_gradients(dtype, peephole, clip):
    # 3 steps of 4 run (the last is zero), the recurrent rows' gradient over several steps
    cpu, gpu, text = run_both(_lstm_case(dtype, 4, 2, 3, 4, 3, peephole, clip))
    tol = 2e-5 if dtype == np.float32 else 1e-11
    assert_close(cpu, gpu, rtol=tol, atol=tol)
    assert "BlockLSTMGrad" in text and "device=%s" % GPU in text
    assert not np.any(gpu[0][3:])  # past seq_len_max: zeros


def test_block_lstm_fed_steps_size_one_and_no_input_features():
    # seq_len_max fed (copied back at run time), batch 1, cell size 1; then no input features
    cpu, gpu, _ = run_both(_lstm_case(np.float64, 3, 1, 2, 1, 2, True, 3.0, fed_steps=True))
    assert_close(cpu, gpu, rtol=1e-11, atol=1e-11)
    cpu, gpu, _ = run_both(_lstm_case(np.float32, 2, 2, 0, 2, 2, False, -1.0))
    assert_close(cpu, gpu, rtol=2e-5, atol=2e-5)


def test_block_lstm_zero_steps_and_empty_sequence():
    cpu, gpu, _ = run_both(_lstm_case(np.float32, 2, 2, 3, 2, 0, False, -1.0))
    assert_close(cpu, gpu)
    assert not any(np.any(v) for v in gpu[:7])
    cpu, gpu, _ = run_both(_lstm_case(np.float32, 0, 2, 3, 2, 0, True, 3.0))
    assert_close(cpu, gpu)


def _gru_case(dtype, nt, nb, ni, n, steps):
    rng = np.random.default_rng(2)
    shapes = [(nt, nb, ni), (nb, n), (ni + n, 2 * n), (ni + n, n), (2 * n,), (n,)]
    values = _arrays(rng, shapes, dtype)
    wh = rng.standard_normal((nt, nb, n))

    def build():
        holders = [tf.placeholder(tf.as_dtype(dtype), s) for s in shapes]
        outs = block_gru(np.int64(steps), *holders)
        loss = tf.reduce_sum(outs[3] * tf.constant(wh.astype(dtype)))
        return list(outs) + tf.gradients(loss, holders), lambda: dict(zip(holders, values))
    return build


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_gru_and_gradients(dtype):
    cpu, gpu, text = run_both(_gru_case(dtype, 4, 2, 3, 3, 3))
    tol = 2e-5 if dtype == np.float32 else 1e-11
    assert_close(cpu, gpu, rtol=tol, atol=tol)
    assert "BlockGRUGrad" in text and "device=%s" % GPU in text


def test_block_gru_edges():
    for args in ((1, 1, 2, 1, 1), (2, 2, 0, 2, 2), (2, 2, 3, 2, 0), (0, 2, 3, 2, 0)):
        cpu, gpu, _ = run_both(_gru_case(np.float64, *args))
        assert_close(cpu, gpu, rtol=1e-11, atol=1e-11)


def test_dynamic_rnn_lstm_with_sequence_length_runs_the_fused_op_on_the_gpu():
    """``sequence_length``: seq_len_max = max(lengths) is computed on the device and copied
    back; the final states' GatherNd may stay on the host (soft placement)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)  # batch-major [B, T, I]
    lengths = np.array([2, 1], np.int32)

    def build():
        px = tf.placeholder(tf.float32, [2, 3, 2])
        cell = tf.nn.rnn_cell.LSTMCell(3, initializer=tf.constant_initializer(0.3))
        out, state = tf.nn.dynamic_rnn(cell, px, sequence_length=tf.constant(lengths), dtype=tf.float32)
        grads = tf.gradients(tf.reduce_sum(out * out) + tf.reduce_sum(state.c), [px] + tf.trainable_variables())
        init = tf.global_variables_initializer()
        return [init, out, state.c, state.h] + grads, lambda: {px: x}

    results = []
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            fetches, feeds = build()
            with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as sess:
                sess.run(fetches[0])
                results.append(sess.run(fetches[1:], feeds()))
                text = tf.explain(fetches[1:], feeds(), file=False)
    assert_close(results[0], results[1], rtol=2e-5, atol=2e-5)
    line = next(ln for ln in text.splitlines() if "(BlockLSTM)" in ln)
    assert "device=%s" % GPU in line, line
