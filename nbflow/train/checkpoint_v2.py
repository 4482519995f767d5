"""TF 2's object-based checkpoints: ``tf.train.Checkpoint`` and ``tf.train.CheckpointManager``.

A Checkpoint saves the variables reachable from its keyword arguments through the
object graph (nbflow/train/tracking.py), each under its path of attribute names:
``model/layers/0/w/.ATTRIBUTES/VARIABLE_VALUE``, ``optimizer/iter/...``,
``save_counter/...``, and optimizer slots under the path of their variable:
``model/w/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE``. The files are
nbflow's checkpoint files (checkpoint_io.py, docs/CHECKPOINTS.md: ``P.npz`` +
``P.index``, the index marked ``"object_graph": true``), written as the Saver
writes them: temp files, fsync, the index renamed last, holding the directory's
lock after removing a dead writer's debris; then the ``checkpoint`` state file.
A process killed at any moment leaves the previous checkpoint restorable and
named by the state file. TensorFlow's own files are not read or written.

Restoring checks the whole file first, then matches every saved value to an
object, its dtype and shape, before it assigns any; values for objects that do
not exist yet wait for them: slots until the optimizer makes them (its first
``apply_gradients``), attributes of a tf.Module or Checkpoint until they are set.

Eager mode only: in a graph, ``Checkpoint`` raises NotImplementedError (use
``tf.compat.v1.train.Saver``).
"""
import collections
import logging
import os
import time

import numpy as np

from nbflow.framework import context, dtypes, errors
from nbflow.ops.variables import Variable
from nbflow.train import tracking
from nbflow.train.checkpoint_io import (
    INDEX_SUFFIX, CheckpointReader, _dir_lock, _remove_debris, write_checkpoint_files,
)
from nbflow.train.checkpoint_management import (
    get_checkpoint_state, remove_checkpoint, update_checkpoint_state,
)

__all__ = ["Checkpoint", "CheckpointManager"]

_log = logging.getLogger("nbflow")


def _value_of(var):
    a = np.array(var.numpy(), copy=True, order="C")
    if a.dtype == object:
        raise errors.UnimplementedError(None, None, "tf.train.Checkpoint cannot save string variable %s: "
                                        "nbflow checkpoints hold numeric and bool tensors only" % var.name)
    return a


