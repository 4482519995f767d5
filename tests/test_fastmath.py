"""Accuracy of the vectorizable float32 transcendentals against float64 numpy,
and their use inside generated kernels."""
import numpy as np
import pytest
from numba import njit

import nbflow as tf
from nbflow.kernels.cpu import fastmath as fm


@njit(error_model="numpy")
def _apply(which, x, out):
    for i in range(x.shape[0]):
        v = x[i]
        if which == 0:
            out[i] = fm.exp32(v)
        elif which == 1:
            out[i] = fm.log32(v)
        elif which == 2:
            out[i] = fm.sin32(v)
        elif which == 3:
            out[i] = fm.cos32(v)
        else:
            out[i] = fm.tanh32(v)


def _run(which, x):
    x = np.asarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _apply(which, x, out)
    return out


RNG = np.random.RandomState(0)


def test_exp_relative_error():
    x = RNG.uniform(-87, 88, 200_000).astype(np.float32)
    ref = np.exp(x.astype(np.float64))
    assert np.max(np.abs(_run(0, x) - ref) / ref) < 2.5e-7
    special = _run(0, [np.nan, np.inf, -np.inf, 100.0, -100.0, 0.0])
    assert np.isnan(special[0]) and special[1] == np.inf and special[2] == 0.0
    assert special[3] == np.inf and special[4] == 0.0 and special[5] == 1.0


@njit(error_model="numpy")
def _apply_exp_nonpos(x, out):
    for i in range(x.shape[0]):
        out[i] = fm.exp_nonpos32(x[i])


def test_exp_nonpos_matches_exp32_on_its_domain():
    # softmax's exp: arguments <= 0 (logits minus their row maximum) or NaN
    x = np.concatenate([RNG.uniform(-90, 0, 200_000), [0.0, -0.0, -87.33, -87.34, -88.0, -np.inf, np.nan]])
    x = x.astype(np.float32)
    got = np.empty_like(x)
    _apply_exp_nonpos(x, got)
    np.testing.assert_array_equal(got, _run(0, x))  # bit-identical to exp32 for x <= 0
    ref = np.exp(x[:200_000].astype(np.float64))
    keep = ref > np.finfo(np.float32).tiny
    assert np.max(np.abs(got[:200_000][keep] - ref[keep]) / ref[keep]) < 2.5e-7
    assert got[-2] == 0.0 and np.isnan(got[-1]) and got[-7] == 1.0


def test_log_error():
    x = np.exp(RNG.uniform(-80, 80, 200_000)).astype(np.float32)
    ref = np.log(x.astype(np.float64))
    got = _run(1, x)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)) < 2.5e-7
    special = _run(1, [0.0, -1.0, np.inf, np.nan, 1.0])
    assert special[0] == -np.inf and np.isnan(special[1]) and special[2] == np.inf
    assert np.isnan(special[3]) and special[4] == 0.0


@pytest.mark.parametrize("which,ref_fn", [(2, np.sin), (3, np.cos)])
def test_sin_cos_absolute_error(which, ref_fn):
    x = RNG.uniform(-8192, 8192, 200_000).astype(np.float32)
    x[:1000] = RNG.uniform(-4, 4, 1000)
    err = np.max(np.abs(_run(which, x) - ref_fn(x.astype(np.float64))))
    assert err < 2.5e-7
    assert np.isnan(_run(which, [np.nan])[0])


def test_tanh_relative_error():
    x = np.concatenate([RNG.uniform(-12, 12, 200_000), [0.0, 1e-30, -1e-8, 0.625, -0.625]]).astype(np.float32)
    ref = np.tanh(x.astype(np.float64))
    got = _run(4, x)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-38)) < 3e-7
    assert _run(4, [np.inf, -np.inf])[0] == 1.0 and _run(4, [-np.inf])[0] == -1.0


def test_generated_float32_kernels_use_them_and_match_numpy(monkeypatch):
    monkeypatch.delenv("NBFLOW_DISABLE_PASSES", raising=False)
    monkeypatch.delenv("NBFLOW_FAST_TRANSCENDENTALS", raising=False)
    t = tf.placeholder(tf.float32, [None])
    y = 2.0 * tf.exp(-0.5 * t) * tf.cos(3.0 * t) + tf.tanh(t) * tf.sigmoid(t) + tf.log(tf.abs(t) + 1.0)
    tv = np.linspace(-5, 5, 1001).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(y, {t: tv})
        src = open(sess.plan_for(y, {t: tv}).fused_groups[0].source_path).read()
    assert "fastmath.exp32" in src and "fastmath.cos32" in src and "fastmath.tanh32" in src
    # numpy in float32, op by op: the same roundings of the arguments
    f = np.float32
    ref = f(2) * np.exp(f(-0.5) * tv) * np.cos(f(3) * tv) + np.tanh(tv) * (f(1) / (f(1) + np.exp(-tv))) \
        + np.log(np.abs(tv) + f(1))
    np.testing.assert_allclose(got, ref, rtol=3e-6, atol=3e-6)
