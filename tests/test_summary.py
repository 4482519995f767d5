"""tf.summary ops and FileWriter, read back with TensorBoard's own readers (and its server)."""
import bisect
import glob
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import wave
import zlib

import numpy as np
import pytest

import nbflow as tf
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import summary_pb2, types_pb2


def _parse(b):
    s = summary_pb2.Summary()
    s.ParseFromString(b)
    return s


def _accumulator(logdir):
    ea = EventAccumulator(logdir, size_guidance={"images": 0, "scalars": 0, "histograms": 0,
                                                 "tensors": 0, "audio": 0})
    ea.Reload()
    return ea


def _events(path):
    return list(event_file_loader.LegacyEventFileLoader(path).Load())  # raw events, no migration


def decode_png(data):
    """A minimal PNG reader for what encode_png writes (8-bit, filter 0), checking CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, kinds = 8, b"", []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        kinds.append(kind)
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    c = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, c)


# -- scalar ------------------------------------------------------------------------

def test_scalar_names_tags_and_value():
    x = tf.placeholder(tf.float32, [], name="x")
    s = tf.summary.scalar("loss", x * 2.0)
    s_again = tf.summary.scalar("loss", x)
    with tf.name_scope("train"):
        s_scoped = tf.summary.scalar("acc", x)
    s_family = tf.summary.scalar("lr", x, family="opt")
    s_none = tf.summary.scalar("hidden", x, collections=[])
    s_bad = tf.summary.scalar("a b:c", x)
    assert s.op.type == "ScalarSummary" and s.dtype == tf.string and s.shape.as_list() == []
    assert (s.op.name, s_again.op.name, s_scoped.op.name, s_family.op.name) == (
        "loss", "loss_1", "train/acc", "opt/lr")
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [s, s_again, s_scoped, s_family, s_bad]
    with tf.Session() as sess:
        outs = sess.run([s, s_again, s_scoped, s_family, s_none, s_bad], {x: 1.25})
    assert all(isinstance(o, bytes) for o in outs)
    tags = [(_parse(o).value[0].tag, _parse(o).value[0].simple_value) for o in outs]
    assert tags == [("loss", 2.5), ("loss_1", 1.25), ("train/acc", 1.25), ("opt/opt/lr", 1.25),
                    ("hidden", 1.25), ("a_b_c", 1.25)]


def test_scalar_of_integer_and_bad_inputs():
    v = tf.constant(7, tf.int64)
    s = tf.summary.scalar("count", v)
    with tf.Session() as sess:
        assert _parse(sess.run(s)).value[0].simple_value == 7.0
    with pytest.raises(ValueError, match="single value"):
        tf.summary.scalar("vec", tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match="real number"):
        tf.summary.scalar("str", tf.constant("x"))
    p = tf.placeholder(tf.float32, None)
    s = tf.summary.scalar("unknown", p)
    with tf.Session() as sess:
        assert _parse(sess.run(s, {p: 3.0})).value[0].simple_value == 3.0
        with pytest.raises(tf.errors.InvalidArgumentError, match="not the same shape"):
            sess.run(s, {p: [1.0, 2.0]})
    one = tf.summary.scalar("one", tf.constant([4.0]))  # a statically single value of rank 1 is fine
    with tf.Session() as sess:
        assert _parse(sess.run(one)).value[0].simple_value == 4.0


# -- histogram -------------------------------------------------------------------------

def _reference_histogram(values):
    """TF's default buckets and its 'collapse runs of empty buckets' rule, written plainly."""
    pos, v = [], 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    pos.append(sys.float_info.max)
    limits = [-p for p in reversed(pos)] + [0.0] + pos
    counts = [0.0] * len(limits)
    for x in values:
        counts[min(bisect.bisect_right(limits, x), len(limits) - 1)] += 1
    out_limits, out_counts, i = [], [], 0
    while i < len(limits):
        end, c = limits[i], counts[i]
        i += 1
        if c == 0:
            while i < len(limits) and counts[i] == 0:
                end, c = limits[i], counts[i]
                i += 1
        out_limits.append(end)
        out_counts.append(c)
    return out_limits, out_counts


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_histogram_matches_reference(rng, dtype):
    vals = (rng.randn(7, 5) * 3).astype(dtype)
    vals[0, 0] = 0
    x = tf.placeholder(tf.as_dtype(dtype), [None, 5])
    h = tf.summary.histogram("weights", x)
    assert h.op.type == "HistogramSummary"
    with tf.Session() as sess:
        proto = _parse(sess.run(h, {x: vals})).value[0]
    assert proto.tag == "weights"
    hp = proto.histo
    v64 = vals.astype(np.float64).ravel()
    assert (hp.min, hp.max, hp.num) == (v64.min(), v64.max(), v64.size)
    assert hp.sum == pytest.approx(v64.sum()) and hp.sum_squares == pytest.approx((v64 ** 2).sum())
    ref_limits, ref_counts = _reference_histogram(v64.tolist())
    assert list(hp.bucket_limit) == ref_limits
    assert list(hp.bucket) == ref_counts
    assert sum(hp.bucket) == v64.size


