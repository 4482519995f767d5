"""GPU gathers/scatters by coordinates, mirror padding and reverse_sequence under the CUDA
simulator, compared with the CPU kernels (run by tests/test_cuda_sim.py in a child process)."""
import numpy as np
import pytest

import nbflow as tf
from cuda_sim_cases import _on_gpu, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_nd_scatter_nd_and_their_gradients(dtype):
    rng = np.random.RandomState(21)
    p = rng.randn(4, 3, 5).astype(dtype)
    full = np.array([[0, 1, 2], [3, 2, 4], [0, 1, 2]], dtype=np.int32)  # a repeated coordinate
    rows = np.array([[[1], [3]], [[0], [1]]], dtype=np.int64)          # whole slices
    upd = rng.randn(3, 5).astype(dtype)
    dup = np.array([[1, 0], [1, 0], [2, 2]], dtype=np.int32)            # duplicates add up

    def build():
        pp = tf.placeholder(tf.as_dtype(dtype), [None, 3, 5])
        pu = tf.placeholder(tf.as_dtype(dtype), upd.shape)
        g_full, g_rows = tf.gather_nd(pp, full), tf.gather_nd(pp, rows)
        g_none = tf.gather_nd(pp, np.zeros((2, 0), dtype=np.int32))   # depth 0: params repeated
        s = tf.scatter_nd(dup, pu, [3, 4, 5])
        loss = tf.reduce_sum(g_full * g_full) + tf.reduce_sum(tf.sin(g_rows)) + tf.reduce_sum(s * s)
        outs = [g_full, g_rows, g_none, s, tf.scatter_nd(np.zeros((0, 2), np.int32), tf.zeros([0, 5], dtype),
                                                         [2, 2, 5]),
                tf.gather_nd(pp, np.zeros((0, 2), np.int32))] + tf.gradients(loss, [pp, pu])
        return outs, lambda: {pp: p, pu: upd}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5, atol=1e-6)
    assert _on_gpu(text, "GatherNd") and _on_gpu(text, "ScatterNd")


def test_gather_nd_integers_and_scatter_nd_int32_with_shape_known_at_run_time():
    i = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    b = np.array([[True, False], [False, True]])

    def build():
        pi, pb = tf.placeholder(tf.int64, i.shape), tf.placeholder(tf.bool, b.shape)
        ps = tf.placeholder(tf.int32, [1])
        outs = [tf.gather_nd(pi, [[1, 2], [0, 0]]), tf.gather_nd(pb, [[1, 1], [0, 1], [0, 0]]),
                tf.scatter_nd([[0], [2], [0]], tf.constant([5, 6, 7]), ps)]
        return outs, lambda: {pi: i, pb: b, ps: np.array([4], np.int32)}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert _on_gpu(text, "GatherNd") and _on_gpu(text, "ScatterNd")


def test_gather_nd_out_of_range_gives_zeros_on_the_gpu():
    """As TF's GPU kernel (the CPU raises InvalidArgumentError)."""
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            p, i = tf.placeholder(tf.float32, [2, 3]), tf.placeholder(tf.int32, [3, 2])
            j, u = tf.placeholder(tf.int32, [2, 1]), tf.placeholder(tf.float32, [2])
            g, s = tf.gather_nd(p, i), tf.scatter_nd(j, u, [3])
        with tf.Session() as sess:
            got_g, got_s = sess.run([g, s], {p: np.arange(6, dtype=np.float32).reshape(2, 3),
                                             i: [[1, 2], [2, 0], [0, -1]], j: [[5], [1]], u: [1.0, 2.0]})
    np.testing.assert_array_equal(got_g, [5.0, 0.0, 0.0])
    np.testing.assert_array_equal(got_s, [0.0, 2.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
def test_mirror_pad_and_its_gradient(dtype, mode):
    rng = np.random.RandomState(22)
    x = rng.randn(3, 4, 2).astype(dtype)
    pads = [[2, 1], [0, 3], [1, 1]] if mode == "REFLECT" else [[3, 2], [1, 4], [0, 2]]
    w = rng.randn(*[d + a + b for d, (a, b) in zip(x.shape, pads)]).astype(dtype)

    def build():
        px = tf.placeholder(tf.as_dtype(dtype), [None, 4, None])
        pp = tf.placeholder(tf.int32, [3, 2])
        y = tf.pad(px, pp, mode=mode)
        one = tf.pad(tf.ones([1, 1], dtype), [[0, 0], [0, 0]] if mode == "REFLECT" else [[1, 1], [1, 0]], mode=mode)
        outs = [y, tf.gradients(y, px, grad_ys=tf.constant(w))[0], one]  # no reduction: the simulator is slow at those
        if mode == "SYMMETRIC":  # REFLECT refuses an empty dim (as TF)
            outs.append(tf.pad(tf.zeros([0, 3], dtype), [[0, 0], [1, 1]], mode=mode))
        return outs, lambda: {px: x, pp: np.array(pads, np.int32)}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, rtol=1e-5, atol=1e-5)
    assert _on_gpu(text, "MirrorPad") and _on_gpu(text, "MirrorPadGrad")


def test_mirror_pad_too_wide_is_an_error_on_the_gpu():
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            px = tf.placeholder(tf.float32, [None])
            y = tf.pad(px, [[3, 0]], mode="REFLECT")
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="paddings must be less than"):
                sess.run(y, {px: np.ones(3, np.float32)})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reverse_sequence_and_its_gradient(dtype):
    rng = np.random.RandomState(23)
    x = rng.randn(3, 5, 4, 2).astype(dtype)   # seq axis 1, batch axis 2 (not next to each other)
    y = rng.randn(4, 6).astype(dtype)         # batch 0, seq 1
    w = rng.randn(*x.shape).astype(dtype)

    def build():
        px, py = tf.placeholder(tf.as_dtype(dtype), [None, 5, 4, 2]), tf.placeholder(tf.as_dtype(dtype), y.shape)
        pl = tf.placeholder(tf.int64, [4])
        r = tf.reverse_sequence(px, pl, seq_axis=1, batch_axis=2)
        outs = [r, tf.reverse_sequence(py, tf.constant([6, 0, 1, 3]), seq_axis=1, batch_axis=0),
                tf.reverse_sequence(tf.transpose(py), tf.constant([6, 2, 1, 3], tf.int32), seq_axis=0, batch_axis=1),
                tf.gradients(tf.reduce_sum(r * w), px)[0]]
        return outs, lambda: {px: x, py: y, pl: np.array([5, 2, 0, 1], np.int64)}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert _on_gpu(text, "ReverseSequence")


def test_reverse_sequence_length_past_the_axis_is_an_error_on_the_gpu():
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            pl = tf.placeholder(tf.int32, [2])
            r = tf.reverse_sequence(tf.ones([2, 3]), pl, seq_axis=1, batch_axis=0)
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="seq_lengths must be in"):
                sess.run(r, {pl: np.array([1, 4], np.int32)})