class Checkpoint:
    """Groups trackable objects to save and restore them (TF 2's ``tf.train.Checkpoint``).

    ``Checkpoint(model=module, optimizer=opt, step=var, ...)``; ``root=`` adds an object's own
    children at the top. ``save(prefix)`` writes ``prefix-<save_counter>`` and records it
    in the ``checkpoint`` state file; ``write(prefix)`` writes ``prefix`` alone;
    ``restore(path)`` returns a status (``assert_consumed()``, ...)."""

    def __init__(self, root=None, **kwargs):
        if not context.executing_eagerly():
            raise NotImplementedError(
                "tf.train.Checkpoint is supported in eager mode only in nbflow (TF 2's way: "
                "tf.enable_eager_execution()); in a graph use tf.compat.v1.train.Saver")
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_save_counter", None)
        object.__setattr__(self, "_kwargs", collections.OrderedDict())
        if root is not None and not tracking.is_trackable(root):
            raise ValueError("Checkpoint was expecting a trackable object as root, got %r" % (root,))
        for k, v in sorted(kwargs.items()):
            setattr(self, k, v)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if not tracking.is_trackable(value):
            raise ValueError("`Checkpoint` was expecting a trackable object (a tf.Variable, tf.Module, "
                             "Keras optimizer, Checkpoint, or a list/dict of them) for %r, got %r"
                             % (name, value))
        self._kwargs[name] = value
        object.__setattr__(self, name, value)
        pending = self.__dict__.get(tracking.PENDING)
        if pending and name in pending:
            pending.pop(name)(value)

    def _trackable_children(self):
        out = collections.OrderedDict()
        if self._root is not None:
            out.update(tracking.children(self._root))
        out["save_counter"] = self.save_counter
        out.update(self._kwargs)
        return out

    @property
    def save_counter(self):
        """An int64 variable counting ``save`` calls (made on first use; saved and restored)."""
        if self._save_counter is None:
            with context.init_scope():
                object.__setattr__(self, "_save_counter", Variable(
                    np.int64(0), name="save_counter", trainable=False, dtype=dtypes.int64))
        return self._save_counter

    # -- saving -------------------------------------------------------------------------------
    def _gather(self):
        """{key: array} of every variable and slot reachable from this checkpoint."""
        objects = tracking.walk(self)
        var_paths = {id(o): p for p, o in objects if tracking.is_variable(o)}
        values = collections.OrderedDict()
        for path, obj in objects:
            if tracking.is_variable(obj):
                values[tracking.variable_key(path)] = _value_of(obj)
        for path, obj in objects:
            slots = getattr(obj, "_trackable_slots", None)
            if slots is None or tracking.is_variable(obj):
                continue
            for var, slot_name, slot in slots():
                var_path = var_paths.get(id(var))
                if var_path is not None:  # slots of variables the checkpoint does not hold are not saved
                    values[tracking.slot_key(var_path, path, slot_name)] = _value_of(slot)
        return values

    def write(self, file_prefix):
        """Write the checkpoint ``file_prefix`` (no state file, no counter); returns it."""
        file_prefix = os.fspath(file_prefix)
        values = self._gather()
        arrays, entries = {}, []
        for i, (key, a) in enumerate(values.items()):
            arrays["t%d" % i] = a
            entries.append({"name": key, "key": "t%d" % i, "dtype": dtypes.as_dtype(a.dtype).name,
                            "shape": list(a.shape)})
        parent = os.path.dirname(file_prefix)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
        base, _, number = os.path.basename(file_prefix).rpartition("-")
        if not (base and number.isdigit()):  # "<base>-<n>" belongs to the family of <base>
            base = os.path.basename(file_prefix)
        with _dir_lock(parent) as locked:
            if locked:
                _remove_debris(parent or ".", base)
            write_checkpoint_files(file_prefix, arrays, entries, {"object_graph": True})
        return file_prefix

    def save(self, file_prefix):
        """Add 1 to ``save_counter`` and write ``<file_prefix>-<save_counter>``; the
        ``checkpoint`` state file in its directory then names it. Returns the prefix."""
        file_prefix = os.fspath(file_prefix)
        self.save_counter.assign_add(1)
        path = self.write("%s-%d" % (file_prefix, int(self.save_counter.numpy())))
        update_checkpoint_state(os.path.dirname(path), path, [path],
                                all_model_checkpoint_timestamps=[time.time()], save_relative_paths=True)
        return path

    # -- restoring ----------------------------------------------------------------------------
    def restore(self, save_path):
        """Restore from ``save_path`` (a prefix, e.g. ``tf.train.latest_checkpoint(dir)``).
        None: nothing is restored (the status's assertions fail, as TF's)."""
        if save_path is None:
            return _NoRestoreStatus()
        save_path = os.fspath(save_path)
        if not os.path.isfile(save_path + INDEX_SUFFIX):
            hint = (" (it is a directory: pass tf.train.latest_checkpoint(%r))" % save_path
                    if os.path.isdir(save_path) else "")
            raise errors.NotFoundError(None, None, "Failed to find any matching files for %s%s" % (save_path, hint))
        reader = CheckpointReader(save_path)
        problem = reader._data_problem()
        if problem is not None:
            raise problem
        if not any(tracking.VARIABLE_VALUE in k for k in reader.get_variable_to_shape_map()):
            raise errors.InvalidArgumentError(
                None, None, "%s is a name-based checkpoint (written by tf.train.Saver); restore it with "
                "tf.compat.v1.train.Saver" % save_path)
        status = CheckpointLoadStatus(self, reader)
        status._restore_root()
        return status

    read = restore

    def __repr__(self):
        return "<tf.train.Checkpoint %s>" % ", ".join(self._kwargs)


# ---------------------------------------------------------------------------
# Restore status
# ---------------------------------------------------------------------------