def test_histogram_edges():
    x = tf.placeholder(tf.float32, [None])
    h = tf.summary.histogram("h", x)
    with tf.Session() as sess:
        empty = _parse(sess.run(h, {x: np.zeros(0, np.float32)})).value[0].histo
        assert empty.num == 0 and list(empty.bucket) == [0.0]
        one = _parse(sess.run(h, {x: [5.0]})).value[0].histo
        assert (one.min, one.max, one.num, sum(one.bucket)) == (5.0, 5.0, 1, 1)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: h"):
            sess.run(h, {x: [1.0, np.nan]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="Infinity in summary histogram"):
            sess.run(h, {x: [np.inf]})


# -- image -----------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 3, 4])
def test_image_uint8_roundtrip(rng, channels):
    imgs = rng.randint(0, 256, size=(4, 5, 6, channels)).astype(np.uint8)
    x = tf.placeholder(tf.uint8, [None, 5, 6, channels])
    s = tf.summary.image("digits", x, max_outputs=2)
    assert s.op.type == "ImageSummary" and s.op.get_attr("max_images") == 2
    with tf.Session() as sess:
        vals = _parse(sess.run(s, {x: imgs})).value
    assert [v.tag for v in vals] == ["digits/image/0", "digits/image/1"]
    for i, v in enumerate(vals):
        assert (v.image.height, v.image.width, v.image.colorspace) == (5, 6, channels)
        np.testing.assert_array_equal(decode_png(v.image.encoded_image_string), imgs[i])


def test_png_readable_by_pillow(rng):
    Image = pytest.importorskip("PIL.Image")
    from nbflow.backends.summary_encoding import encode_png

    img = rng.randint(0, 256, size=(3, 7, 3)).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(img)))), img)


def test_image_float_normalization_and_bad_pixels():
    pos = np.zeros((1, 2, 2, 1), np.float32)
    pos[0, :, :, 0] = [[0.0, 0.5], [1.0, 2.0]]
    mixed = np.zeros((1, 2, 2, 3), np.float32)
    mixed[0, 0, 0] = [-2.0, 0.0, 1.0]
    mixed[0, 1, 1] = [np.nan, 0.0, 0.0]
    x1 = tf.placeholder(tf.float32, [None, 2, 2, 1])
    x3 = tf.placeholder(tf.float32, [None, 2, 2, 3])
    s1, s3 = tf.summary.image("pos", x1, max_outputs=1), tf.summary.image("mixed", x3)
    with tf.Session() as sess:
        v1, v3 = sess.run([s1, s3], {x1: pos, x3: mixed})
    v1, v3 = _parse(v1).value, _parse(v3).value
    assert [v.tag for v in v1] == ["pos/image"]  # max_outputs=1: no index
    np.testing.assert_array_equal(decode_png(v1[0].image.encoded_image_string)[:, :, 0],
                                  [[0, 63], [127, 255]])
    got = decode_png(v3[0].image.encoded_image_string)
    # negative values: 0 -> 128, largest magnitude (2) -> 127 steps away
    np.testing.assert_array_equal(got[0, 0], [1, 128, 191])
    np.testing.assert_array_equal(got[1, 1], [255, 0, 0])  # a non-finite pixel is bad_color (red)
    np.testing.assert_array_equal(got[0, 1], [128, 128, 128])


