"""Checkpoint folders after a writer is SIGKILLed in the middle of ``Saver.save``.

A child process (forked from the test, so no import per kill) saves, and is killed
either at a random moment or right before its k-th file-system call (rename, remove,
fsync) -- every point of a save. After each kill, ``checkpoint_exists(p)`` must be
True exactly when ``restore(p)`` works, for every prefix that has a file in the
folder; after the next save, no debris is left: no temp files, no data file
without its index, no index without its data file.
"""
import json
import os
import random
import re
import signal
import threading
import time

import numpy as np
import pytest

import nbflow as tf

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

_FS_CALLS = ("replace", "rename", "remove", "unlink", "fsync")


def _child(body, kill_at=None):
    """Fork; the child runs ``body()`` and exits. With ``kill_at=k`` it SIGKILLs itself
    right before its k-th file-system call (see _FS_CALLS). Returns the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        if kill_at is not None:
            count = [0]

            def wrap(fn):
                def call(*args, **kwargs):
                    count[0] += 1
                    if count[0] == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return fn(*args, **kwargs)
                return call
            for name in _FS_CALLS:
                setattr(os, name, wrap(getattr(os, name)))
        body()
    except BaseException:
        os._exit(1)
    os._exit(0)


def _wait(pid, kill_after=None, timeout=60.0):
    """Wait for the child (SIGKILLing it after ``kill_after`` seconds); True if it was killed."""
    start = time.monotonic()
    killed = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return killed or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
        elapsed = time.monotonic() - start
        if not killed and ((kill_after is not None and elapsed >= kill_after) or elapsed > timeout):
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.0005)


def _prefixes(d):
    out = set()
    for f in os.listdir(d):
        for suffix in (".npz", ".index"):
            if f.endswith(suffix) and ".tmp-" not in f:
                out.add(os.path.join(d, f[: -len(suffix)]))
    return out


def _debris(d):
    """Temp files, data files no index names, indexes whose data file is missing. A prefix
    written over keeps its data as <prefix>.npz or <prefix>.alt.npz, whichever its index names."""
    files = set(os.listdir(d))
    bad = sorted(f for f in files if ".tmp-" in f)
    named = {}
    for f in files:
        if f.endswith(".index") and ".tmp-" not in f:
            with open(os.path.join(d, f)) as fh:
                named[f] = json.load(fh)["data_file"]
    for f in files:
        if ".tmp-" in f:
            continue
        if f.endswith(".npz") and f not in named.values():
            bad.append(f)
        if f.endswith(".index") and named[f] not in files:
            bad.append(f)
    return bad


def _restores(saver, sess, p):
    try:
        saver.restore(sess, p)
        return True
    except (ValueError, tf.errors.OpError):
        return False


def _assert_consistent(d, saver, sess):
    for p in sorted(_prefixes(d)):
        exists = tf.train.checkpoint_exists(p)
        assert exists == _restores(saver, sess, p), (p, exists, sorted(os.listdir(d)))
    latest = tf.train.latest_checkpoint(d)
    if latest is not None:
        assert _restores(saver, sess, latest), (latest, sorted(os.listdir(d)))


def _model(n=64):
    v = tf.Variable(np.zeros(n, np.float32), name="v")
    step = tf.Variable(0, name="step")
    return v, step


def _count_fs_calls(body):
    count = [0]
    saved = {name: getattr(os, name) for name in _FS_CALLS}

    def wrap(fn):
        def call(*args, **kwargs):
            count[0] += 1
            return fn(*args, **kwargs)
        return call
    try:
        for name, fn in saved.items():
            setattr(os, name, wrap(fn))
        body()
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)
    return count[0]


@pytest.mark.parametrize("mode", ["new_step", "same_prefix"])
def test_kill_at_every_file_system_call_of_a_save(tmp_path, mode):
    """The child is killed right before each file-system call of one save in turn:
    a new step (which also deletes the oldest of max_to_keep=2) or an overwrite of
    the same prefix."""
    v, step = _model()
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())

        def setup(name):
            d = tmp_path / name
            d.mkdir()
            prefix = str(d / "model.ckpt")
            saver.set_last_checkpoints([])
            sess.run([v.assign(tf.fill([64], 1.0)), step.assign(1)])
            if mode == "new_step":
                saver.save(sess, prefix, global_step=1)
                saver.save(sess, prefix, global_step=2)
            else:
                saver.save(sess, prefix)
            sess.run([v.assign(tf.fill([64], 2.0)), step.assign(2)])
            return str(d), prefix

        def save(prefix):
            return lambda: saver.save(sess, prefix, global_step=3 if mode == "new_step" else None)

        _, prefix = setup("count")
        total = _count_fs_calls(save(prefix))  # the file-system calls of one save
        assert total >= 5
        for k in range(1, total + 2):
            d, prefix = setup("k%d" % k)
            killed = _wait(_child(save(prefix), kill_at=k))
            assert killed == (k <= total)
            _assert_consistent(d, saver, sess)
            # the next save (here by a new Saver, as in a restarted program) leaves no debris
            tf.train.Saver(max_to_keep=2).save(sess, prefix, global_step=4 if mode == "new_step" else None)
            assert _debris(d) == [], (k, sorted(os.listdir(d)))
            _assert_consistent(d, saver, sess)


def test_sigkill_at_random_moments_of_repeated_saves(tmp_path):
    """A child saves a checkpoint again and again (max_to_keep=2, so older ones are
    deleted as it goes) and is SIGKILLed at a random moment, for a few seconds."""
    v, step = _model(n=1 << 16)
    saver = tf.train.Saver(max_to_keep=2)
    d = str(tmp_path)
    prefix = os.path.join(d, "model.ckpt")
    rng = random.Random(1234)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, prefix, global_step=0)
        # a rough duration of one save, to spread the kills over a few saves
        t0 = time.monotonic()
        for s in range(1, 4):
            saver.save(sess, prefix, global_step=s)
        per_save = (time.monotonic() - t0) / 3
        next_step = [4]

        def save_forever():
            s = next_step[0]
            while True:
                sess.run(step.assign(s))
                saver.save(sess, prefix, global_step=s)
                s += 1

        kills, deadline = 0, time.monotonic() + 3.0
        while time.monotonic() < deadline or kills < 10:
            assert _wait(_child(save_forever), kill_after=rng.uniform(0, 3 * per_save) + 0.001)
            kills += 1
            next_step[0] += 1000  # the next child starts at other steps (and some deletions refer to gone files)
            _assert_consistent(d, saver, sess)
            if kills >= 200:
                break
        saver2 = tf.train.Saver(max_to_keep=2)
        saver2.save(sess, prefix, global_step=10 ** 6)
        assert _debris(d) == [], sorted(os.listdir(d))
        _assert_consistent(d, saver2, sess)
        assert tf.train.latest_checkpoint(d) == prefix + "-%d" % 10 ** 6


def test_a_live_writers_files_are_left_alone(tmp_path):
    """Two processes saving in one folder: the second save waits for the first (which
    holds the folder's lock) instead of deleting its temp files."""
    v, step = _model()
    saver = tf.train.Saver(max_to_keep=None)
    d = str(tmp_path)
    r, w = os.pipe()
    r2, w2 = os.pipe()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())

        def slow_save():
            real_fsync = os.fsync

            def fsync(fd):  # the first fsync is the data temp file's: stop there until told
                os.fsync = real_fsync
                os.write(w, b"x")
                os.read(r2, 1)
                return real_fsync(fd)
            os.fsync = fsync
            saver.save(sess, os.path.join(d, "a.ckpt"), global_step=1)

        pid = _child(slow_save)
        assert os.read(r, 1) == b"x"
        temps = [f for f in os.listdir(d) if ".tmp-" in f]
        assert temps, os.listdir(d)
        done = []
        t = threading.Thread(target=lambda: done.append(saver.save(sess, os.path.join(d, "b.ckpt"))))
        t.start()
        time.sleep(0.3)
        assert set(temps) <= set(os.listdir(d))  # the live writer's temp file is still there
        os.write(w2, b"go")
        assert not _wait(pid)
        t.join(30)
        assert done == [os.path.join(d, "b.ckpt")]
        for p in ("a.ckpt-1", "b.ckpt"):
            assert tf.train.checkpoint_exists(os.path.join(d, p))
            saver.restore(sess, os.path.join(d, p))
        assert _debris(d) == []
    for fd in (r, w, r2, w2):
        os.close(fd)


