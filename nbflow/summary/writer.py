"""tf.summary.FileWriter: Event protocol buffers appended to a TensorBoard event file.

Records are framed by TensorBoard's own ``RecordWriter`` (length, masked CRCs).
The file is ``events.out.tfevents.<unix time>.<hostname><suffix>`` in ``logdir``
(TF 1.x's name; if that file already exists, ``.<pid>.<n>`` is added before the
suffix so two writers never share a file). Events are written at once into a
buffered file; a background thread flushes it every ``flush_secs`` seconds, and
``flush()``/``close()`` (and interpreter exit) flush it too.
"""
import atexit
import itertools
import logging
import os
import socket
import threading
import time
import weakref

from nbflow.framework.graph import Graph, get_default_graph
from nbflow.summary.graph_def import graph_def as to_graph_def

_log = logging.getLogger("nbflow")
_open_writers = weakref.WeakSet()
_file_counter = itertools.count(1)


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


class _EventFile:
    """One open event file; thread-safe appends of serialized Event records."""

    def __init__(self, logdir, filename_suffix, flush_secs):
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(logdir, exist_ok=True)
        stamp = int(time.time())
        host = socket.gethostname()
        path = os.path.join(logdir, "events.out.tfevents.%010d.%s%s" % (stamp, host, filename_suffix))
        try:
            f = open(path, "xb")
        except FileExistsError:
            path = os.path.join(logdir, "events.out.tfevents.%010d.%s.%d.%d%s"
                                % (stamp, host, os.getpid(), next(_file_counter), filename_suffix))
            f = open(path, "xb")
        self.path = path
        self._file = f
        self._records = RecordWriter(f)
        self._lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._thread = None
        if flush_secs and flush_secs > 0:
            self._thread = threading.Thread(target=self._flush_loop, args=(float(flush_secs),),
                                            name="nbflow-FileWriter-flush", daemon=True)
            self._thread.start()

    def _flush_loop(self, every):
        while not self._stop.wait(every):
            self.flush()

    def write(self, data):
        with self._lock:
            if self._closed:
                return False
            self._records.write(data)
            return True

    def flush(self):
        with self._lock:
            if not self._closed:
                self._file.flush()

    def close(self):
        self._stop.set()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._file.flush()
            try:
                os.fsync(self._file.fileno())
            except OSError:
                pass
            self._file.close()
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
        event_pb2, _ = _protos()
        self.add_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self.flush()
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
