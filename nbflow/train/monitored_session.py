"""tf.train.MonitoredTrainingSession and its hooks (TF 1's training loop helper).

``MonitoredTrainingSession(master, is_chief, checkpoint_dir, ...)`` creates a
``tf.Session(master)`` -- ``server.target`` for the ps mode (docs/DISTRIBUTED.md)
-- and prepares it as TF does: the chief restores the latest checkpoint of
``checkpoint_dir`` or else runs the initializers; a non-chief waits (polling,
up to ``max_wait_secs``) until every global variable is initialized (by the
chief, on the ps tasks). Each ``run`` goes through the hooks' ``before_run`` /
``after_run``; ``should_stop()`` is True once a hook asked to stop.

Not implemented (raises NotImplementedError when asked for): summaries
(``save_summaries_steps``/``secs``, ``summary_dir``) and recovery from a lost
session (TF re-creates it; an error here ends the loop).
"""
import collections
import time

from nbflow.framework import errors
from nbflow.framework.graph import get_default_graph
from nbflow.ops import state_ops, variables
from nbflow.runtime.session import Session
from nbflow.train.checkpoint_management import latest_checkpoint
from nbflow.train.coordinator import Coordinator
from nbflow.train.saver import Saver
from nbflow.train.training_util import get_global_step

__all__ = ["MonitoredTrainingSession", "MonitoredSession", "SessionRunHook", "SessionRunArgs",
           "SessionRunContext", "SessionRunValues", "StopAtStepHook", "CheckpointSaverHook", "Scaffold",
           "ChiefSessionCreator", "WorkerSessionCreator"]

_USE_DEFAULT = object()


class SessionRunArgs(collections.namedtuple("SessionRunArgs", ["fetches", "feed_dict", "options"])):
    """What a hook adds to a run: fetches (any structure), feeds."""

    def __new__(cls, fetches, feed_dict=None, options=None):
        return super().__new__(cls, fetches, feed_dict, options)


class SessionRunValues(collections.namedtuple("SessionRunValues", ["results", "options", "run_metadata"])):
    """The values of a hook's fetches after a run."""


class SessionRunContext:
    def __init__(self, original_args, session):
        self._original_args, self._session, self._stop_requested = original_args, session, False

    @property
    def original_args(self):
        return self._original_args

    @property
    def session(self):
        return self._session

    @property
    def stop_requested(self):
        return self._stop_requested

    def request_stop(self):
        self._stop_requested = True


class SessionRunHook:
    """Override any of: begin, after_create_session, before_run, after_run, end."""

    def begin(self):
        pass

    def after_create_session(self, session, coord):
        pass

    def before_run(self, run_context):
        return None

    def after_run(self, run_context, run_values):
        pass

    def end(self, session):
        pass


def _global_step_tensor():
    step = get_global_step()
    if step is None:
        raise RuntimeError("Global step should be created to use this hook (tf.train.get_or_create_global_step())")
    return step


class StopAtStepHook(SessionRunHook):
    """Requests a stop once the global step reaches ``last_step`` (or ``num_steps`` past its
    value when the session was created)."""

    def __init__(self, num_steps=None, last_step=None):
        if (num_steps is None) == (last_step is None):
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and num_steps < 0:
            raise ValueError("num_steps must be non-negative.")
        self._num_steps, self._last_step = num_steps, last_step

    def begin(self):
        self._step = _global_step_tensor()

    def after_create_session(self, session, coord):
        if self._last_step is None:
            self._last_step = int(session.run(self._step)) + self._num_steps

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        if int(run_values.results) + 1 >= self._last_step:
            # the fetched value may be from before or after this run's increment: read it again, as TF
            if int(run_context.session.run(self._step)) >= self._last_step:
                run_context.request_stop()


class CheckpointSaverHook(SessionRunHook):
    """Saves ``checkpoint_dir/model.ckpt-<global step>`` every ``save_secs`` or ``save_steps``,
    after the first run and at the end."""

    def __init__(self, checkpoint_dir, save_secs=None, save_steps=None, saver=None,
                 checkpoint_basename="model.ckpt", scaffold=None, listeners=None):
        if (save_secs is None) == (save_steps is None):
            raise ValueError("exactly one of save_secs or save_steps must be given")
        if listeners:
            raise NotImplementedError("CheckpointSaverHook: listeners are not implemented in nbflow")
        import os
        self._path = os.path.join(checkpoint_dir, checkpoint_basename)
        self._dir = checkpoint_dir
        self._secs, self._steps = save_secs, save_steps
        self._saver, self._scaffold = saver, scaffold

    def begin(self):
        self._step = _global_step_tensor()
        if self._saver is None and self._scaffold is None:
            self._saver = Saver()  # else the scaffold's, made before the graph is finalized
        self._last_time, self._last_step = None, None

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        step = int(run_context.session.run(self._step))
        due = self._last_time is None or (
            self._steps is not None and step - self._last_step >= self._steps) or (
            self._secs is not None and time.time() - self._last_time >= self._secs)
        if due:
            self._save(run_context.session, step)

    def end(self, session):
        step = int(session.run(self._step))
        if step != self._last_step:
            self._save(session, step)

    def _save(self, session, step):
        import os
        os.makedirs(self._dir, exist_ok=True)
        (self._saver or self._scaffold.saver).save(session, self._path, global_step=step)
        self._last_time, self._last_step = time.time(), step


