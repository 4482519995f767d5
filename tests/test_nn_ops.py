"""tf.nn: activations, softmax, bias_add, dropout, l2_loss, cross-entropies, in_top_k."""
import numpy as np
import pytest

import nbflow as tf

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# away from the kinks (0 and 6), so finite differences are meaningful
XS = np.array([-3.0, -1.2, -0.3, 0.4, 1.7, 5.5, 7.0])


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


ACTIVATIONS = {
    "relu": (tf.nn.relu, lambda x: np.maximum(x, 0), "Relu", "ReluGrad"),
    "relu6": (tf.nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6), "Relu6", "Relu6Grad"),
    "elu": (tf.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), "Elu", "EluGrad"),
    "selu": (tf.nn.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), "Selu", "SeluGrad"),
    "leaky_relu": (tf.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), "LeakyRelu", "LeakyReluGrad"),
    "softplus": (tf.nn.softplus, lambda x: np.logaddexp(0, x), "Softplus", "SoftplusGrad"),
    "softsign": (tf.nn.softsign, lambda x: x / (1 + np.abs(x)), "Softsign", "SoftsignGrad"),
}


# -- activations -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_activation_matches_numpy(name, dtype):
    fn, ref, op_type, _ = ACTIVATIONS[name]
    x = tf.placeholder(dtype, [None, 7])
    y = fn(x)
    assert y.op.type == op_type and y.dtype is dtype and y.shape.as_list() == [None, 7]
    v = np.stack([XS, XS * 30, XS / 10]).astype(dtype.as_numpy_dtype)
    got = _run(y, {x: v})
    assert got.dtype == dtype.as_numpy_dtype
    np.testing.assert_allclose(got, ref(v.astype(np.float64)), rtol=2e-6 if dtype is tf.float32 else 1e-12,
                               atol=1e-7 if dtype is tf.float32 else 1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient(name):
    fn, _, _, grad_type = ACTIVATIONS[name]
    x = tf.placeholder(tf.float64, [7])
    y = fn(x)
    (g,) = tf.gradients(y, x)
    assert g.op.type == grad_type
    with tf.Session():
        err = tf.test.compute_gradient_error(x, [7], y, [7], x_init_value=XS.copy())
    assert err < 1e-6


@pytest.mark.parametrize("name", ["elu", "selu", "softplus", "softsign"])
def test_activation_second_derivative(name):
    fn = ACTIVATIONS[name][0]
    x = tf.placeholder(tf.float64, [7])
    (g,) = tf.gradients(fn(x), x)
    with tf.Session():
        err = tf.test.compute_gradient_error(x, [7], g, [7], x_init_value=XS.copy())
    assert err < 1e-5  # central differences of a curved function: O(delta ** 2)


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu"])
def test_piecewise_linear_gradient_of_gradient(name):
    # the backward op is linear in the incoming gradient: check d(grad)/d(dy)
    fn = ACTIVATIONS[name][0]
    x = tf.placeholder(tf.float64, [7])
    dy = tf.placeholder(tf.float64, [7])
    (g,) = tf.gradients(fn(x), x, grad_ys=dy)
    with tf.Session():
        err = tf.test.compute_gradient_error(dy, [7], g, [7], extra_feed_dict={x: XS})
        (gg,) = tf.gradients(g, x)
        np.testing.assert_array_equal(tf.get_default_session().run(gg, {x: XS, dy: np.ones(7)}), np.zeros(7))
    assert err < 1e-8


def test_relu_nan_propagates_and_integer_relu():
    x = tf.placeholder(tf.float32, [3])
    i = tf.constant([-2, 0, 5])
    r, r6, ri = _run([tf.nn.relu(x), tf.nn.relu6(x), tf.nn.relu(i)], {x: [np.nan, -1.0, 9.0]})
    assert np.isnan(r[0]) and np.isnan(r6[0])
    np.testing.assert_array_equal(r[1:], [0, 9]) and np.testing.assert_array_equal(r6[1:], [0, 6])
    assert ri.dtype == np.int32 and ri.tolist() == [0, 0, 5]


def test_activation_rejects_bad_dtype():
    with pytest.raises(TypeError, match="Elu"):
        tf.nn.elu(tf.constant([1, 2]))


def test_softplus_is_stable():
    x = tf.placeholder(tf.float32, [4])
    got = _run(tf.nn.softplus(x), {x: [-1e4, -50.0, 50.0, 1e4]})
    np.testing.assert_allclose(got, [0.0, np.exp(-50.0), 50.0, 1e4], rtol=1e-6)


def test_leaky_relu_alphas_and_int_input():
    x = tf.placeholder(tf.float32, [None])
    a, b = tf.nn.leaky_relu(x), tf.nn.leaky_relu(x, alpha=0.01)
    c = tf.nn.leaky_relu(tf.constant([-3, 4]), alpha=np.float64(0.5))
    assert a.op.type == b.op.type == "LeakyRelu"
    assert a.op.attrs["alpha"] == 0.2 and b.op.attrs["alpha"] == 0.01
    assert c.dtype is tf.float32
    ga, gb = tf.gradients([a, b], x)[0], None
    va, vb, vc, vg = _run([a, b, c, ga], {x: [-2.0, 3.0]})
    np.testing.assert_allclose(va, [-0.4, 3.0], rtol=1e-6)
    np.testing.assert_allclose(vb, [-0.02, 3.0], rtol=1e-6)
    np.testing.assert_allclose(vc, [-1.5, 4.0])
    np.testing.assert_allclose(vg, [0.21, 2.0], rtol=1e-6)
    assert gb is None


def test_activations_fuse_with_neighbours(monkeypatch):
    monkeypatch.delenv("NBFLOW_DISABLE_PASSES", raising=False)  # counts kernels: every pass on
    x = tf.placeholder(tf.float32, [4, 3])
    b = tf.placeholder(tf.float32, [3])
    y = tf.nn.relu(tf.nn.bias_add(x, b)) * 2.0
    feed = {x: np.arange(12, dtype=np.float32).reshape(4, 3) - 6, b: [1.0, -1.0, 0.5]}
    with tf.Session() as sess:
        got = sess.run(y, feed)
        plan = sess.plan_for(y, feed)
    assert len(plan.fused_groups) == 1 and len(plan.fused_groups[0].ops) == 3
    np.testing.assert_allclose(got, np.maximum(feed[x] + feed[b], 0) * 2)


# -- softmax / log_softmax -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_numpy(dtype, log):
    fn, ref = (tf.nn.log_softmax, np_log_softmax) if log else (tf.nn.softmax, np_softmax)
    x = tf.placeholder(dtype, [None, 5])
    x3 = tf.placeholder(dtype, [2, 3, 4])
    ys = [fn(x), fn(x3), fn(x3, axis=1), fn(x3, dim=0), fn(x3, axis=-3), fn(x3, axis=2)]
    assert ys[0].op.type == ("LogSoftmax" if log else "Softmax")
    rng = np.random.RandomState(0)
    v = rng.randn(6, 5).astype(dtype.as_numpy_dtype) * 3
    v3 = rng.randn(2, 3, 4).astype(dtype.as_numpy_dtype)
    got = _run(ys, {x: v, x3: v3})
    refs = [ref(v), ref(v3), ref(v3, 1), ref(v3, 0), ref(v3, 0), ref(v3, 2)]
    tol = 2e-6 if dtype is tf.float32 else 1e-13
    for g, r in zip(got, refs):
        assert g.dtype == dtype.as_numpy_dtype
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)


