"""tf.keras.metrics: every metric against a numpy reference, streamed over several batches
with and without sample weights, eagerly, inside a tf.function and in a TF 1 graph;
reset, state variables, the metric functions, get and compile_utils.resolve_metric."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework.context import eager_mode

M = tf.keras.metrics
rng = np.random.RandomState(3)


@pytest.fixture
def eager():
    with eager_mode():
        yield


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# -- the streaming driver: the same batches through the three modes ------------------------------

def stream(mode, make, batches):
    """Feed ``batches`` [(args, sample_weight)] to ``make()``'s update_state; the final result."""
    if mode == "eager":
        with eager_mode():
            m = make()
            for args, sw in batches:
                assert m.update_state(*args, sample_weight=sw) is None
            return float(m.result().numpy())
    if mode == "function":
        with eager_mode():
            m = make()

            @tf.function
            def update(args, sw):
                m.update_state(*args, sample_weight=sw)
                return m.result()

            for args, sw in batches:
                last = update(args, sw)
            assert float(last.numpy()) == float(m.result().numpy())
            return float(last.numpy())
    with tf.Graph().as_default():
        m = make()
        args0, sw0 = batches[0]
        phs = [tf.placeholder(tf.as_dtype(np.asarray(a).dtype), [None] + list(np.shape(a)[1:])) for a in args0]
        sw_ph = None if sw0 is None else tf.placeholder(tf.float32, [None] + list(np.shape(sw0)[1:]))
        update = m.update_state(*phs, sample_weight=sw_ph)
        result = m.result()
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            for args, sw in batches:
                feed = dict(zip(phs, args))
                if sw_ph is not None:
                    feed[sw_ph] = sw
                sess.run(update, feed)
            return float(sess.run(result))


def weighted_mean(values_and_weights):
    num = sum((v * w).sum() for v, w in values_and_weights)
    den = sum((w * np.ones_like(v)).sum() for v, w in values_and_weights)
    return num / den


def batches_for(kind, weighted, n_batches=3, n=5):
    """[(args, sample_weight)] and the per-example reference values of each batch."""
    out, refs = [], []
    for _ in range(n_batches):
        sw = rng.rand(n).astype(np.float32) if weighted else None
        if kind == "sparse":
            p = softmax(rng.randn(n, 4)).astype(np.float32)
            y = rng.randint(0, 4, size=n)
            args, ref = (y, p), (p.argmax(-1) == y).astype(float)
        elif kind == "categorical":
            p = softmax(rng.randn(n, 4)).astype(np.float32)
            y = np.eye(4, dtype=np.float32)[rng.randint(0, 4, size=n)]
            args, ref = (y, p), (p.argmax(-1) == y.argmax(-1)).astype(float)
        elif kind == "binary":
            p = rng.rand(n, 1).astype(np.float32)
            y = (rng.rand(n, 1) > 0.5).astype(np.float32)
            args, ref = (y, p), ((p > 0.5) == y).astype(float).mean(-1)
        elif kind == "binary_t":
            p = rng.rand(n, 2).astype(np.float32)
            y = (rng.rand(n, 2) > 0.5).astype(np.float32)
            args, ref = (y, p), ((p > 0.3) == y).astype(float).mean(-1)
        elif kind == "accuracy":
            y = rng.randint(0, 3, size=n).astype(np.float32)
            p = rng.randint(0, 3, size=n).astype(np.float32)
            args, ref = (y, p), (y == p).astype(float)
        elif kind in ("mse", "mae"):
            y = rng.randn(n, 3).astype(np.float32)
            p = rng.randn(n, 3).astype(np.float32)
            ref = ((p - y) ** 2).mean(-1) if kind == "mse" else np.abs(p - y).mean(-1)
            args = (y, p)
        elif kind == "sparse_ce":
            p = softmax(rng.randn(n, 4)).astype(np.float32)
            y = rng.randint(0, 4, size=n)
            args, ref = (y, p), -np.log(p[np.arange(n), y])
        elif kind == "mean":
            v = rng.randn(n).astype(np.float32)
            args, ref = (v,), v.astype(float)
        else:
            raise KeyError(kind)
        out.append((args, sw))
        refs.append((ref, np.ones(n) if sw is None else sw.astype(float)))
    return out, refs


METRICS = [
    ("sparse", M.SparseCategoricalAccuracy),
    ("categorical", M.CategoricalAccuracy),
    ("binary", M.BinaryAccuracy),
    ("binary_t", lambda: M.BinaryAccuracy(threshold=0.3)),
    ("accuracy", M.Accuracy),
    ("mse", M.MeanSquaredError),
    ("mae", M.MeanAbsoluteError),
    ("sparse_ce", M.SparseCategoricalCrossentropy),
    ("mean", M.Mean),
]


