"""tf.nn.moments, batch_normalization, fused_batch_norm, l2_normalize, embedding_lookup."""
import numpy as np
import pytest

import nbflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _grad_err(x, x_value, y, feed=None):
    """Finite differences with a small step (float64): curvature error O(1e-10)."""
    with tf.Session():
        return tf.test.compute_gradient_error(x, list(x_value.shape), y, y.shape.as_list(),
                                              x_init_value=x_value.copy(), extra_feed_dict=feed, delta=1e-5)


TOL = {tf.float32: dict(rtol=1e-5, atol=1e-5), tf.float64: dict(rtol=1e-12, atol=1e-12)}


# -- moments ------------------------------------------------------------------------------

# (each distinct dtype / broadcast pattern compiles its own fused kernels: the cases are few on purpose)
@pytest.mark.parametrize("dtype,axes,keep", [
    (tf.float32, [0], False), (tf.float32, [0, 1, 2], False), (tf.float32, [1], True), (tf.float32, [0, 2], True),
    (tf.float32, -1, False), (tf.float64, [0, 2], False)])
def test_moments_matches_numpy(dtype, axes, keep, rng):
    v = (rng.randn(3, 4, 5) * 2 + 1).astype(dtype.as_numpy_dtype)
    x = tf.placeholder(dtype, [None, 4, 5])
    mean, var = tf.nn.moments(x, axes, keep_dims=keep)
    assert mean.dtype is dtype and var.dtype is dtype
    ax = tuple(np.atleast_1d(axes))
    ref_m, ref_v = v.mean(axis=ax, keepdims=keep), v.var(axis=ax, keepdims=keep)
    assert mean.shape.ndims == ref_m.ndim
    m, s = _run([mean, var], {x: v})
    assert m.shape == ref_m.shape and s.shape == ref_v.shape
    np.testing.assert_allclose(m, ref_m, **TOL[dtype])
    np.testing.assert_allclose(s, ref_v, **TOL[dtype])


def test_moments_keepdims_spellings_and_names(rng):
    x = tf.constant(rng.randn(2, 3))
    m1, _ = tf.nn.moments(x, [0], keepdims=True)
    m2, v2 = tf.nn.moments(x, [0], keep_dims=True)
    assert m1.shape.as_list() == [1, 3] and m2.shape.as_list() == [1, 3]
    assert m2.op.name.startswith("moments_1/") and "mean" in m2.op.name and "variance" in v2.op.name
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.moments(x, [0], keep_dims=True, keepdims=True)
    with pytest.raises(TypeError, match="floating"):
        tf.nn.moments(tf.constant([1, 2]), [0])
    with pytest.raises(ValueError, match="out of range"):
        tf.nn.moments(x, [2])


def test_moments_float16_reduces_in_float32(rng):
    v = (rng.randn(64, 3) * 100 + 1000).astype(np.float16)
    mean, var = tf.nn.moments(tf.constant(v), [0])
    assert mean.dtype is tf.float16 and var.dtype is tf.float16
    m, s = _run([mean, var])
    v32 = v.astype(np.float32)
    np.testing.assert_allclose(m.astype(np.float32), v32.mean(0), rtol=1e-3)
    np.testing.assert_allclose(s.astype(np.float32), v32.var(0), rtol=1e-2)


@pytest.mark.parametrize("which", [0, 1])
def test_moments_gradient(which, rng):
    x = tf.placeholder(tf.float64, [4, 3])
    y = tf.nn.moments(x, [0])[which]
    assert _grad_err(x, rng.randn(4, 3), y) < 1e-8


# -- batch_normalization -------------------------------------------------------------------------

def _np_bn(x, mean, var, offset, scale, eps):
    out = (x - mean) / np.sqrt(var + eps)
    if scale is not None:
        out = out * scale
    if offset is not None:
        out = out + offset
    return out