def test_image_shape_errors():
    with pytest.raises(ValueError, match="4-D with last dim 1, 3, or 4"):
        tf.summary.image("bad", tf.zeros([2, 3, 3]))
    with pytest.raises(ValueError, match="4-D with last dim 1, 3, or 4"):
        tf.summary.image("bad", tf.zeros([1, 3, 3, 2]))
    with pytest.raises(TypeError, match="tensor of .* must be one of"):
        tf.summary.image("bad", tf.zeros([1, 3, 3, 1], tf.int32))
    p = tf.placeholder(tf.float32, None)
    s = tf.summary.image("late", p)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="4-D"):
            sess.run(s, {p: np.zeros((2, 2, 2))})


# -- audio, text, tensor ------------------------------------------------------------------------

def test_audio_wav():
    t = np.linspace(0, 1, 800, dtype=np.float32)
    clips = np.stack([np.sin(2 * np.pi * 5 * t), 2 * np.ones_like(t)])[:, :, None]  # second clips at 1
    x = tf.placeholder(tf.float32, [None, 800, 1])
    s = tf.summary.audio("snd", x, sample_rate=8000, max_outputs=3)
    assert s.op.type == "AudioSummaryV2"
    with tf.Session() as sess:
        vals = _parse(sess.run(s, {x: clips})).value
    assert [v.tag for v in vals] == ["snd/audio/0", "snd/audio/1"]
    a = vals[0].audio
    assert (a.sample_rate, a.num_channels, a.length_frames, a.content_type) == (8000, 1, 800, "audio/wav")
    with wave.open(io.BytesIO(a.encoded_audio_string)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 800)
        pcm = np.frombuffer(w.readframes(800), "<i2")
    np.testing.assert_allclose(pcm / 32767.0, clips[0, :, 0], atol=1.0 / 32767)
    with wave.open(io.BytesIO(vals[1].audio.encoded_audio_string)) as w:
        assert set(np.frombuffer(w.readframes(800), "<i2").tolist()) == {32767}
    with pytest.raises(ValueError, match="3-D or 2-D"):
        tf.summary.audio("bad", tf.zeros([3], tf.float32), 100)


def test_text_and_tensor_summary():
    s = tf.summary.text("notes", tf.constant(["hello *world*", "second"]))
    assert s.op.type == "TensorSummaryV2"
    n = tf.summary.tensor_summary("raw", tf.constant([[1, 2], [3, 4]], tf.int32), summary_description="d")
    with tf.Session() as sess:
        vs, vn = sess.run([s, n])
    v = _parse(vs).value[0]
    assert v.tag == "notes" and v.metadata.plugin_data.plugin_name == "text"
    assert v.tensor.dtype == types_pb2.DT_STRING and list(v.tensor.string_val) == [b"hello *world*", b"second"]
    v = _parse(vn).value[0]
    assert v.metadata.summary_description == "d" and v.tensor.dtype == types_pb2.DT_INT32
    assert [d.size for d in v.tensor.tensor_shape.dim] == [2, 2]
    assert np.frombuffer(v.tensor.tensor_content, "<i4").tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="dtype string"):
        tf.summary.text("bad", tf.constant(1.0))


# -- merge ------------------------------------------------------------------------------------

def test_merge_and_merge_all():
    assert tf.summary.merge_all() is None
    x = tf.placeholder(tf.float32, [])
    a = tf.summary.scalar("a", x)
    b = tf.summary.histogram("b", tf.stack([x, x]))
    tf.summary.scalar("other", x, collections=["mine"])
    m = tf.summary.merge_all()
    assert m.op.type == "MergeSummary" and m.op.name == "Merge/MergeSummary"
    mine = tf.summary.merge_all("mine")
    dup = tf.summary.merge([a, a])
    with tf.Session() as sess:
        got = _parse(sess.run(m, {x: 2.0}))
        assert [v.tag for v in got.value] == ["a", "b"]
        assert [v.tag for v in _parse(sess.run(mine, {x: 1.0})).value] == ["other"]
        with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag a"):
            sess.run(dup, {x: 1.0})
    assert b.op.name == "b"


