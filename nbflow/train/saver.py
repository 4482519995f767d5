"""tf.train.Saver and the checkpoint helpers (latest_checkpoint, get_checkpoint_state, ...).

The on-disk format is nbflow's own (docs/CHECKPOINTS.md): a checkpoint with
prefix ``P`` is two files,

* ``P.npz``   -- the values, an uncompressed numpy ``.npz`` archive (keys t0, t1, ...);
* ``P.index`` -- JSON: for each tensor its checkpoint name, key, dtype and shape,
  plus the size and sha256 of ``P.npz``.

The ``checkpoint`` state file next to them has TensorFlow's text format
(``model_checkpoint_path: "..."`` / ``all_model_checkpoint_paths: "..."``).
Every file is written to a temporary file in the same directory, flushed,
fsync'ed and then renamed over the target, the index last and the state file
after both, so a crash while saving leaves the previous checkpoint (and the
state file that names it) intact. TensorFlow's own checkpoint files cannot be
read (a clear error says so).
"""
import io
import json
import logging
import os
import time
import hashlib

import numpy as np

from nbflow.framework import dtypes, errors
from nbflow.framework.graph import GraphKeys, Tensor, control_dependencies, get_default_graph, name_scope

__all__ = [
    "Saver", "CheckpointState", "CheckpointReader", "NewCheckpointReader", "load_checkpoint",
    "list_variables", "load_variable", "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists",
    "update_checkpoint_state", "generate_checkpoint_state_proto", "get_checkpoint_mtimes",
    "remove_checkpoint",
]

_log = logging.getLogger("nbflow")

FORMAT_NAME = "nbflow-checkpoint"
FORMAT_VERSION = 1
INDEX_SUFFIX = ".index"
DATA_SUFFIX = ".npz"
META_SUFFIX = ".meta"
_TF_DATA_SUFFIX = ".data-00000-of-00001"


# ---------------------------------------------------------------------------
# Atomic file writes
# ---------------------------------------------------------------------------

def _fsync_dir(directory):
    """Make a rename durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(path, write_fn):
    """Write ``write_fn(fileobj)``'s bytes to a temp file beside ``path``, flushed and
    fsync'ed; returns the temp path. On failure the temp file is removed."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, ".%s.tmp-%s" % (os.path.basename(path), os.urandom(6).hex()))
    try:
        with open(tmp, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _atomic_write(path, write_fn):
    """Write ``path`` through ``write_fn(fileobj)``: a temp file in the same
    directory, flushed and fsync'ed, then ``os.replace``d over ``path``.

    If anything fails, the temp file is removed and ``path`` is untouched."""
    tmp = _write_temp(path, write_fn)
    try:
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise


def _write_npz(fileobj, arrays):
    """The data file's bytes: an uncompressed .npz (a module-level function so
    tests can make a save fail half-way)."""
    np.savez(fileobj, **arrays)


# ---------------------------------------------------------------------------
# The checkpoint state file ("checkpoint"), TensorFlow's text format
# ---------------------------------------------------------------------------

class CheckpointState:
    """What the ``checkpoint`` file says: the latest checkpoint and the kept ones
    (the fields of TensorFlow's CheckpointState proto)."""

    def __init__(self, model_checkpoint_path="", all_model_checkpoint_paths=None,
                 all_model_checkpoint_timestamps=None, last_preserved_timestamp=0.0):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths or [])
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps or [])
        self.last_preserved_timestamp = float(last_preserved_timestamp or 0.0)

    def to_text(self):
        lines = ["model_checkpoint_path: %s" % _quote(self.model_checkpoint_path)]
        lines += ["all_model_checkpoint_paths: %s" % _quote(p) for p in self.all_model_checkpoint_paths]
        lines += ["all_model_checkpoint_timestamps: %r" % float(t) for t in self.all_model_checkpoint_timestamps]
        if self.last_preserved_timestamp:
            lines.append("last_preserved_timestamp: %r" % float(self.last_preserved_timestamp))
        return "\n".join(lines) + "\n"

    __str__ = to_text

    def __repr__(self):
        return "CheckpointState(%r, %r)" % (self.model_checkpoint_path, self.all_model_checkpoint_paths)

    def __eq__(self, other):
        return isinstance(other, CheckpointState) and self.to_text() == other.to_text()

    @classmethod
    def from_text(cls, text):
        """Parse the text format; raises ValueError on anything malformed."""
        st = cls()
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError("line %d: expected 'field: value', got %r" % (lineno, line))
            key, value = key.strip(), value.strip()
            if key in ("model_checkpoint_path", "all_model_checkpoint_paths"):
                s = _unquote(value, lineno)
                if key == "model_checkpoint_path":
                    st.model_checkpoint_path = s
                else:
                    st.all_model_checkpoint_paths.append(s)
            elif key in ("all_model_checkpoint_timestamps", "last_preserved_timestamp"):
                try:
                    v = float(value)
                except ValueError:
                    raise ValueError("line %d: %s must be a number, got %r" % (lineno, key, value)) from None
                if key == "last_preserved_timestamp":
                    st.last_preserved_timestamp = v
                else:
                    st.all_model_checkpoint_timestamps.append(v)
            else:
                raise ValueError("line %d: unknown field %r" % (lineno, key))
        return st