def test_softmax_numerically_stable():
    x = tf.placeholder(tf.float32, [3, 3])
    v = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4 + 1, -1e4 + 2]], dtype=np.float32)
    s, ls = _run([tf.nn.softmax(x), tf.nn.log_softmax(x)], {x: v})
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ls))
    np.testing.assert_allclose(s, np_softmax(v.astype(np.float64)), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(ls, np_log_softmax(v.astype(np.float64)), rtol=1e-6)


def test_softmax_edges():
    x = tf.placeholder(tf.float64, [None, 1])
    e = tf.placeholder(tf.float64, [None, 4])
    h = tf.constant([[1.0, 2.0, 3.0]], dtype=tf.float16)
    s1, se, sh = _run([tf.nn.softmax(x), tf.nn.softmax(e), tf.nn.softmax(h)], {x: [[3.0], [-2.0]], e: np.zeros((0, 4))})
    np.testing.assert_array_equal(s1, [[1.0], [1.0]])
    assert se.shape == (0, 4)
    assert sh.dtype == np.float16
    np.testing.assert_allclose(sh, np_softmax(np.array([[1.0, 2.0, 3.0]])), rtol=1e-3)


def test_softmax_errors():
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        tf.nn.softmax(tf.constant([[1.0]]), axis=0, dim=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be in the range"):
        tf.nn.softmax(tf.constant([[1.0]]), axis=2)
    with pytest.raises(TypeError, match="logits"):
        tf.nn.softmax(tf.constant([1, 2]))
    with pytest.raises(ValueError, match=">= 1 dimension"):
        tf.nn.log_softmax(tf.constant(1.0))


@pytest.mark.parametrize("fn", [tf.nn.softmax, tf.nn.log_softmax])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradient(fn, axis):
    x = tf.placeholder(tf.float64, [3, 4])
    y = fn(x, axis=axis) * tf.constant(np.arange(12.0).reshape(3, 4))  # a non-uniform upstream gradient
    with tf.Session():
        err = tf.test.compute_gradient_error(x, [3, 4], y, [3, 4])
    assert err < 1e-6


def test_softmax_second_derivative():
    x = tf.placeholder(tf.float64, [2, 3])
    w = tf.constant([[1.0, -2.0, 0.5], [0.3, 0.0, 2.0]], dtype=tf.float64)
    (g,) = tf.gradients(tf.reduce_sum(tf.nn.softmax(x) * w), x)
    with tf.Session():
        assert tf.test.compute_gradient_error(x, [2, 3], g, [2, 3]) < 1e-6


# wide rows: the row kernels' unrolled maximum and vectorized passes (and their remainders)

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_softmax_wide_rows(dtype):
    npd = dtype.as_numpy_dtype
    x = tf.placeholder(dtype, [None, 37])
    x3 = tf.placeholder(dtype, [3, 37, 20])
    xw = tf.placeholder(dtype, [2, 4100])  # a row longer than a block (kernels/cpu/nn.py BLOCK)
    ys = [tf.nn.softmax(x), tf.nn.log_softmax(x), tf.nn.softmax(x3, axis=1), tf.nn.log_softmax(x3, axis=1),
          tf.nn.softmax(xw), tf.nn.log_softmax(xw)]
    rng = np.random.RandomState(11)
    v = (rng.randn(250, 37) * 20).astype(npd)  # several blocks of rows, the last one partial
    v[3, 36] = 80  # the maximum in the remainder of the unrolled loop
    v[4, 0] = -1e30 if dtype is tf.float64 else -3e38
    v3 = (rng.randn(3, 37, 20) * 20).astype(npd)
    vw = (rng.randn(2, 4100) * 5).astype(npd)
    got = _run(ys, {x: v, x3: v3, xw: vw})
    vd, v3d, vwd = v.astype(np.float64), v3.astype(np.float64), vw.astype(np.float64)
    refs = [np_softmax(vd), np_log_softmax(vd), np_softmax(v3d, 1), np_log_softmax(v3d, 1), np_softmax(vwd),
            np_log_softmax(vwd)]
    # float32: exp32 (relative error < 2.5e-7) of an argument rounded to float32 (|x - max| up to ~150)
    rtol = 3e-5 if dtype is tf.float32 else 1e-13
    for k, (g, r) in enumerate(zip(got, refs)):
        assert g.dtype == npd
        # log-softmax near 0 (the row maximum) is log(1 + tiny): an absolute error of the sum's rounding
        atol = (1e-6 if dtype is tf.float32 else 1e-14) if k % 2 else 1e-37
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol)
    np.testing.assert_allclose(got[0].sum(axis=1), 1.0, rtol=1e-6 if dtype is tf.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 300_000])