# -- FileWriter ---------------------------------------------------------------------------------

def test_filewriter_scalars_histograms_images_read_back(tmp_path, rng):
    logdir = str(tmp_path / "run")
    x = tf.placeholder(tf.float32, [None, 2, 2, 1], name="x")
    loss = tf.reduce_mean(x)
    tf.summary.scalar("loss", loss)
    tf.summary.histogram("pixels", x)
    tf.summary.image("input", x, max_outputs=1)
    merged = tf.summary.merge_all()
    batches = [rng.rand(3, 2, 2, 1).astype(np.float32) for _ in range(3)]
    with tf.Session() as sess:
        writer = tf.summary.FileWriter(logdir, sess.graph)
        for step, batch in enumerate(batches):
            writer.add_summary(sess.run(merged, {x: batch}), global_step=step * 10)
        writer.close()
    files = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    assert len(files) == 1
    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.%s" % re.escape(socket.gethostname()),
                        os.path.basename(files[0]))
    first = _events(files[0])[0]
    assert first.file_version == "brain.Event:2"
    ea = _accumulator(logdir)
    assert sorted(ea.Tags()["scalars"]) == ["loss"] and ea.Tags()["graph"]
    sc = ea.Scalars("loss")
    assert [e.step for e in sc] == [0, 10, 20]
    np.testing.assert_allclose([e.value for e in sc], [b.mean() for b in batches], rtol=1e-6)
    hs = ea.Histograms("pixels")
    assert [h.step for h in hs] == [0, 10, 20] and hs[1].histogram_value.num == 12
    assert hs[1].histogram_value.max == pytest.approx(batches[1].max())
    ims = ea.Images("input/image")
    assert len(ims) == 3 and (ims[0].width, ims[0].height) == (2, 2)
    assert decode_png(ims[2].encoded_image_string).shape == (2, 2, 1)


def test_graph_def_written(tmp_path):
    with tf.device("/cpu:0"):
        a = tf.placeholder(tf.float32, [None, 3], name="a")
    w = tf.Variable(np.zeros((3, 2), np.float32), name="w")
    with tf.control_dependencies([w.initializer]):
        y = tf.matmul(a, w, name="y")
    big = tf.constant(np.ones(5000, np.float32), name="big")
    with tf.summary.FileWriter(str(tmp_path), graph=tf.get_default_graph()):
        pass
    gd = _accumulator(str(tmp_path)).Graph()
    nodes = {n.name: n for n in gd.node}
    assert set(nodes) == {op.name for op in tf.get_default_graph().get_operations()}
    assert nodes["a"].op == "Placeholder" and nodes["a"].device == "/device:CPU:0"
    assert nodes["a"].attr["dtype"].type == types_pb2.DT_FLOAT
    assert [d.size for d in nodes["a"].attr["shape"].shape.dim] == [-1, 3]
    assert nodes["y"].op == "MatMul"
    assert list(nodes["y"].input) == ["a", "w/read", "^w/Assign"]
    assert nodes["w"].op == "VariableV2"
    out_shape = nodes["y"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in out_shape.dim] == [-1, 2]
    assert nodes["w/initial_value"].attr["value"].tensor.dtype == types_pb2.DT_FLOAT
    assert len(nodes["w/initial_value"].attr["value"].tensor.tensor_content) == 6 * 4
    big_t = nodes["big"].attr["value"].tensor
    assert [d.size for d in big_t.tensor_shape.dim] == [5000] and big_t.tensor_content == b""
    assert big.op.name == "big"


