"""tf.losses: reductions, weights, each loss against numpy, gradients, collections."""
import numpy as np
import pytest

import nbflow as tf

R = tf.losses.Reduction


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def np_reduce(losses, weights, reduction):
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), losses.shape)
    wl = losses * w
    if reduction == R.NONE:
        return wl
    total = wl.sum()
    if reduction == R.SUM:
        return total
    denom = {R.MEAN: w.sum(), R.SUM_BY_NONZERO_WEIGHTS: float((w != 0).sum()),
             R.SUM_OVER_BATCH_SIZE: float(losses.size)}[reduction]
    return 0.0 if denom == 0 else total / denom


LABELS = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, -1.0, 0.5, 2.0], [4.0, 0.0, 0.0, 1.0]])
PREDS = np.array([[0.5, 1.0, 1.0, 2.0], [0.0, 1.0, 0.5, 2.5], [3.0, -1.0, 2.0, 0.0]])


def test_reduction_keys():
    assert R.SUM_BY_NONZERO_WEIGHTS == R.SUM_OVER_NONZERO_WEIGHTS == "weighted_sum_by_nonzero_weights"
    assert R.NONE == "none" and R.SUM == "weighted_sum" and R.MEAN == "weighted_mean"
    assert R.SUM_OVER_BATCH_SIZE == "weighted_sum_over_batch_size"
    assert set(R.all()) == {R.NONE, R.SUM, R.MEAN, R.SUM_OVER_BATCH_SIZE, R.SUM_BY_NONZERO_WEIGHTS}
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        tf.losses.mean_squared_error(LABELS, PREDS, reduction="mean")


@pytest.mark.parametrize("reduction", [R.NONE, R.SUM, R.MEAN, R.SUM_OVER_BATCH_SIZE, R.SUM_BY_NONZERO_WEIGHTS])
@pytest.mark.parametrize("weights", [2.5, [[1.0], [0.0], [2.0]], [[0.0, 1.0, 0.5, 0.0]], 0.0])
def test_mean_squared_error_reductions(reduction, weights):
    lb = tf.placeholder(tf.float32, [None, 4])
    pr = tf.placeholder(tf.float32, [None, 4])
    loss = tf.losses.mean_squared_error(lb, pr, weights=weights, reduction=reduction)
    assert loss.dtype is tf.float32
    if reduction == R.NONE:
        assert loss.shape.is_compatible_with([3, 4]) and loss.shape.as_list()[1] == 4
    else:
        assert loss.shape.as_list() == []
    got = _run(loss, {lb: LABELS, pr: PREDS})
    np.testing.assert_allclose(got, np_reduce((PREDS - LABELS) ** 2, weights, reduction), rtol=1e-6)


def test_weights_tensor_and_names():
    w = tf.placeholder(tf.float32, [None])
    lb = tf.placeholder(tf.float32, [None])
    loss = tf.losses.absolute_difference(lb, [1.0, 2.0, 3.0], weights=w)
    assert loss.op.name.startswith("absolute_difference/")
    got = _run(loss, {w: [1.0, 0.0, 3.0], lb: [2.0, 2.0, 0.0]})
    np.testing.assert_allclose(got, (1.0 * 1 + 3.0 * 3) / 2)