def _quote(s):
    """A protobuf text-format string literal (C escapes, non-ASCII as octal)."""
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


_SIMPLE_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", "'": b"'", '"': b'"', "a": b"\a",
                   "b": b"\b", "f": b"\f", "v": b"\v", "?": b"?"}


def _unquote(value, lineno):
    if len(value) < 2 or value[0] not in "\"'" or value[-1] != value[0]:
        raise ValueError("line %d: expected a quoted string, got %r" % (lineno, value))
    body = value[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("line %d: dangling backslash" % lineno)
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[e]
            i += 2
        elif e in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1:j], 8) & 0xFF)
            i = j
        elif e in "xX":
            j = i + 2
            while j < len(body) and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                raise ValueError("line %d: bad \\x escape" % lineno)
            out.append(int(body[i + 2:j], 16))
            i = j
        else:
            raise ValueError("line %d: unknown escape \\%s" % (lineno, e))
    return out.decode("utf-8")


def _state_path(checkpoint_dir, latest_filename):
    return os.path.join(checkpoint_dir or ".", latest_filename or "checkpoint")


def generate_checkpoint_state_proto(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                                    all_model_checkpoint_timestamps=None, last_preserved_timestamp=None):
    """A CheckpointState; as TF, relative paths are made relative to a relative ``save_dir``."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    if all_model_checkpoint_timestamps is not None and len(all_model_checkpoint_timestamps) != len(paths):
        raise ValueError("Checkpoint timestamps, if provided, must match checkpoint paths (got paths %r and "
                         "timestamps %r)" % (paths, all_model_checkpoint_timestamps))
    if not os.path.isabs(save_dir or "."):
        base = save_dir or "."

        def rel(p):
            return p if os.path.isabs(p) else os.path.relpath(p, base)
        model_checkpoint_path = rel(model_checkpoint_path)
        paths = [rel(p) for p in paths]
    return CheckpointState(model_checkpoint_path, paths, all_model_checkpoint_timestamps,
                           last_preserved_timestamp)


def update_checkpoint_state(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                            latest_filename=None, all_model_checkpoint_timestamps=None,
                            last_preserved_timestamp=None, save_relative_paths=False):
    """Write the ``checkpoint`` state file in ``save_dir`` (atomically)."""
    if latest_filename and os.path.split(latest_filename)[0]:
        raise ValueError("'latest_filename' must not contain path components")
    if save_relative_paths:
        base = save_dir or "."
        rel = [os.path.relpath(p, base) if os.path.isabs(p) else p for p in (all_model_checkpoint_paths or [])]
        mcp = os.path.relpath(model_checkpoint_path, base) if os.path.isabs(model_checkpoint_path) \
            else model_checkpoint_path
        st = CheckpointState(mcp, rel, all_model_checkpoint_timestamps, last_preserved_timestamp)
        if not st.all_model_checkpoint_paths or st.all_model_checkpoint_paths[-1] != mcp:
            st.all_model_checkpoint_paths.append(mcp)
    else:
        st = generate_checkpoint_state_proto(save_dir, model_checkpoint_path, all_model_checkpoint_paths,
                                             all_model_checkpoint_timestamps, last_preserved_timestamp)
    if st.model_checkpoint_path in ("", None):
        raise RuntimeError("Save path '%s' conflicts with path used for checkpoint state. Please use a "
                           "different save path." % model_checkpoint_path)
    path = _state_path(save_dir, latest_filename)
    text = st.to_text().encode("utf-8")
    _atomic_write(path, lambda f: f.write(text))
    _fsync_dir(os.path.dirname(path))


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The CheckpointState in ``checkpoint_dir``'s state file, or None if there is none
    (or it cannot be parsed; a warning is logged). Relative paths are joined with
    ``checkpoint_dir``."""
    path = _state_path(checkpoint_dir, latest_filename)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        st = CheckpointState.from_text(text)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        _log.warning("%s: Checkpoint ignored: %s", path, e)
        return None
    if not st.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from %s" % checkpoint_dir)
    base = checkpoint_dir or "."
    if not os.path.isabs(st.model_checkpoint_path):
        st.model_checkpoint_path = os.path.join(base, st.model_checkpoint_path)
    st.all_model_checkpoint_paths = [p if os.path.isabs(p) else os.path.join(base, p)
                                     for p in st.all_model_checkpoint_paths]
    return st