def test_softmax_and_xent_row_lengths_against_float64(dtype, n):
    # both kernel paths (short rows in blocks, wide rows (kernels/cpu/nn.py WIDE) row by row),
    # a row of one, and a row much longer than a summation chunk (SUM_CHUNK): the float32 sums
    # are blocked, so the error must not grow with the row's length
    npd = dtype.as_numpy_dtype
    rows = 3 if n > 10_000 else 7
    x = tf.placeholder(dtype, [None, n])
    sl = tf.placeholder(tf.int64, [None])
    lb = tf.placeholder(dtype, [None, n])
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sl, logits=x)
    dense = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=x)
    fetches = [tf.nn.softmax(x), tf.nn.log_softmax(x), sparse, tf.gradients(sparse, x)[0], dense,
               tf.gradients(dense, x)[0]]
    rng = np.random.RandomState(n % 1000)
    v = (rng.randn(rows, n) * 4).astype(npd)
    idx = rng.randint(0, n, size=rows)
    lab = np_softmax(rng.randn(rows, n)).astype(npd)
    s, ls, sp, gsp, de, gde = _run(fetches, {x: v, sl: idx, lb: lab})
    vd, labd = v.astype(np.float64), lab.astype(np.float64)
    ref_ls = np_log_softmax(vd)
    ref_s = np.exp(ref_ls)
    f32 = dtype is tf.float32
    np.testing.assert_allclose(s, ref_s, rtol=3e-5 if f32 else 1e-12, atol=1e-37)
    np.testing.assert_allclose(ls, ref_ls, rtol=3e-6 if f32 else 1e-12, atol=2e-6 if f32 else 1e-13)
    np.testing.assert_allclose(s.astype(np.float64).sum(axis=1), 1.0, rtol=2e-6 if f32 else 1e-13)
    np.testing.assert_allclose(sp, -ref_ls[np.arange(rows), idx], rtol=2e-6 if f32 else 1e-12,
                               atol=2e-6 if f32 else 1e-13)
    onehot = np.zeros((rows, n))
    onehot[np.arange(rows), idx] = 1
    np.testing.assert_allclose(gsp, ref_s - onehot, rtol=3e-5 if f32 else 1e-12, atol=1e-7 if f32 else 1e-15)
    np.testing.assert_allclose(de, -(labd * ref_ls).sum(1), rtol=2e-6 if f32 else 1e-12)
    np.testing.assert_allclose(gde, ref_s - labd, rtol=3e-5 if f32 else 1e-12, atol=1e-7 if f32 else 1e-15)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_softmax_extreme_rows(dtype):
    npd = dtype.as_numpy_dtype
    x = tf.placeholder(dtype, [None, 10])
    big = np.finfo(npd).max
    v = np.zeros((5, 10), dtype=npd)
    v[0] = -np.inf                        # no finite entry: NaN, as TF and numpy
    v[1, :5] = -np.inf                    # -inf entries get probability 0
    v[2] = [big, -big] * 5                # x - max overflows to -inf: still 0, no NaN
    v[3, 2] = np.nan                      # NaN anywhere makes the row NaN
    v[4] = np.arange(10) * npd(1e4)       # differences far beyond exp's range
    s, ls = _run([tf.nn.softmax(x), tf.nn.log_softmax(x)], {x: v})
    assert np.all(np.isnan(s[0])) and np.all(np.isnan(ls[0]))
    np.testing.assert_allclose(s[1], [0] * 5 + [0.2] * 5, rtol=1e-7, atol=0)
    np.testing.assert_array_equal(ls[1, :5], -np.inf)
    np.testing.assert_allclose(ls[1, 5:], -np.log(5), rtol=1e-6)
    np.testing.assert_allclose(s[2], [0.2, 0] * 5, rtol=1e-7, atol=0)
    assert np.all(np.isnan(s[3])) and np.all(np.isnan(ls[3]))
    np.testing.assert_array_equal(s[4], [0] * 9 + [1])
    np.testing.assert_allclose(ls[4], (np.arange(10) - 9) * 1e4, rtol=1e-7)


def test_softmax_and_xent_empty_batch():
    x = tf.placeholder(tf.float32, [None, 1000])
    lb = tf.placeholder(tf.float32, [None, 1000])
    sl = tf.placeholder(tf.int32, [None])
    s, ls, dense, sparse = _run(
        [tf.nn.softmax(x), tf.nn.log_softmax(x), tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=x),
         tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sl, logits=x)],
        {x: np.zeros((0, 1000)), lb: np.zeros((0, 1000)), sl: np.zeros(0)})
    assert s.shape == ls.shape == (0, 1000) and dense.shape == sparse.shape == (0,)
    # no classes: a softmax of nothing and a zero loss (any sparse label is out of range)
    e = tf.placeholder(tf.float64, [3, 0])
    se, de = _run([tf.nn.softmax(e), tf.nn.softmax_cross_entropy_with_logits_v2(labels=e, logits=e)],
                  {e: np.zeros((3, 0))})
    assert se.shape == (3, 0)
    np.testing.assert_array_equal(de, [0, 0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 0 which is outside the valid range"):
        _run(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 0, 0], logits=e), {e: np.zeros((3, 0))})


