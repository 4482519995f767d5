"""The float reduction kernels (kernels/cpu/reduce.py: blocked sums, vectorized
extremes, their parallel twins) through reduce_sum/mean/max/min, against float64 numpy."""
import numba
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends.cpu import reduction as B
from nbflow.kernels.cpu import reduce as K


def _run(fetches, feed):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


@pytest.fixture(params=["serial", "parallel"])
def threads(request, monkeypatch):
    """The shipped threshold (most test arrays are below it: serial), or every float sum parallel
    (threshold 0, two Numba threads)."""
    if request.param == "parallel":
        if numba.config.NUMBA_NUM_THREADS < 2:
            pytest.skip("Numba has a single thread here")
        monkeypatch.setattr(B, "PARALLEL_MIN_ELEMENTS", 0)
        old = numba.get_num_threads()
        numba.set_num_threads(2)
        yield request.param
        numba.set_num_threads(old)
    else:
        yield request.param


SHAPES = [(0,), (1,), (15,), (16,), (1, 1), (3, 0), (0, 4), (7, 1025), (2, 5000), (3000, 3), (600, 700),
          (4, 33, 300), (2, 9, 2100)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_float_reductions_match_float64(dtype, shape, threads):
    rng = np.random.RandomState(sum(shape) + len(shape))
    v = (rng.randn(*shape) * 3 + 1).astype(dtype)
    x = tf.placeholder(dtype, shape)
    axes_list = [None] + list(range(len(shape))) + ([(0, 1), (1, 2)] if len(shape) == 3 else [])
    fetches, refs = [], []
    vd = v.astype(np.float64)
    for axes in axes_list:
        fetches += [tf.reduce_sum(x, axes), tf.reduce_mean(x, axes)]
        refs += [vd.sum(axis=axes), vd.mean(axis=axes) if vd.size else np.full(np.sum(vd, axes).shape, np.nan)]
        nonempty = vd.size and (axes is None or all(shape[a] for a in np.atleast_1d(axes)))
        if nonempty:
            fetches += [tf.reduce_max(x, axes), tf.reduce_min(x, axes)]
            refs += [vd.max(axis=axes), vd.min(axis=axes)]
    got = _run(fetches, {x: v})
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for g, r in zip(got, refs):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol * np.sqrt(max(1, v.size)), equal_nan=True)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_float32_sum_is_blocked(axis, threads):
    # 2**24 ones plus a tail: a single float32 accumulator stops at 16777216; the blocked
    # sum (chunks in float32, chunk sums in float64) is exact
    rows = 4 if axis == 0 else 1
    v = np.ones((rows, (1 << 24) // rows + 1000), dtype=np.float32)
    if axis == 0:
        v = np.ones((1 << 22, 5), dtype=np.float32)
    x = tf.placeholder(tf.float32, v.shape)
    got = _run(tf.reduce_sum(x, axis), {x: v})
    np.testing.assert_array_equal(got, v.astype(np.float64).sum(axis=axis).astype(np.float32))
    # relative accuracy on 16M random numbers in [1, 2), against float64: within the final rounding
    # to float32 (a single vectorized float32 accumulator measured 1.9e-7 here, blocked 2.7e-8)
    rng = np.random.RandomState(5)
    w = (rng.rand(1 << 24) + 1).astype(np.float32)
    y = tf.placeholder(tf.float32, w.shape)
    got = _run(tf.reduce_sum(y), {y: w})
    assert abs(float(got) - w.astype(np.float64).sum()) / w.sum(dtype=np.float64) < 7e-8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_min_nan_and_infinities(dtype, threads):
    v = np.arange(3 * 2000, dtype=dtype).reshape(3, 2000)
    v[0, 1500] = np.nan     # in the second chunk
    v[1, 3] = np.inf
    v[1, 4] = -np.inf
    v[2, :] = -np.inf
    x = tf.placeholder(dtype, v.shape)
    mx, mn, smx = _run([tf.reduce_max(x, 1), tf.reduce_min(x, 1), tf.reduce_max(x)], {x: v})
    assert np.isnan(mx[0]) and np.isnan(mn[0]) and np.isnan(smx)
    assert mx[1] == np.inf and mn[1] == -np.inf
    assert mx[2] == -np.inf and mn[2] == -np.inf


def test_parallel_dispatch(monkeypatch):
    """Which kernel runs, and that the parallel ones give the serial results."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has a single thread here")
    calls = []
    for name in ("sum_flat_parallel", "sum_rows_parallel", "sum_cols_parallel"):
        kernel = getattr(K, name)

        def spy(*args, _kernel=kernel, _name=name):
            calls.append(_name)
            return _kernel(*args)
        monkeypatch.setattr(K, name, spy)
    rng = np.random.RandomState(3)
    cases = [(rng.randn(1, 50_000), "sum_flat_parallel"), (rng.randn(40, 3000), "sum_rows_parallel"),
             (rng.randn(1, 30, 3000), "sum_cols_parallel"), (rng.randn(5, 30, 10), "sum_cols_parallel")]
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        for v, expected in cases:
            v = v.astype(np.float32)
            view = v.reshape(v.shape[0], v.shape[1], -1) if v.ndim == 3 else v.reshape(v.shape[0], -1, 1)
            out_par = np.empty((view.shape[0], view.shape[2]), np.float32)
            out_ser = np.empty_like(out_par)
            monkeypatch.setattr(B, "PARALLEL_MIN_ELEMENTS", 0)
            del calls[:]
            B._float_sum(view, out_par)
            assert calls == [expected]
            monkeypatch.setattr(B, "PARALLEL_MIN_ELEMENTS", 1 << 62)
            del calls[:]
            B._float_sum(view, out_ser)
            assert calls == []
            np.testing.assert_allclose(out_par, out_ser, rtol=1e-7)
            np.testing.assert_allclose(out_par, view.astype(np.float64).sum(axis=1), rtol=1e-6, atol=1e-4)
        numba.set_num_threads(1)  # one thread: serial whatever the size
        monkeypatch.setattr(B, "PARALLEL_MIN_ELEMENTS", 0)
        del calls[:]
        B._float_sum(cases[0][0].astype(np.float32).reshape(1, -1, 1), np.empty((1, 1), np.float32))
        assert calls == []
    finally:
        numba.set_num_threads(old)


@pytest.mark.parametrize("threads_cfg", [1, 0], ids=["serial", "parallel"])
def test_fused_sums_are_blocked(threads_cfg, monkeypatch):
    # a Mul + Sum/Mean fused group (kernels/cpu/elementwise.py): the generated loop sums chunks
    # in float32 and the chunk sums in float64, serial and parallel alike
    monkeypatch.setenv("NBFLOW_PARALLEL_MIN_ELEMENTS", "1000")
    if threads_cfg == 0 and numba.get_num_threads() < 2:
        pytest.skip("needs 2 Numba threads")
    rng = np.random.RandomState(6)
    w = (rng.rand(1 << 24) + 1).astype(np.float32)
    y = tf.placeholder(tf.float32, w.shape)
    half = y * tf.constant(0.5)
    fetches = [tf.reduce_sum(half), tf.reduce_mean(half), tf.reduce_sum(y[:5] * 2.0), tf.reduce_mean(y[:0] * 2.0)]
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads_cfg)) as sess:
        total, mean, small, empty = sess.run(fetches, {y: w})
        text = tf.explain(fetches[0], {y: w}, file=False)
    assert "fused" in text.lower() and ("ewp_" in text) == (threads_cfg == 0)
    ref = w.astype(np.float64).sum() * 0.5
    assert abs(float(total) - ref) / ref < 7e-8
    assert abs(float(mean) - ref / w.size) / (ref / w.size) < 7e-8
    np.testing.assert_allclose(small, w[:5].astype(np.float64).sum() * 2, rtol=1e-7)
    assert np.isnan(empty)
