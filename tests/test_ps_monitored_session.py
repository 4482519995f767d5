"""tf.train.MonitoredTrainingSession in one process: init or restore by the chief, hooks,
StopAtStepHook, CheckpointSaverHook, the non-chief wait (its MPI form: tests/test_ps_mpi.py)."""
import numpy as np
import pytest

import nbflow as tf


def _model():
    step = tf.train.get_or_create_global_step()
    w = tf.Variable(np.zeros(3, np.float32), name="w")
    train = tf.train.GradientDescentOptimizer(1.0).minimize(tf.reduce_sum(-w), global_step=step)
    return step, w, train


def test_stop_at_step_and_checkpoints_then_restore(tmp_path):
    with tf.Graph().as_default():
        step, w, train = _model()
        hooks = [tf.train.StopAtStepHook(last_step=7)]
        runs = 0
        with tf.train.MonitoredTrainingSession(is_chief=True, checkpoint_dir=str(tmp_path), hooks=hooks,
                                               save_checkpoint_steps=3) as sess:
            while not sess.should_stop():
                sess.run(train)
                runs += 1
        assert runs == 7
        assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-7")
        assert tf.get_default_graph().finalized
    with tf.Graph().as_default():  # a new session restores from the directory instead of initializing
        step, w, train = _model()
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_secs=None,
                                               hooks=[tf.train.StopAtStepHook(num_steps=2)]) as sess:
            assert sess.run(step) == 7
            np.testing.assert_allclose(sess.run(w), [7.0] * 3)
            while not sess.should_stop():
                sess.run(train)
            assert sess.run(step) == 9


class _Recorder(tf.train.SessionRunHook):
    def __init__(self, w):
        self.w, self.calls, self.seen = w, [], []

    def begin(self):
        self.calls.append("begin")

    def after_create_session(self, session, coord):
        self.calls.append("after_create_session")

    def before_run(self, run_context):
        self.calls.append("before_run")
        return tf.train.SessionRunArgs({"w": self.w})

    def after_run(self, run_context, run_values):
        self.seen.append(run_values.results["w"].tolist())
        run_context.request_stop()

    def end(self, session):
        self.calls.append("end")


def test_hooks_see_their_fetches_and_can_stop():
    with tf.Graph().as_default():
        step, w, train = _model()
        rec = _Recorder(w)
        with tf.train.MonitoredTrainingSession(hooks=[rec]) as sess:
            out = sess.run([train, step])
            assert sess.should_stop()
        assert out[1] == 0 or out[1] == 1
        assert rec.calls == ["begin", "after_create_session", "before_run", "end"]
        assert len(rec.seen) == 1


def test_a_non_chief_waits_for_the_chief_then_times_out():
    with tf.Graph().as_default():
        _model()
        with pytest.raises(tf.errors.DeadlineExceededError, match="uninitialized variables"):
            tf.train.MonitoredTrainingSession(is_chief=False, max_wait_secs=0.2)


def test_out_of_range_ends_the_loop_and_unsupported_options_raise():
    with tf.Graph().as_default():
        _model()
        with tf.train.MonitoredTrainingSession() as sess:
            raise tf.errors.OutOfRangeError(None, None, "end of input")
        assert sess.should_stop()
    with tf.Graph().as_default():
        _model()
        with pytest.raises(NotImplementedError, match="summaries"):
            tf.train.MonitoredTrainingSession(save_summaries_steps=10)
    with pytest.raises(ValueError, match="One of num_steps or last_step"):
        tf.train.StopAtStepHook()