def test_softmax_and_xent_with_run_time_shapes():
    # boolean_mask: the row count is known only when the graph runs, so the ops
    # allocate their outputs per run instead of using planned buffers
    x = tf.placeholder(tf.float32, [None, 12])
    keep = tf.placeholder(tf.bool, [None])
    sl = tf.placeholder(tf.int64, [None])
    lg = tf.boolean_mask(x, keep)
    lb = tf.nn.softmax(tf.boolean_mask(x * 0.5, keep))
    labels = tf.boolean_mask(sl, keep)
    fetches = [tf.nn.softmax(lg), tf.nn.log_softmax(lg), tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg),
               tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=lg)]
    rng = np.random.RandomState(14)
    v = (rng.randn(7, 12) * 4).astype(np.float32)
    k = np.array([1, 0, 1, 1, 0, 1, 1], dtype=bool)
    idx = rng.randint(0, 12, size=7)
    with tf.Session() as sess:
        s, ls, d, sp = sess.run(fetches, {x: v, keep: k, sl: idx})
        vk = v[k].astype(np.float64)
        np.testing.assert_allclose(s, np_softmax(vk), rtol=2e-6, atol=1e-30)
        np.testing.assert_allclose(ls, np_log_softmax(vk), rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(d, np_xent(np_softmax(vk * 0.5), vk), rtol=1e-5)
        np.testing.assert_allclose(sp, -np_log_softmax(vk)[np.arange(5), idx[k]], rtol=1e-5)
        bad = idx.copy()
        bad[3] = 12
        with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 12 which is outside"):
            sess.run(fetches[3], {x: v, keep: k, sl: bad})


@pytest.fixture
def parallel_rows(monkeypatch):
    """Make every (rows > 1) softmax-like op take its ``*_parallel`` kernel; records which ran."""
    import numba
    from nbflow.kernels.cpu import nn as K

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has a single thread here")
    calls = []
    monkeypatch.setattr(K, "PARALLEL_MIN_ELEMENTS", 0)
    for name in ("softmax_rows_parallel", "softmax_xent_parallel", "sparse_softmax_xent_parallel",
                 "softmax_rows_wide_parallel", "softmax_xent_wide_parallel", "sparse_softmax_xent_wide_parallel",
                 "sparse_xent_loss_wide_parallel"):
        kernel = getattr(K, name)

        def spy(*args, _kernel=kernel, _name=name):
            calls.append(_name)
            return _kernel(*args)
        monkeypatch.setattr(K, name, spy)
    old = numba.get_num_threads()
    numba.set_num_threads(2)
    yield calls
    numba.set_num_threads(old)


def test_parallel_row_kernels_match_serial(parallel_rows):
    # float32 only: the parallel kernels share their per-row code with the serial ones
    # (tested in both dtypes above); each parallel variant costs seconds to compile.
    x = tf.placeholder(tf.float32, [None, 23])
    lb = tf.placeholder(tf.float32, [None, 23])
    sl = tf.placeholder(tf.int64, [None])
    fetches = [tf.nn.softmax(x), tf.nn.log_softmax(x), tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=x),
               tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sl, logits=x)]
    rng = np.random.RandomState(12)
    v = (rng.randn(400, 23) * 5).astype(np.float32)  # three blocks of rows, the last one partial
    v[7] = -np.inf
    idx = rng.randint(0, 23, size=400)
    labels = np_softmax(rng.randn(400, 23)).astype(np.float32)
    feed = {x: v, lb: labels, sl: idx}
    # wide rows (the row-by-row path, kernels/cpu/nn.py WIDE), 41 blocks of rows
    xw = tf.placeholder(tf.float32, [None, 100])
    lbw = tf.placeholder(tf.float32, [None, 100])
    slw = tf.placeholder(tf.int64, [None])
    fetches += [tf.nn.softmax(xw), tf.nn.log_softmax(xw),
                tf.nn.softmax_cross_entropy_with_logits_v2(labels=lbw, logits=xw),
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=slw, logits=xw)]
    vw = (rng.randn(1640, 100) * 5).astype(np.float32)
    feed.update({xw: vw, lbw: np_softmax(rng.randn(1640, 100)).astype(np.float32),
                 slw: rng.randint(0, 100, size=1640)})
    par = _run(fetches, feed)
    assert sorted(parallel_rows) == ["softmax_rows_parallel"] * 2 + ["softmax_rows_wide_parallel"] * 2 + [
        "softmax_xent_parallel", "softmax_xent_wide_parallel",
        "sparse_softmax_xent_parallel", "sparse_xent_loss_wide_parallel"]  # every row op of both widths
    # (the wide sparse cross-entropy's gradient is not fetched: its loss-only kernel runs)
    from nbflow.kernels.cpu import nn as K

    K.PARALLEL_MIN_ELEMENTS = 1 << 62  # monkeypatch restores it
    del parallel_rows[:]
    ser = _run(fetches, feed)
    assert parallel_rows == []
    np.testing.assert_allclose(par[4], np_softmax(vw.astype(np.float64)), rtol=3e-5, atol=1e-37)
    for p, s in zip(par, ser):
        np.testing.assert_array_equal(p, s)  # the same per-row code: bit-identical
    vd = v[8:].astype(np.float64)
    np.testing.assert_allclose(par[0][8:], np_softmax(vd), rtol=1e-5, atol=1e-37)
    assert np.all(np.isnan(par[0][7]))
    np.testing.assert_allclose(par[3][8:], -np_log_softmax(vd)[np.arange(392), idx[8:]], rtol=1e-5)


def test_run_rows_dispatch(monkeypatch):
    import numba
    from nbflow.kernels.cpu import nn as K

    ran = []
    for name in ("short", "short_parallel", "wide", "wide_parallel"):
        monkeypatch.setitem(K.__dict__, "k_" + name, lambda *args, _name=name: ran.append((_name, args)) or _name)
    family = ("k_short", "k_wide")
    monkeypatch.setattr(K, "PARALLEL_MIN_ELEMENTS", 100)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        many = numba.get_num_threads() > 1
        assert K.run_rows(family, 10, 9, "a") == "short"                   # 90 elements: too small
        assert K.run_rows(family, 10, 10, "a", 1) == ("short_parallel" if many else "short")
        assert K.run_rows(family, 1, 1000, "a") == "wide"                  # one row: nothing to split
        assert K.run_rows(family, 2, K.WIDE, "a") == ("wide_parallel" if many else "wide")
        assert K.run_rows(family, 1, K.WIDE - 1, "a") == "short"           # short rows
        numba.set_num_threads(1)
        assert K.run_rows(family, 10, 10, "a") == "short"
    finally:
        numba.set_num_threads(old)
    assert ran[1][1] == ("a", 1)


# -- bias_add ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_bias_add_formats(dtype):
    npd = dtype.as_numpy_dtype
    x = tf.placeholder(dtype, [None, 2, 3])
    b = tf.placeholder(dtype, [3])
    bc = tf.placeholder(dtype, [2])
    y = tf.nn.bias_add(x, b)
    yc = tf.nn.bias_add(x, bc, data_format="NCHW")
    assert y.op.type == yc.op.type == "BiasAdd" and y.op.name == "BiasAdd"
    assert y.op.attrs["data_format"] == "NHWC" and yc.op.attrs["data_format"] == "NCHW"
    assert y.shape.as_list() == [None, 2, 3]
    xv = np.arange(24, dtype=npd).reshape(4, 2, 3)
    got, gotc = _run([y, yc], {x: xv, b: [1, 2, 3], bc: [10, 20]})
    np.testing.assert_array_equal(got, xv + np.array([1, 2, 3], dtype=npd))
    np.testing.assert_array_equal(gotc, xv + np.array([10, 20], dtype=npd)[:, None])


def test_bias_add_errors():
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 3 and 4"):
        tf.nn.bias_add(tf.zeros([2, 3]), tf.zeros([4]))
    with pytest.raises(ValueError, match="rank 1"):
        tf.nn.bias_add(tf.zeros([2, 3]), tf.zeros([1, 3]))
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.nn.bias_add(tf.zeros([3]), tf.zeros([3]))
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.bias_add(tf.zeros([2, 3]), tf.zeros([3]), data_format="HWCN")
    x = tf.placeholder(tf.float32, [None, None])
    y = tf.nn.bias_add(x, tf.zeros([3]), data_format="NCHW")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Dimensions must be equal, but are 4 and 3"):
        _run(y, {x: np.zeros((2, 4))})


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_bias_add_gradient(data_format):
    x = tf.placeholder(tf.float64, [2, 3, 2])
    nb = 2 if data_format == "NHWC" else 3
    b = tf.placeholder(tf.float64, [nb])
    y = tf.nn.bias_add(x, b, data_format=data_format) * tf.constant(np.arange(12.0).reshape(2, 3, 2))
    gb = tf.gradients(y, b)[0]
    assert gb.op.type == "BiasAddGrad" and gb.op.attrs["data_format"] == data_format
    with tf.Session():
        err = tf.test.compute_gradient_error([x, b], [[2, 3, 2], [nb]], y, [2, 3, 2])
        # BiasAddGrad's own gradient (second order)
        g = tf.placeholder(tf.float64, [2, 3, 2])
        bg = tf.nn.bias_add(x, b, data_format=data_format)
        (gb2,) = tf.gradients(bg, b, grad_ys=g)
        err2 = tf.test.compute_gradient_error(g, [2, 3, 2], gb2, [nb], extra_feed_dict={x: np.ones((2, 3, 2)),
                                                                                     b: np.ones(nb)})
    assert err < 1e-8 and err2 < 1e-8


