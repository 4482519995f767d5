"""tf.summary.FileWriter: Event protocol buffers appended to a TensorBoard event file.

Records are framed by TensorBoard's own ``RecordWriter`` (length, masked CRCs).
The file is ``events.out.tfevents.<unix time>.<hostname><suffix>`` in ``logdir``
(TF 1.x's name; if that file already exists, ``.<pid>.<n>`` is added before the
suffix so two writers never share a file). Events are written at once into a
buffered file; a background thread flushes it every ``flush_secs`` seconds, and
``flush()``/``close()`` (and interpreter exit) flush it too.

Errors are TF's: a log directory or event file that cannot be created raises the
TF error class of its errno at construction (``PermissionDeniedError``,
``FailedPreconditionError``, ...), as TF's ``gfile.MakeDirs`` does. A write or
flush that fails later (a full disk: ``ResourceExhaustedError``) is logged once
and never raised into the training loop, like TF's writer thread, which logs and
goes on: events are dropped from then on, and a new event file is tried every
``_RETRY_SECS`` seconds; once one can be written, events go there (a warning
says so and how many were lost).
"""
import atexit
import itertools
import logging
import os
import socket
import threading
import time
import weakref

from nbflow.framework import errors
from nbflow.framework.graph import Graph, get_default_graph
from nbflow.summary.graph_def import graph_def as to_graph_def

_log = logging.getLogger("nbflow")
_open_writers = weakref.WeakSet()
_file_counter = itertools.count(1)
_RETRY_SECS = 10.0  # after a failed write, how often a new event file is tried


def _flush_open_writers():
    for w in list(_open_writers):
        try:
            w.flush()
        except Exception:  # best effort at exit
            pass


atexit.register(_flush_open_writers)


def _protos():
    from tensorboard.compat.proto import event_pb2, summary_pb2

    return event_pb2, summary_pb2


def _close_quietly(f):
    try:
        f.close()
    except OSError:  # the buffer could not be written either: it is lost
        pass