def checkpoint_exists(checkpoint_prefix):
    """True if a checkpoint with this prefix is on disk (its index file exists)."""
    if checkpoint_prefix is None:
        return False
    return os.path.isfile(str(checkpoint_prefix) + INDEX_SUFFIX)


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint recorded in ``checkpoint_dir``, or None."""
    st = get_checkpoint_state(checkpoint_dir, latest_filename)
    if st and st.model_checkpoint_path:
        if checkpoint_exists(st.model_checkpoint_path):
            return st.model_checkpoint_path
        _log.error("Couldn't match files for checkpoint %s", st.model_checkpoint_path)
    return None


def get_checkpoint_mtimes(checkpoint_prefixes):
    """Modification times of the given checkpoints (missing ones are skipped)."""
    out = []
    for p in checkpoint_prefixes:
        try:
            out.append(os.path.getmtime(p + INDEX_SUFFIX))
        except OSError:
            pass
    return out


def remove_checkpoint(checkpoint_prefix, checkpoint_format_version=None, meta_graph_suffix="meta"):
    """Delete a checkpoint's files (missing files are ignored)."""
    for suffix in (DATA_SUFFIX, INDEX_SUFFIX, "." + meta_graph_suffix):
        try:
            os.remove(checkpoint_prefix + suffix)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Reading a checkpoint
# ---------------------------------------------------------------------------

