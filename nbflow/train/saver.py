"""tf.train.Saver, and the checkpoint helpers under their TF 1.x module path
(``tf.train.latest_checkpoint``, ``get_checkpoint_state``, ``load_checkpoint``, ...).

* checkpoint_io.py         -- the file format (``P.npz`` + ``P.index``, docs/CHECKPOINTS.md),
  atomic writes and CheckpointReader;
* checkpoint_management.py -- the ``checkpoint`` state file (TensorFlow's text format)
  and reading a directory's newest checkpoint;
* this module              -- the Saver.

A save writes both files as temp files, renames them into place (the index
last) and then updates the state file, so a crash while saving leaves the
previous checkpoint (and the state file that names it) intact. It holds the
directory's lock throughout, and first removes what writers that died there
left behind (temp files, half-renamed or half-deleted checkpoints of its family).
"""
import os
import time

import numpy as np

from nbflow.framework import dtypes, errors
from nbflow.framework.graph import GraphKeys, Tensor, control_dependencies, get_default_graph, name_scope
from nbflow.ops import state_ops
from nbflow.ops.constant_op import placeholder
from nbflow.ops.control_flow_ops import group
from nbflow.train.checkpoint_io import (  # noqa: F401  (the public names are re-exported here, as in TF)
    DATA_SUFFIX, FORMAT_NAME, FORMAT_VERSION, INDEX_SUFFIX, META_SUFFIX, CheckpointReader, NewCheckpointReader,
    _dir_lock, _HashingWriter, _fsync_dir, _index_json, _remove_debris, _remove_quietly, _write_npz, _write_temp,
    write_checkpoint_files,
)
from nbflow.train.checkpoint_management import (  # noqa: F401
    CheckpointState, checkpoint_exists, generate_checkpoint_state_proto, get_checkpoint_mtimes,
    get_checkpoint_state, latest_checkpoint, list_variables, load_checkpoint, load_variable, remove_checkpoint,
    update_checkpoint_state,
)

__all__ = [
    "Saver", "CheckpointState", "CheckpointReader", "NewCheckpointReader", "load_checkpoint",
    "list_variables", "load_variable", "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists",
    "update_checkpoint_state", "generate_checkpoint_state_proto", "get_checkpoint_mtimes",
    "remove_checkpoint",
]


# ---------------------------------------------------------------------------
# Saver
# ---------------------------------------------------------------------------

def _var_tensor(v):
    """The graph tensor of a variable (the VariableV2 output)."""
    t = v._as_graph_element() if hasattr(v, "_as_graph_element") else v
    if not isinstance(t, Tensor):
        raise TypeError("Variable to save is not a Variable: %r" % (v,))
    return t


def _saveable_name(v):
    t = _var_tensor(v)
    if t.op.type not in ("VariableV2", "Variable", "VarHandleOp"):
        raise TypeError("Variable to save is not a Variable: %r (op type %s)" % (v, t.op.type))
    return t.op.name