def test_bias_add_grad_float32_unknown_batch():
    x = tf.placeholder(tf.float32, [None, 3])
    b = tf.placeholder(tf.float32, [3])
    g = tf.placeholder(tf.float32, [None, 3])
    (gb,) = tf.gradients(tf.nn.bias_add(x, b), b, grad_ys=g)
    v = np.arange(15, dtype=np.float32).reshape(5, 3)
    with tf.Session() as sess:
        got = sess.run(gb, {x: v, b: np.zeros(3), g: v})
        empty = sess.run(gb, {x: v[:0], b: np.zeros(3), g: v[:0]})
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, v.sum(0))
    np.testing.assert_array_equal(empty, np.zeros(3))


# -- dropout --------------------------------------------------------------------------------------------

def test_dropout_keep_prob_and_rate():
    x = tf.ones([100, 100], dtype=tf.float32)
    d1 = tf.nn.dropout(x, keep_prob=0.25, seed=1)
    d2 = tf.nn.dropout(x, rate=0.75, seed=2)
    assert d1.shape.as_list() == [100, 100] and d1.op.name == "dropout/mul_1"
    a, b = _run([d1, d2])
    for v in (a, b):
        assert set(np.unique(v).tolist()) == {0.0, 4.0}
        assert abs((v != 0).mean() - 0.25) < 0.03
    assert not np.array_equal(a, b)


def test_dropout_noise_shape_and_placeholder_keep_prob():
    x = tf.placeholder(tf.float64, [None, 50])
    kp = tf.placeholder(tf.float64, [])
    d = tf.nn.dropout(x, keep_prob=kp, noise_shape=[20, 1], seed=3)
    got = _run(d, {x: np.ones((20, 50)), kp: 0.5})
    rows = got[:, 0]
    assert set(np.unique(rows).tolist()) <= {0.0, 2.0} and 0 < (rows != 0).sum() < 20
    np.testing.assert_array_equal(got, np.repeat(rows[:, None], 50, axis=1))  # whole rows kept or dropped


def test_dropout_keep_all_returns_input_and_errors():
    x = tf.placeholder(tf.float32, [3])
    assert tf.nn.dropout(x, keep_prob=1.0) is x
    assert tf.nn.dropout(x, rate=0.0) is x
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match="You must provide a rate"):
        tf.nn.dropout(x)
    with pytest.raises(ValueError, match="range \\[0, 1\\)"):
        tf.nn.dropout(x, keep_prob=0.0)
    with pytest.raises(ValueError, match="range \\[0, 1\\)"):
        tf.nn.dropout(x, rate=1.5)
    with pytest.raises(ValueError, match="floating point tensor"):
        tf.nn.dropout(tf.constant([1, 2]), keep_prob=0.5)


def test_dropout_gradient_is_the_mask():
    x = tf.placeholder(tf.float64, [200])
    y = tf.nn.dropout(x, keep_prob=0.5)
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    xv = np.linspace(1, 2, 200)
    yv, gv = _run([y, g], {x: xv})
    np.testing.assert_allclose(gv, (yv != 0) * 2.0)
    np.testing.assert_allclose(yv, xv * gv)


# -- l2_loss ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_l2_loss(dtype):
    x = tf.placeholder(dtype, [None, 3])
    y = tf.nn.l2_loss(x)
    assert y.op.type == "L2Loss" and y.shape.as_list() == [] and y.dtype is dtype
    v = np.arange(-4.0, 2.0).reshape(2, 3).astype(dtype.as_numpy_dtype)
    got, empty = _run([y, y], {x: v}), _run(y, {x: np.zeros((0, 3))})
    np.testing.assert_allclose(got[0], (v.astype(np.float64) ** 2).sum() / 2, rtol=1e-7)
    assert got[0].dtype == dtype.as_numpy_dtype and empty == 0
    with pytest.raises(TypeError, match="L2Loss"):
        tf.nn.l2_loss(tf.constant([1, 2]))


def test_l2_loss_gradient():
    x = tf.placeholder(tf.float64, [2, 3])
    with tf.Session():
        assert tf.test.compute_gradient_error(x, [2, 3], tf.nn.l2_loss(x), []) < 1e-8


# -- softmax cross-entropy ------------------------------------------------------------------------------------

def np_xent(labels, logits, axis=-1):
    return -(labels * np_log_softmax(logits, axis)).sum(axis=axis)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_softmax_xent_matches_numpy(dtype):
    npd = dtype.as_numpy_dtype
    lg = tf.placeholder(dtype, [None, 4])
    lb = tf.placeholder(dtype, [None, 4])
    lg3 = tf.placeholder(dtype, [2, 3, 4])
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg)
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=lb, logits=lg)
    r3 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.nn.softmax(lg3), logits=lg3)
    ax0 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg, axis=0)
    assert v2.op.type == "SoftmaxCrossEntropyWithLogits" and v2.shape.as_list() == [None]
    assert r3.shape.as_list() == [2, 3]
    rng = np.random.RandomState(1)
    logits = rng.randn(5, 4).astype(npd)
    labels = np_softmax(rng.randn(5, 4)).astype(npd)
    l3 = rng.randn(2, 3, 4).astype(npd)
    got = _run([v2, v1, r3, ax0], {lg: logits, lb: labels, lg3: l3})
    tol = 1e-5 if dtype is tf.float32 else 1e-12
    np.testing.assert_allclose(got[0], np_xent(labels, logits), rtol=tol)
    np.testing.assert_allclose(got[1], np_xent(labels, logits), rtol=tol)
    np.testing.assert_allclose(got[2], np_xent(np_softmax(l3), l3), rtol=tol)
    np.testing.assert_allclose(got[3], np_xent(labels, logits, 0), rtol=tol)