def test_weights_must_broadcast():
    with pytest.raises(ValueError, match="weights can not be broadcast to values"):
        tf.losses.mean_squared_error(LABELS, PREDS, weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Mismatch at dim 0"):
        tf.losses.mean_squared_error(LABELS, PREDS, weights=[[1.0], [2.0]])
    with pytest.raises(ValueError, match="must not be None"):
        tf.losses.mean_squared_error(None, PREDS)
    with pytest.raises(TypeError, match="floating point"):
        tf.losses.compute_weighted_loss(tf.constant([1, 2]))


def test_regression_losses_match_numpy():
    lb = tf.constant(LABELS, dtype=tf.float64)
    pr = tf.constant(PREDS, dtype=tf.float64)
    p01 = np.clip(np.abs(PREDS) / 5, 0.01, 0.99)
    l01 = (LABELS > 0.5).astype(np.float64)
    losses = [
        tf.losses.absolute_difference(lb, pr),
        tf.losses.huber_loss(lb, pr, delta=0.75),
        tf.losses.log_loss(l01, p01),
        tf.losses.log_loss(l01, p01, epsilon=0.1),
        tf.losses.hinge_loss(l01, pr),
        tf.losses.cosine_distance(lb / 5.0, pr / 5.0, axis=1),
    ]
    got = _run(losses)
    err = np.abs(PREDS - LABELS)
    quad = np.minimum(err, 0.75)
    refs = [
        err.mean(),
        (0.5 * quad ** 2 + 0.75 * (err - quad)).mean(),
        (-l01 * np.log(p01 + 1e-7) - (1 - l01) * np.log(1 - p01 + 1e-7)).mean(),
        (-l01 * np.log(p01 + 0.1) - (1 - l01) * np.log(1 - p01 + 0.1)).mean(),
        np.maximum(0, 1 - (2 * l01 - 1) * PREDS).mean(),
        (1 - (LABELS / 5 * PREDS / 5).sum(1)).mean(),
    ]
    for g, r in zip(got, refs):
        assert g.dtype == np.float32  # computed in float32, as TF
        np.testing.assert_allclose(g, r, rtol=2e-6)
    with pytest.raises(ValueError, match="axis"):
        tf.losses.cosine_distance(lb, pr)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_softmax_cross_entropy(dtype, smoothing):
    logits = tf.placeholder(dtype, [None, 4])
    onehot = np.eye(4)[[1, 3, 0]]
    w = np.array([1.0, 0.0, 2.0])
    loss = tf.losses.softmax_cross_entropy(onehot, logits, weights=w, label_smoothing=smoothing)
    assert loss.dtype is dtype  # cast back to the logits' dtype
    lv = np.array([[1.0, 2.0, 0.5, -1.0], [1e4, 0.0, 0.0, -1e4], [0.3, 0.2, 0.1, 0.0]])
    got = _run(loss, {logits: lv})
    smooth = onehot * (1 - smoothing) + smoothing / 4
    per = -(smooth * np_log_softmax(lv)).sum(1)
    per[1] = 0.0  # zero weight (its value is huge but finite)
    np.testing.assert_allclose(got, (per * w).sum() / 2, rtol=2e-6)


def test_softmax_cross_entropy_stable_and_gradient_excludes_labels():
    logits = tf.placeholder(tf.float32, [2, 3])
    labels = tf.placeholder(tf.float32, [2, 3])
    loss = tf.losses.softmax_cross_entropy(labels, logits)
    assert tf.gradients(loss, labels) == [None]
    (g,) = tf.gradients(loss, logits)
    lv = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=np.float32)
    yv = np.array([[0.0, 1.0, 0.0], [0.0, 0.5, 0.5]], dtype=np.float32)
    l, gv = _run([loss, g], {logits: lv, labels: yv})
    assert np.isfinite(l) and np.all(np.isfinite(gv))
    np.testing.assert_allclose(l, (2e4 + np.log(2)) / 2, rtol=1e-6)
    sm = np.exp(np_log_softmax(lv.astype(np.float64)))
    np.testing.assert_allclose(gv, (sm - yv) / 2, atol=1e-6)