class _EventFile:
    """The event file of one FileWriter (a new one after a failure); thread-safe
    appends of serialized Event records. Write failures are logged, not raised."""

    def __init__(self, logdir, filename_suffix, flush_secs):
        self._logdir = logdir
        self._suffix = filename_suffix
        self._lock = threading.Lock()
        self._closed = False
        self._failed = None  # the error that stopped writing (None: writing)
        self._dropped = 0
        self._next_retry = 0.0
        try:
            os.makedirs(logdir, exist_ok=True)
        except FileExistsError:  # a file by that name: creating the event file says why
            pass
        except OSError as e:
            raise errors._from_os_error(e, "Cannot create the log directory %s" % logdir) from None
        path, f = self._create()
        self._start(path, f)
        self._stop = threading.Event()
        self._thread = None
        if flush_secs and flush_secs > 0:
            self._thread = threading.Thread(target=self._flush_loop, args=(float(flush_secs),),
                                            name="nbflow-FileWriter-flush", daemon=True)
            self._thread.start()

    def _create(self):
        """A new event file, open for writing: (path, file). Raises the TF error."""
        stamp = int(time.time())
        host = socket.gethostname()
        path = os.path.join(self._logdir, "events.out.tfevents.%010d.%s%s" % (stamp, host, self._suffix))
        try:
            try:
                f = open(path, "xb")
            except FileExistsError:
                path = os.path.join(self._logdir, "events.out.tfevents.%010d.%s.%d.%d%s"
                                    % (stamp, host, os.getpid(), next(_file_counter), self._suffix))
                f = open(path, "xb")
        except OSError as e:
            raise errors._from_os_error(e, "Cannot create the event file %s" % path) from None
        return path, f

    def _start(self, path, f):
        """Begin ``f`` with the file_version event (TF's first record of every event file)
        and flush it. Returns False (and the failure is recorded) if that fails."""
        from tensorboard.summary.writer.record_writer import RecordWriter

        event_pb2, _ = _protos()
        self.path = path
        self._file = f
        self._records = RecordWriter(f)
        try:
            self._records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
                                .SerializeToString())
            f.flush()
        except OSError as e:
            self._fail(e, "writing to")
            return False
        return True

    def _fail(self, err, doing):
        """A write or flush failed (called holding the lock, or from __init__): log the
        first failure, close the file (unflushed events are lost), drop until a retry works."""
        if self._failed is None:
            e = errors._from_os_error(err, "%s the event file %s failed" % (doing, self.path))
            _log.error("FileWriter: %s: %s. Training goes on, but events are dropped until a new event file "
                       "can be written (tried every %g s)", type(e).__name__, e, _RETRY_SECS)
            self._failed = e
        if self._file is not None:
            _close_quietly(self._file)
            self._file = None
        self._next_retry = time.monotonic() + _RETRY_SECS

    def _retry(self):
        """While failed: at most every _RETRY_SECS, try a new event file. True if writing works again."""
        if time.monotonic() < self._next_retry:
            return False
        self._next_retry = time.monotonic() + _RETRY_SECS
        try:
            path, f = self._create()
        except errors.OpError:
            return False
        failed_path = self.path
        if not self._start(path, f):  # it cannot be written either: leave no empty file behind
            self.path = failed_path
            try:
                os.remove(path)
            except OSError:
                pass
            return False
        _log.warning("FileWriter: writing events again, to %s (%d events were dropped since %s failed)",
                     path, self._dropped, failed_path)
        self._failed = None
        self._dropped = 0
        return True

    def _flush_loop(self, every):
        while not self._stop.wait(every):
            self.flush()

    def write(self, data):
        with self._lock:
            if self._closed:
                return False
            if self._failed is not None and not self._retry():
                self._dropped += 1
                return True
            try:
                self._records.write(data)
            except OSError as e:
                self._dropped += 1
                self._fail(e, "writing to")
            return True

    def flush(self):
        with self._lock:
            if self._closed or self._file is None:
                return
            try:
                self._file.flush()
            except OSError as e:
                self._fail(e, "flushing")

    def close(self):
        self._stop.set()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._file is not None:
                try:
                    self._file.flush()
                    try:
                        os.fsync(self._file.fileno())
                    except OSError:
                        pass
                    self._file.close()
                except OSError as e:
                    self._fail(e, "closing")
                self._file = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class FileWriter:
    """Writes Summary protocol buffers, graphs and session logs to event files.

    ``FileWriter(logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None,
    filename_suffix=None, session=None)``. ``graph`` (or the deprecated
    ``graph_def``) is written at once for TensorBoard's graph view.
    """

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None,
                 filename_suffix=None, session=None):
        if session is not None:
            raise NotImplementedError("FileWriter(session=...) (summary writers living in a session) is not "
                                      "supported by nbflow; pass a log directory")
        self._logdir = os.fspath(logdir)
        self._flush_secs = flush_secs
        self._suffix = filename_suffix or ""
        self._seen_summary_tags = set()
        self._file = _EventFile(self._logdir, self._suffix, flush_secs)
        _open_writers.add(self)
        if graph is not None or graph_def is not None:
            self.add_graph(graph=graph, graph_def=graph_def)

    # -- where -------------------------------------------------------------------
    def get_logdir(self):
        """The directory the event file is written in."""
        return self._logdir

    @property
    def event_file_path(self):
        """The path of the current event file (nbflow extension)."""
        return self._file.path

    # -- writing -------------------------------------------------------------------
    def add_event(self, event):
        """Append one Event proto. Events added after ``close()`` are dropped (as TF 1.x),
        with a warning."""
        if not self._file.write(event.SerializeToString()):
            _log.warning("FileWriter for %s is closed; event dropped (call reopen() first)", self._logdir)

    def _add(self, step, **fields):
        event_pb2, _ = _protos()
        ev = event_pb2.Event(wall_time=time.time(), **fields)
        if step is not None:
            ev.step = int(step)
        self.add_event(ev)

    def add_summary(self, summary, global_step=None):
        """Add a Summary: the ``bytes`` a summary op returns, or a Summary proto."""
        _, summary_pb2 = _protos()
        if isinstance(summary, (bytes, bytearray)):
            parsed = summary_pb2.Summary()
            try:
                parsed.ParseFromString(bytes(summary))
            except Exception as e:  # protobuf's DecodeError
                raise ValueError("add_summary: the bytes are not a serialized Summary proto (%s)" % e) from None
            summary = parsed
        elif hasattr(summary, "ndim") and getattr(summary, "dtype", None) is not None and summary.ndim == 0:
            return self.add_summary(summary[()], global_step)
        elif not isinstance(summary, summary_pb2.Summary):
            raise TypeError("add_summary expects a serialized Summary (bytes) or a Summary proto, got %r"
                            % (type(summary),))
        # Metadata is stored only with the first value of each tag (as TF).
        for value in summary.value:
            if not value.HasField("metadata"):
                continue
            if value.tag in self._seen_summary_tags:
                value.ClearField("metadata")
                continue
            self._seen_summary_tags.add(value.tag)
        self._add(global_step, summary=summary)

    def add_graph(self, graph, global_step=None, graph_def=None):
        """Write ``graph`` (an nbflow Graph) -- or a GraphDef proto -- for the graph view."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        from tensorboard.compat.proto import graph_pb2

        if graph is not None:
            if isinstance(graph, graph_pb2.GraphDef):
                gd = graph
            else:
                if not isinstance(graph, Graph):
                    raise TypeError("add_graph expects a tf.Graph or a GraphDef, got %r" % (type(graph),))
                gd = to_graph_def(graph)
        elif graph_def is not None:
            if not isinstance(graph_def, graph_pb2.GraphDef):
                raise TypeError("graph_def must be a GraphDef proto, got %r" % (type(graph_def),))
            gd = graph_def
        else:
            raise ValueError("add_graph needs a graph")
        self._add(global_step, graph_def=gd.SerializeToString())

    def add_meta_graph(self, meta_graph_def, global_step=None):
        from tensorboard.compat.proto import meta_graph_pb2

        if not isinstance(meta_graph_def, meta_graph_pb2.MetaGraphDef):
            raise TypeError("meta_graph_def must be type MetaGraphDef, saw type: %s" % type(meta_graph_def))
        self._add(global_step, meta_graph_def=meta_graph_def.SerializeToString())

    def add_session_log(self, session_log, global_step=None):
        self._add(global_step, session_log=session_log)

    def add_run_metadata(self, run_metadata, tag, global_step=None):
        """Write run metadata under ``tag``. nbflow records no step statistics, so
        unless ``run_metadata`` is a RunMetadata proto, an empty one is written."""
        from tensorboard.compat.proto import config_pb2
        event_pb2, _ = _protos()

        rm = run_metadata if isinstance(run_metadata, config_pb2.RunMetadata) else config_pb2.RunMetadata()
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=rm.SerializeToString())
        self._add(global_step, tagged_run_metadata=tagged)

    # -- lifecycle -------------------------------------------------------------------
    def flush(self):
        """Make everything added so far readable on disk."""
        self._file.flush()

    def close(self):
        """Flush and close the event file; further events are dropped until ``reopen()``."""
        self._file.close()
        _open_writers.discard(self)

    def reopen(self):
        """After ``close()``: continue in a new event file in the same directory."""
        if self._file._closed:
            self._file = _EventFile(self._logdir, self._suffix, self._flush_secs)
            _open_writers.add(self)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        return "<tf.summary.FileWriter logdir=%r>" % self._logdir


class FileWriterCache:
    """One shared FileWriter per log directory."""

    _cache = {}
    _lock = threading.RLock()

    @staticmethod
    def get(logdir):
        with FileWriterCache._lock:
            w = FileWriterCache._cache.get(logdir)
            if w is None:
                w = FileWriter(logdir, graph=get_default_graph())
                FileWriterCache._cache[logdir] = w
            return w

    @staticmethod
    def clear():
        with FileWriterCache._lock:
            for w in FileWriterCache._cache.values():
                w.close()
            FileWriterCache._cache.clear()