@pytest.mark.parametrize("dtype,with_params", [(tf.float32, True), (tf.float32, False), (tf.float64, True)])
def test_batch_normalization_matches_numpy(dtype, with_params, rng):
    npd = dtype.as_numpy_dtype
    v = rng.randn(5, 3).astype(npd)
    mean, var = rng.randn(3).astype(npd), (rng.rand(3) + 0.5).astype(npd)
    offset, scale = (rng.randn(3).astype(npd), rng.randn(3).astype(npd)) if with_params else (None, None)
    x = tf.placeholder(dtype, [None, 3])
    y = tf.nn.batch_normalization(x, mean, var, offset, scale, 1e-3)
    assert y.dtype is dtype and y.shape.as_list() == [None, 3] and y.op.name.startswith("batchnorm/")
    np.testing.assert_allclose(_run(y, {x: v}), _np_bn(v, mean, var, offset, scale, 1e-3),
                               rtol=1e-5 if dtype is tf.float32 else 1e-12, atol=1e-6 if dtype is tf.float32 else 0)


def test_batch_normalization_broadcasts_keepdims_moments(rng):
    v = rng.randn(2, 3, 4)
    x = tf.constant(v)
    mean, var = tf.nn.moments(x, [0, 2], keep_dims=True)
    y = tf.nn.batch_normalization(x, mean, var, None, None, 1e-6)
    ref = (v - v.mean((0, 2), keepdims=True)) / np.sqrt(v.var((0, 2), keepdims=True) + 1e-6)
    np.testing.assert_allclose(_run(y), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("wrt", ["x", "mean", "variance", "offset", "scale"])
def test_batch_normalization_gradient(wrt, rng):
    vals = {"x": rng.randn(3, 2), "mean": rng.randn(2), "variance": rng.rand(2) + 0.5,
            "offset": rng.randn(2), "scale": rng.randn(2)}
    phs = {k: tf.placeholder(tf.float64, v.shape, name=k) for k, v in vals.items()}
    y = tf.nn.batch_normalization(phs["x"], phs["mean"], phs["variance"], phs["offset"], phs["scale"], 1e-3)
    feed = {phs[k]: v for k, v in vals.items() if k != wrt}
    assert _grad_err(phs[wrt], vals[wrt], y, feed) < 1e-8


def test_batch_norm_from_moments_gradient(rng):
    """The training-mode composition: gradient through the batch statistics too."""
    x = tf.placeholder(tf.float64, [4, 2])
    mean, var = tf.nn.moments(x, [0])
    y = tf.nn.batch_normalization(x, mean, var, tf.constant([0.1, -0.2], tf.float64),
                                  tf.constant([1.5, 0.5], tf.float64), 1e-3)
    assert _grad_err(x, rng.randn(4, 2), y) < 1e-7


# -- l2_normalize ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,axis", [(tf.float32, None), (tf.float32, 0), (tf.float32, [0, 1]), (tf.float64, 1)])
def test_l2_normalize_matches_numpy(dtype, axis, rng):
    v = rng.randn(3, 4).astype(dtype.as_numpy_dtype)
    v[1] = 0  # a zero row stays zero (epsilon)
    x = tf.placeholder(dtype, [None, 4])
    y = tf.nn.l2_normalize(x, axis=axis)
    assert y.dtype is dtype and y.op.name == "l2_normalize"
    ax = tuple(axis) if isinstance(axis, list) else axis
    norm = np.sqrt(np.maximum((v.astype(np.float64) ** 2).sum(axis=ax, keepdims=True), 1e-12))
    np.testing.assert_allclose(_run(y, {x: v}), v / norm, **TOL[dtype])


def test_l2_normalize_dim_alias_and_gradient(rng):
    x = tf.placeholder(tf.float64, [2, 3])
    y = tf.nn.l2_normalize(x, dim=1)
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.nn.l2_normalize(x, axis=1, dim=1)
    assert _grad_err(x, rng.randn(2, 3), y) < 1e-8


# -- fused_batch_norm -----------------------------------------------------------------------------

@pytest.fixture(params=["one thread", "split"])
def bn_split(request, monkeypatch):
    """Runs a test on the serial kernels and again with every batch norm split across threads."""
    import numba
    from nbflow.backends.cpu import nn as cpu_nn

    if request.param == "split":
        if numba.get_num_threads() < 2:
            pytest.skip("needs two Numba threads")
        monkeypatch.setattr(cpu_nn, "BN_PARALLEL_MIN_ELEMENTS", 1)
    return request.param


def test_fused_batch_norm_split_runs_the_parallel_kernels(bn_split, monkeypatch, rng):
    from nbflow.kernels.cpu import nn_impl as BN

    calls = []
    for name in ("batch_norm_train_parallel", "batch_norm_infer_parallel", "batch_norm_grad_parallel"):
        monkeypatch.setattr(BN, name, lambda *a, _k=getattr(BN, name), _n=name: calls.append(_n) or _k(*a))
    v = rng.randn(3, 5, 2, 4).astype(np.float32)
    y, _, _ = tf.nn.fused_batch_norm(tf.constant(v), tf.ones([4]), tf.zeros([4]))
    y2, _, _ = tf.nn.fused_batch_norm(tf.constant(v), tf.ones([4]), tf.zeros([4]), mean=tf.zeros([4]),
                                      variance=tf.ones([4]), is_training=False)
    _run([y, y2, tf.gradients(y, tf.get_default_graph().get_operations()[0].outputs[0])[0]])
    want = ["batch_norm_train_parallel", "batch_norm_infer_parallel", "batch_norm_grad_parallel"]
    assert sorted(calls) == (sorted(want) if bn_split == "split" else [])


@pytest.mark.parametrize("dtype", [tf.float16, tf.float32, tf.float64])
def test_fused_batch_norm_training(dtype, rng, bn_split):
    npd = dtype.as_numpy_dtype
    v = (rng.randn(2, 3, 4, 5) * 3 + 2).astype(npd)
    pd = np.float64 if dtype is tf.float64 else np.float32
    scale, offset = rng.rand(5).astype(pd) + 0.5, rng.randn(5).astype(pd)
    x = tf.placeholder(dtype, [None, 3, 4, 5])
    y, bm, bv = tf.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3)
    assert y.op.type == "FusedBatchNormV3" and y.dtype is dtype and bm.dtype.as_numpy_dtype == pd
    assert y.shape.as_list() == [None, 3, 4, 5] and bm.shape.as_list() == [5]
    got_y, got_m, got_v = _run([y, bm, bv], {x: v})
    v64 = v.astype(np.float64)
    mean, var = v64.mean((0, 1, 2)), v64.var((0, 1, 2))
    ref = (v64 - mean) / np.sqrt(var + 1e-3) * scale + offset
    tol = {tf.float16: 1e-2, tf.float32: 2e-5, tf.float64: 1e-12}[dtype]
    np.testing.assert_allclose(got_y.astype(np.float64), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(got_m, mean, rtol=tol, atol=tol)
    np.testing.assert_allclose(got_v, v64.var((0, 1, 2), ddof=1), rtol=tol)  # unbiased, as TF


def test_fused_batch_norm_inference_and_epsilon_floor(rng, bn_split):
    v = rng.randn(2, 2, 2, 3).astype(np.float32)
    mean, var = rng.randn(3).astype(np.float32), (rng.rand(3) + 0.1).astype(np.float32)
    scale, offset = rng.rand(3).astype(np.float32), rng.randn(3).astype(np.float32)
    y, bm, bv = tf.nn.fused_batch_norm(v, scale, offset, mean=mean, variance=var, epsilon=0.0, is_training=False)
    assert y.op.attrs["epsilon"] == pytest.approx(1.001e-5)
    got_y, got_m, got_v = _run([y, bm, bv])
    np.testing.assert_allclose(got_y, (v - mean) / np.sqrt(var + 1.001e-5) * scale + offset, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got_m, mean)
    np.testing.assert_array_equal(got_v, var)


def test_fused_batch_norm_single_row_and_errors(rng, bn_split):
    v = rng.randn(1, 1, 1, 2).astype(np.float32)
    y, bm, bv = tf.nn.fused_batch_norm(v, np.ones(2, np.float32), np.zeros(2, np.float32))
    got_y, got_m, got_v = _run([y, bm, bv])
    np.testing.assert_array_equal(got_y, 0)
    np.testing.assert_array_equal(got_v, 0)  # n / max(n - 1, 1) with n = 1
    np.testing.assert_allclose(got_m, v.reshape(2))
    x = tf.placeholder(tf.float32, [None, 1, 1, 2])
    y, _, _ = tf.nn.fused_batch_norm(x, np.ones(2, np.float32), np.zeros(2, np.float32))
    (g,) = tf.gradients(y, x)
    got_y, got_g = _run([y, g], {x: np.zeros((0, 1, 1, 2), np.float32)})  # an empty batch
    assert got_y.shape == got_g.shape == (0, 1, 1, 2)
    with pytest.raises(ValueError, match="4-dimensional"):
        tf.nn.fused_batch_norm(tf.zeros([2, 3]), tf.ones([3]), tf.zeros([3]))
    with pytest.raises(ValueError, match="scale must have 3 elements"):
        tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 3]), tf.ones([4]), tf.zeros([3]))
    with pytest.raises(NotImplementedError, match="NCHW"):
        tf.nn.fused_batch_norm(tf.zeros([1, 3, 2, 2]), tf.ones([3]), tf.zeros([3]), data_format="NCHW")
    with pytest.raises(ValueError, match="mean and variance are required"):
        tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 3]), tf.ones([3]), tf.zeros([3]), is_training=False)
    with pytest.raises(TypeError, match="scale"):
        tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 3]), tf.ones([3], tf.float64), tf.zeros([3]))
    x = tf.placeholder(tf.float32, [None, 2, 2, None])
    y, _, _ = tf.nn.fused_batch_norm(x, tf.ones([3]), tf.zeros([3]))
    assert y.shape.as_list() == [None, 2, 2, 3]
    with pytest.raises(tf.errors.InvalidArgumentError, match="scale must have 4 elements"):
        _run(y, {x: np.zeros((1, 2, 2, 4), np.float32)})


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("wrt", ["x", "scale", "offset"])
def test_fused_batch_norm_gradient(training, wrt, rng, bn_split):
    vals = {"x": rng.randn(2, 2, 1, 3) * 2 + 1, "scale": rng.rand(3) + 0.5, "offset": rng.randn(3)}
    phs = {k: tf.placeholder(tf.float64, v.shape, name=k) for k, v in vals.items()}
    stats = {} if training else dict(mean=tf.constant(rng.randn(3)), variance=tf.constant(rng.rand(3) + 0.5))
    y, _, _ = tf.nn.fused_batch_norm(phs["x"], phs["scale"], phs["offset"], epsilon=1e-3, is_training=training,
                                     **stats)
    (g,) = tf.gradients(y, phs[wrt])
    assert g.op.type == "FusedBatchNormGradV3"
    feed = {phs[k]: v for k, v in vals.items() if k != wrt}
    assert _grad_err(phs[wrt], vals[wrt], y, feed) < 1e-7