class CheckpointLoadStatus:
    """What a restore matched (``Checkpoint.restore``'s return value)."""

    def __init__(self, checkpoint, reader):
        self._checkpoint = checkpoint
        self._reader = reader
        self._keys = set(reader.get_variable_to_shape_map())
        self._consumed = set()
        self._restored = set()   # ids of the variables given a value
        self._pending = {}       # key -> what waits for it (deferred restorations)
        self._expect_partial = False

    # -- matching -----------------------------------------------------------------------------
    def _check(self, key, var):
        a = self._reader.get_tensor(key)
        if a.dtype != np.dtype(var.dtype.as_numpy_dtype):
            raise errors.InvalidArgumentError(None, None, "%s in checkpoint %s has dtype %s but %s has dtype %s"
                                              % (key, self._reader.prefix, dtypes.as_dtype(a.dtype).name,
                                                 var.name, var.dtype.name))
        if not var.shape.is_compatible_with(a.shape):
            raise errors.InvalidArgumentError(None, None, "%s in checkpoint %s has shape %s but %s has shape %s"
                                              % (key, self._reader.prefix, list(a.shape), var.name, var.shape))
        return a

    def _restore_root(self):
        self._restore_object(self._checkpoint, ())

    def _restore_object(self, root, root_path):
        """Restore the object graph under ``root`` (at ``root_path``): check every value, then
        assign; defer what has no object yet."""
        objects = [(root_path + p, o) for p, o in tracking.walk(root)]
        var_paths = {id(o): p for p, o in objects if tracking.is_variable(o)}
        assigns = []
        for path, obj in objects:
            if tracking.is_variable(obj):
                key = tracking.variable_key(path)
                if key in self._keys:
                    assigns.append((key, obj, self._check(key, obj)))
        for key, var, value in assigns:
            var.assign(value)
            self._consumed.add(key)
            self._restored.add(id(var))
        self._restore_slots(objects, var_paths)
        self._defer_missing(objects)

    def _restore_slots(self, objects, var_paths):
        by_path = {p: o for p, o in objects}
        var_at = {p: o for p, o in objects if tracking.is_variable(o)}
        for key in sorted(self._keys - self._consumed):
            split = tracking.split_slot_key(key)
            if split is None:
                continue
            var_path, rest = split
            opt = by_path.get(rest[:-1])
            var = var_at.get(var_path)
            if opt is None or var is None or not hasattr(opt, "_restore_slot"):
                continue
            value = self._reader.get_tensor(key)
            slot_name = rest[-1].replace(".S", "/").replace("..", ".")

            def done(key=key):
                self._consumed.add(key)
                self._pending.pop(key, None)
            if not opt._restore_slot(var, slot_name, value, done):
                self._pending[key] = "slot %r of %s (made by the optimizer's next apply_gradients)" \
                    % (slot_name, var.name)

    def _defer_missing(self, objects):
        """Saved values under a child name an object does not have yet: restore when it is set."""
        unmatched = [k for k in self._keys - self._consumed if k not in self._pending]
        for path, obj in objects:
            if tracking.is_variable(obj):
                continue
            present = set(tracking.escape_name(n) for n in tracking.children(obj))
            wanted = {}
            for key in unmatched:
                parts = key.split("/")
                if tuple(parts[:len(path)]) == path and len(parts) > len(path) + 2:
                    name = parts[len(path)]
                    if name not in present and not name.startswith("."):
                        wanted.setdefault(name, []).append(key)
            for name, keys in wanted.items():
                raw = name.replace(".S", "/").replace("..", ".")

                def restore_later(child, path=path + (name,), keys=keys):
                    for k in keys:
                        self._pending.pop(k, None)
                    self._restore_object(child, path)
                if tracking.defer(obj, raw, restore_later):
                    for k in keys:
                        self._pending[k] = "attribute %r of %r" % (raw, obj)

    # -- assertions ---------------------------------------------------------------------------
    def assert_consumed(self):
        """Every saved value found its object, and every variable of the object graph (now)
        got a value; else AssertionError. Returns self."""
        left = sorted(self._keys - self._consumed)
        if left:
            raise AssertionError("Unresolved object in checkpoint %s: %s%s" % (
                self._reader.prefix, left[:10], " (waiting for: %s)" % sorted(set(self._pending.values()))[:5]
                if self._pending else ""))
        self.assert_existing_objects_matched()
        return self

    def assert_existing_objects_matched(self):
        """Every variable and slot of the object graph (now) got a value from the checkpoint;
        saved values without an object are allowed. Returns self."""
        objects = tracking.walk(self._checkpoint)
        var_paths = {id(o): p for p, o in objects if tracking.is_variable(o)}
        missing = [o.name for _, o in objects if tracking.is_variable(o) and id(o) not in self._restored]
        for path, obj in objects:
            slots = getattr(obj, "_trackable_slots", None)
            if slots is None or tracking.is_variable(obj):
                continue
            for var, name, slot in slots():
                vp = var_paths.get(id(var))
                if vp is not None and tracking.slot_key(vp, path, name) not in self._consumed:
                    missing.append(slot.name)
        if missing:
            raise AssertionError("Some objects had no checkpointed value in %s: %s"
                                 % (self._reader.prefix, missing[:10]))
        return self

    def assert_nontrivial_match(self):
        if not self._consumed - {"save_counter/" + tracking.VARIABLE_VALUE}:
            raise AssertionError("Nothing except the root object matched a checkpointed value in %s"
                                 % self._reader.prefix)
        return self

    def expect_partial(self):
        """Silence the warning about values left unrestored. Returns self."""
        self._expect_partial = True
        return self

    def run_restore_ops(self, session=None):
        """Nothing to run eagerly: values were assigned by ``restore``."""

    def initialize_or_restore(self, session=None):
        """Nothing to run eagerly: values were assigned by ``restore``."""

    def __del__(self):
        try:
            left = self._keys - self._consumed
            if left and not self._expect_partial:
                _log.warning("tf.train.Checkpoint: %d value(s) of %s were never restored (e.g. %s); call "
                             "expect_partial() on the restore status if that is intended",
                             len(left), self._reader.prefix, sorted(left)[0])
        except Exception:  # interpreter shutdown
            pass


