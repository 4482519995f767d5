"""GPU top_k (with its gradient's last-axis scatter/gather), Where and Unique under the CUDA
simulator, compared with the CPU kernels (run by tests/test_cuda_sim.py in a child process)."""
import numpy as np
import pytest

import nbflow as tf
from cuda_sim_cases import _on_gpu, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


@pytest.fixture(params=["bitonic", "counting"])
def top_k_path(request, monkeypatch):
    """Rows sorted in shared memory (bitonic), or longer than that (ranks by counting)."""
    if request.param == "counting":
        from nbflow.kernels.cuda import sort
        monkeypatch.setattr(sort, "MAX_SORT", 4)
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_k_ties_nans_and_its_gradients(dtype, top_k_path):
    rng = np.random.RandomState(31)
    x = rng.randn(3, 4, 9).astype(dtype)
    x[0, 1, [2, 5, 7]] = 1.5            # ties: the lower index first
    x[1, 2, [3, 6]] = np.nan            # NaN: the largest, in index order
    x[2, 0, :] = 0.25                   # a whole row of ties
    w = rng.randn(3, 4, 3).astype(dtype)

    def build():
        px = tf.placeholder(tf.as_dtype(dtype), [None, 4, 9])
        pk = tf.placeholder(tf.int32, [])
        v, i = tf.nn.top_k(px, 3)
        vk, ik = tf.nn.top_k(px, pk)        # k known at run time
        pw = tf.placeholder(tf.as_dtype(dtype), w.shape)
        # upstream gradients given (grad_ys), not through reductions: the simulator is slow at those
        g = tf.gradients(v, px, grad_ys=pw)[0]               # ScatterLastAxis
        gg = tf.gradients(g, pw, grad_ys=tf.constant(x))[0]  # its gradient: GatherLastAxis
        outs = [v, i, vk, ik, g, gg, tf.nn.top_k(px, 0).values, tf.nn.top_k(tf.constant([[2.0]], dtype), 1).indices,
                tf.sort(px, direction="ASCENDING"), tf.argsort(px[0], axis=0)]
        return outs, lambda: {px: x, pk: 9, pw: w}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    for t in ("TopKV2", "ScatterLastAxis", "GatherLastAxis"):
        assert _on_gpu(text, t), t


def test_top_k_integers_long_rows_and_k_too_large_is_an_error(top_k_path):
    i = np.array([[3, -7, 3, 9, 0], [2, 2, 2, 2, 2]], dtype=np.int32)
    j = np.array([[np.iinfo(np.int64).min, 5, np.iinfo(np.int64).max]], dtype=np.int64)
    f = np.random.RandomState(34).randint(-6, 6, size=(2, 70)).astype(np.float32)  # rows > one 32-thread block

    def build():
        pi, pj, pf = (tf.placeholder(tf.as_dtype(v.dtype), v.shape) for v in (i, j, f))
        outs = list(tf.nn.top_k(pi, 4)) + list(tf.nn.top_k(pj, 2)) + list(tf.nn.top_k(pf, 5))
        return outs + [tf.argsort(pf, direction="DESCENDING")], lambda: {pi: i, pj: j, pf: f}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert _on_gpu(text, "TopKV2")
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            px, pk = tf.placeholder(tf.float32, [2, None]), tf.placeholder(tf.int32, [])
            v = tf.nn.top_k(px, pk).values
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="at least k columns"):
                sess.run(v, {px: np.ones((2, 3), np.float32), pk: 4})


def test_where_coordinates_in_row_major_order():
    rng = np.random.RandomState(32)
    a = rng.randn(3, 70) > 0.3          # more elements than one 32-element chunk
    f = rng.randn(2, 3, 4).astype(np.float64)
    f[f < 0] = 0
    f[1, 2, 3] = np.nan                 # NaN is true
    i = np.array([0, 4, 0, -1, 0], np.int32)

    def build():
        pa, pf = tf.placeholder(tf.bool, [None, 70]), tf.placeholder(tf.float64, f.shape)
        pi, ps = tf.placeholder(tf.int32, [None]), tf.placeholder(tf.float32, [])
        outs = [tf.where(pa), tf.where(pf), tf.where(pi), tf.where(ps), tf.where(tf.zeros([0, 3]) > 0),
                tf.where(pf > 5.0)]
        return outs, lambda: {pa: a, pf: f, pi: i, ps: 2.0}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert _on_gpu(text, "Where")


@pytest.mark.parametrize("dtype,out_idx", [(np.float32, tf.int32), (np.float64, tf.int64), (np.int64, tf.int32)])
def test_unique_in_first_occurrence_order(dtype, out_idx):
    rng = np.random.RandomState(33)
    x = rng.randint(-4, 5, size=75).astype(dtype)   # several chunks, many repeats
    b = np.array([True, True, False, True])
    nan = np.array([1.0, np.nan, 1.0, np.nan, 2.0], dtype=np.float32)

    def build():
        px, pb = tf.placeholder(tf.as_dtype(dtype), [None]), tf.placeholder(tf.bool, [4])
        pn, one = tf.placeholder(tf.float32, [5]), tf.placeholder(tf.as_dtype(dtype), [1])
        outs = list(tf.unique(px, out_idx=out_idx)) + list(tf.unique(pb)) + list(tf.unique(one, out_idx=out_idx))
        return outs + [tf.unique(pn)[1], tf.size(tf.unique(pn)[0]), tf.unique(tf.zeros([0], tf.as_dtype(dtype)))[0]], \
            lambda: {px: x, pb: b, pn: nan, one: x[:1]}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu)
    assert _on_gpu(text, "Unique")