def test_fused_batch_norm_gradient_matches_composition(rng, bn_split):
    dtype = tf.float64  # (float32 runs in tests/test_layers.py's conv net)
    npd = dtype.as_numpy_dtype
    v = (rng.randn(4, 3, 3, 6) * 5 + 3).astype(npd)
    w = rng.randn(4, 3, 3, 6).astype(npd)
    x = tf.constant(v)
    scale, offset = tf.constant((rng.rand(6) + 0.5).astype(npd)), tf.constant(rng.randn(6).astype(npd))
    y1, _, _ = tf.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3)
    mean, var = tf.nn.moments(x, [0, 1, 2])
    y2 = tf.nn.batch_normalization(x, mean, var, offset, scale, 1e-3)
    g1 = tf.gradients(tf.reduce_sum(y1 * w), [x, scale, offset])
    g2 = tf.gradients(tf.reduce_sum(y2 * w), [x, scale, offset])
    a, b = _run([g1, g2])
    tol = 1e-10
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol * np.abs(q).max())


def test_fused_batch_norm_second_derivative_says_unsupported():
    x = tf.placeholder(tf.float64, [1, 2, 2, 2])
    y, _, _ = tf.nn.fused_batch_norm(x, tf.ones([2], tf.float64), tf.zeros([2], tf.float64))
    (g,) = tf.gradients(tf.reduce_sum(y * y), x)
    with pytest.raises(NotImplementedError, match="Second derivatives"):
        tf.gradients(tf.reduce_sum(g), x)