def test_checkpoint_exists_agrees_with_restore_on_damaged_files(tmp_path):
    v, step = _model()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        good = saver.save(sess, str(tmp_path / "m"), global_step=1)
        assert tf.train.checkpoint_exists(good) and _restores(saver, sess, good)
        for damage in ("no_data", "short_data", "flipped", "bad_index", "no_index"):
            p = saver.save(sess, str(tmp_path / damage), global_step=1)
            data, index = p + ".npz", p + ".index"
            if damage == "no_data":
                os.remove(data)
            elif damage == "short_data":
                raw = open(data, "rb").read()
                open(data, "wb").write(raw[:-10])
            elif damage == "flipped":
                raw = bytearray(open(data, "rb").read())
                raw[len(raw) // 2] ^= 1
                open(data, "wb").write(bytes(raw))
            elif damage == "bad_index":
                open(index, "w").write("{")
            else:
                os.remove(index)
            assert not tf.train.checkpoint_exists(p), damage
            assert not _restores(saver, sess, p), damage
        # the state file names the last (damaged) one: latest_checkpoint does not offer it
        assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_debris_of_other_programs_is_left_alone(tmp_path):
    """Cleaning up touches only nbflow's own temp names and this checkpoint family."""
    v, step = _model()
    saver = tf.train.Saver()
    keep = [".notes.txt.tmp-0123456789ab", "data.npz", "other.ckpt-3.npz", "model.ckpt-x.npz", ".x.tmp-zz"]
    for f in keep:
        (tmp_path / f).write_bytes(b"1")
    stale = [".model.ckpt-1.npz.tmp-0123456789ab", ".model.ckpt-1.index.tmp-0123456789ab",
             ".checkpoint.tmp-0123456789ab", "model.ckpt-1.npz", "model.ckpt.npz"]
    for f in stale:
        (tmp_path / f).write_bytes(b"1")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, str(tmp_path / "model.ckpt"), global_step=2)
    left = set(os.listdir(tmp_path))
    assert set(keep) <= left
    assert not (set(stale) & left), sorted(left)
    assert not [f for f in left if re.match(r"\.model\.ckpt.*\.tmp-", f)]


def test_without_directory_locks_nothing_is_cleaned(tmp_path, monkeypatch):
    """Where directories cannot be locked, no file is provably stale: saves work and
    remove nothing."""
    from nbflow.train import checkpoint_io

    monkeypatch.setattr(checkpoint_io, "fcntl", None)
    v, step = _model()
    saver = tf.train.Saver()
    stale = [".model.ckpt-1.npz.tmp-0123456789ab", "model.ckpt-1.npz"]
    for f in stale:
        (tmp_path / f).write_bytes(b"1")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        p = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=2)
        saver.restore(sess, p)
    assert set(stale) <= set(os.listdir(tmp_path))
