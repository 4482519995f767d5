"""TF 2 summaries: ``tf.summary.create_file_writer``, default writers and steps,
``record_if``, and the writes of ``tf.summary.scalar/histogram/image/text(name, data, step=)``.

The default writer, the default step and the recording condition are
thread-local, as TF 2's summary state. A write finds the default writer
(none: nothing is written and False is returned, as TF 2 does) and the step
(``step=``, else the default step; neither: TF's ValueError), then:

* executing eagerly, it builds TF 2's Summary value (a tensor summary with the
  plugin's metadata: plugin "scalars" with a float32 scalar, "histograms" with
  float64 [k, 3] buckets, "images" with [width, height, PNG...] strings, "text"
  with the strings) and writes it to the writer's event file at once; it
  returns True as an eager bool tensor;
* building a graph (a ``tf.function`` trace, or a TF 1 graph when ``step=`` is
  given), it adds a stateful ``WriteSummaryV2`` op (nbflow/ops/summary_ops.py)
  that names the writer of trace time and reads the step (a variable, a tensor)
  and the recording condition when the plan runs; its output is the bool.

A file writer appends to ``events.out.tfevents.<time>.<host><suffix>`` (suffix
".v2" by default) through tf.summary.FileWriter's event file (writer.py):
buffered, flushed every ``flush_millis``, after ``max_queue`` events, on
``flush()``, ``close()`` and at exit.
"""
import contextlib
import logging
import os
import threading
import time

import numpy as np

from nbflow.framework import context, dtypes
from nbflow.framework.graph import get_default_graph, name_scope
from nbflow.ops import math_ops
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.constant_op import constant
from nbflow.ops.summary_ops import WriteSummaryV2, register_writer
from nbflow.summary.summary_ops import clean_tag
from nbflow.summary.writer import _EventFile, _open_writers

__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "flush", "record_if",
           "should_record_summaries", "set_step", "get_step", "write_v2"]

_log = logging.getLogger("nbflow")

#: the graph collection of the WriteSummaryV2 ops built in TF 1 graphs (tf.compat.v1.summary.all_v2_summary_ops)
V2_SUMMARY_OPS = "_SUMMARY_V2"


class _SummaryState(threading.local):
    def __init__(self):
        self.writer = None
        self.step = None
        self.is_recording = True


_state = _SummaryState()


# -- writers --------------------------------------------------------------------------------

class SummaryWriter:
    """The interface of TF 2's summary writers (``tf.summary.SummaryWriter``)."""

    def set_as_default(self, step=None):
        """Make this the default writer (and ``step``, if given, the default step) from now on."""
        _state.writer = self
        if step is not None:
            _state.step = step

    @contextlib.contextmanager
    def as_default(self, step=None):
        """The default writer (and, if ``step`` is given, the default step) inside the block;
        the previous ones after it, when the writer is also flushed."""
        old_writer, old_step = _state.writer, _state.step
        _state.writer = self
        if step is not None:
            _state.step = step
        try:
            yield self
        finally:
            _state.writer, _state.step = old_writer, old_step
            self.flush()

    def init(self):
        """Nothing to do: the event file is created with the writer."""

    def flush(self):
        """Nothing buffered (the no-op writer; file writers override it)."""

    def close(self):
        """Nothing open (the no-op writer; file writers override it)."""


class _NoopWriter(SummaryWriter):
    """``tf.summary.create_noop_writer()``: a default writer that writes nothing."""

    def __repr__(self):
        return "<tf.summary noop writer>"


class _FileWriterV2(SummaryWriter):
    def __init__(self, logdir, max_queue, flush_millis, filename_suffix, name):
        self._logdir = os.fspath(logdir)
        self._max_queue = 10 if max_queue is None else int(max_queue)
        flush_secs = (120000 if flush_millis is None else flush_millis) / 1000.0
        self._file = _EventFile(self._logdir, ".v2" if filename_suffix is None else filename_suffix, flush_secs)
        self._name = name
        self._lock = threading.Lock()
        self._pending = 0
        self._seen_tags = set()
        self._id = register_writer(self)  # the write ops built for this writer name it by this id
        _open_writers.add(self)

    @property
    def logdir(self):
        return self._logdir

    @property
    def event_file_path(self):
        return self._file.path

    def _write_event(self, **fields):
        from tensorboard.compat.proto import event_pb2

        step = fields.pop("step", None)
        ev = event_pb2.Event(wall_time=time.time(), **fields)
        if step is not None:
            ev.step = int(step)
        self._file.write(ev.SerializeToString())
        self._pending += 1
        if self._pending >= self._max_queue:
            self._pending = 0
            self._file.flush()

    def _write_summary(self, summary, step):
        """Append ``summary`` (a Summary proto) at ``step``; its metadata is kept only with the
        first value of each tag, as TF's writers do. Called by the write ops too."""
        with self._lock:
            for value in summary.value:
                if value.tag in self._seen_tags:
                    value.ClearField("metadata")
                else:
                    self._seen_tags.add(value.tag)
            self._write_event(step=step, summary=summary)

    def flush(self):
        with self._lock:
            self._pending = 0
            self._file.flush()

    def close(self):
        """Flush and close the event file; later writes are dropped."""
        with self._lock:
            self._file.close()
        _open_writers.discard(self)

    def __repr__(self):
        return "<tf.summary file writer logdir=%r>" % self._logdir


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None,
                       experimental_trackable=False):
    """A summary writer appending to a new event file in ``logdir`` (made if missing)."""
    if logdir is None:
        raise ValueError("logdir cannot be None")
    return _FileWriterV2(logdir, max_queue, flush_millis, filename_suffix, name)


