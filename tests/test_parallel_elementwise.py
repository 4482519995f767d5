"""Parallel variants of generated element-wise kernels (issue 16).

Above ``NBFLOW_PARALLEL_MIN_ELEMENTS`` elements a generated kernel (a fused
group or a single element-wise op) splits its flat loop, or a broadcasting
kernel its first dimension, over Numba's threads (``prange`` over contiguous
blocks); below it, or
with ``intra_op_parallelism_threads=1``, it stays serial. Results are the
same bits for element-wise outputs (each element is computed by the same
scalar code); fused sums may be reassociated (compared with a tolerance)."""
import numba
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import elementwise as ew
from nbflow.ops.base import Op, apply_op

pytestmark = pytest.mark.skipif(numba.get_num_threads() < 2, reason="needs 2 Numba threads")

THRESHOLD = 1000


@pytest.fixture(autouse=True)
def low_threshold(monkeypatch):
    monkeypatch.setenv("NBFLOW_PARALLEL_MIN_ELEMENTS", str(THRESHOLD))


def _explain(out, feed, threads=0):
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        return tf.explain(out, feed, file=False)


def _run(out, feed, threads=0):
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        return sess.run(out, feed)


def test_threshold_env_override(monkeypatch):
    assert ew.parallel_min_elements() == THRESHOLD
    monkeypatch.delenv("NBFLOW_PARALLEL_MIN_ELEMENTS")
    assert ew.parallel_min_elements() == ew.PARALLEL_MIN_ELEMENTS


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("n", [7, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 12347])
def test_fused_chain_parallel_equals_serial(dtype, n):
    rng = np.random.default_rng(n)
    x, y, z = [(rng.standard_normal(n) * 10).astype(dtype) for _ in range(3)]
    px, py, pz = [tf.placeholder(tf.as_dtype(dtype), [n]) for _ in range(3)]
    two = tf.constant(2, tf.as_dtype(dtype))
    out = (tf.nn.relu(px * two + py) * py - pz) * pz
    feed = {px: x, py: y, pz: z}
    serial, parallel = _run(out, feed, threads=1), _run(out, feed, threads=0)
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(serial, (np.maximum(x * dtype(2) + y, 0) * y - z) * z)
    text = _explain(out, feed)
    assert ("ewp_" in text) == (n >= THRESHOLD)  # the parallel kernel's generated file
    assert "ewp_" not in _explain(out, feed, threads=1)


