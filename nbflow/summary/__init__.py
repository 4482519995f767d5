"""tf.summary: TF 1.x's summary ops and FileWriter, and TF 2's summary API.

``scalar``, ``histogram``, ``image`` and ``text`` are one name each for both,
dispatched as TF 1.15 users of ``tf.summary`` and ``tf.compat.v2.summary``
expect: executing eagerly, inside a ``tf.function`` trace while a TF 2 default
writer is set, or when a TF 2 argument (``step=``, ``data=``, ``description=``,
``buckets=``) is passed, they are TF 2's (``scalar(name, data, step=None,
description=None)``: write to the default writer, return whether they wrote);
otherwise TF 1's (``scalar(name, tensor, collections=None, family=None)``: a
serialized-Summary op), unchanged. ``audio``, ``tensor_summary`` and ``merge``
are TF 1's. The TF 2 writers and state are in summary_v2.py, trace_on/export in
trace.py.

The protocol-buffer classes (``Summary``, ``Event``, ``SessionLog``,
``SummaryDescription``, ``TaggedRunMetadata``) are TensorBoard's own and are
imported on first use.
"""
import types as _types

from nbflow.summary import summary_ops as _v1
from nbflow.summary import summary_v2 as _v2
from nbflow.summary.summary_ops import audio, merge, merge_all, tensor_summary  # noqa: F401
from nbflow.summary.summary_v2 import (  # noqa: F401
    SummaryWriter, all_v2_summary_ops, create_file_writer, create_file_writer_v2, create_noop_writer, flush,
    record_if, should_record_summaries,
)
from nbflow.summary.trace import trace_export, trace_off, trace_on  # noqa: F401
from nbflow.summary.writer import FileWriter, FileWriterCache  # noqa: F401
from nbflow.summary import graph_def as _graph_def  # noqa: F401,E402  (registers Graph.as_graph_def)

__all__ = ["audio", "histogram", "image", "merge", "merge_all", "scalar", "tensor_summary", "text",
           "FileWriter", "FileWriterCache", "Summary", "Event", "SessionLog", "SummaryDescription",
           "TaggedRunMetadata", "SummaryMetadata", "HistogramProto", "SummaryWriter", "create_file_writer",
           "create_noop_writer", "flush", "record_if", "should_record_summaries", "trace_on", "trace_export",
           "trace_off", "experimental"]

#: tf.summary.experimental
experimental = _types.SimpleNamespace(set_step=_v2.set_step, get_step=_v2.get_step)

_V2_ARGS = frozenset(("step", "data", "description", "buckets"))
_V1_ARGS = frozenset(("collections", "family", "tensor", "values"))


def _is_v2(kwargs):
    if _V2_ARGS.intersection(kwargs):
        return True
    if _V1_ARGS.intersection(kwargs):
        return False
    from nbflow.framework import context

    return context.executing_eagerly() or (_v2.has_default_writer() and _v2.in_function_trace())


def _v1_data(kwargs, v1_name):
    """TF 2 code passing TF 1's argument name (or the reverse) still works."""
    if "data" in kwargs and v1_name not in kwargs:
        kwargs[v1_name] = kwargs.pop("data")
    return kwargs


def _v2_data(kwargs, v1_name):
    if v1_name in kwargs and "data" not in kwargs:
        kwargs["data"] = kwargs.pop(v1_name)
    return kwargs


def _v2_scalar(name, data, step=None, description=None):
    return _v2.write_v2("scalar", name, data, step, description)


def _v2_histogram(name, data, step=None, buckets=None, description=None):
    return _v2.write_v2("histogram", name, data, step, description, buckets=buckets)


def _v2_image(name, data, step=None, max_outputs=3, description=None):
    return _v2.write_v2("image", name, data, step, description, max_outputs=max_outputs)


def _v2_text(name, data, step=None, description=None):
    return _v2.write_v2("text", name, data, step, description)


def scalar(name, *args, **kwargs):
    """TF 2: ``scalar(name, data, step=None, description=None)``; TF 1:
    ``scalar(name, tensor, collections=None, family=None)`` (see the module docstring)."""
    if _is_v2(kwargs):
        return _v2_scalar(name, *args, **_v2_data(kwargs, "tensor"))
    return _v1.scalar(name, *args, **_v1_data(kwargs, "tensor"))


def histogram(name, *args, **kwargs):
    """TF 2: ``histogram(name, data, step=None, buckets=None, description=None)``; TF 1:
    ``histogram(name, values, collections=None, family=None)``."""
    if _is_v2(kwargs):
        return _v2_histogram(name, *args, **_v2_data(kwargs, "values"))
    return _v1.histogram(name, *args, **_v1_data(kwargs, "values"))


def image(name, *args, **kwargs):
    """TF 2: ``image(name, data, step=None, max_outputs=3, description=None)``; TF 1:
    ``image(name, tensor, max_outputs=3, collections=None, family=None)``."""
    if _is_v2(kwargs):
        return _v2_image(name, *args, **_v2_data(kwargs, "tensor"))
    return _v1.image(name, *args, **_v1_data(kwargs, "tensor"))


def text(name, *args, **kwargs):
    """TF 2: ``text(name, data, step=None, description=None)``; TF 1:
    ``text(name, tensor, collections=None)``."""
    if _is_v2(kwargs):
        return _v2_text(name, *args, **_v2_data(kwargs, "tensor"))
    return _v1.text(name, *args, **_v1_data(kwargs, "tensor"))


_PROTOS = {
    "Summary": ("summary_pb2", "Summary"),
    "SummaryDescription": ("summary_pb2", "SummaryDescription"),
    "SummaryMetadata": ("summary_pb2", "SummaryMetadata"),
    "HistogramProto": ("summary_pb2", "HistogramProto"),
    "Event": ("event_pb2", "Event"),
    "SessionLog": ("event_pb2", "SessionLog"),
    "TaggedRunMetadata": ("event_pb2", "TaggedRunMetadata"),
}


def __getattr__(name):
    if name in _PROTOS:
        import importlib

        mod, attr = _PROTOS[name]
        value = getattr(importlib.import_module("tensorboard.compat.proto." + mod), attr)
        globals()[name] = value
        return value
    raise AttributeError("module 'nbflow.summary' has no attribute %r" % name)