create_file_writer_v2 = create_file_writer


def create_noop_writer():
    return _NoopWriter()


def flush(writer=None, name=None):
    """Flush ``writer`` (default: the default writer)."""
    writer = _state.writer if writer is None else writer
    if writer is not None:
        writer.flush()


# -- step and recording condition ------------------------------------------------------------------

def set_step(step):
    """The default step of the writes (an int, a variable or a tensor; None clears it)."""
    _state.step = step


def get_step():
    return _state.step


@contextlib.contextmanager
def record_if(condition):
    """Write summaries in the block only where ``condition`` holds: a bool, a bool tensor
    or a callable returning one (evaluated at each write; inside a tf.function, a tensor
    is read when the function runs)."""
    old = _state.is_recording
    _state.is_recording = condition
    try:
        yield
    finally:
        _state.is_recording = old


def _recording_condition():
    cond = _state.is_recording
    return cond() if callable(cond) else cond


def should_record_summaries():
    """Whether a write here would be recorded: a default writer exists (not the no-op one)
    and the recording condition holds. A bool tensor."""
    writer = _state.writer
    if writer is None or isinstance(writer, _NoopWriter):
        return constant(False)
    cond = _recording_condition()
    if isinstance(cond, (bool, np.bool_)):
        return constant(bool(cond))
    return math_ops.cast(convert_to_tensor(cond), dtypes.bool_)


# -- writes ---------------------------------------------------------------------------------------

def in_function_trace():
    """True while a graph that captures eager values (a tf.function's FuncGraph) is built."""
    return bool(context._default_graph_stack) and context.eager_enabled() and \
        hasattr(get_default_graph(), "capture_variable")


def has_default_writer():
    return _state.writer is not None


def _tag(name):
    """TF 2's summary tag: the current name scope + name (never uniquified)."""
    if context.executing_eagerly():
        prefix = context.eager_name_scope_stack()
    else:
        prefix = get_default_graph().get_name_scope()
        prefix = prefix + "/" if prefix else ""
    return clean_tag(prefix + name)


def _metadata(kind, description):
    import importlib

    plugin = {"scalar": "scalar", "histogram": "histogram", "image": "image", "text": "text"}[kind]
    meta = importlib.import_module("tensorboard.plugins.%s.metadata" % plugin)
    return meta.create_summary_metadata(display_name=None, description=description)


def write_v2(kind, name, data, step=None, description=None, buckets=None, max_outputs=3):
    """The write of ``tf.summary.<kind>`` (TF 2): True (a bool tensor) if it was written."""
    writer = _state.writer
    if writer is None or isinstance(writer, _NoopWriter):
        return constant(False)
    if step is None:
        step = _state.step
        if step is None:
            raise ValueError("No step set. Please specify one either through the `step` argument or "
                             "through tf.summary.experimental.set_step()")
    if kind == "image" and int(max_outputs) < 1:
        raise ValueError("max_outputs must be >= 1, got %d" % max_outputs)
    tag = _tag(name)
    metadata = _metadata(kind, description)
    cond = _recording_condition()
    if context.executing_eagerly():
        from nbflow.backends.cpu.summary import v2_summary

        if not bool(np.asarray(cond)):
            return constant(False)
        value = np.asarray(convert_to_tensor(data))
        if kind != "text" and value.dtype == object:
            raise TypeError("tf.summary.%s(%r): data must be numeric, got strings" % (kind, name))
        step_value = int(np.asarray(step))
        writer._write_summary(v2_summary(kind, tag, value, metadata, buckets, max_outputs), step_value)
        return constant(True)
    with name_scope(name, default_name="%s_summary" % kind) as scope:
        data_t = convert_to_tensor(data)  # the kernel casts a scalar to float32, as TF 2
        step_t = convert_to_tensor(step)
        if step_t.dtype is not dtypes.int64:
            step_t = math_ops.cast(step_t, dtypes.int64)
        if isinstance(cond, (bool, np.bool_)):
            cond_t = constant(bool(cond))
        else:
            cond_t = convert_to_tensor(cond)
            if cond_t.dtype is not dtypes.bool_:
                cond_t = math_ops.cast(cond_t, dtypes.bool_)
        out = apply_op(WriteSummaryV2, [step_t, data_t, cond_t],
                       {"writer_id": writer._id, "tag": tag, "kind": kind,
                        "metadata": metadata.SerializeToString(),
                        "buckets": -1 if buckets is None else int(buckets), "max_outputs": int(max_outputs)},
                       name=scope.rstrip("/") or "write_summary")
    if not in_function_trace():
        out.graph.add_to_collection(V2_SUMMARY_OPS, out.op)
    return out


def all_v2_summary_ops():
    """The v2 write ops built in the default (TF 1) graph."""
    if context.executing_eagerly():
        return None
    return get_default_graph().get_collection(V2_SUMMARY_OPS)

