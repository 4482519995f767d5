"""Checkpoint management: the ``checkpoint`` state file (latest_checkpoint,
get_checkpoint_state, update_checkpoint_state, ...) and reading the newest
checkpoint of a directory (load_checkpoint, list_variables, load_variable).

The ``checkpoint`` state file has TensorFlow's text format
(``model_checkpoint_path: "..."`` / ``all_model_checkpoint_paths: "..."``) and
is written atomically, after the checkpoint files it names.
"""
import logging
import os

from nbflow.train.checkpoint_io import (
    ALT_DATA_SUFFIX, DATA_SUFFIX, INDEX_SUFFIX, CheckpointReader, _atomic_write, _dir_lock, _fsync_dir, checkpoint_problem,
)

__all__ = [
    "CheckpointState", "load_checkpoint", "list_variables", "load_variable", "latest_checkpoint",
    "get_checkpoint_state", "checkpoint_exists", "update_checkpoint_state", "generate_checkpoint_state_proto",
    "get_checkpoint_mtimes", "remove_checkpoint",
]

_log = logging.getLogger("nbflow")


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
    with _dir_lock(os.path.dirname(path)):
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
    """True if a complete checkpoint with this prefix is on disk: its index is an
    nbflow index and its data file has the size and sha256 the index gives -- so
    exactly when ``Saver.restore`` can read it. (TF only looks for the index file;
    a checkpoint left half-written or half-deleted by a crash does not exist here.)
    The first call per data file reads it; later calls reuse that result while the
    file is unchanged."""
    if checkpoint_prefix is None:
        return False
    return checkpoint_problem(os.fspath(checkpoint_prefix)) is None


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint recorded in ``checkpoint_dir``, or None
    (also when the state file names a checkpoint that is missing or incomplete: an
    error is logged saying why)."""
    st = get_checkpoint_state(checkpoint_dir, latest_filename)
    if st and st.model_checkpoint_path:
        problem = checkpoint_problem(st.model_checkpoint_path)
        if problem is None:
            return st.model_checkpoint_path
        _log.error("Couldn't match files for checkpoint %s (%s)", st.model_checkpoint_path, problem)
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
    """Delete a checkpoint's files (missing files are ignored). The index goes first,
    so a crash part-way leaves a data file without an index (which the next save in
    the directory removes), never an index that names a missing data file."""
    with _dir_lock(os.path.dirname(checkpoint_prefix)):
        for suffix in (INDEX_SUFFIX, DATA_SUFFIX, ALT_DATA_SUFFIX, "." + meta_graph_suffix):
            try:
                os.remove(checkpoint_prefix + suffix)
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Reading the newest checkpoint of a directory
# ---------------------------------------------------------------------------

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


def list_variables(ckpt_dir_or_file):
    """Sorted [(name, shape)] of the tensors in a checkpoint."""
    reader = load_checkpoint(ckpt_dir_or_file)
    return sorted(reader.get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file, name):
    """The value (numpy array) of tensor ``name`` in a checkpoint."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)