def test_softmax_xent_stable_with_large_logits():
    lg = tf.placeholder(tf.float32, [3, 3])
    lb = tf.constant(np.eye(3), dtype=tf.float32)
    xent = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg)
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1, 2], logits=lg)
    (g,) = tf.gradients(xent, lg)
    v = np.array([[1e4, 0, -1e4], [1e4, -1e4, 0], [0, 0, 1e4]], dtype=np.float32)
    a, b, gv = _run([xent, sparse, g], {lg: v})
    for r in (a, b):
        assert np.all(np.isfinite(r))
        np.testing.assert_allclose(r, [0.0, 2e4, 0.0], atol=1e-3)
    assert np.all(np.isfinite(gv))
    np.testing.assert_allclose(gv, np_softmax(v.astype(np.float64)) - np.eye(3), atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_xent_wide_rows(dtype):
    npd = dtype.as_numpy_dtype
    lg = tf.placeholder(dtype, [None, 45])
    lb = tf.placeholder(dtype, [None, 45])
    sl = tf.placeholder(tf.int32, [None])
    dense = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg)
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sl, logits=lg)
    (gd,) = tf.gradients(dense, lg)
    (gs,) = tf.gradients(sparse, lg)
    rng = np.random.RandomState(13)
    logits = (rng.randn(6, 45) * 10).astype(npd)
    logits[1, 3] = -np.inf                  # with a zero label: contributes nothing, stays finite
    labels = np_softmax(rng.randn(6, 45)).astype(npd)
    labels[1, 3] = 0
    idx = rng.randint(0, 45, size=6)
    idx[1] = 44
    d, s, vgd, vgs = _run([dense, sparse, gd, gs], {lg: logits, lb: labels, sl: idx})
    ld = logits.astype(np.float64)
    ls = np.where(np.isinf(ld), -np.inf, ld - ld.max(1, keepdims=True))
    ls = ls - np.log(np.exp(ls).sum(1, keepdims=True))
    sm = np.exp(ls)
    tol = 2e-5 if dtype is tf.float32 else 1e-12
    np.testing.assert_allclose(d, -(labels * np.where(labels != 0, ls, 0)).sum(1), rtol=tol)
    np.testing.assert_allclose(s, -ls[np.arange(6), idx], rtol=tol)
    np.testing.assert_allclose(vgd, sm - labels, rtol=tol, atol=tol * 1e-3)
    np.testing.assert_allclose(vgs, sm - np.eye(45)[idx], rtol=tol, atol=tol * 1e-3)


def test_softmax_xent_gradients():
    lg = tf.placeholder(tf.float64, [3, 4])
    lb = tf.placeholder(tf.float64, [3, 4])
    w = tf.constant([1.0, -2.0, 0.5], dtype=tf.float64)
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg) * w
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=lb, logits=lg) * w
    ax0 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg, axis=0)
    assert tf.gradients(v1, lb) == [None]
    labels = np_softmax(np.random.RandomState(2).randn(3, 4))
    with tf.Session():
        e1 = tf.test.compute_gradient_error(lg, [3, 4], v2, [3], extra_feed_dict={lb: labels})
        e2 = tf.test.compute_gradient_error(lb, [3, 4], v2, [3], x_init_value=labels,
                                            extra_feed_dict={lg: np.random.RandomState(3).randn(3, 4)})
        e3 = tf.test.compute_gradient_error(lg, [3, 4], v1, [3], extra_feed_dict={lb: labels})
        e4 = tf.test.compute_gradient_error(lg, [3, 4], ax0, [4], extra_feed_dict={lb: labels})
    assert max(e1, e2, e3, e4) < 1e-6


def test_xent_gradients_with_unknown_dims():
    lg = tf.placeholder(tf.float32, [None, None, 4])
    lb = tf.placeholder(tf.float32, [None, None, 4])
    sl = tf.placeholder(tf.int32, [None, None])
    w = tf.placeholder(tf.float32, [None, None])
    dense = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg)
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sl, logits=lg)
    gd, gl = tf.gradients(tf.reduce_sum(dense * w), [lg, lb])
    (gs,) = tf.gradients(tf.reduce_sum(sparse * w), lg)
    rng = np.random.RandomState(7)
    logits = rng.randn(2, 3, 4).astype(np.float32)
    idx = rng.randint(0, 4, size=(2, 3))
    onehot = np.eye(4, dtype=np.float32)[idx]
    wv = rng.rand(2, 3).astype(np.float32)
    vd, vl, vs = _run([gd, gl, gs], {lg: logits, lb: onehot, sl: idx, w: wv})
    sm = np.exp(np_log_softmax(logits.astype(np.float64)))
    np.testing.assert_allclose(vd, wv[..., None] * (sm - onehot), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(vs, wv[..., None] * (sm - onehot), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(vl, -wv[..., None] * np_log_softmax(logits.astype(np.float64)), rtol=1e-5)


def test_xent_gradients_with_unknown_rank():
    # Placeholders without a shape (golbin's tutorials): TF flattens to a matrix, so the gradient exists.
    x = tf.placeholder(tf.float32)
    y = tf.placeholder(tf.float32)
    sl = tf.placeholder(tf.int32)
    w = tf.Variable(np.random.RandomState(1).randn(2, 3).astype(np.float32))
    logits = tf.matmul(x, w)
    dense = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    sparse = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sl, logits=logits))
    (gd,) = tf.gradients(dense, [w])
    (gs,) = tf.gradients(sparse, [w])
    train = tf.train.GradientDescentOptimizer(0.1).minimize(dense)
    xv = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    idx = np.array([0, 2, 1])
    yv = np.eye(3, dtype=np.float32)[idx]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vd, vs, wv = sess.run([gd, gs, w], {x: xv, y: yv, sl: idx})
        sess.run(train, {x: xv, y: yv})
    lg = xv.astype(np.float64) @ wv
    sm = np.exp(np_log_softmax(lg))
    expect = xv.T @ (sm - yv) / 3
    np.testing.assert_allclose(vd, expect, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(vs, expect, rtol=1e-5, atol=1e-7)


def test_softmax_xent_flattens_labels_of_another_rank_as_tf():
    # hunkim's lab-06-2: labels=tf.stop_gradient([Y_one_hot]) is [1, N, C] against logits [N, C];
    # TF flattens both to [-1, C] before its op, so it runs.
    lg = tf.placeholder(tf.float32, [None, 3])
    lb = tf.placeholder(tf.float32, [None, 3])
    cost = tf.nn.softmax_cross_entropy_with_logits_v2(logits=lg, labels=tf.stop_gradient([lb]))
    assert cost.shape.as_list() == [None]
    lg3 = tf.placeholder(tf.float32, [2, None, 3])
    cost3 = tf.nn.softmax_cross_entropy_with_logits(logits=lg3, labels=tf.reshape(lb, [-1, 3]))
    (g,) = tf.gradients(tf.reduce_sum(cost), lg)
    logits = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    want = -(labels * np_log_softmax(logits.astype(np.float64))).sum(-1)
    with tf.Session() as sess:
        c, gv, c3 = sess.run([cost, g, cost3], {lg: logits, lb: labels, lg3: logits.reshape(2, 2, 3)})
    np.testing.assert_allclose(c, want, rtol=1e-5)
    np.testing.assert_allclose(gv, np.exp(np_log_softmax(logits.astype(np.float64))) - labels, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c3, want.reshape(2, 2), rtol=1e-5)
    with pytest.raises(ValueError, match="requested shape requires a multiple of 3"):  # TF's reshape error
        tf.nn.softmax_cross_entropy_with_logits_v2(logits=tf.zeros([2, 3]), labels=tf.zeros([1, 2, 4]))


def test_softmax_xent_second_derivative():
    lg = tf.placeholder(tf.float64, [2, 3])
    lb = tf.constant([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype=tf.float64)
    w = tf.constant([[1.0, -1.0, 2.0], [0.5, 0.0, 3.0]], dtype=tf.float64)
    xent = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg)
    (g,) = tf.gradients(tf.reduce_sum(xent), lg)
    h = tf.reduce_sum(g * w)  # uses the backprop output's own gradient
    with tf.Session():
        err = tf.test.compute_gradient_error(lg, [2, 3], h, [])
    assert err < 1e-6


def test_softmax_xent_errors():
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.softmax_cross_entropy_with_logits(tf.zeros([2, 3]), tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="Both labels and logits"):
        tf.nn.softmax_cross_entropy_with_logits(labels=None, logits=tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.zeros([2, 4]), logits=tf.zeros([2, 3]))


# -- sparse softmax cross-entropy --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("label_dtype", [tf.int32, tf.int64])
def test_sparse_xent_matches_numpy(dtype, label_dtype):
    lg = tf.placeholder(dtype, [None, 5])
    lb = tf.placeholder(label_dtype, [None])
    y = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg)
    assert y.op.type == "SparseSoftmaxCrossEntropyWithLogits" and y.shape.as_list() == [None]
    logits = np.random.RandomState(4).randn(6, 5).astype(dtype.as_numpy_dtype)
    labels = np.array([0, 4, 2, 2, 1, 3])
    got = _run(y, {lg: logits, lb: labels})
    ref = -np_log_softmax(logits.astype(np.float64))[np.arange(6), labels]
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype is tf.float32 else 1e-12)
    assert _run(y, {lg: np.zeros((0, 5)), lb: np.zeros(0)}).shape == (0,)