@pytest.mark.parametrize("mode", ["eager", "function", "graph"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind,make", METRICS, ids=[k for k, _ in METRICS])
def test_metric_streams_against_numpy(mode, weighted, kind, make):
    batches, refs = batches_for(kind, weighted)
    got = stream(mode, make, batches)
    np.testing.assert_allclose(got, weighted_mean(refs), rtol=1e-5)


@pytest.mark.parametrize("mode", ["eager", "function", "graph"])
def test_sum(mode):
    batches = [((rng.randn(4, 2).astype(np.float32),), rng.rand(4).astype(np.float32)) for _ in range(3)]
    want = sum((v * w[:, None]).sum() for (v,), w in batches)
    assert stream(mode, M.Sum, batches) == pytest.approx(want, rel=1e-5)


def test_weight_broadcasting_rules(eager):
    v = rng.randn(4, 3).astype(np.float32)
    w = rng.rand(4).astype(np.float32)
    m = M.Mean()
    m.update_state(v, sample_weight=w)  # [N] weights: expanded to [N, 1], broadcast over the 3 columns
    assert m.result().numpy() == pytest.approx((v * w[:, None]).sum() / (3 * w.sum()), rel=1e-5)
    m = M.Mean()
    m.update_state(v, sample_weight=2.0)  # a scalar weights every value
    assert m.result().numpy() == pytest.approx(v.mean(), rel=1e-5)
    m = M.Mean()
    v3 = rng.randn(4, 2, 3).astype(np.float32)
    m.update_state(v3, sample_weight=w)  # weights of rank 1 against rank 3: values reduced to [N, 1] means
    vm = v3.mean(-1)
    assert m.result().numpy() == pytest.approx((vm * w[:, None]).sum() / (2 * w.sum()), rel=1e-5)
    s = M.Sum()
    s.update_state(v3, sample_weight=w)  # Sum reduces by summing
    assert s.result().numpy() == pytest.approx((v3.sum(-1) * w[:, None]).sum(), rel=1e-5)


def test_call_reset_and_state(eager):
    m = M.SparseCategoricalAccuracy()
    assert m.name == "sparse_categorical_accuracy" and m.dtype == "float32"
    assert [v.name for v in m.variables] == ["sparse_categorical_accuracy/total:0", "sparse_categorical_accuracy/count:0"]
    assert all(not v.trainable for v in m.variables) and m.trainable_variables == ()
    r = m([1, 0], [[0.1, 0.9], [0.2, 0.8]])
    assert r.numpy() == pytest.approx(0.5)
    assert m([0], [[0.9, 0.1]]).numpy() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result().numpy() == 0.0  # div_no_nan of empty state
    assert [float(v.numpy()) for v in m.variables] == [0.0, 0.0]
    m.update_state([1], [[0.3, 0.7]])
    m.reset_states()
    m.update_state([1], [[0.7, 0.3]])
    assert m.result().numpy() == 0.0
    assert M.Mean(dtype="float64").result().dtype == tf.float64


def test_metric_made_inside_tf_function(eager):
    holder = {}

    @tf.function
    def f(x):
        if "m" not in holder:
            holder["m"] = M.Mean()
        holder["m"].update_state(x)
        return holder["m"].result()

    assert f(np.float32(2.0)).numpy() == 2.0
    assert f(np.float32(4.0)).numpy() == 3.0
    assert holder["m"].result().numpy() == 3.0  # the state is in eager variables


def test_reset_inside_tf_function(eager):
    m = M.Mean()

    @tf.function
    def epoch(values):
        m.reset_state()
        m.update_state(values)
        return m.result()

    assert epoch(np.array([1.0, 2.0], np.float32)).numpy() == 1.5
    assert epoch(np.array([5.0, 7.0], np.float32)).numpy() == 6.0


def test_graph_mode_update_op_result_tensor_and_reset():
    with tf.Graph().as_default():
        m = M.Accuracy()
        y = tf.placeholder(tf.float32, [None])
        p = tf.placeholder(tf.float32, [None])
        update = m.update_state(y, p)
        assert isinstance(update, (tf.Tensor, tf.Operation))
        called = m(y, p)  # reads after its own update
        result = m.result()
        assert set(tf.local_variables()) == set(m.variables)
        assert not set(m.variables) & set(tf.global_variables())
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            sess.run(update, {y: [1, 2], p: [1, 0]})
            assert sess.run(result) == pytest.approx(0.5)
            assert sess.run(called, {y: [3, 3], p: [3, 3]}) == pytest.approx(0.75)
            op = m.reset_state()  # runs in the default session, and returns the op
            assert sess.run(result) == 0.0
            sess.run(update, {y: [1], p: [1]})
            sess.run(op)
            assert sess.run(result) == 0.0
            assert m.reset_state() is op  # built once


def test_metric_functions(eager):
    y = np.array([1, 2, 0])
    p = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.9, 0.05, 0.05]], np.float32)
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(y, p).numpy(), [1, 0, 1])
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(y[:, None], p).numpy(), [1, 0, 1])
    np.testing.assert_array_equal(M.categorical_accuracy(np.eye(3)[y], p).numpy(), [1, 0, 1])
    np.testing.assert_array_equal(M.binary_accuracy([[1, 0], [0, 0]], [[0.7, 0.2], [0.6, 0.4]]).numpy(), [1, 0.5])
    np.testing.assert_array_equal(M.binary_accuracy([[1.0]], [[0.7]], threshold=0.8).numpy(), [0])
    np.testing.assert_array_equal(M.accuracy([1, 2, 3], [1, 0, 3]).numpy(), [1, 0, 1])
    assert M.accuracy([1, 2], [1, 2]).dtype == tf.float32
    with pytest.raises(ValueError):
        M.accuracy(np.zeros(3), np.zeros(4))


