"""tf.keras.losses functions: numpy references (TF 2's formulas), finite-difference
gradients in graphs, the same values and gradients eagerly (GradientTape)."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode

L = tf.keras.losses
EPS = 1e-7
rng = np.random.RandomState(0)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def ref_sparse(y, p, from_logits=False, axis=-1):
    p = np.moveaxis(p, axis, -1)
    logp = np.log(softmax(p)) if from_logits else np.log(softmax(np.log(np.clip(p, EPS, 1 - EPS))))
    y = y.reshape(p.shape[:-1]).astype(np.int64)
    return -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]


def ref_categorical(y, p, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / y.shape[-1]
    if from_logits:
        return -(y * np.log(softmax(p))).sum(-1)
    p = p / p.sum(-1, keepdims=True)
    return -(y * np.log(np.clip(p, EPS, 1 - EPS))).sum(-1)


def ref_binary(y, p, from_logits=False, label_smoothing=0.0):
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return (np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))).mean(-1)
    q = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(q + EPS) + (1 - y) * np.log(1 - q + EPS)).mean(-1)


def ref_huber(y, p, delta=1.0):
    e = p - y
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta).mean(-1)


def probs(*shape):
    return softmax(rng.standard_normal(shape)).astype(np.float64)


def onehot(labels, n):
    return np.eye(n)[labels]


LABELS = rng.randint(0, 5, size=6)
LABELS3 = rng.randint(0, 4, size=(2, 3))

# (name, fn(y_true, y_pred), y_true, y_pred (float64), reference(y_true, y_pred))
CASES = [
    ("sparse_probs", lambda y, p: L.sparse_categorical_crossentropy(y, p), LABELS, probs(6, 5), ref_sparse),
    ("sparse_probs_col", lambda y, p: L.sparse_categorical_crossentropy(y, p), LABELS.reshape(6, 1),
     probs(6, 5), ref_sparse),
    ("sparse_float_labels", lambda y, p: L.sparse_categorical_crossentropy(y, p), LABELS.astype(np.float32),
     probs(6, 5), ref_sparse),
    ("sparse_logits", lambda y, p: L.sparse_categorical_crossentropy(y, p, from_logits=True), LABELS,
     rng.standard_normal((6, 5)), lambda y, p: ref_sparse(y, p, True)),
    ("sparse_rank3", lambda y, p: L.sparse_categorical_crossentropy(y, p, from_logits=True), LABELS3,
     rng.standard_normal((2, 3, 4)), lambda y, p: ref_sparse(y, p, True)),
    ("sparse_rank3_col", lambda y, p: L.sparse_categorical_crossentropy(y, p, from_logits=True),
     LABELS3[..., None], rng.standard_normal((2, 3, 4)), lambda y, p: ref_sparse(y, p, True)),
    ("sparse_axis", lambda y, p: L.sparse_categorical_crossentropy(y, p, from_logits=True, axis=1), LABELS3,
     rng.standard_normal((2, 4, 3)), lambda y, p: ref_sparse(y, p, True, axis=1)),
    ("categorical_probs", lambda y, p: L.categorical_crossentropy(y, p), onehot(LABELS, 5),
     rng.uniform(0.1, 1.0, (6, 5)), ref_categorical),
    ("categorical_logits_smoothing",
     lambda y, p: L.categorical_crossentropy(y, p, from_logits=True, label_smoothing=0.1), onehot(LABELS, 5),
     rng.standard_normal((6, 5)), lambda y, p: ref_categorical(y, p, True, 0.1)),
    ("categorical_probs_smoothing", lambda y, p: L.categorical_crossentropy(y, p, label_smoothing=0.2),
     onehot(LABELS, 5), probs(6, 5), lambda y, p: ref_categorical(y, p, False, 0.2)),
    ("binary_probs", lambda y, p: L.binary_crossentropy(y, p), rng.randint(0, 2, (4, 3)).astype(np.float64),
     rng.uniform(0.05, 0.95, (4, 3)), ref_binary),
    ("binary_logits_smoothing", lambda y, p: L.binary_crossentropy(y, p, from_logits=True, label_smoothing=0.2),
     rng.randint(0, 2, (4, 3)).astype(np.float64), rng.standard_normal((4, 3)),
     lambda y, p: ref_binary(y, p, True, 0.2)),
    ("mse", L.mean_squared_error, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
     lambda y, p: ((p - y) ** 2).mean(-1)),
    ("mae", L.mae, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)) + 0.05,
     lambda y, p: np.abs(p - y).mean(-1)),
    ("huber", L.huber, rng.standard_normal((4, 3)), 2 * rng.standard_normal((4, 3)), ref_huber),
    ("huber_delta", lambda y, p: L.huber(y, p, delta=0.5), rng.standard_normal((4, 3)),
     2 * rng.standard_normal((4, 3)), lambda y, p: ref_huber(y, p, 0.5)),
]
IDS = [c[0] for c in CASES]


def _y_true(y):
    return y.astype(np.float64) if y.dtype.kind == "f" and y.dtype != np.float32 else y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_match_numpy_in_both_modes(case, dtype):
    _, fn, y, p, ref = case
    want = ref(y, p)
    pd = p.astype(dtype)
    yd = y.astype(dtype) if y.dtype.kind == "f" and y.dtype != np.float32 else y
    out = fn(tf.constant(yd), tf.constant(pd))
    assert out.dtype == tf.as_dtype(dtype)
    with tf.Session() as sess:
        got = sess.run(out)
    tol = {"rtol": 2e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)
    with eager_mode():
        eager = fn(tf.constant(yd), tf.constant(pd)).numpy()
    np.testing.assert_allclose(eager, want, **tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_by_finite_differences_in_a_graph(case):
    _, fn, y, p, ref = case
    x = tf.placeholder(tf.float64, p.shape)
    loss = tf.reduce_sum(fn(tf.constant(y), x))
    grad = tf.gradients(loss, x)[0]
    with tf.Session() as sess:
        got = sess.run(grad, {x: p})
    want = np.zeros_like(p)
    h = 1e-6
    for i in np.ndindex(p.shape):
        d = np.zeros_like(p)
        d[i] = h
        want[i] = (ref(y, p + d).sum() - ref(y, p - d).sum()) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_tape_matches_graph_gradients(case):
    _, fn, y, p, _ = case
    x = tf.placeholder(tf.float64, p.shape)
    grad = tf.gradients(tf.reduce_sum(fn(tf.constant(y), x)), x)[0]
    with tf.Session() as sess:
        want = sess.run(grad, {x: p})
    with eager_mode():
        v = tf.Variable(p)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fn(tf.constant(y), v))
        got = tape.gradient(loss, v).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_probabilities_from_a_softmax_or_sigmoid_op_use_its_logits_in_a_graph():
    """TF's graph shortcut: no clipping, the stable cross-entropy of the logits."""
    logits = np.array([[30.0, 0.0, -30.0], [0.0, 1.0, 2.0]], np.float32)
    labels = np.array([2, 1])
    x = tf.constant(logits)
    sparse = L.sparse_categorical_crossentropy(labels, tf.nn.softmax(x))
    cat = L.categorical_crossentropy(onehot(labels, 3), tf.nn.softmax(x))
    binary = L.binary_crossentropy(np.array([[0.0, 1.0, 1.0]], np.float32), tf.sigmoid(x[:1]))
    with tf.Session() as sess:
        s, c, b = sess.run([sparse, cat, binary])
    want = ref_sparse(labels, logits.astype(np.float64), from_logits=True)
    np.testing.assert_allclose(s, want, rtol=1e-5)  # 60 for row 0: no clipping at 1e-7
    np.testing.assert_allclose(c, want, rtol=1e-5)
    np.testing.assert_allclose(b, ref_binary(np.array([[0.0, 1.0, 1.0]]), logits[:1].astype(np.float64), True),
                               rtol=1e-5)
    with eager_mode():  # eagerly the probabilities are clipped, as in TF
        s = L.sparse_categorical_crossentropy(labels, tf.nn.softmax(tf.constant(logits))).numpy()
    np.testing.assert_allclose(s[0], -np.log(EPS), rtol=1e-4)


def test_clipping_keeps_losses_finite():
    y = np.array([[1.0, 0.0]], np.float32)
    p = np.array([[0.0, 1.0]], np.float32)
    with tf.Session() as sess:
        out = sess.run([L.categorical_crossentropy(y, p), L.binary_crossentropy(y, p),
                        L.sparse_categorical_crossentropy(np.array([0]), p)])
    for o in out:
        assert np.all(np.isfinite(o)) and np.all(o > 10)


def test_aliases():
    assert L.mse is L.MSE is L.mean_squared_error
    assert L.mae is L.MAE is L.mean_absolute_error