class Saver:
    """Saves and restores variables (TF 1.15's ``tf.train.Saver``).

    ``var_list``: None (all global variables and SAVEABLE_OBJECTS), a list of
    variables (saved under their op names), or a dict {checkpoint name: variable}.
    ``max_to_keep`` most recent checkpoints are kept (None or 0: all), plus one
    every ``keep_checkpoint_every_n_hours``. ``sharded``, ``restore_sequentially``,
    ``write_version`` and ``builder`` are accepted and have no effect: there is one
    data file per checkpoint. ``write_meta_graph=True`` in ``save`` writes no .meta
    file (nbflow has no MetaGraphDef import).
    """

    def __init__(self, var_list=None, reshape=False, sharded=False, max_to_keep=5,
                 keep_checkpoint_every_n_hours=10000.0, name=None, restore_sequentially=False,
                 saver_def=None, builder=None, defer_build=False, allow_empty=False, write_version=2,
                 pad_step_number=False, save_relative_paths=False, filename=None):
        if saver_def is not None:
            raise NotImplementedError("Saver(saver_def=...) (restoring a SaverDef from a MetaGraphDef) is not "
                                      "supported by nbflow")
        self._var_list = var_list
        self._reshape = reshape
        self._max_to_keep = max_to_keep
        self._keep_every_n_hours = keep_checkpoint_every_n_hours
        self._name = name
        self._allow_empty = allow_empty
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths
        self._filename = filename
        self._last_checkpoints = []  # [(path, timestamp)]
        self._next_checkpoint_time = time.time() + (keep_checkpoint_every_n_hours or 0) * 3600
        self._built = False
        self._is_empty = False
        if not defer_build:
            self.build()

    # -- graph side -------------------------------------------------------
    def build(self):
        if self._built:
            return
        var_list = self._var_list
        if var_list is None:
            g = get_default_graph()
            var_list = g.get_collection(GraphKeys.GLOBAL_VARIABLES) + g.get_collection(GraphKeys.SAVEABLE_OBJECTS)
        if isinstance(var_list, dict):
            items = []
            for key, v in var_list.items():
                if not isinstance(key, str):
                    raise TypeError("Saver var_list keys must be strings, got %r" % (key,))
                if isinstance(v, (list, tuple)):
                    raise NotImplementedError("Saver: partitioned variables (a list under name %r) are not "
                                              "supported by nbflow" % key)
                _saveable_name(v)
                items.append((key, v))
        else:
            if not isinstance(var_list, (list, tuple, set)):
                raise TypeError("Saver var_list must be a dict or a list, got %r" % (type(var_list),))
            items = []
            seen = {}
            for v in var_list:
                n = _saveable_name(v)
                if n in seen:
                    if seen[n] is _var_tensor(v):
                        continue
                    raise ValueError("At least two variables have the same name: %s" % n)
                seen[n] = _var_tensor(v)
                items.append((n, v))
        if not items:
            if not self._allow_empty:
                raise ValueError("No variables to save")
            self._is_empty = True
            self._items, self._restore_feeds, self._restore_op = [], [], None
            self._built = True
            return
        items.sort(key=lambda kv: kv[0])
        graph = _var_tensor(items[0][1]).graph
        feeds = []
        with graph.as_default(), control_dependencies(None), name_scope(self._name, "save"):
            assigns = []
            for ckpt_name, v in items:
                t = _var_tensor(v)
                ph = placeholder(t.dtype, shape=t.shape, name="restore_value")
                assigns.append(state_ops.assign(t, ph, validate_shape=t.shape.is_fully_defined(), name="Assign"))
                feeds.append(ph)
            self._restore_op = group(*assigns, name="restore_all")
        self._graph = graph
        self._items = [(n, _var_tensor(v)) for n, v in items]
        self._restore_feeds = feeds
        self._built = True

    # -- bookkeeping of kept checkpoints -----------------------------------
    @property
    def last_checkpoints(self):
        """The paths of the checkpoints still kept, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints):
        if not isinstance(last_checkpoints, list):
            raise TypeError("last_checkpoints must be a list, got %r" % (type(last_checkpoints),))
        self._last_checkpoints = [(p, None) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time):
        if not isinstance(last_checkpoints_with_time, list):
            raise TypeError("last_checkpoints_with_time must be a list")
        self._last_checkpoints = [(p, t) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths):
        """Take over the checkpoints a previous process kept (so max_to_keep goes on
        deleting them), e.g. ``get_checkpoint_state(dir).all_model_checkpoint_paths``."""
        kept = []
        for p in checkpoint_paths:
            try:
                kept.append((p, os.path.getmtime(p + INDEX_SUFFIX)))
            except OSError:
                pass
        self._last_checkpoints = kept

    def _record(self, path):
        """Add ``path`` as the newest; returns the checkpoints now to delete."""
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != path]
        self._last_checkpoints.append((path, time.time()))
        doomed = []
        if self._max_to_keep:
            while len(self._last_checkpoints) > self._max_to_keep:
                p, t = self._last_checkpoints.pop(0)
                if self._keep_every_n_hours and t is not None and t - self._next_checkpoint_time > 0:
                    # preserved: one checkpoint every n hours is never deleted
                    self._next_checkpoint_time += self._keep_every_n_hours * 3600
                    self._last_preserved = t
                    continue
                doomed.append(p)
        return doomed

    # -- save / restore -----------------------------------------------------
    def save(self, sess, save_path, global_step=None, latest_filename=None, meta_graph_suffix="meta",
             write_meta_graph=True, write_state=True, strip_default_attrs=False, save_debug_info=False):
        """Save the variables' values; returns the checkpoint prefix written
        (``save_path`` or ``save_path-<global_step>``)."""
        if not self._built:
            self.build()
        if self._is_empty:
            return None
        if latest_filename is None:
            latest_filename = "checkpoint"
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            if not isinstance(global_step, (int, np.integer)):
                global_step = sess.run(global_step)
            step = int(global_step)
            ckpt = ("%s-%08d" if self._pad_step_number else "%s-%d") % (save_path, step)
        else:
            ckpt = save_path
        parent = os.path.dirname(ckpt)
        if not os.path.isdir(parent or "."):
            raise ValueError("Parent directory of {} doesn't exist, can't save.".format(save_path))
        if os.path.basename(ckpt) == latest_filename:
            raise RuntimeError("'latest_filename' collides with 'save_path': '%s' and '%s'"
                               % (latest_filename, save_path))

        values = sess.run([t for _, t in self._items])
        arrays, entries = {}, []
        for i, ((name, t), val) in enumerate(zip(self._items, values)):
            val = np.asarray(val)
            if val.dtype == object:
                raise errors.UnimplementedError(
                    None, t.op, "Saver cannot save string variable %s: nbflow checkpoints hold numeric and "
                    "bool tensors only" % name)
            key = "t%d" % i
            arrays[key] = val if val.flags.c_contiguous else np.array(val, order="C")
            entries.append({"name": name, "key": key, "dtype": dtypes.as_dtype(val.dtype).name,
                            "shape": list(val.shape)})

        with _dir_lock(parent) as locked:
            if locked:  # no live writer has files in flight here: what is half-done is debris
                _remove_debris(parent or ".", os.path.basename(save_path),
                               state_names=(latest_filename, "checkpoint"))
            return self._write(ckpt, arrays, entries, global_step, latest_filename, meta_graph_suffix,
                               write_state)

    def _write(self, ckpt, arrays, entries, global_step, latest_filename, meta_graph_suffix, write_state):
        """The files of one save (holding the directory's lock where there is one)."""
        parent = os.path.dirname(ckpt)
        write_checkpoint_files(ckpt, arrays, entries,
                               {"global_step": None if global_step is None else int(global_step)},
                               write_npz=_write_npz)

        if write_state:
            doomed = self._record(ckpt)
            update_checkpoint_state(
                parent, ckpt, self.last_checkpoints, latest_filename,
                all_model_checkpoint_timestamps=None if any(t is None for _, t in self._last_checkpoints)
                else [t for _, t in self._last_checkpoints],
                last_preserved_timestamp=getattr(self, "_last_preserved", None),
                save_relative_paths=self._save_relative_paths)
            for p in doomed:
                remove_checkpoint(p, meta_graph_suffix=meta_graph_suffix)
        return ckpt

    def restore(self, sess, save_path):
        """Restore the variables from checkpoint ``save_path`` (a prefix).

        Everything is checked first -- the files, then every variable's presence,
        dtype and shape -- and only then are variables written: on any error no
        variable changes."""
        if not self._built:
            self.build()
        if self._is_empty:
            return
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        if not os.path.isfile(save_path + INDEX_SUFFIX):
            hint = ""
            if os.path.isdir(save_path):
                hint = " (it is a directory: pass tf.train.latest_checkpoint(%r))" % save_path
            raise ValueError("The passed save_path is not a valid checkpoint: %s%s" % (save_path, hint))
        reader = CheckpointReader(save_path)
        for name, t in self._items:
            if not reader.has_tensor(name):
                raise errors.NotFoundError(
                    None, t.op, "Key %s not found in checkpoint %s (needed to restore variable %s)"
                    % (name, save_path, t.op.name))
        arrays = reader._load()
        feed = {}
        for (name, t), ph in zip(self._items, self._restore_feeds):
            a = arrays[name]
            if a.dtype != np.dtype(t.dtype.as_numpy_dtype):
                raise errors.InvalidArgumentError(
                    None, t.op, "tensor %s in checkpoint %s has dtype %s but variable %s has dtype %s"
                    % (name, save_path, dtypes.as_dtype(a.dtype).name, t.op.name, t.dtype.name))
            if not t.shape.is_compatible_with(a.shape):
                if self._reshape and t.shape.is_fully_defined() and t.shape.num_elements() == a.size:
                    a = a.reshape(t.shape.as_list())
                else:
                    raise errors.InvalidArgumentError(
                        None, t.op, "Assign requires shapes of both tensors to match: variable %s has shape %s "
                        "but tensor %s in checkpoint %s has shape %s"
                        % (t.op.name, t.shape, name, save_path, list(a.shape)))
            feed[ph] = a
        sess.run(self._restore_op, feed_dict=feed)

    def __repr__(self):
        return "<tf.train.Saver of %d variables>" % len(getattr(self, "_items", []))