# -- embedding_lookup ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("id_dtype", [tf.int32, tf.int64])
def test_embedding_lookup_single_table(dtype, id_dtype, rng):
    table = rng.randn(6, 3).astype(dtype.as_numpy_dtype)
    params = tf.placeholder(dtype, [None, 3])
    ids = tf.placeholder(id_dtype, [None, 2])
    e = tf.nn.embedding_lookup(params, ids)
    assert e.op.name == "embedding_lookup/Identity" and e.op.inputs[0].op.type == "GatherV2"
    assert e.shape.as_list() == [None, 2, 3] and e.dtype is dtype
    idv = np.array([[0, 5], [2, 2], [4, 1]], dtype=id_dtype.as_numpy_dtype)
    np.testing.assert_array_equal(_run(e, {params: table, ids: idv}), table[idv])


def test_embedding_lookup_variable_trains_and_gradient(rng):
    table = rng.randn(5, 2)
    params = tf.placeholder(tf.float64, [5, 2])
    ids = tf.constant([3, 0, 3, 4])  # a repeated id accumulates
    e = tf.nn.embedding_lookup(params, ids)
    assert _grad_err(params, table, e) < 1e-8
    var = tf.Variable(table)
    loss = tf.reduce_sum(tf.nn.embedding_lookup(var, ids))
    (g,) = tf.gradients(loss, var)
    with tf.Session() as sess:
        sess.run(var.initializer)
        np.testing.assert_array_equal(sess.run(g), [[1, 1], [0, 0], [0, 0], [2, 2], [1, 1]])