@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_sparse_softmax_cross_entropy(label_shape):
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int64, [None] if label_shape == "flat" else [None, 1])
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=[[2.0], [1.0], [0.0], [1.0]]
                                                  if label_shape == "column" else 1.0)
    lv = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    yv = np.array([2, 0, 1, 1])
    got = _run(loss, {logits: lv, labels: yv if label_shape == "flat" else yv[:, None]})
    per = -np_log_softmax(lv.astype(np.float64))[np.arange(4), yv]
    w = np.array([2.0, 1.0, 0.0, 1.0]) if label_shape == "column" else np.ones(4)
    np.testing.assert_allclose(got, (per * w).sum() / (w != 0).sum(), rtol=1e-6)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="outside the valid range"):
            sess.run(loss, {logits: lv, labels: (yv + 2) if label_shape == "flat" else (yv + 2)[:, None]})


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_sigmoid_cross_entropy(smoothing):
    logits = tf.placeholder(tf.float32, [None, 2])
    z = np.array([[1, 0], [0, 1], [1, 1]])
    loss = tf.losses.sigmoid_cross_entropy(z, logits, label_smoothing=smoothing)
    x = np.array([[2.0, -1.0], [1e4, -1e4], [0.0, 3.0]])
    got = _run(loss, {logits: x})
    zs = z * (1 - smoothing) + 0.5 * smoothing
    per = np.maximum(x, 0) - x * zs + np.log1p(np.exp(-np.abs(x)))
    np.testing.assert_allclose(got, per.mean(), rtol=1e-6)


def test_loss_gradients():
    pr = tf.placeholder(tf.float64, [3, 4])
    lg = tf.placeholder(tf.float64, [3, 4])
    w = tf.constant([[1.0], [0.5], [2.0]], dtype=tf.float64)
    mse = tf.losses.mean_squared_error(LABELS, pr, weights=w)
    xent = tf.losses.softmax_cross_entropy(np.eye(4)[[0, 1, 3]], lg, weights=[1.0, 2.0, 0.5], label_smoothing=0.1)
    huber = tf.losses.huber_loss(LABELS, pr, reduction=R.SUM)
    # analytically: d mse / d pr = 2 w (pr - labels) / 12
    (g,) = tf.gradients(mse, pr)
    np.testing.assert_allclose(_run(g, {pr: PREDS}), 2 * np.array([[1.0], [0.5], [2.0]]) * (PREDS - LABELS) / 12,
                               rtol=1e-6)
    # the losses are computed in float32 (as TF), so finite differences are float32-accurate
    with tf.Session():
        e1 = tf.test.compute_gradient_error(pr, [3, 4], mse, [], x_init_value=PREDS.copy())
        e2 = tf.test.compute_gradient_error(lg, [3, 4], xent, [])
        e3 = tf.test.compute_gradient_error(pr, [3, 4], huber, [], x_init_value=PREDS + 0.1)
    assert max(e1, e2, e3) < 1e-3


# -- collections ---------------------------------------------------------------------------------------

def test_losses_collection():
    a = tf.losses.mean_squared_error([1.0], [2.0])
    b = tf.losses.absolute_difference([1.0], [3.0], loss_collection=None)
    c = tf.losses.log_loss([1.0], [0.5], loss_collection="mine")
    assert tf.losses.get_losses() == [a] == tf.get_collection(tf.GraphKeys.LOSSES)
    assert tf.losses.get_losses(loss_collection="mine") == [c]
    assert b not in tf.get_collection(tf.GraphKeys.LOSSES)
    assert tf.losses.get_losses(scope="mean_squared") == [a]
    assert tf.losses.get_losses(scope="other") == []


def test_total_and_regularization_losses():
    with pytest.raises(ValueError):
        tf.losses.get_total_loss()
    zero = tf.losses.get_regularization_loss()
    assert _run(zero) == 0.0
    tf.losses.mean_squared_error([1.0, 2.0], [2.0, 4.0])                # 2.5
    tf.losses.add_loss(tf.constant(1.5))
    tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, tf.constant(0.25))
    tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, tf.constant(0.5))
    reg = tf.losses.get_regularization_loss()
    total = tf.losses.get_total_loss()
    no_reg = tf.losses.get_total_loss(add_regularization_losses=False, name="no_reg")
    assert reg.op.name == "total_regularization_loss" and total.op.name == "total_loss"
    assert len(tf.losses.get_regularization_losses()) == 2
    got = _run([reg, total, no_reg])
    np.testing.assert_allclose(got, [0.75, 4.75, 4.0])
    assert len(tf.get_collection(tf.GraphKeys.LOSSES)) == 2  # get_total_loss does not modify collections