class _NoRestoreStatus:
    """``restore(None)``: nothing restored; the assertions fail, as TF's."""

    def assert_consumed(self):
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being restored.")

    assert_existing_objects_matched = assert_nontrivial_match = assert_consumed

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        """Nothing to run: no checkpoint was given (TF's status does nothing either)."""

    def initialize_or_restore(self, session=None):
        """Nothing to restore: the variables keep their initial values (eagerly, already set)."""


# ---------------------------------------------------------------------------
# CheckpointManager
# ---------------------------------------------------------------------------

class CheckpointManager:
    """Saves a Checkpoint as ``<directory>/<checkpoint_name>-<n>``, keeps the newest
    ``max_to_keep`` (None: all; plus one every ``keep_checkpoint_every_n_hours``) and
    records them in the directory's ``checkpoint`` state file, from which a new manager
    recovers the list (TF 2's ``tf.train.CheckpointManager``).

    A save writes the checkpoint's files, then the state file naming the kept ones,
    then deletes the ones dropped: a crash at any point leaves the state file naming
    complete checkpoints only (and at worst files of a dropped checkpoint behind)."""

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None, init_fn=None):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError("CheckpointManager expects a tf.train.Checkpoint, got %r" % (checkpoint,))
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError("Expected a positive integer or `None` for `max_to_keep`, got %d." % max_to_keep)
        if checkpoint_interval is not None:
            raise NotImplementedError("CheckpointManager(checkpoint_interval=...) is not supported by nbflow")
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        self._max_to_keep = max_to_keep
        self._keep_every_n_hours = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._step_counter = step_counter
        self._init_fn = init_fn
        self._maybe_delete = collections.OrderedDict()  # path -> timestamp, oldest first
        self._latest_checkpoint = None
        self._last_preserved = time.time()
        state = get_checkpoint_state(self._directory)
        if state is not None:
            stamps = state.all_model_checkpoint_timestamps
            if len(stamps) != len(state.all_model_checkpoint_paths):
                stamps = [None] * len(state.all_model_checkpoint_paths)
            for path, stamp in zip(state.all_model_checkpoint_paths, stamps):
                if os.path.isfile(path + INDEX_SUFFIX):
                    if stamp is None:
                        stamp = os.path.getmtime(path + INDEX_SUFFIX)
                    self._maybe_delete[path] = stamp
            if state.last_preserved_timestamp:
                self._last_preserved = state.last_preserved_timestamp
            self._latest_checkpoint = state.model_checkpoint_path

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def latest_checkpoint(self):
        """The prefix of the newest checkpoint this manager (or the state file) knows, or None."""
        return self._latest_checkpoint

    @property
    def checkpoints(self):
        """The prefixes of the kept checkpoints, oldest first."""
        return list(self._maybe_delete)

    def restore_or_initialize(self):
        """Restore the latest checkpoint if there is one (returning its path), else call
        ``init_fn`` (if given) and return None."""
        if self._latest_checkpoint is not None:
            self._checkpoint.restore(self._latest_checkpoint)
            return self._latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Save a checkpoint numbered ``checkpoint_number`` (an int or an integer variable;
        default: the checkpoint's ``save_counter`` after adding 1); returns its prefix."""
        counter = self._checkpoint.save_counter
        counter.assign_add(1)
        if checkpoint_number is None:
            checkpoint_number = self._step_counter if self._step_counter is not None else counter
        if hasattr(checkpoint_number, "numpy"):
            checkpoint_number = checkpoint_number.numpy()
        os.makedirs(self._directory, exist_ok=True)
        path = self._checkpoint.write("%s-%d" % (self._prefix, int(checkpoint_number)))
        now = time.time()
        self._maybe_delete.pop(path, None)
        self._maybe_delete[path] = now
        self._latest_checkpoint = path
        doomed = self._sweep()
        update_checkpoint_state(self._directory, path, list(self._maybe_delete),
                                all_model_checkpoint_timestamps=list(self._maybe_delete.values()),
                                last_preserved_timestamp=self._last_preserved, save_relative_paths=True)
        for p in doomed:
            remove_checkpoint(p)
        return path

    def _sweep(self):
        """Drop the oldest checkpoints beyond max_to_keep (keeping one every n hours, which
        leaves the list but not the disk); returns the prefixes to delete."""
        doomed = []
        if not self._max_to_keep:
            return doomed
        while len(self._maybe_delete) > self._max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            if self._keep_every_n_hours and stamp - self._keep_every_n_hours * 3600 >= self._last_preserved:
                self._last_preserved = stamp
                continue
            doomed.append(path)
        return doomed

    def __repr__(self):
        return "<tf.train.CheckpointManager %r>" % self._directory
