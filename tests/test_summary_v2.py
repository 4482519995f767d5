"""TF 2 summaries (tf.summary.create_file_writer, scalar/histogram/image/text with step=,
record_if, tf.function writes, trace_export), read back with TensorBoard's EventAccumulator."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context
from tensorboard.backend.event_processing import event_accumulator as ea_mod
from tensorboard.backend.event_processing import plugin_event_accumulator as pea_mod
from tensorboard.compat.proto import config_pb2
from tensorboard.util import tensor_util


@pytest.fixture
def eager():
    with context.eager_mode():
        yield


def _acc(logdir):
    acc = ea_mod.EventAccumulator(str(logdir), size_guidance={ea_mod.TENSORS: 0})
    acc.Reload()
    return acc


def _values(acc, tag):
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def test_eager_scalar_written_at_once(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default():
        for step in range(3):
            ok = tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            assert bool(ok.numpy())
    acc = _acc(tmp_path)
    vals = _values(acc, "loss")
    assert [s for s, _ in vals] == [0, 1, 2]
    np.testing.assert_allclose([float(v) for _, v in vals], [1.0, 0.5, 1 / 3], rtol=1e-6)
    assert vals[0][1].dtype == np.float32
    assert acc.SummaryMetadata("loss").plugin_data.plugin_name == "scalars"
    # TensorBoard's own (plugin) accumulator sees the scalar too
    pacc = pea_mod.EventAccumulator(str(tmp_path))
    pacc.Reload()
    assert "loss" in pacc.Tags()["tensors"]
    assert pacc.PluginTagToContent("scalars").keys() == {"loss"}


def test_event_file_is_named_like_tf2(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path / "run"))
    assert w.event_file_path.endswith(".v2")
    assert (tmp_path / "run").is_dir()


def test_histogram_image_text(eager, tmp_path):
    rng = np.random.RandomState(0)
    data = rng.randn(1000)
    images = rng.rand(5, 4, 6, 3).astype(np.float32)
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default(step=7):
        tf.summary.histogram("h", tf.constant(data), description="a histogram")
        tf.summary.histogram("h10", data, buckets=10)
        tf.summary.image("im", images, max_outputs=2)
        tf.summary.text("t", tf.constant("hello **world**"))
    acc = _acc(tmp_path)
    (step, h), = _values(acc, "h")
    assert step == 7 and h.shape == (30, 3)
    assert h[:, 2].sum() == 1000
    np.testing.assert_allclose(h[0, 0], data.min())
    np.testing.assert_allclose(h[-1, 1], data.max())
    assert acc.SummaryMetadata("h").summary_description == "a histogram"
    assert acc.SummaryMetadata("h").plugin_data.plugin_name == "histograms"
    assert _values(acc, "h10")[0][1].shape == (10, 3)
    (_, im), = _values(acc, "im")
    assert im.shape == (4,)  # width, height, 2 PNGs
    assert im[0] == b"6" and im[1] == b"4" and im[2].startswith(b"\x89PNG")
    assert acc.SummaryMetadata("im").plugin_data.plugin_name == "images"
    (_, t), = _values(acc, "t")
    assert t == b"hello **world**"
    assert acc.SummaryMetadata("t").plugin_data.plugin_name == "text"


def test_histogram_of_equal_values(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default():
        tf.summary.histogram("h", np.full(4, 2.5), step=0, buckets=3)
    (_, h), = _values(_acc(tmp_path), "h")
    np.testing.assert_array_equal(h, [[2.5, 2.5, 0], [2.5, 2.5, 0], [2.5, 2.5, 4]])


def test_steps_default_and_explicit(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default():
        with pytest.raises(ValueError, match="No step set"):
            tf.summary.scalar("x", 1.0)
        tf.summary.experimental.set_step(5)
        try:
            assert tf.summary.experimental.get_step() == 5
            tf.summary.scalar("x", 1.0)
            tf.summary.scalar("x", 2.0, step=9)  # the argument wins
            step = tf.Variable(11, dtype=tf.int64)
            tf.summary.scalar("x", 3.0, step=step)
        finally:
            tf.summary.experimental.set_step(None)
    assert [s for s, _ in _values(_acc(tmp_path), "x")] == [5, 9, 11]


def test_default_writer_nesting(eager, tmp_path):
    a = tf.summary.create_file_writer(str(tmp_path / "a"))
    b = tf.summary.create_file_writer(str(tmp_path / "b"))
    with a.as_default(step=1):
        tf.summary.scalar("s", 1.0)
        with b.as_default(step=2):
            tf.summary.scalar("s", 2.0)
        tf.summary.scalar("s", 3.0)  # back to a, and to step 1
    assert [(s, float(v)) for s, v in _values(_acc(tmp_path / "a"), "s")] == [(1, 1.0), (1, 3.0)]
    assert [(s, float(v)) for s, v in _values(_acc(tmp_path / "b"), "s")] == [(2, 2.0)]
    assert not bool(tf.summary.scalar("s", 4.0, step=3).numpy())  # no default writer again


def test_set_as_default_and_name_scope(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    w.set_as_default()
    try:
        with tf.name_scope("train"):
            tf.summary.scalar("loss", 1.0, step=0)
        tf.summary.flush()
    finally:
        from nbflow.summary import summary_v2
        summary_v2._state.writer = None
    assert "train/loss" in _acc(tmp_path).Tags()["tensors"]


def test_no_writer_is_a_noop(eager, tmp_path):
    out = tf.summary.scalar("x", 1.0, step=0)
    assert out.dtype == tf.bool and not bool(out.numpy())
    assert not bool(tf.summary.should_record_summaries().numpy())
    with tf.summary.create_noop_writer().as_default():
        assert not bool(tf.summary.histogram("h", [1.0, 2.0], step=0).numpy())
    # no step and no writer: no error either (as TF 2)
    assert not bool(tf.summary.text("t", "x").numpy())


def test_record_if(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default():
        for step in range(6):
            with tf.summary.record_if(step % 2 == 0):
                tf.summary.scalar("even", float(step), step=step)
            with tf.summary.record_if(lambda: step >= 4):
                tf.summary.scalar("late", float(step), step=step)
        with tf.summary.record_if(False):
            assert not bool(tf.summary.should_record_summaries().numpy())
        assert bool(tf.summary.should_record_summaries().numpy())
    acc = _acc(tmp_path)
    assert [s for s, _ in _values(acc, "even")] == [0, 2, 4]
    assert [s for s, _ in _values(acc, "late")] == [4, 5]


def test_inside_tf_function_written_each_call_with_runtime_step(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    step = tf.Variable(0, dtype=tf.int64)

    @tf.function
    def train(x):
        step.assign_add(1)
        with w.as_default():
            tf.summary.histogram("xs", x, step=step)
            return tf.summary.scalar("mean", tf.reduce_mean(x), step=step)

    for i in range(3):
        assert bool(train(tf.constant([1.0, 2.0]) * (i + 1)).numpy())
    assert train.experimental_get_tracing_count() == 1
    w.flush()
    acc = _acc(tmp_path)
    assert [(s, float(v)) for s, v in _values(acc, "mean")] == [(1, 1.5), (2, 3.0), (3, 4.5)]
    assert [s for s, _ in _values(acc, "xs")] == [1, 2, 3]


def test_tf_function_default_writer_outside_and_record_if_tensor(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    every = tf.Variable(True)

    @tf.function
    def f(x, s):
        with tf.summary.record_if(every):
            return tf.summary.scalar("x", x, step=s)

    with w.as_default():
        f(tf.constant(1.0), tf.constant(1, tf.int64))
        every.assign(False)
        assert not bool(f(tf.constant(2.0), tf.constant(2, tf.int64)).numpy())
        every.assign(True)
        f(tf.constant(3.0), tf.constant(3, tf.int64))
    assert [(s, float(v)) for s, v in _values(_acc(tmp_path), "x")] == [(1, 1.0), (3, 3.0)]


def test_trace_export_graph_readable(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))

    @tf.function
    def g(x):
        return tf.matmul(x, x) + 1.0

    g(tf.ones([2, 2]))  # traced before trace_on: calls are what is recorded
    tf.summary.trace_on(graph=True)
    g(tf.ones([2, 2]))
    g(tf.ones([2, 2]))
    with w.as_default():
        tf.summary.trace_export("graph", step=0)
    with pytest.raises(ValueError, match="enable trace"):
        tf.summary.trace_export("again", step=0)
    acc = _acc(tmp_path)
    (step, blob), = _values(acc, "graph")
    assert acc.SummaryMetadata("graph").plugin_data.plugin_name == "graph_run_metadata_graph"
    rm = config_pb2.RunMetadata()
    rm.ParseFromString(blob.item())
    assert len(rm.function_graphs) == 1
    ops = {n.op for n in rm.function_graphs[0].pre_optimization_graph.node}
    assert {"MatMul", "Placeholder"} <= ops


def test_trace_profiler_not_implemented(eager):
    with pytest.raises(NotImplementedError, match="profiler"):
        tf.summary.trace_on(graph=True, profiler=True)


def test_tf1_summary_ops_untouched(tmp_path):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [])
        s = tf.summary.scalar("x", x)
        h = tf.summary.histogram("h", tf.ones([3]))
        assert s.op.type == "ScalarSummary" and h.op.type == "HistogramSummary"
        assert tf.summary.merge_all() is not None
        with tf.Session() as sess:
            blob = sess.run(s, {x: 2.0})
        summ = tf.Summary()
        summ.ParseFromString(blob)
        assert summ.value[0].simple_value == 2.0


def test_graph_mode_step_argument_builds_write_op(tmp_path):
    with context.eager_mode():
        w = tf.summary.create_file_writer(str(tmp_path))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [])
        gs = tf.train.get_or_create_global_step()
        with w.as_default():
            out = tf.summary.scalar("x", x, step=gs)
        assert out.op.type == "WriteSummaryV2"
        assert tf.summary.all_v2_summary_ops() == [out.op]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(out, {x: 4.0})
    w.flush()
    assert [(s, float(v)) for s, v in _values(_acc(tmp_path), "x")] == [(0, 4.0)]


def test_tf_function_without_writer_builds_v1_op(eager):
    @tf.function
    def f(x):
        return tf.summary.scalar("x", x)  # no default writer: TF 1's op, a serialized Summary

    out = f(tf.constant(1.5))
    summ = tf.Summary()
    summ.ParseFromString(out.numpy())
    assert summ.value[0].simple_value == 1.5


def test_compat_v2_summary():
    assert tf.compat.v2.summary.scalar is tf.summary.scalar
    assert tf.compat.v2.summary.create_file_writer is tf.summary.create_file_writer


def test_histogram_of_nan_raises(eager, tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default(step=0):
        with pytest.raises(tf.errors.InvalidArgumentError, match="Nan"):
            tf.summary.histogram("h", [1.0, float("nan")])
