"""tf.train.Saver: save/restore, the checkpoint state file, max_to_keep, errors that
change nothing, crash-safety of writes, restore in a new process."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nbflow as tf
from nbflow.train import saver as saver_mod


def _model():
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    b = tf.Variable(np.array([1.5, -2.0], dtype=np.float64), name="layer/b")
    n = tf.Variable(7, name="n")
    return w, b, n


def _values(sess, vs):
    return [np.array(v) for v in sess.run(list(vs))]


def test_save_restore_roundtrip_and_state_file(tmp_path):
    w, b, n = _model()
    saver = tf.train.Saver()
    prefix = str(tmp_path / "model.ckpt")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, prefix, global_step=100)
        assert path == prefix + "-100"
        assert os.path.isfile(path + ".index") and os.path.isfile(path + ".npz")
        assert tf.train.checkpoint_exists(path) and not tf.train.checkpoint_exists(prefix)
        saved = _values(sess, [w, b, n])
        sess.run([w.assign(tf.zeros([2, 3])), b.assign(tf.zeros([2], tf.float64)), n.assign(0)])
        assert sess.run(n) == 0
        saver.restore(sess, path)
        for got, want in zip(_values(sess, [w, b, n]), saved):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    text = (tmp_path / "checkpoint").read_text()
    lines = text.splitlines()
    assert lines[0] == 'model_checkpoint_path: "%s"' % path
    assert lines[1] == 'all_model_checkpoint_paths: "%s"' % path
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    st = tf.train.get_checkpoint_state(str(tmp_path))
    assert st.model_checkpoint_path == path and st.all_model_checkpoint_paths == [path]
    assert sorted(tf.train.list_variables(str(tmp_path))) == [("layer/b", [2]), ("n", []), ("w", [2, 3])]
    np.testing.assert_array_equal(tf.train.load_variable(path, "w"), np.arange(6).reshape(2, 3))


def test_global_step_as_variable_and_padding(tmp_path):
    tf.Variable(1.0, name="v")
    step = tf.Variable(42, name="global_step", trainable=False)
    saver = tf.train.Saver(pad_step_number=True)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert saver.save(sess, str(tmp_path / "m"), global_step=step) == str(tmp_path / "m-00000042")
        assert saver.save(sess, str(tmp_path / "m"), global_step=np.int64(7)) == str(tmp_path / "m-00000007")


def test_restore_into_uninitialized_session(tmp_path):
    w, b, n = _model()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        want = _values(sess, [w, b, n])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(w)
        saver.restore(sess, path)
        for got, exp in zip(_values(sess, [w, b, n]), want):
            np.testing.assert_array_equal(got, exp)


def test_max_to_keep_deletes_oldest(tmp_path):
    v = tf.Variable(0, name="v")
    saver = tf.train.Saver(max_to_keep=2)
    d = str(tmp_path)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = []
        for step in range(4):
            sess.run(v.assign(step))
            paths.append(saver.save(sess, os.path.join(d, "model.ckpt"), global_step=step))
        assert saver.last_checkpoints == paths[2:]
        for p in paths[:2]:
            assert not os.path.exists(p + ".index") and not os.path.exists(p + ".npz")
        for p in paths[2:]:
            assert tf.train.checkpoint_exists(p)
        # saving the same path again moves it to the newest position, no duplicate
        saver.save(sess, os.path.join(d, "model.ckpt"), global_step=2)
        assert saver.last_checkpoints == [paths[3], paths[2]]
    st = tf.train.get_checkpoint_state(d)
    assert st.model_checkpoint_path == paths[2]
    assert st.all_model_checkpoint_paths == [paths[3], paths[2]]
    assert len(st.all_model_checkpoint_timestamps) == 2
    assert tf.train.load_variable(tf.train.latest_checkpoint(d), "v") == 3  # v was 3 at the re-save
    # a re-saved prefix keeps its data under the other name (<prefix>.alt.npz): see checkpoint_io
    assert sorted(f for f in os.listdir(d) if not f.startswith("checkpoint")) == sorted(
        [os.path.basename(p) + ".index" for p in paths[2:]]
        + [os.path.basename(tf.train.NewCheckpointReader(p).data_path) for p in paths[2:]])


def test_max_to_keep_none_keeps_all_and_recover(tmp_path):
    tf.Variable(0, name="v")
    saver = tf.train.Saver(max_to_keep=None)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = [saver.save(sess, str(tmp_path / "m"), global_step=s) for s in range(6)]
    assert all(tf.train.checkpoint_exists(p) for p in paths)
    # a new Saver (as in a new process) takes over the kept list and goes on deleting
    s2 = tf.train.Saver(max_to_keep=3)
    s2.recover_last_checkpoints(tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths)
    assert s2.last_checkpoints == paths
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        p6 = s2.save(sess, str(tmp_path / "m"), global_step=6)
    assert [tf.train.checkpoint_exists(p) for p in paths] == [False] * 4 + [True] * 2
    assert s2.last_checkpoints == paths[4:] + [p6]


def test_write_state_false_and_latest_filename(tmp_path):
    tf.Variable(0, name="v")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, str(tmp_path / "a"), write_state=False, write_meta_graph=False)
        assert not (tmp_path / "checkpoint").exists()
        p = saver.save(sess, str(tmp_path / "b"), latest_filename="best")
        assert tf.train.latest_checkpoint(str(tmp_path), latest_filename="best") == p
        assert tf.train.latest_checkpoint(str(tmp_path)) is None
        with pytest.raises(ValueError, match="path components"):
            saver.save(sess, str(tmp_path / "c"), latest_filename="sub/state")


def test_relative_paths_in_state_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("ckpts")
    tf.Variable(3.0, name="v")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        p = saver.save(sess, "ckpts/model", global_step=1)
        assert p == "ckpts/model-1"
    assert (tmp_path / "ckpts" / "checkpoint").read_text().splitlines()[0] == 'model_checkpoint_path: "model-1"'
    assert tf.train.latest_checkpoint("ckpts") == os.path.join("ckpts", "model-1")
    monkeypatch.chdir(tmp_path / "ckpts")  # the state file stays valid from another directory
    assert tf.train.latest_checkpoint(".") == os.path.join(".", "model-1")


def test_restore_by_name_with_dict(tmp_path):
    a = tf.Variable([1.0, 2.0], name="old/a")
    s = tf.train.Saver({"weights": a})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = s.save(sess, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("weights", [2])]
    tf.reset_default_graph()
    b = tf.Variable([0.0, 0.0], name="new/b")
    c = tf.Variable(5.0, name="c")
    s2 = tf.train.Saver(var_list={"weights": b})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        s2.restore(sess, path)
        np.testing.assert_array_equal(sess.run(b), [1.0, 2.0])
        assert sess.run(c) == 5.0


def test_var_list_validation():
    v = tf.Variable(1.0, name="v")
    with pytest.raises(ValueError, match="No variables to save"):
        tf.train.Saver(var_list=[])
    assert tf.train.Saver(var_list=[], allow_empty=True).save(None, "/nonexistent/x") is None
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="No variables to save"):
            tf.train.Saver()
    t = tf.constant(1.0)
    with pytest.raises(TypeError, match="not a Variable"):
        tf.train.Saver([t])
    with pytest.raises(TypeError, match="dict or a list"):
        tf.train.Saver(v)
    assert tf.train.Saver([v, v]).last_checkpoints == []  # the same variable twice is fine


def _saved_checkpoint(tmp_path):
    w, b, n = _model()
    saver = tf.train.Saver()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=1)
    return sess, saver, path, (w, b, n)


def _scramble(sess, vs):
    w, b, n = vs
    sess.run([w.assign(tf.fill([2, 3], 9.0)), b.assign(tf.constant([9.0, 9.0], tf.float64)), n.assign(9)])
    return _values(sess, vs)


def _assert_unchanged(sess, vs, before):
    for got, want in zip(_values(sess, vs), before):
        np.testing.assert_array_equal(got, want)


def test_missing_variable_changes_nothing(tmp_path):
    sess, saver, path, vs = _saved_checkpoint(tmp_path)
    extra = tf.Variable(4.0, name="extra")
    sess.run(extra.initializer)
    before = _scramble(sess, vs)
    s2 = tf.train.Saver(list(vs) + [extra])
    with pytest.raises(tf.errors.NotFoundError) as e:
        s2.restore(sess, path)
    assert "extra" in str(e.value) and path in str(e.value)
    _assert_unchanged(sess, vs, before)
    assert sess.run(extra) == 4.0


def test_shape_and_dtype_mismatch_change_nothing(tmp_path):
    sess, saver, path, vs = _saved_checkpoint(tmp_path)
    before = _scramble(sess, vs)
    with tf.Graph().as_default():
        n = tf.Variable(0, name="n")
        wrong_shape = tf.Variable(tf.zeros([3, 2]), name="w")
        wrong_dtype = tf.Variable(tf.zeros([2], tf.float32), name="layer/b")
        with tf.Session() as s2:
            s2.run(tf.global_variables_initializer())
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"variable w has shape \(3, 2\)"):
                tf.train.Saver([n, wrong_shape]).restore(s2, path)
            assert s2.run(n) == 0  # n is fine in the checkpoint but was not written
            with pytest.raises(tf.errors.InvalidArgumentError, match="layer/b.*dtype"):
                tf.train.Saver([wrong_dtype]).restore(s2, path)
            # reshape=True accepts the same number of elements
            tf.train.Saver([wrong_shape], reshape=True).restore(s2, path)
            np.testing.assert_array_equal(s2.run(wrong_shape), np.arange(6).reshape(3, 2))
    _assert_unchanged(sess, vs, before)


@pytest.mark.parametrize("damage", ["truncate_data", "flip_byte", "delete_data", "truncate_index"])
def test_corrupted_checkpoint_is_data_loss_and_changes_nothing(tmp_path, damage):
    sess, saver, path, vs = _saved_checkpoint(tmp_path)
    before = _scramble(sess, vs)
    data, index = path + ".npz", path + ".index"
    if damage == "truncate_data":
        raw = open(data, "rb").read()
        open(data, "wb").write(raw[: len(raw) // 2])
        culprit = data
    elif damage == "flip_byte":
        raw = bytearray(open(data, "rb").read())
        raw[len(raw) // 2] ^= 0xFF
        open(data, "wb").write(bytes(raw))
        culprit = data
    elif damage == "delete_data":
        os.remove(data)
        culprit = data
    else:
        raw = open(index, "rb").read()
        open(index, "wb").write(raw[: len(raw) // 3])
        culprit = index
    with pytest.raises(tf.errors.DataLossError) as e:
        saver.restore(sess, path)
    assert culprit in str(e.value)
    _assert_unchanged(sess, vs, before)


def test_tensorflow_checkpoint_is_reported(tmp_path):
    tf.Variable(1.0, name="v")
    saver = tf.train.Saver()
    prefix = str(tmp_path / "tf_model")
    open(prefix + ".index", "wb").write(b"\x00\x01binary sstable")
    open(prefix + ".data-00000-of-00001", "wb").write(b"\x00" * 8)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.UnimplementedError, match="written by TensorFlow"):
            saver.restore(sess, prefix)


def test_bad_paths(tmp_path):
    v = tf.Variable(1.0, name="v")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value v"):
            saver.save(sess, str(tmp_path / "m"))
        sess.run(v.initializer)
        with pytest.raises(ValueError, match="Parent directory of .* doesn't exist"):
            saver.save(sess, str(tmp_path / "missing" / "m"))
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            saver.restore(sess, str(tmp_path / "nothing"))
        with pytest.raises(ValueError, match="directory"):
            saver.restore(sess, str(tmp_path))
        with pytest.raises(ValueError, match="None"):
            saver.restore(sess, None)
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    sess, saver, path, vs = _saved_checkpoint(tmp_path)
    want = _values(sess, vs)
    state_before = (tmp_path / "checkpoint").read_text()
    files_before = sorted(os.listdir(tmp_path))
    sess.run(vs[2].assign(123))

    def half_then_crash(fileobj, arrays):
        import io

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        fileobj.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(saver_mod, "_write_npz", half_then_crash)
    # a new step, and an overwrite of the same prefix: both fail half-way
    with pytest.raises(OSError, match="No space"):
        saver.save(sess, str(tmp_path / "model.ckpt"), global_step=2)
    with pytest.raises(OSError, match="No space"):
        saver.save(sess, str(tmp_path / "model.ckpt"), global_step=1)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == files_before  # no temp files, no half checkpoint
    assert (tmp_path / "checkpoint").read_text() == state_before
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    saver.restore(sess, path)
    for got, exp in zip(_values(sess, vs), want):
        np.testing.assert_array_equal(got, exp)
    sess.close()


def test_failed_fsync_of_index_keeps_old_index(tmp_path, monkeypatch):
    sess, saver, path, vs = _saved_checkpoint(tmp_path)
    want = _values(sess, vs)
    real_fsync = os.fsync
    calls = []

    def flaky(fd):
        calls.append(fd)
        if len(calls) == 2:  # the index file's fsync (after the data file's)
            raise OSError("I/O error")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    sess.run(vs[2].assign(5))
    with pytest.raises(OSError, match="I/O error"):
        saver.save(sess, str(tmp_path / "model.ckpt"), global_step=3)
    monkeypatch.undo()
    assert not tf.train.checkpoint_exists(str(tmp_path / "model.ckpt-3"))
    assert not os.path.exists(str(tmp_path / "model.ckpt-3.npz"))
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    saver.restore(sess, path)
    assert sess.run(vs[2]) == want[2]
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]


def test_restore_in_a_new_process(tmp_path):
    script = textwrap.dedent("""
        import sys, numpy as np
        import nbflow as tf
        mode, d = sys.argv[1], sys.argv[2]
        w = tf.Variable(tf.zeros([3, 4]), name="dense/kernel")
        b = tf.Variable(tf.zeros([4], tf.float64), name="dense/bias")
        step = tf.Variable(0, name="global_step")
        saver = tf.train.Saver()
        with tf.Session() as sess:
            if mode == "save":
                sess.run(tf.global_variables_initializer())
                sess.run([w.assign(tf.reshape(tf.range(12.0), [3, 4])),
                          b.assign(tf.constant([.5, .25, 0., -1.], tf.float64)), step.assign(17)])
                print(saver.save(sess, d + "/model.ckpt", global_step=step))
            else:
                saver.restore(sess, tf.train.latest_checkpoint(d))
                wv, bv, sv = sess.run([w, b, step])
                assert wv.dtype == np.float32 and bv.dtype == np.float64
                print(wv.ravel().tolist(), bv.tolist(), int(sv))
    """)
    env = dict(os.environ)
    run = [sys.executable, "-c", script]
    out = subprocess.run(run + ["save", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "model.ckpt-17")
    out = subprocess.run(run + ["restore", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "%s [0.5, 0.25, 0.0, -1.0] 17" % [float(i) for i in range(12)]


def test_index_file_format(tmp_path):
    tf.Variable(np.ones((2, 2), np.float16), name="h")
    tf.Variable([True, False], name="flags")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        p = saver.save(sess, str(tmp_path / "m"), global_step=3)
    index = json.loads(open(p + ".index").read())
    assert index["format"] == "nbflow-checkpoint" and index["global_step"] == 3
    assert {t["name"]: (t["dtype"], t["shape"]) for t in index["tensors"]} == {
        "flags": ("bool", [2]), "h": ("float16", [2, 2])}
    import hashlib

    raw = open(p + ".npz", "rb").read()
    assert index["data_sha256"] == hashlib.sha256(raw).hexdigest() and index["data_size"] == len(raw)
    with np.load(p + ".npz") as z:  # plain numpy can read the values
        by_name = {t["name"]: z[t["key"]] for t in index["tensors"]}
    np.testing.assert_array_equal(by_name["flags"], [True, False])
    reader = tf.train.load_checkpoint(str(tmp_path))
    assert reader.get_variable_to_dtype_map() == {"flags": tf.bool, "h": tf.float16}
    with pytest.raises(tf.errors.NotFoundError, match="nope"):
        reader.get_tensor("nope")


def test_state_file_text_format_roundtrip(tmp_path):
    odd = 'dir with "quotes"\\back\tslash/ünï'
    st = tf.train.CheckpointState(odd + "-2", [odd + "-1", odd + "-2"], [1.5, 2.5], 0.0)
    back = tf.train.CheckpointState.from_text(st.to_text())
    assert back.model_checkpoint_path == odd + "-2"
    assert back.all_model_checkpoint_paths == [odd + "-1", odd + "-2"]
    assert back.all_model_checkpoint_timestamps == [1.5, 2.5]
    # what TensorFlow itself writes parses too (octal escapes, single quotes)
    tf_text = 'model_checkpoint_path: "m\\303\\274-1"\nall_model_checkpoint_paths: \'m-0\'\n'
    st = tf.train.CheckpointState.from_text(tf_text)
    assert st.model_checkpoint_path == "mü-1" and st.all_model_checkpoint_paths == ["m-0"]
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: unquoted\n")
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None  # unparsable: ignored with a warning


def test_keep_checkpoint_every_n_hours_spares_old_checkpoints(tmp_path):
    import time

    tf.Variable(0, name="v")
    every = 0.005 / 3600  # one preserved checkpoint per 5 ms
    saver = tf.train.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=every)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = []
        for step in range(3):
            time.sleep(0.02)
            paths.append(saver.save(sess, str(tmp_path / "m"), global_step=step))
    assert saver.last_checkpoints == paths[-1:]
    assert all(tf.train.checkpoint_exists(p) for p in paths)  # the older ones were preserved, not deleted
    text = (tmp_path / "checkpoint").read_text()
    assert "last_preserved_timestamp:" in text
    assert tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == paths[-1:]