def test_sparse_xent_rank3_and_gradient():
    lg = tf.placeholder(tf.float64, [2, 3, 4])
    lb = tf.constant([[0, 3, 1], [2, 2, 0]])
    y = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg) * tf.constant(
        np.arange(1.0, 7.0).reshape(2, 3))
    logits = np.random.RandomState(5).randn(2, 3, 4)
    got = _run(y, {lg: logits})
    ref = -np_log_softmax(logits)[np.arange(2)[:, None], np.arange(3), [[0, 3, 1], [2, 2, 0]]]
    np.testing.assert_allclose(got, ref * np.arange(1.0, 7.0).reshape(2, 3), rtol=1e-12)
    with tf.Session():
        assert tf.test.compute_gradient_error(lg, [2, 3, 4], y, [2, 3]) < 1e-6


def test_sparse_xent_bad_labels():
    lg = tf.placeholder(tf.float32, [None, 3])
    lb = tf.placeholder(tf.int64, [None])
    y = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 3 which is outside the valid range"):
            sess.run(y, {lg: np.zeros((2, 3)), lb: [0, 3]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="label value of -1"):
            sess.run(y, {lg: np.zeros((2, 3)), lb: [-1, 0]})
    with pytest.raises(ValueError, match="Rank mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([[0]]), logits=tf.zeros([1, 3]))
    with pytest.raises(ValueError, match="Shape mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([0, 1]), logits=tf.zeros([3, 3]))
    with pytest.raises(TypeError, match="int32, int64"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([0.0]), logits=tf.zeros([1, 3]))


def test_sparse_xent_has_no_second_derivative():
    lg = tf.placeholder(tf.float64, [2, 3])
    y = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1], logits=lg)
    (g,) = tf.gradients(y, lg)
    with pytest.raises(LookupError, match="second derivative"):
        tf.gradients(g, lg)


# -- sigmoid cross-entropy ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_sigmoid_xent(dtype):
    lg = tf.placeholder(dtype, [None, 3])
    lb = tf.placeholder(dtype, [None, 3])
    y = tf.nn.sigmoid_cross_entropy_with_logits(labels=lb, logits=lg)
    assert y.op.name == "logistic_loss" and y.shape.as_list() == [None, 3]
    x = np.array([[-1e4, -2.0, 0.0], [0.5, 3.0, 1e4]], dtype=dtype.as_numpy_dtype)
    z = np.array([[0.0, 1.0, 0.5], [0.3, 0.0, 1.0]], dtype=dtype.as_numpy_dtype)
    got = _run(y, {lg: x, lb: z})
    xd, zd = x.astype(np.float64), z.astype(np.float64)
    ref = np.maximum(xd, 0) - xd * zd + np.log1p(np.exp(-np.abs(xd)))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros([2]), logits=tf.zeros([3]))


def test_sigmoid_xent_gradients():
    lg = tf.placeholder(tf.float64, [2, 3])
    lb = tf.placeholder(tf.float64, [2, 3])
    y = tf.nn.sigmoid_cross_entropy_with_logits(labels=lb, logits=lg)
    x = np.array([[-2.0, -0.5, 0.3], [1.0, 2.5, -4.0]])
    with tf.Session():
        e1 = tf.test.compute_gradient_error(lg, [2, 3], y, [2, 3], x_init_value=x,
                                            extra_feed_dict={lb: np.full((2, 3), 0.3)})
        e2 = tf.test.compute_gradient_error(lb, [2, 3], y, [2, 3], extra_feed_dict={lg: x})
    assert max(e1, e2) < 1e-6


def test_weighted_cross_entropy():
    lg = tf.placeholder(tf.float64, [4])
    z = np.array([0.0, 1.0, 0.5, 1.0])
    y = tf.nn.weighted_cross_entropy_with_logits(targets=z, logits=lg, pos_weight=3.0)
    x = np.array([-2.0, 0.5, 1e3, -1e3])
    sig = 1 / (1 + np.exp(-np.clip(x, -500, 500)))
    ref = -(3.0 * z * np.log(np.maximum(sig, 1e-300)) + (1 - z) * np.log(np.maximum(1 - sig, 1e-300)))
    ref[2] = (1 - z[2]) * x[2]  # the stable formula for a huge logit
    ref[3] = 3.0 * z[3] * -x[3]
    np.testing.assert_allclose(_run(y, {lg: x}), ref, rtol=1e-9)