@pytest.mark.parametrize("shape_b", [(), (1,), (1, 1)])
def test_scalar_broadcast_stays_flat_and_parallel(shape_b):
    x = np.arange(4 * 1000, dtype=np.float32).reshape(4, 1000)
    b = np.full(shape_b, 0.5, np.float32)
    px, pb = tf.placeholder(tf.float32, x.shape), tf.placeholder(tf.float32, b.shape)
    out = tf.exp(px * 1e-3) * pb + 1.0
    feed = {px: x, pb: b}
    np.testing.assert_array_equal(_run(out, feed), _run(out, feed, threads=1))
    assert "ewp_" in _explain(out, feed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_broadcast_splits_its_first_dimension(dtype):
    x = np.arange(4 * 1000, dtype=dtype).reshape(4, 1000)
    r = np.linspace(0, 1, 1000).astype(dtype)
    px, pr = tf.placeholder(tf.as_dtype(dtype), x.shape), tf.placeholder(tf.as_dtype(dtype), r.shape)
    out = tf.sqrt(px + pr) * 2.0 - 1.0
    feed = {px: x, pr: r}
    parallel = _run(out, feed)
    np.testing.assert_array_equal(parallel, _run(out, feed, threads=1))
    np.testing.assert_allclose(parallel, np.sqrt(x + r) * 2.0 - 1.0, rtol=1e-6)
    assert "ewp_" in _explain(out, feed)
    assert "ewp_" not in _explain(out, feed, threads=1)


def test_broadcast_with_one_leading_row_stays_serial():
    x = np.arange(3000, dtype=np.float32).reshape(1, 3000)
    r = np.linspace(0, 1, 3000).astype(np.float32)
    px, pr = tf.placeholder(tf.float32, x.shape), tf.placeholder(tf.float32, [1, 3000])
    out = tf.exp(px * 1e-3) * tf.reshape(pr, [3000])
    feed = {px: x, pr: r.reshape(1, 3000)}
    np.testing.assert_array_equal(_run(out, feed), _run(out, feed, threads=1))


@pytest.mark.parametrize("shape", [(2, 700), (3, 5, 80), (7, 3, 4, 13), (1001, 1), (0, 2000)])
def test_broadcast_kernel_blocks_cover_every_element(monkeypatch, shape):
    monkeypatch.setenv("NBFLOW_PARALLEL_MIN_ELEMENTS", "1")
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    b = np.linspace(-1, 1, shape[-1])
    st = ["t0 = np.float64(x0 * x1 + x1)"]
    args = ([np.float64, np.float64], [shape, b.shape], [np.float64], shape)
    kp, _ = ew.get_kernel(st, ["t0"], *args, threads=0)
    ks, _ = ew.get_kernel(st, ["t0"], *args, threads=1)
    assert getattr(kp, "parallel_threads", 1) == (min(numba.get_num_threads(), shape[0]) if x.size else 1)
    a, c = np.full(shape, np.nan), np.full(shape, np.nan)
    kp(x, b, a)
    ks(x, b, c)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(a, x * b + b)


@pytest.mark.parametrize("threads", [0, 1])
def test_single_elementwise_op_follows_intra_op_threads(monkeypatch, threads):
    """An element-wise op that is not fused (here the whole graph) has the parallel variant too."""
    made = []
    real = ew._parallel_kernel

    def spy(*args):
        k = real(*args)
        made.append(k.parallel_threads)
        return k
    monkeypatch.setattr(ew, "_parallel_kernel", spy)
    x = np.random.default_rng(3).standard_normal((4, 1000)).astype(np.float32)
    r = np.random.default_rng(4).standard_normal(1000).astype(np.float32)
    px, pr = tf.placeholder(tf.float32, x.shape), tf.placeholder(tf.float32, r.shape)
    np.testing.assert_array_equal(_run(px * pr, {px: x, pr: r}, threads), x * r)
    assert made == ([min(4, numba.get_num_threads())] if threads == 0 else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_reductions_in_parallel(dtype):
    n = 50_001
    x = np.random.default_rng(1).standard_normal(n).astype(dtype)
    px = tf.placeholder(tf.as_dtype(dtype), [n])
    sq = tf.square(px * 2.0 - 1.0)
    total, mean = tf.reduce_sum(sq), tf.reduce_mean(tf.abs(px))
    feed = {px: x}
    for threads in (0, 1):
        t, m = _run([total, mean], feed, threads)
        np.testing.assert_allclose(t, np.sum(np.square(x.astype(np.float64) * 2 - 1)), rtol=1e-4)
        np.testing.assert_allclose(m, np.mean(np.abs(x.astype(np.float64))), rtol=1e-4)


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 4097])
def test_kernel_blocks_cover_every_element(monkeypatch, n):
    monkeypatch.setenv("NBFLOW_PARALLEL_MIN_ELEMENTS", "1")
    x = np.arange(n, dtype=np.float64)
    st = ["t0 = np.float64(x0 * x0 + x1)"]
    kp, _ = ew.get_kernel(st, ["t0"], [np.float64, np.float64], [(n,), ()], [np.float64], (n,), threads=0)
    ks, _ = ew.get_kernel(st, ["t0"], [np.float64, np.float64], [(n,), ()], [np.float64], (n,), threads=1)
    assert getattr(kp, "parallel_threads", 1) > 1 and not hasattr(ks, "parallel_threads")
    a, b = np.full(n, np.nan), np.full(n, np.nan)
    kp(x, np.array(3.0), a)
    ks(x, np.array(3.0), b)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, x * x + 3)


def test_thread_count_follows_the_request():
    assert ew.thread_count(1) == 1
    assert ew.thread_count(0) == numba.get_num_threads()
    assert ew.thread_count(1000) == numba.get_num_threads()


def _chain(n):
    px = tf.placeholder(tf.float32, [n])
    return px, tf.exp(px * 0.5) * 2.0 - 1.0


def test_concurrent_sessions_in_threads():
    # workqueue aborts on concurrent parallel launches: the lock makes the loser run serially
    import threading
    n = 200_000
    x = np.linspace(-1, 1, n, dtype=np.float32)
    px, out = _chain(n)
    expected = _run(out, {px: x}, threads=1)
    errors = []
    with tf.Session() as sess:
        sess.run(out, {px: x})

        def work():
            try:
                for _ in range(30):
                    np.testing.assert_array_equal(sess.run(out, {px: x}), expected)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors


def test_parallel_kernel_after_fork():
    import os
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    n = 200_000
    x = np.linspace(-1, 1, n, dtype=np.float32)
    px, out = _chain(n)
    with tf.Session() as sess:
        expected = sess.run(out, {px: x})
        pid = os.fork()
        if pid == 0:  # child: the parallel kernel again, then exit without cleanup
            ok = np.array_equal(sess.run(out, {px: x}), expected)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0



class NbflowTestThreadProbe(Op):
    """Returns its input; its kernel records Numba's thread count when it runs."""

    type = "NbflowTestThreadProbe"
    seen = []

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


@register_kernel(NbflowTestThreadProbe)
def _thread_probe(ctx):
    def run(x):
        NbflowTestThreadProbe.seen.append(numba.get_num_threads())
        return x
    return run


@pytest.mark.parametrize("threads", [0, 1, 2])
def test_every_kernel_of_a_run_sees_intra_op_parallelism_threads(threads):
    # per-op parallel kernels (softmax rows, sums, convolutions, the LSTM) split their work by
    # numba.get_num_threads(): a run sets it to the config's count, and restores it after
    NbflowTestThreadProbe.seen = []
    before = numba.get_num_threads()
    y = apply_op(NbflowTestThreadProbe, [tf.placeholder(tf.float32, [])], {})
    assert _run(y, {y.op.inputs[0]: 1.0}, threads) == 1.0
    assert NbflowTestThreadProbe.seen == [threads or before]
    assert numba.get_num_threads() == before