class Scaffold:
    """The pieces a monitored session needs: ``init_op`` (default: every global variable's
    initializer), ``local_init_op``, ``init_feed_dict``, ``init_fn(scaffold, session)``,
    ``saver`` (default: a Saver of the global variables). ``ready_op`` and the summary op
    are computed by nbflow (see ``uninitialized``)."""

    def __init__(self, init_op=None, init_feed_dict=None, init_fn=None, ready_op=None,
                 ready_for_local_init_op=None, local_init_op=None, summary_op=None, saver=None,
                 copy_from_scaffold=None):
        if ready_op is not None or ready_for_local_init_op is not None or summary_op is not None \
                or copy_from_scaffold is not None:
            raise NotImplementedError("Scaffold: ready_op, ready_for_local_init_op, summary_op and "
                                      "copy_from_scaffold are not implemented in nbflow")
        self._init_op, self._init_feed_dict, self._init_fn = init_op, init_feed_dict, init_fn
        self._local_init_op, self._saver = local_init_op, saver
        self._ready = None

    def finalize(self):
        if self._init_op is None:
            self._init_op = variables.global_variables_initializer()
        if self._local_init_op is None:
            self._local_init_op = variables.local_variables_initializer()
        if self._saver is None and variables.global_variables():
            self._saver = Saver()
        if self._ready is None:
            vs = variables.global_variables()
            # one IsVariableInitialized per variable, so each runs where its variable lives (a ps task)
            self._ready = (vs, [state_ops.is_variable_initialized(v) for v in vs])
        return self

    @property
    def init_op(self):
        return self._init_op

    @property
    def local_init_op(self):
        return self._local_init_op

    @property
    def init_feed_dict(self):
        return self._init_feed_dict

    @property
    def init_fn(self):
        return self._init_fn

    @property
    def saver(self):
        return self._saver

    def uninitialized(self, session):
        """The names of the global variables not yet initialized."""
        vs, flags = self._ready
        return [v.op.name for v, ok in zip(vs, session.run(flags)) if not ok] if vs else []


class ChiefSessionCreator:
    """Restores the latest checkpoint of ``checkpoint_dir`` or runs the initializers."""

    def __init__(self, scaffold=None, master="", config=None, checkpoint_dir=None, checkpoint_filename_with_path=None):
        self._scaffold = scaffold or Scaffold()
        self._master, self._config = master, config
        self._dir, self._path = checkpoint_dir, checkpoint_filename_with_path

    def create_session(self):
        scaffold = self._scaffold.finalize()
        sess = Session(self._master, config=self._config)
        path = self._path or (latest_checkpoint(self._dir) if self._dir else None)
        if path and scaffold.saver is not None:
            scaffold.saver.restore(sess, path)
        else:
            sess.run(scaffold.init_op, feed_dict=scaffold.init_feed_dict)
            if scaffold.init_fn is not None:
                scaffold.init_fn(scaffold, sess)
        sess.run(scaffold.local_init_op)
        missing = scaffold.uninitialized(sess)
        if missing:
            raise RuntimeError("Init operations did not make model ready. Uninitialized variables: %s" % missing)
        return sess


class WorkerSessionCreator:
    """Waits until the chief has initialized every global variable (``max_wait_secs``)."""

    def __init__(self, scaffold=None, master="", config=None, max_wait_secs=30 * 60):
        self._scaffold = scaffold or Scaffold()
        self._master, self._config, self._max_wait = master, config, max_wait_secs

    def create_session(self):
        scaffold = self._scaffold.finalize()
        sess = Session(self._master, config=self._config)
        deadline = time.time() + self._max_wait
        while True:
            missing = scaffold.uninitialized(sess)
            if not missing:
                break
            if time.time() > deadline:
                sess.close()
                raise errors.DeadlineExceededError(
                    None, None, "Session was not ready after waiting %d secs: uninitialized variables %s"
                    % (self._max_wait, missing))
            time.sleep(0.05)
        sess.run(scaffold.local_init_op)
        return sess