def test_filewriter_api(tmp_path, caplog):
    logdir = str(tmp_path)
    s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="t", simple_value=1.0)])
    w1 = tf.summary.FileWriter(logdir, filename_suffix=".train")
    w2 = tf.summary.FileWriter(logdir, filename_suffix=".train")  # same second, same name: no clash
    assert w1.get_logdir() == logdir and w1.event_file_path != w2.event_file_path
    assert w1.event_file_path.endswith(".train")
    w1.add_summary(s, 1)
    w1.add_summary(s.SerializeToString(), 2)
    w1.add_session_log(tf.summary.SessionLog(status=tf.summary.SessionLog.START), 0)
    w1.add_run_metadata(tf.RunMetadata(), "step1", 1)
    with pytest.raises(ValueError, match="not a serialized Summary"):
        w1.add_summary(b"\xff\xff\xff garbage")
    with pytest.raises(TypeError, match="Summary"):
        w1.add_summary(3.0)
    w1.flush()
    evs = _events(w1.event_file_path)
    assert [e.step for e in evs if e.HasField("summary")] == [1, 2]
    assert any(e.HasField("session_log") for e in evs)
    assert [e.tagged_run_metadata.tag for e in evs if e.HasField("tagged_run_metadata")] == ["step1"]
    w1.close()
    w1.add_summary(s, 3)  # dropped after close, as TF 1.x, with a warning
    assert "closed" in caplog.text
    assert [e.step for e in _events(w1.event_file_path) if e.HasField("summary")] == [1, 2]
    old = w1.event_file_path
    w1.reopen()
    assert w1.event_file_path != old
    w1.add_summary(s, 4)
    w1.close()
    assert [e.step for e in _events(w1.event_file_path) if e.HasField("summary")] == [4]
    w2.close()


def test_filewriter_flushes_in_background(tmp_path):
    w = tf.summary.FileWriter(str(tmp_path), flush_secs=0.2)
    w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="t", simple_value=2.0)]), 5)
    deadline = time.time() + 10
    steps = []
    while time.time() < deadline:
        steps = [e.step for e in _events(w.event_file_path) if e.HasField("summary")]
        if steps:
            break
        time.sleep(0.05)
    w.close()
    assert steps == [5]


def test_summary_metadata_written_once_per_tag(tmp_path):
    t = tf.summary.text("note", tf.constant("hi"))
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_summary(sess.run(t), step)
        path = w.event_file_path
    vals = [e.summary.value[0] for e in _events(path) if e.HasField("summary")]
    assert [v.HasField("metadata") for v in vals] == [True, False, False]
    ea = _accumulator(str(tmp_path))
    assert [e.step for e in ea.Tensors("note")] == [0, 1, 2]


def test_filewriter_cache(tmp_path):
    a = tf.summary.FileWriterCache.get(str(tmp_path))
    assert tf.summary.FileWriterCache.get(str(tmp_path)) is a
    tf.summary.FileWriterCache.clear()
    b = tf.summary.FileWriterCache.get(str(tmp_path))
    assert b is not a
    tf.summary.FileWriterCache.clear()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_server_serves_our_scalars(tmp_path):
    logdir = tmp_path / "logs"
    x = tf.placeholder(tf.float32, [])
    s = tf.summary.scalar("loss", x)
    with tf.Session() as sess, tf.summary.FileWriter(str(logdir / "train"), sess.graph) as w:
        for step, v in enumerate([3.0, 2.0, 1.5]):
            w.add_summary(sess.run(s, {x: v}), step)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = "http://127.0.0.1:%d/data/plugin/scalars/scalars?run=train&tag=loss" % port
        deadline = time.time() + 90
        data, last_err = None, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = json.loads(r.read().decode())
                if len(body) == 3:
                    data = body
                    break
            except Exception as e:  # not up yet / not loaded yet
                last_err = e
            time.sleep(0.5)
        assert data is not None, "TensorBoard did not serve the scalars (%s; rc=%s)" % (last_err, proc.poll())
        assert [row[1] for row in data] == [0, 1, 2]
        assert [row[2] for row in data] == [3.0, 2.0, 1.5]
        with urllib.request.urlopen("http://127.0.0.1:%d/data/plugin/graphs/info" % port, timeout=5) as r:
            assert "train" in json.loads(r.read().decode())
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
