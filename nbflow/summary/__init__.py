"""tf.summary (TF 1.x): summary ops and the TensorBoard event-file writer.

The protocol-buffer classes (``Summary``, ``Event``, ``SessionLog``,
``SummaryDescription``, ``TaggedRunMetadata``) are TensorBoard's own and are
imported on first use.
"""
from nbflow.summary.summary_ops import (  # noqa: F401
    audio, histogram, image, merge, merge_all, scalar, tensor_summary, text,
)
from nbflow.summary.writer import FileWriter, FileWriterCache  # noqa: F401
from nbflow.summary import graph_def as _graph_def  # noqa: F401,E402  (registers Graph.as_graph_def)

__all__ = ["audio", "histogram", "image", "merge", "merge_all", "scalar", "tensor_summary", "text",
           "FileWriter", "FileWriterCache", "Summary", "Event", "SessionLog", "SummaryDescription",
           "TaggedRunMetadata", "SummaryMetadata", "HistogramProto"]

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