class MonitoredSession:
    """A session made by ``session_creator`` and driven through ``hooks``."""

    def __init__(self, session_creator=None, hooks=None, stop_grace_period_secs=120):
        self._hooks = list(hooks or [])
        creator = session_creator or ChiefSessionCreator()
        for h in self._hooks:
            h.begin()
        scaffold = getattr(creator, "_scaffold", None)
        if scaffold is not None:
            scaffold.finalize()  # its ops exist before the graph is finalized
        get_default_graph().finalize()
        self._sess = creator.create_session()
        self._coord = Coordinator()
        for h in self._hooks:
            h.after_create_session(self._sess, self._coord)
        self._stop = False
        self._closed = False

    @property
    def graph(self):
        return self._sess.graph

    def should_stop(self):
        return self._stop or self._closed

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self._closed:
            raise RuntimeError("Run called even after should_stop requested.")
        ctx = SessionRunContext(SessionRunArgs(fetches, feed_dict, options), self._sess)
        extra = [h.before_run(ctx) for h in self._hooks]
        feeds = dict(feed_dict or {})
        for a in extra:
            if a is not None and a.feed_dict:
                overlap = set(feeds) & set(a.feed_dict)
                if overlap:
                    raise RuntimeError("Same tensor is fed by a SessionRunHook and user. %s" % sorted(map(str, overlap)))
                feeds.update(a.feed_dict)
        hook_fetches = [a.fetches if a is not None else [] for a in extra]
        results, hook_results = self._sess.run([fetches, hook_fetches], feed_dict=feeds, options=options,
                                               run_metadata=run_metadata)
        for h, a, r in zip(self._hooks, extra, hook_results):
            h.after_run(ctx, SessionRunValues(r if a is not None else None, options, run_metadata))
        self._stop = self._stop or ctx.stop_requested
        return results

    def close(self):
        if self._closed:
            return
        try:
            for h in self._hooks:
                h.end(self._sess)
        finally:
            self._closed = True
            self._sess.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is errors.OutOfRangeError:  # the input ran out: a normal end, as TF
            self.close()
            return True
        if exc_type is None:
            self.close()
        else:
            try:
                self.close()
            except Exception:  # the first error is the one to report
                pass
        return False


def MonitoredTrainingSession(master="", is_chief=True, checkpoint_dir=None, scaffold=None, hooks=None,
                             chief_only_hooks=None, save_checkpoint_secs=_USE_DEFAULT,
                             save_summaries_steps=_USE_DEFAULT, save_summaries_secs=_USE_DEFAULT, config=None,
                             stop_grace_period_secs=120, log_step_count_steps=100, max_wait_secs=7200,
                             save_checkpoint_steps=_USE_DEFAULT, summary_dir=None):
    """TF 1's ``tf.train.MonitoredTrainingSession``: a MonitoredSession on ``master``
    (``server.target`` in the ps mode). The chief restores or initializes and, with a
    ``checkpoint_dir``, saves a checkpoint every 600 s (``save_checkpoint_secs``) or
    ``save_checkpoint_steps``; other workers wait for the chief's variables."""
    for name, value in (("save_summaries_steps", save_summaries_steps), ("save_summaries_secs", save_summaries_secs),
                        ("summary_dir", summary_dir)):
        if value is not _USE_DEFAULT and value is not None:
            raise NotImplementedError("MonitoredTrainingSession(%s=...): summaries are not written by nbflow's "
                                      "monitored session; pass None, or write them with tf.summary.FileWriter"
                                      % name)
    scaffold = scaffold or Scaffold()
    all_hooks = list(hooks or [])
    if is_chief:
        all_hooks.extend(chief_only_hooks or [])
        if checkpoint_dir:
            steps = None if save_checkpoint_steps is _USE_DEFAULT else save_checkpoint_steps
            secs = None if save_checkpoint_secs is _USE_DEFAULT else save_checkpoint_secs
            if steps is None and secs is None and save_checkpoint_secs is _USE_DEFAULT:
                secs = 600
            if steps is not None or secs is not None:
                all_hooks.append(CheckpointSaverHook(checkpoint_dir, save_secs=None if steps else secs,
                                                     save_steps=steps, scaffold=scaffold))
        creator = ChiefSessionCreator(scaffold, master, config, checkpoint_dir)
    else:
        creator = WorkerSessionCreator(scaffold, master, config, max_wait_secs)
    return MonitoredSession(creator, all_hooks, stop_grace_period_secs)
