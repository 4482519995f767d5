"""tf.summary.FileWriter when the file system fails: TF's error classes at construction;
a full disk while training is logged once and the training loop goes on."""
import builtins
import errno
import logging
import os

import numpy as np
import pytest

import nbflow as tf
from nbflow.summary import writer as writer_mod
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


class _Disk:
    """Event files opened through it fail with ENOSPC while ``full`` is set."""

    def __init__(self):
        self.full = False
        self.failed_writes = 0

    def open(self, path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        if "events.out.tfevents" not in os.fspath(path):
            return f
        return _DiskFile(self, f)


class _DiskFile:
    def __init__(self, disk, f):
        self._disk, self._f = disk, f

    def _check(self):
        if self._disk.full:
            self._disk.failed_writes += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(self, b):
        self._check()
        return self._f.write(b)

    def flush(self):
        self._check()
        self._f.flush()

    def fileno(self):
        return self._f.fileno()

    def close(self):
        try:
            self.flush()
        finally:
            self._f.close()

    @property
    def closed(self):
        return self._f.closed


def _steps(path):
    return [e.step for e in event_file_loader.LegacyEventFileLoader(path).Load() if e.HasField("summary")]


def test_unwritable_logdir_raises_tensorflow_errors(tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    # a path under a regular file (ENOTDIR), and a regular file as the log directory
    with pytest.raises(tf.errors.FailedPreconditionError, match="file"):
        tf.summary.FileWriter(str(a_file / "logs"))
    with pytest.raises(tf.errors.FailedPreconditionError, match="file"):
        tf.summary.FileWriter(str(a_file))

    # TF's gfile.MakeDirs raises PermissionDeniedError for a directory it may not create
    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    monkeypatch.setattr(os, "makedirs", denied)
    with pytest.raises(tf.errors.PermissionDeniedError, match="Permission denied") as e:
        tf.summary.FileWriter(str(tmp_path / "new"))
    assert str(tmp_path / "new") in str(e.value)
    monkeypatch.undo()

    if os.geteuid() != 0:  # root ignores the mode bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(tf.errors.PermissionDeniedError):
                tf.summary.FileWriter(str(ro / "logs"))
            with pytest.raises(tf.errors.PermissionDeniedError):
                tf.summary.FileWriter(str(ro))
        finally:
            ro.chmod(0o700)


def test_full_disk_during_training_is_logged_once_and_training_goes_on(tmp_path, monkeypatch, caplog):
    disk = _Disk()
    monkeypatch.setattr(writer_mod, "open", disk.open, raising=False)
    x = tf.Variable(0.0, name="x")
    loss = tf.square(x - 3.0)
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    summ = tf.summary.scalar("loss", loss)
    logdir = str(tmp_path / "logs")
    caplog.set_level(logging.WARNING, logger="nbflow")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        writer = tf.summary.FileWriter(logdir, sess.graph)
        first_file = writer.event_file_path
        for step in range(60):
            if step == 20:
                writer.flush()  # steps 0..19 are on disk
                disk.full = True
            _, s = sess.run([train_op, summ])
            writer.add_summary(s, step)
            if step % 10 == 5:
                writer.flush()
        writer.flush()
        writer.close()
        assert abs(sess.run(x) - 3.0) < 1e-3  # trained all 60 steps
    assert disk.failed_writes >= 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    msg = errors[0].getMessage()
    assert "No space left on device" in msg and "ResourceExhaustedError" in msg and first_file in msg
    assert _steps(first_file) == list(range(20))  # what was flushed before the disk filled up


def test_writing_resumes_in_a_new_event_file_once_the_disk_has_room(tmp_path, monkeypatch, caplog):
    disk = _Disk()
    monkeypatch.setattr(writer_mod, "open", disk.open, raising=False)
    monkeypatch.setattr(writer_mod, "_RETRY_SECS", 0.0, raising=False)
    caplog.set_level(logging.WARNING, logger="nbflow")
    logdir = str(tmp_path)
    value = tf.placeholder(tf.float32, [])
    summ = tf.summary.scalar("v", value)
    with tf.Session() as sess:
        writer = tf.summary.FileWriter(logdir, flush_secs=0.01)  # the background flush fails too
        first = writer.event_file_path
        for step in range(30):
            if step == 10:
                writer.flush()
                disk.full = True
            if step == 20:
                disk.full = False
            writer.add_summary(sess.run(summ, {value: float(step)}), step)
        writer.close()
    assert writer.event_file_path != first
    assert _steps(first) == list(range(10))
    assert _steps(writer.event_file_path) == list(range(20, 30))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert any("again" in r.getMessage() and writer.event_file_path in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)
    ea = EventAccumulator(logdir)
    ea.Reload()
    assert [e.step for e in ea.Scalars("v")] == list(range(10)) + list(range(20, 30))
    np.testing.assert_allclose([e.value for e in ea.Scalars("v")][-1], 29.0)