def _np_partitioned(parts, ids, strategy):
    n = len(parts)
    sizes = [len(p) for p in parts]
    rows = []
    for i in ids.reshape(-1):
        if strategy == "mod":
            rows.append(parts[i % n][i // n])
        else:
            total = sum(sizes)
            per, extras = total // n, total % n
            bound = extras * (per + 1)
            if i < bound:
                rows.append(parts[i // (per + 1)][i % (per + 1)])
            else:
                rows.append(parts[extras + (i - bound) // per][(i - bound) % per])
    return np.stack(rows).reshape(ids.shape + parts[0].shape[1:])


@pytest.mark.parametrize("strategy", ["mod", "div"])
@pytest.mark.parametrize("static", [True, False])
def test_embedding_lookup_partitioned(strategy, static, rng):
    sizes = [4, 4, 3]  # 11 rows: uneven partitions for both strategies
    parts = [rng.randn(s, 2).astype(np.float32) for s in sizes]
    if static:
        ps = [tf.constant(p) for p in parts]
        feed = {}
    else:
        ps = [tf.placeholder(tf.float32, [None, 2]) for _ in parts]
        feed = dict(zip(ps, parts))
    idv = np.array([[0, 10, 5], [7, 3, 3]], dtype=np.int32)
    ids = tf.placeholder(tf.int32, [2, 3]) if static else tf.placeholder(tf.int32, [None, 3])
    feed[ids] = idv
    e = tf.nn.embedding_lookup(ps, ids, partition_strategy=strategy)
    assert e.shape.as_list() == ([2, 3, 2] if static else [None, 3, 2])
    np.testing.assert_array_equal(_run(e, feed), _np_partitioned(parts, idv, strategy))


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_embedding_lookup_partitioned_gradient_and_errors(strategy, rng):
    parts = [rng.randn(2, 2), rng.randn(2, 2), rng.randn(1, 2)]
    ps = [tf.placeholder(tf.float64, p.shape) for p in parts]
    ids = tf.constant([4, 1, 1, 0])
    e = tf.nn.embedding_lookup(ps, ids, partition_strategy=strategy)
    feed = {ps[0]: parts[0], ps[2]: parts[2]}
    assert _grad_err(ps[1], parts[1], e, feed) < 1e-8
    bad = tf.nn.embedding_lookup(ps, tf.constant([5]), partition_strategy=strategy)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in"):
        _run(bad, dict(zip(ps, parts)))


def test_embedding_lookup_max_norm_and_argument_errors(rng):
    table = np.array([[3., 4.], [0.3, 0.4], [0., 0.]])
    e = tf.nn.embedding_lookup(tf.constant(table), tf.constant([[0, 1, 2]]), max_norm=1.0)
    np.testing.assert_allclose(_run(e), [[[0.6, 0.8], [0.3, 0.4], [0., 0.]]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in"):
        _run(tf.nn.embedding_lookup(tf.constant(table), [3]))
    with pytest.raises(ValueError, match="at least one param"):
        tf.nn.embedding_lookup([], [0])
    with pytest.raises(ValueError, match="Unrecognized partition strategy"):
        tf.nn.embedding_lookup([tf.constant(table)] * 2, [0], partition_strategy="hash")
    with pytest.raises(TypeError, match="int32 or int64"):
        tf.nn.embedding_lookup(tf.constant(table), tf.constant([0.5]))
