"""The protocol-buffer classes TF 1.15 exposes at top level (``tf.NodeDef``,
``tf.GraphDef``, ``tf.Summary`` ...).

They are TensorBoard's copies of TensorFlow's messages (the ``tensorboard``
package, an nbflow dependency): the same fields and wire format, so a
``Graph.as_graph_def()`` is a ``tf.GraphDef`` and its bytes parse in
TensorFlow. Only the proto package differs (``tensorboard.NodeDef``, where
TensorFlow's is ``tensorflow.NodeDef``), which shows in ``DESCRIPTOR.full_name``
and ``Any`` type URLs.
Imported on first use. ``tf.ConfigProto``, ``tf.GPUOptions``, ``tf.RunOptions``
and ``tf.RunMetadata`` are nbflow's own classes (nbflow/runtime/session.py).
"""
import importlib

# tf.<name> -> (module under tensorboard.compat.proto, class)
PROTOS = {
    "NodeDef": ("node_def_pb2", "NodeDef"),
    "GraphDef": ("graph_pb2", "GraphDef"),
    "AttrValue": ("attr_value_pb2", "AttrValue"),
    "NameAttrList": ("attr_value_pb2", "NameAttrList"),
    "MetaGraphDef": ("meta_graph_pb2", "MetaGraphDef"),
    "TensorInfo": ("meta_graph_pb2", "TensorInfo"),
    "Summary": ("summary_pb2", "Summary"),
    "SummaryMetadata": ("summary_pb2", "SummaryMetadata"),
    "HistogramProto": ("summary_pb2", "HistogramProto"),
    "Event": ("event_pb2", "Event"),
    "SessionLog": ("event_pb2", "SessionLog"),
    "LogMessage": ("event_pb2", "LogMessage"),
}


def get(name):
    """The proto class TF exposes as ``tf.<name>``; KeyError for other names."""
    module, attr = PROTOS[name]
    return getattr(importlib.import_module("tensorboard.compat.proto." + module), attr)
