"""tf.metrics: streaming (value, update_op) pairs over local accumulators
(MorvanZhou's tutorials evaluate with tf.metrics.accuracy)."""
import numpy as np
import pytest

import nbflow as tf


def test_accuracy_streams_over_batches_as_in_tutorials():
    tf_y = tf.placeholder(tf.int32, [None, 3])
    output = tf.placeholder(tf.float32, [None, 3])
    accuracy = tf.metrics.accuracy(labels=tf.argmax(tf_y, axis=1), predictions=tf.argmax(output, axis=1))[1]
    acc_value = tf.get_default_graph().get_tensor_by_name("accuracy/value:0")
    assert sorted(v.op.name for v in tf.local_variables()) == ["accuracy/count", "accuracy/total"]
    assert set(tf.local_variables()) == set(tf.get_collection(tf.GraphKeys.METRIC_VARIABLES))
    assert not tf.trainable_variables() and not tf.global_variables()
    init_op = tf.group(tf.global_variables_initializer(), tf.local_variables_initializer())
    y1 = np.eye(3, dtype=np.int32)[[0, 1, 2, 0]]
    o1 = np.eye(3, dtype=np.float32)[[0, 1, 0, 0]]
    y2 = np.eye(3, dtype=np.int32)[[2, 2]]
    o2 = np.eye(3, dtype=np.float32)[[1, 1]]
    with tf.Session() as sess:
        sess.run(init_op)
        assert sess.run(acc_value) == 0.0  # div_no_nan before any batch
        assert sess.run(accuracy, {tf_y: y1, output: o1}) == pytest.approx(0.75)
        assert sess.run(accuracy, {tf_y: y2, output: o2}) == pytest.approx(0.5)
        assert sess.run(acc_value) == pytest.approx(0.5)  # reading does not update
        sess.run(tf.local_variables_initializer())
        assert sess.run(accuracy, {tf_y: y2, output: o2}) == 0.0


def test_accuracy_weights_squeeze_and_collections():
    labels = tf.placeholder(tf.int64, [4])
    predictions = tf.placeholder(tf.int64, [4, 1])  # a trailing 1 is squeezed
    weights = tf.constant([1.0, 2.0, 0.0, 1.0])
    acc, update = tf.metrics.accuracy(labels, predictions, weights=weights, metrics_collections=["m"],
                                      updates_collections=["u"], name="weighted")
    assert tf.get_collection("m") == [acc] and tf.get_collection("u") == [update]
    assert acc.op.name == "weighted/value" and update.op.name == "weighted/update_op"
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        v = sess.run(update, {labels: [1, 2, 3, 4], predictions: [[1], [0], [3], [4]]})
    assert v == pytest.approx((1.0 + 0.0 + 0.0 + 1.0) / 4.0)
    with pytest.raises(ValueError):
        tf.metrics.accuracy(tf.zeros([3]), tf.zeros([4]))


def test_mean_and_errors():
    x = tf.placeholder(tf.float32, [None])
    y = tf.placeholder(tf.float32, [None])
    m, mu = tf.metrics.mean(x)
    mae, mae_u = tf.metrics.mean_absolute_error(y, x)
    mse, mse_u = tf.metrics.mean_squared_error(y, x)
    rmse, rmse_u = tf.metrics.root_mean_squared_error(y, x)
    batches = [([1.0, 2.0, 3.0], [0.0, 2.0, 5.0]), ([4.0], [4.5])]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for xv, yv in batches:
            sess.run([mu, mae_u, mse_u, rmse_u], {x: xv, y: yv})
        vm, vmae, vmse, vrmse = sess.run([m, mae, mse, rmse])
    xs = np.array([1.0, 2.0, 3.0, 4.0])
    ys = np.array([0.0, 2.0, 5.0, 4.5])
    assert vm == pytest.approx(xs.mean())
    assert vmae == pytest.approx(np.abs(xs - ys).mean())
    assert vmse == pytest.approx(((xs - ys) ** 2).mean())
    assert vrmse == pytest.approx(np.sqrt(((xs - ys) ** 2).mean()))


def test_counts_precision_recall():
    labels = tf.placeholder(tf.int32, [None])
    predictions = tf.placeholder(tf.int32, [None])
    metrics = {name: getattr(tf.metrics, name)(labels, predictions) for name in
               ["true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall"]}
    lv = [1, 0, 1, 1, 0, 0, 1]
    pv = [1, 1, 0, 1, 0, 0, 0]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        sess.run([u for _, u in metrics.values()], {labels: lv[:4], predictions: pv[:4]})
        sess.run([u for _, u in metrics.values()], {labels: lv[4:], predictions: pv[4:]})
        got = {k: sess.run(v) for k, (v, _) in metrics.items()}
    assert got["true_positives"] == 2 and got["false_positives"] == 1
    assert got["true_negatives"] == 2 and got["false_negatives"] == 2
    assert got["precision"] == pytest.approx(2 / 3) and got["recall"] == pytest.approx(0.5)
    p0, _ = tf.metrics.precision(tf.constant([0]), tf.constant([0]), name="p0")
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(p0) == 0.0


def test_other_metrics_say_they_are_not_implemented():
    assert not hasattr(tf.metrics, "auc")
    with pytest.raises(NotImplementedError, match="tf.metrics.mean_iou is not implemented.*accuracy"):
        tf.metrics.mean_iou