# -- in_top_k --------------------------------------------------------------------------------------------------------

def np_in_top_k(pred, targets, k):
    out = []
    for row, t in zip(pred, targets):
        if not 0 <= t < len(row) or not np.all(np.isfinite(row)):
            out.append(False)
        else:
            out.append(int((row > row[t]).sum()) < k)
    return np.array(out)


@pytest.mark.parametrize("tdtype", [tf.int32, tf.int64])
def test_in_top_k(tdtype):
    p = tf.placeholder(tf.float32, [None, 4])
    t = tf.placeholder(tdtype, [None])
    k = tf.placeholder(tdtype, [])
    y = tf.nn.in_top_k(p, t, k)
    y2 = tf.nn.in_top_k(p, t, 2)
    assert y.op.type == "InTopKV2" and y.dtype is tf.bool and y.shape.as_list() == [None]
    pred = np.array([[0.1, 0.3, 0.3, 0.2], [0.5, 0.1, 0.2, 0.2], [0.1, np.nan, 0.5, 0.2],
                     [0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    targets = np.array([2, 3, 2, 5, 0])
    with tf.Session() as sess:
        for kv in (0, 1, 2, 4):
            got = sess.run(y, {p: pred, t: targets, k: kv})
            np.testing.assert_array_equal(got, np_in_top_k(pred, targets, kv))
        np.testing.assert_array_equal(sess.run(y2, {p: pred, t: targets}), np_in_top_k(pred, targets, 2))
    assert tf.gradients(tf.cast(y, tf.float32), p) == [None]


def test_in_top_k_errors():
    with pytest.raises(TypeError, match="float32"):
        tf.nn.in_top_k(tf.zeros([2, 3], dtype=tf.float64), [0, 1], 1)
    with pytest.raises(ValueError, match="rank 2"):
        tf.nn.in_top_k(tf.zeros([3]), [0], 1)
    with pytest.raises(ValueError, match="must match length of targets"):
        tf.nn.in_top_k(tf.zeros([2, 3]), [0, 1, 2], 1)


def test_nn_namespace_reexports_math():
    assert tf.nn.sigmoid is tf.sigmoid and tf.nn.tanh is tf.tanh


def test_bias_add_grad_of_many_rows_is_summed_blocked():
    # channels last: 50,176 rows of 32 channels (LeNet's first layer). A float32 running
    # sum erred by ~3e-3 here; the blocked sum (float64 every 256 rows) stays ~2e-4.
    rng = np.random.RandomState(3)
    gv = rng.randn(64, 28, 28, 32).astype(np.float32)
    g = tf.placeholder(tf.float32, [None, 28, 28, 32])
    b = tf.placeholder(tf.float32, [32])
    y = tf.nn.bias_add(tf.zeros_like(g), b)
    grad_b = tf.gradients(tf.reduce_sum(y * g), [b])[0]
    assert any(op.type == "BiasAddGrad" for op in tf.get_default_graph().get_operations())
    got = _run(grad_b, {g: gv, b: np.zeros(32, np.float32)})
    want = gv.reshape(-1, 32).astype(np.float64).sum(0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)


@pytest.mark.parametrize("data_format,shape", [("NHWC", (6, 5, 7, 3)), ("NCHW", (5, 3, 4, 2)),
                                               ("NHWC", (1, 40)), ("NHWC", (0, 4))])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_bias_add_grad_split_across_threads(monkeypatch, data_format, shape, dtype):
    import numba
    from nbflow.backends.cpu import nn as cpu_nn
    from nbflow.kernels.cpu import nn as K

    if numba.get_num_threads() < 2:
        pytest.skip("needs two Numba threads")
    calls = []
    monkeypatch.setattr(K, "bias_add_grad_parallel", lambda *a, _k=K.bias_add_grad_parallel: calls.append(1) or _k(*a))
    monkeypatch.setattr(cpu_nn, "BIAS_GRAD_PARALLEL_MIN_ELEMENTS", 1)
    gv = np.random.RandomState(4).randn(*shape).astype(dtype)
    channel = 1 if data_format == "NCHW" else len(shape) - 1
    g = tf.placeholder(dtype, [None] + list(shape[1:]))
    y = tf.nn.bias_add(tf.zeros_like(g), tf.zeros([shape[channel]], dtype), data_format=data_format)
    grad_b = tf.gradients(y, [y.op.inputs[1]], grad_ys=g)[0]
    assert grad_b.op.type == "BiasAddGrad"
    got = _run(grad_b, {g: gv})
    axes = tuple(i for i in range(len(shape)) if i != channel)
    want = gv.astype(np.float64).sum(axes)
    assert got.dtype == dtype
    tol = {np.float16: dict(rtol=1e-3, atol=1e-2), np.float32: dict(rtol=1e-5, atol=1e-5),
           np.float64: dict(rtol=1e-12, atol=1e-12)}[dtype]
    np.testing.assert_allclose(got, want, **tol)
    assert bool(calls) == (shape[0] > 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [False, True])
def test_sparse_xent_losses_alone_match_the_full_kernel(monkeypatch, dtype, parallel):
    # a graph that uses only the losses runs kernels/cpu/nn.py's loss-only kernel (wide rows):
    # the same operations up to the loss, so the same bits as with the gradient computed
    import numba
    from nbflow.kernels.cpu import nn as K

    if parallel:
        if numba.config.NUMBA_NUM_THREADS < 2:
            pytest.skip("Numba has a single thread here")
        monkeypatch.setattr(K, "PARALLEL_MIN_ELEMENTS", 0)
    rng = np.random.RandomState(7)
    xv = (rng.randn(37, 100) * 4).astype(dtype)
    xv[3, 5] = np.inf
    lv = rng.randint(0, 100, size=37)
    x = tf.placeholder(tf.as_dtype(dtype), [None, 100])
    lab = tf.placeholder(tf.int64, [None])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x)
    grad = tf.gradients(loss, [x])[0]
    alone = _run(loss, {x: xv, lab: lv})
    with_grad, _ = _run([loss, grad], {x: xv, lab: lv})
    np.testing.assert_array_equal(alone, with_grad)
    with np.errstate(invalid="ignore"):  # the row holding inf
        ref = -np_log_softmax(xv.astype(np.float64))[np.arange(37), lv]
    np.testing.assert_allclose(alone[4:], ref[4:], rtol=1e-5 if dtype == np.float32 else 1e-12)
    bad = lv.copy()
    bad[30] = 100
    with pytest.raises(tf.errors.InvalidArgumentError, match="Received a label value of 100"):
        _run(loss, {x: xv, lab: bad})