class CheckpointReader:
    """Reads an nbflow checkpoint: index validated, data checked against its sha256.

    ``tf.train.load_checkpoint`` / ``NewCheckpointReader`` return one.
    """

    def __init__(self, prefix):
        self.prefix = str(prefix)
        index_path = self.prefix + INDEX_SUFFIX
        if not os.path.isfile(index_path):
            raise errors.NotFoundError(
                None, None, "Unsuccessful TensorSliceReader constructor: Failed to find any matching files "
                "for %s (no %s)" % (self.prefix, index_path))
        try:
            with open(index_path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise errors.DataLossError(None, None, "Cannot read checkpoint index %s: %s" % (index_path, e)) from None
        try:
            index = json.loads(raw.decode("utf-8"))
            if not isinstance(index, dict) or index.get("format") != FORMAT_NAME:
                raise ValueError("not an nbflow checkpoint index")
            tensors = index["tensors"]
            data_name = index["data_file"]
            data_sha = index["data_sha256"]
            data_size = int(index["data_size"])
            entries = {}
            for t in tensors:
                entries[str(t["name"])] = (str(t["key"]), dtypes.as_dtype(str(t["dtype"])),
                                           tuple(int(d) for d in t["shape"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            if os.path.isfile(self.prefix + _TF_DATA_SUFFIX):
                raise errors.UnimplementedError(
                    None, None, "%s looks like a checkpoint written by TensorFlow; nbflow reads only its own "
                    "checkpoint format (see docs/CHECKPOINTS.md)" % self.prefix) from None
            raise errors.DataLossError(
                None, None, "Checkpoint index %s is truncated or corrupted (%s: %s)"
                % (index_path, type(e).__name__, e)) from None
        if int(index.get("version", 0)) > FORMAT_VERSION:
            raise errors.UnimplementedError(
                None, None, "Checkpoint %s has format version %s; this nbflow reads up to version %d"
                % (self.prefix, index.get("version"), FORMAT_VERSION))
        self.index_path = index_path
        self.data_path = os.path.join(os.path.dirname(self.prefix), os.path.basename(data_name))
        self._data_sha = data_sha
        self._data_size = data_size
        self._entries = entries
        self._arrays = None

    def _load(self):
        if self._arrays is not None:
            return self._arrays
        path = self.data_path
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise errors.DataLossError(
                None, None, "Checkpoint data file %s is missing (its index %s exists)"
                % (path, self.index_path)) from None
        except OSError as e:
            raise errors.DataLossError(None, None, "Cannot read checkpoint data file %s: %s" % (path, e)) from None
        if len(raw) != self._data_size or hashlib.sha256(raw).hexdigest() != self._data_sha:
            raise errors.DataLossError(
                None, None, "Checkpoint data file %s is truncated or corrupted (%d bytes, expected %d; "
                "sha256 does not match its index)" % (path, len(raw), self._data_size))
        arrays = {}
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                for name, (key, dt, shape) in self._entries.items():
                    a = z[key]
                    if a.dtype != np.dtype(dt.as_numpy_dtype) or a.shape != shape:
                        raise ValueError("tensor %r is %s%s, index says %s%s"
                                         % (name, a.dtype, a.shape, dt.name, shape))
                    arrays[name] = a
        except (ValueError, KeyError, OSError, EOFError) as e:
            raise errors.DataLossError(
                None, None, "Checkpoint data file %s is corrupted (%s)" % (path, e)) from None
        self._arrays = arrays
        return arrays

    def has_tensor(self, name):
        return name in self._entries

    def get_variable_to_shape_map(self):
        return {n: list(s) for n, (_, _, s) in self._entries.items()}

    def get_variable_to_dtype_map(self):
        return {n: dt for n, (_, dt, _) in self._entries.items()}

    def get_tensor(self, name):
        if name not in self._entries:
            raise errors.NotFoundError(None, None, "Key %s not found in checkpoint %s" % (name, self.prefix))
        return self._load()[name].copy()

    def debug_string(self):
        return "".join("%s (%s) %s\n" % (n, dt.name, list(s)) for n, (_, dt, s) in sorted(self._entries.items()))


def _resolve_ckpt(ckpt_dir_or_file):
    if os.path.isdir(ckpt_dir_or_file):
        path = latest_checkpoint(ckpt_dir_or_file)
        if path is None:
            raise ValueError("Couldn't find 'checkpoint' file or checkpoints in given directory %s"
                             % ckpt_dir_or_file)
        return path
    return ckpt_dir_or_file


def load_checkpoint(ckpt_dir_or_file):
    """A CheckpointReader for a checkpoint prefix or the latest one in a directory."""
    return CheckpointReader(_resolve_ckpt(ckpt_dir_or_file))


def NewCheckpointReader(filepattern):
    return CheckpointReader(filepattern)


def list_variables(ckpt_dir_or_file):
    """Sorted [(name, shape)] of the tensors in a checkpoint."""
    reader = load_checkpoint(ckpt_dir_or_file)
    return sorted(reader.get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file, name):
    """The value (numpy array) of tensor ``name`` in a checkpoint."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


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
        from nbflow.ops.constant_op import placeholder
        from nbflow.ops.control_flow_ops import group
        from nbflow.ops import state_ops

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

        data_name = os.path.basename(ckpt) + DATA_SUFFIX
        digest = {}

        def write_data(f):
            h = _HashingWriter(f)
            _write_npz(h, arrays)
            digest["sha256"], digest["size"] = h.hexdigest(), h.size

        # Both files are complete on disk (as temp files) before either is renamed
        # into place, the index last: a failure before the renames changes nothing.
        tmp_data = _write_temp(ckpt + DATA_SUFFIX, write_data)
        index = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "data_file": data_name,
            "data_sha256": digest["sha256"], "data_size": digest["size"],
            "global_step": None if global_step is None else int(global_step),
            "time": time.time(), "tensors": entries,
        }
        blob = _index_json(index).encode("utf-8")
        try:
            tmp_index = _write_temp(ckpt + INDEX_SUFFIX, lambda f: f.write(blob))
        except BaseException:
            _remove_quietly(tmp_data)
            raise
        try:
            os.replace(tmp_data, ckpt + DATA_SUFFIX)
            os.replace(tmp_index, ckpt + INDEX_SUFFIX)
        finally:
            _remove_quietly(tmp_data)
            _remove_quietly(tmp_index)
        _fsync_dir(parent)

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
        if not checkpoint_exists(save_path):
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


def _index_json(index):
    """The index as JSON, one line per field and per tensor (readable, diff-able)."""
    head = [" %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in index.items() if k != "tensors"]
    tensors = ["  " + json.dumps(t) for t in index["tensors"]]
    return "{\n" + ",\n".join(head) + ',\n "tensors": [\n' + ",\n".join(tensors) + "\n ]\n}\n"


class _HashingWriter:
    """A write-only file wrapper that hashes and counts what passes through
    (np.savez streams into it; zipfile sees a non-seekable stream)."""

    def __init__(self, f):
        self._f = f
        self._h = hashlib.sha256()
        self.size = 0

    def write(self, b):
        mv = memoryview(b)
        self._h.update(mv)
        self.size += mv.nbytes
        return self._f.write(b)

    def read(self, n=-1):
        raise io.UnsupportedOperation("write-only")

    def flush(self):
        self._f.flush()

    def tell(self):
        return self.size

    def seek(self, *args):
        raise io.UnsupportedOperation("not seekable")

    def seekable(self):
        return False

    def hexdigest(self):
        return self._h.hexdigest()