def test_mean_metric_wrapper_and_config(eager):
    def within(y_true, y_pred, tol=0.5):
        return tf.cast(tf.abs(y_true - y_pred) <= tol, tf.float32)

    m = M.MeanMetricWrapper(within, name="within", tol=0.25)
    m.update_state([1.0, 2.0, 3.0], [1.1, 2.5, 3.2])
    assert m.result().numpy() == pytest.approx(2 / 3)
    assert m.get_config()["tol"] == 0.25 and m.get_config()["name"] == "within"
    b = M.BinaryAccuracy(threshold=0.7, name="ba")
    config = M.serialize(b)
    assert config == {"class_name": "BinaryAccuracy", "config": {"threshold": 0.7, "name": "ba", "dtype": "float32"}}
    back = M.deserialize(config)
    assert isinstance(back, M.BinaryAccuracy) and back.name == "ba" and back.get_config() == b.get_config()
    wrapped = M.deserialize(M.serialize(M.MeanMetricWrapper(M.categorical_accuracy, name="ca")))
    assert wrapped._fn is M.categorical_accuracy and wrapped.name == "ca"


def test_get():
    assert M.get("accuracy") is M.accuracy and M.get("acc") is M.accuracy
    assert M.get("sparse_categorical_accuracy") is M.sparse_categorical_accuracy
    assert M.get("mse") is tf.keras.losses.mean_squared_error
    with tf.Graph().as_default():
        assert isinstance(M.get("SparseCategoricalAccuracy"), M.SparseCategoricalAccuracy)
        assert isinstance(M.get(M.AUC if hasattr(M, "AUC") else M.Mean), M.Metric)
        m = M.Mean()
        assert M.get(m) is m
    with pytest.raises(ValueError, match="Unknown metric"):
        M.get("nope")
    with pytest.raises(ValueError, match="Could not interpret"):
        M.get(1.5)


def test_resolve_metric_accuracy_variants():
    cu = tf.keras.compile_utils
    with tf.Graph().as_default():
        def fn_of(identifier, **kw):
            return cu.resolve_metric(identifier, **kw)._fn

        assert fn_of("accuracy", loss_fn="sparse_categorical_crossentropy") is M.sparse_categorical_accuracy
        assert fn_of("acc", loss_fn=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)) \
            is M.sparse_categorical_accuracy
        assert fn_of("accuracy", loss_fn="binary_crossentropy") is M.binary_accuracy
        assert fn_of("accuracy", loss_fn="mse", output_shape=[None, 1]) is M.binary_accuracy
        assert fn_of("accuracy", loss_fn="categorical_crossentropy", output_shape=[None, 10]) \
            is M.categorical_accuracy
        assert fn_of("accuracy", output_shape=[None, 10], y_true_shape=[None]) is M.sparse_categorical_accuracy
        assert fn_of("accuracy", output_shape=[None, 10], y_true_shape=[None, 1]) is M.sparse_categorical_accuracy
        assert fn_of("accuracy", output_shape=[None, 10], y_true_shape=[None, 10]) is M.categorical_accuracy
        assert fn_of("crossentropy", loss_fn="sparse_categorical_crossentropy") is M.sparse_categorical_crossentropy
        assert fn_of("ce", output_shape=[None, 1]) is M.binary_crossentropy
        acc = cu.resolve_metric("acc", loss_fn="sparse_categorical_crossentropy")
        assert acc.name == "acc"  # shown in the logs as given
        mse = cu.resolve_metric("mse")
        assert isinstance(mse, M.MeanMetricWrapper) and mse.name == "mse"
        assert isinstance(cu.resolve_metric("SparseCategoricalAccuracy"), M.SparseCategoricalAccuracy)
        obj = M.Mean(name="m")
        assert cu.resolve_metric(obj) is obj
        custom = cu.resolve_metric(M.binary_accuracy)
        assert custom.name == "binary_accuracy"
        assert [m.name for m in cu.resolve_metrics(["accuracy", "mae"], loss_fn="mse", output_shape=[None, 3])] \
            == ["accuracy", "mae"]
        assert cu.resolve_metrics(None) == []
        loss = cu.resolve_loss("mse")
        assert isinstance(loss, tf.keras.losses.Loss) and loss.name == "mean_squared_error"
        assert isinstance(cu.resolve_loss("SparseCategoricalCrossentropy"), tf.keras.losses.SparseCategoricalCrossentropy)


def test_resolved_metric_streams(eager):
    acc = tf.keras.compile_utils.resolve_metric("accuracy", loss_fn="sparse_categorical_crossentropy")
    acc.update_state(np.array([[1], [0]]), np.array([[0.2, 0.8], [0.3, 0.7]], np.float32))
    assert acc.result().numpy() == pytest.approx(0.5)
