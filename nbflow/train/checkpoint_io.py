"""The nbflow checkpoint files: their format, atomic writes and the reader.

The on-disk format is nbflow's own (docs/CHECKPOINTS.md): a checkpoint with
prefix ``P`` is two files,

* ``P.npz``   -- the values, an uncompressed numpy ``.npz`` archive (keys t0, t1, ...);
* ``P.index`` -- JSON: for each tensor its checkpoint name, key, dtype and shape,
  plus the size and sha256 of ``P.npz``.

Every file is written to a temporary file in the same directory, flushed,
fsync'ed and then renamed over the target (tf.train.Saver, in saver.py, writes
the index last). Writers of one directory hold its lock (``_dir_lock``), so that
temp files and half-renamed checkpoints found while holding it are debris of a
writer that died (``_remove_debris``). TensorFlow's own checkpoint files cannot
be read (a clear error says so).
"""
import contextlib
import hashlib
import io
import json
import os
import re
import threading

try:
    import fcntl
except ImportError:  # not POSIX: no directory locks, so no clean-up of crash debris
    fcntl = None

import numpy as np

from nbflow.framework import dtypes, errors

__all__ = ["CheckpointReader", "NewCheckpointReader"]

FORMAT_NAME = "nbflow-checkpoint"
FORMAT_VERSION = 1
INDEX_SUFFIX = ".index"
DATA_SUFFIX = ".npz"
#: the data file's other name: a prefix written over (Keras' save_weights to one path)
#: alternates between the two, so its old data file stays until the new index names the new one
ALT_DATA_SUFFIX = ".alt.npz"
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


# Temp files are ".<final name>.tmp-<12 hex digits>" (_write_temp).
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-[0-9a-f]{12}$")


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


# ---------------------------------------------------------------------------
# The directory lock and crash debris
# ---------------------------------------------------------------------------

_held_locks = threading.local()


