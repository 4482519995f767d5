"""The nbflow checkpoint files: their format, atomic writes and the reader.

The on-disk format is nbflow's own (docs/CHECKPOINTS.md): a checkpoint with
prefix ``P`` is two files,

* ``P.npz``   -- the values, an uncompressed numpy ``.npz`` archive (keys t0, t1, ...);
* ``P.index`` -- JSON: for each tensor its checkpoint name, key, dtype and shape,
  plus the size and sha256 of ``P.npz``.

Every file is written to a temporary file in the same directory, flushed,
fsync'ed and then renamed over the target (tf.train.Saver, in saver.py, writes
the index last). TensorFlow's own checkpoint files cannot be read (a clear
error says so).
"""
import hashlib
import io
import json
import os

import numpy as np

from nbflow.framework import dtypes, errors

__all__ = ["CheckpointReader", "NewCheckpointReader"]

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


def NewCheckpointReader(filepattern):
    return CheckpointReader(filepattern)
