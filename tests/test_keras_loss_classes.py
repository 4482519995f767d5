"""tf.keras.losses classes: reductions and sample weights against numpy (Keras's rules),
eagerly, in a tf.function and in a TF 1 graph; get / serialize / deserialize."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode

L = tf.keras.losses
R = L.Reduction
rng = np.random.RandomState(1)


@pytest.fixture
def eager():
    with eager_mode():
        yield


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def per_example(name, y, p):
    if name == "mse":
        return ((p - y) ** 2).mean(-1)
    if name == "mae":
        return np.abs(p - y).mean(-1)
    if name == "sparse":
        return -np.log(p[np.arange(len(y)), y.reshape(-1)])
    raise KeyError(name)


def reduce(losses, sample_weight, reduction):
    w = losses * (1.0 if sample_weight is None else sample_weight)
    if reduction == R.NONE:
        return w
    if reduction == R.SUM:
        return w.sum()
    return w.sum() / w.size


def data(name):
    if name == "sparse":
        p = softmax(rng.randn(6, 4)).astype(np.float32)
        return rng.randint(0, 4, size=6), p, L.SparseCategoricalCrossentropy
    y = rng.randn(6, 3).astype(np.float32)
    p = rng.randn(6, 3).astype(np.float32)
    return y, p, {"mse": L.MeanSquaredError, "mae": L.MeanAbsoluteError}[name]


WEIGHTS = [None, 0.5, np.array([1, 0, 2, 1, 0.5, 3], np.float32), np.array([[1], [0], [2], [1], [0.5], [3]], np.float32)]


@pytest.mark.parametrize("name", ["mse", "mae", "sparse"])
@pytest.mark.parametrize("reduction", [R.AUTO, R.SUM_OVER_BATCH_SIZE, R.SUM, R.NONE])
@pytest.mark.parametrize("wi", range(len(WEIGHTS)))
def test_reductions_and_weights_eager(eager, name, reduction, wi):
    y, p, cls = data(name)
    sw = WEIGHTS[wi]
    loss = cls(reduction=reduction)
    got = loss(y, p, sample_weight=sw).numpy()
    w = None if sw is None else np.reshape(sw, (-1,)) if np.ndim(sw) else sw
    want = reduce(per_example(name, y, p), w, reduction)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_sum_over_batch_size_counts_zero_weights(eager):
    y = np.zeros((4, 1), np.float32)
    p = np.ones((4, 1), np.float32)
    got = L.MeanSquaredError()(y, p, sample_weight=[1, 0, 0, 0]).numpy()
    assert got == pytest.approx(0.25)


def test_per_element_weights_on_sequence_outputs(eager):
    y = rng.randint(0, 3, size=(2, 5))
    p = softmax(rng.randn(2, 5, 3))
    sw = rng.rand(2, 5)
    got = L.SparseCategoricalCrossentropy(reduction=R.SUM)(y, p, sample_weight=sw).numpy()
    ref = -np.log(np.take_along_axis(p, y[..., None], -1)[..., 0])
    np.testing.assert_allclose(got, (ref * sw).sum(), rtol=1e-6)


def test_from_logits_and_options(eager):
    logits = rng.randn(5, 4).astype(np.float32)
    y = rng.randint(0, 4, size=5)
    onehot = np.eye(4, dtype=np.float32)[y]
    a = L.SparseCategoricalCrossentropy(from_logits=True)(y, logits).numpy()
    b = L.CategoricalCrossentropy(from_logits=True)(onehot, logits).numpy()
    ref = -np.log(softmax(logits)[np.arange(5), y]).mean()
    np.testing.assert_allclose([a, b], [ref, ref], rtol=1e-5)
    yb = (rng.rand(5, 1) > 0.5).astype(np.float32)
    pb = rng.rand(5, 1).astype(np.float32)
    got = L.BinaryCrossentropy()(yb, pb).numpy()
    q = np.clip(pb, 1e-7, 1 - 1e-7)
    ref = -(yb * np.log(q + 1e-7) + (1 - yb) * np.log(1 - q + 1e-7)).mean()
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    e = rng.randn(5, 2).astype(np.float32) * 3
    got = L.Huber(delta=2.0)(np.zeros_like(e), e).numpy()
    a_ = np.abs(e)
    ref = np.where(a_ <= 2.0, 0.5 * e ** 2, 2.0 * a_ - 2.0).mean()
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_rank_matching_of_labels(eager):
    # y_true [N, 1] integer labels against [N, C] scores; [N] targets against [N, 1] outputs
    p = softmax(rng.randn(4, 3)).astype(np.float32)
    y = np.array([[0], [2], [1], [1]])
    a = L.SparseCategoricalCrossentropy()(y, p).numpy()
    b = L.SparseCategoricalCrossentropy()(y[:, 0], p).numpy()
    assert a == pytest.approx(b)
    t = rng.randn(4).astype(np.float32)
    o = rng.randn(4, 1).astype(np.float32)
    assert L.MeanSquaredError()(t, o).numpy() == pytest.approx(((o[:, 0] - t) ** 2).mean(), rel=1e-6)


def test_in_tf_function_and_gradients(eager):
    w = tf.Variable(rng.randn(3, 4).astype(np.float32))
    x = rng.randn(6, 3).astype(np.float32)
    y = rng.randint(0, 4, size=6)
    loss_obj = L.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y, sw):
        with tf.GradientTape() as tape:
            loss = loss_obj(y, tf.matmul(x, w), sample_weight=sw)
        return loss, tape.gradient(loss, w)

    sw = np.array([1, 1, 0, 2, 1, 1], np.float32)
    loss, grad = step(x, y, sw)
    logits = x @ w.numpy()
    ref = (-np.log(softmax(logits)[np.arange(6), y]) * sw).sum() / 6
    np.testing.assert_allclose(loss.numpy(), ref, rtol=1e-5)
    d = softmax(logits)
    d[np.arange(6), y] -= 1
    np.testing.assert_allclose(grad.numpy(), x.T @ (d * sw[:, None]) / 6, rtol=1e-4, atol=1e-6)


def test_graph_mode():
    with tf.Graph().as_default():
        y = tf.placeholder(tf.float32, [None, 2])
        p = tf.placeholder(tf.float32, [None, 2])
        sw = tf.placeholder(tf.float32, [None])
        out = L.MeanAbsoluteError(reduction=R.SUM)(y, p, sample_weight=sw)
        none = L.MeanAbsoluteError(reduction=R.NONE)(y, p)
        with tf.Session() as s:
            yv, pv = rng.randn(3, 2), rng.randn(3, 2)
            got, per = s.run([out, none], {y: yv, p: pv, sw: [1, 2, 3]})
    ref = np.abs(pv - yv).mean(-1)
    np.testing.assert_allclose(per, ref, rtol=1e-6)
    np.testing.assert_allclose(got, (ref * [1, 2, 3]).sum(), rtol=1e-5)


def test_reduction_keys():
    assert R.AUTO == "auto" and R.SUM_OVER_BATCH_SIZE == "sum_over_batch_size"
    assert set(R.all()) == {"auto", "none", "sum", "sum_over_batch_size"}
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        L.MeanSquaredError(reduction="mean")


def test_get_serialize_deserialize():
    assert L.get("mse") is L.mean_squared_error
    assert L.get("sparse_categorical_crossentropy") is L.sparse_categorical_crossentropy
    assert isinstance(L.get("MeanSquaredError"), L.MeanSquaredError)
    assert isinstance(L.get(L.Huber), L.Huber)
    obj = L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction=R.SUM, name="cce")
    assert L.get(obj) is obj
    assert L.get(None) is None
    fn = lambda a, b: a  # noqa: E731
    assert L.get(fn) is fn
    config = L.serialize(obj)
    assert config == {"class_name": "CategoricalCrossentropy",
                      "config": {"from_logits": True, "label_smoothing": 0.1, "reduction": "sum", "name": "cce"}}
    back = L.deserialize(config)
    assert isinstance(back, L.CategoricalCrossentropy) and back.get_config() == obj.get_config()
    assert L.get(config).reduction == "sum"
    assert L.serialize(L.mean_absolute_error) == "mean_absolute_error"
    assert L.Huber().get_config() == {"delta": 1.0, "reduction": "auto", "name": "huber_loss"}
    with pytest.raises(ValueError, match="Unknown loss function"):
        L.get("nope")
    with pytest.raises(ValueError, match="Could not interpret"):
        L.get(3)