@contextlib.contextmanager
def _dir_lock(directory, blocking=True):
    """Hold an exclusive advisory lock (``flock``) on ``directory`` while writing
    checkpoint files there; yields True when held.

    Every nbflow writer of checkpoint files (save, the state file, deleting old
    checkpoints) holds it from its first temp file to its last rename, so whoever
    holds it knows that no live writer has files in flight there. The kernel drops
    the lock of a killed process. Re-entrant per thread; threads and processes
    wait for each other. Yields False (and the caller goes on unlocked) where
    directories cannot be locked (no ``fcntl``, some network file systems), or
    when ``blocking=False`` and another writer holds it."""
    key = os.path.realpath(directory or ".")
    held = getattr(_held_locks, "dirs", None)
    if held is None:
        held = _held_locks.dirs = {}
    if key in held:
        held[key] += 1
        try:
            yield True
        finally:
            held[key] -= 1
        return
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(key, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError:
            if fd is not None:
                os.close(fd)
            fd = None
    if fd is None:
        yield False
        return
    held[key] = 1
    try:
        yield True
    finally:
        del held[key]
        os.close(fd)  # releases the lock


def _family_re(base):
    """File prefixes of one checkpoint family: ``base`` and ``base-<step>``."""
    return re.compile(r"^%s(?:-\d+)?$" % re.escape(base))


def _remove_debris(directory, base, state_names=("checkpoint",)):
    """Remove what writers that died left in ``directory``. Call only while holding
    ``_dir_lock(directory)``: then nothing here is in flight.

    * temp files of checkpoint files and of the state files ``state_names``;
    * in the family of ``base`` (``base``, ``base-<step>``): a data file whose index
      is missing (a save killed between its renames, or a delete killed between its
      removals), and an nbflow index whose data file is missing.

    Other files are never touched. Returns the names removed."""
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    present = set(names)
    family = _family_re(base)
    removed = []
    for f in names:
        m = _TEMP_RE.match(f)
        if m:
            target = m.group("name")
            if target.endswith((DATA_SUFFIX, INDEX_SUFFIX)) or target in state_names:
                removed.append(f)
            continue
        suffix = ALT_DATA_SUFFIX if f.endswith(ALT_DATA_SUFFIX) else DATA_SUFFIX
        if f.endswith(suffix) and family.match(f[: -len(suffix)]):
            stem = f[: -len(suffix)]
            if stem + INDEX_SUFFIX not in present:
                removed.append(f)
            elif _indexed_data_name(os.path.join(directory, stem)) not in (None, f):
                removed.append(f)  # the other name of an overwritten prefix: its index names the new one
        elif f.endswith(INDEX_SUFFIX) and family.match(f[: -len(INDEX_SUFFIX)]):
            prefix = os.path.join(directory, f[: -len(INDEX_SUFFIX)])
            try:
                reader = CheckpointReader(prefix)
            except Exception:  # not nbflow's (TensorFlow's, damaged): not ours to judge
                continue
            if not os.path.exists(reader.data_path):
                removed.append(f)
    for f in removed:
        _remove_quietly(os.path.join(directory, f))
    return removed


def _indexed_data_name(prefix):
    """The data file name an nbflow index names, or None (no index, or not ours)."""
    try:
        with open(prefix + INDEX_SUFFIX, "rb") as f:
            index = json.loads(f.read().decode("utf-8"))
        return os.path.basename(index["data_file"]) if index.get("format") == FORMAT_NAME else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def _write_npz(fileobj, arrays):
    """The data file's bytes: an uncompressed .npz (a module-level function so
    tests can make a save fail half-way)."""
    np.savez(fileobj, **arrays)

# ---------------------------------------------------------------------------
# Writing the index (the data file is streamed through _HashingWriter)
# ---------------------------------------------------------------------------

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


def write_checkpoint_files(ckpt, arrays, entries, index_extra=None, write_npz=None):
    """Write checkpoint ``ckpt``'s data and index files (call holding ``_dir_lock``).

    ``arrays``: {key: C-contiguous array}; ``entries``: the index's tensor records
    (name, key, dtype, shape); ``index_extra``: more index fields. Both files are
    complete on disk (as fsync'ed temp files) before either is renamed into place,
    the index last, so a failure before the renames changes nothing, and a crash
    between them leaves a data file without an index (debris, removed by the next
    writer), never an index beside a data file it does not describe. Writing over an
    existing prefix puts the new data under the other name (``ALT_DATA_SUFFIX``) and
    renames the index over the old one: at every moment the prefix is the old
    checkpoint or the new one, whole."""
    import time

    parent = os.path.dirname(ckpt)
    # Overwriting a prefix: the new data goes under the name the old index does not
    # use, so the old checkpoint stays whole until the index (one rename) switches over
    old_data = _indexed_data_name(ckpt) if os.path.lexists(ckpt + INDEX_SUFFIX) else None
    base = os.path.basename(ckpt)
    data_name = base + (ALT_DATA_SUFFIX if old_data == base + DATA_SUFFIX else DATA_SUFFIX)
    digest = {}
    write_npz = write_npz or _write_npz

    def write_data(f):
        h = _HashingWriter(f)
        write_npz(h, arrays)
        digest["sha256"], digest["size"] = h.hexdigest(), h.size

    tmp_data = _write_temp(os.path.join(parent, data_name), write_data)
    index = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "data_file": data_name,
             "data_sha256": digest["sha256"], "data_size": digest["size"]}
    index.update(index_extra or {})
    index["time"] = time.time()
    index["tensors"] = entries
    blob = _index_json(index).encode("utf-8")
    try:
        tmp_index = _write_temp(ckpt + INDEX_SUFFIX, lambda f: f.write(blob))
    except BaseException:
        _remove_quietly(tmp_data)
        raise
    try:
        os.replace(tmp_data, os.path.join(parent, data_name))
        os.replace(tmp_index, ckpt + INDEX_SUFFIX)  # the switch: old data + old index -> new + new
    finally:
        _remove_quietly(tmp_data)
        _remove_quietly(tmp_index)
    if old_data is not None and old_data != data_name:
        _remove_quietly(os.path.join(parent, old_data))
    _fsync_dir(parent)


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

    def _data_problem(self):
        """None if the data file is complete (its size and sha256 match the index),
        else a DataLossError. Reads the file in chunks; a success is remembered
        per file identity (inode, size, times), so asking again costs one stat."""
        path = self.data_path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return errors.DataLossError(
                None, None, "Checkpoint data file %s is missing (its index %s exists)" % (path, self.index_path))
        except OSError as e:
            return errors.DataLossError(None, None, "Cannot read checkpoint data file %s: %s" % (path, e))
        key = (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
               self._data_sha, self._data_size)
        if key in _verified:
            return None
        if st.st_size == self._data_size:
            h = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            except OSError as e:
                return errors.DataLossError(None, None, "Cannot read checkpoint data file %s: %s" % (path, e))
            if h.hexdigest() == self._data_sha:
                if len(_verified) > 256:
                    _verified.clear()
                _verified[key] = True
                return None
        return errors.DataLossError(
            None, None, "Checkpoint data file %s is truncated or corrupted (%d bytes, expected %d; "
            "sha256 does not match its index)" % (path, st.st_size, self._data_size))

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


_verified = {}  # data files whose sha256 matched their index (CheckpointReader._data_problem)


def checkpoint_problem(prefix):
    """None if ``prefix`` names a complete checkpoint -- its index is an nbflow index
    and its data file matches the size and sha256 the index gives -- else the error
    (an OpError) restoring it would raise."""
    if not os.path.isfile(prefix + INDEX_SUFFIX):
        return errors.NotFoundError(None, None, "no checkpoint index %s" % (prefix + INDEX_SUFFIX))
    try:
        reader = CheckpointReader(prefix)
    except errors.OpError as e:
        return e
    return reader._data_problem()


def NewCheckpointReader(filepattern):
    return CheckpointReader(filepattern)
