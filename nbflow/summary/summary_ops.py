"""TF 1.x ``tf.summary.scalar/histogram/image/audio/text/merge``: build summary ops.

Each adds a stateful op (its type in nbflow/ops/summary_ops.py) whose output is
a 0-d string tensor holding a serialized ``Summary`` protocol buffer, computed
when ``Session.run`` fetches it (fetched, it is ``bytes``, as in TF).
``FileWriter.add_summary`` writes it.
"""
import contextlib
import logging
import re

import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import GraphKeys, get_default_graph, name_scope
from nbflow.ops.array_ops import reshape
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.constant_op import constant
from nbflow.ops.summary_ops import (
    AudioSummaryV2, HistogramSummary, ImageSummary, MergeSummary, ScalarSummary, TensorSummaryV2,
)

__all__ = ["scalar", "histogram", "image", "audio", "text", "tensor_summary", "merge", "merge_all"]

_log = logging.getLogger("nbflow")
_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w\.]")


def _summary_pb2():
    from tensorboard.compat.proto import summary_pb2

    return summary_pb2


# -- naming -------------------------------------------------------------------

def clean_tag(name):
    """Replace characters TensorBoard cannot use in a tag by '_' (and drop leading '/')."""
    if name is None:
        return None
    new = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
    if new != name:
        _log.info("Summary name %s is illegal; using %s instead.", name, new)
    return new


@contextlib.contextmanager
def summary_scope(name, family=None, default_name=None, values=None):
    """Yields (tag, scope): the scope is a fresh name scope for the summary op, the
    tag is that scope without its trailing '/', prefixed by ``family`` if given."""
    name = clean_tag(name)
    family = clean_tag(family)
    base = name if family is None else "%s/%s" % (family, name)
    with name_scope(base, default_name, values=values) as scope:
        tag = scope.rstrip("/")
        if family is not None:
            tag = "%s/%s" % (family, tag)
        yield tag, scope


def _collect(val, collections, default):
    if collections is None:
        collections = default
    for key in collections:
        val.graph.add_to_collection(key, val)


# -- public functions ------------------------------------------------------------------

def _tag_const(tag, name):
    return constant(tag, dtype=dtypes.string, name=name)


def scalar(name, tensor, collections=None, family=None):
    """A summary of one real number: ``tensor`` must hold a single value."""
    tensor = convert_to_tensor(tensor)
    if tensor.shape.ndims is not None and tensor.shape.num_elements() not in (None, 1):
        raise ValueError("tf.summary.scalar(%r): the tensor must hold a single value, got shape %s"
                         % (name, tensor.shape))
    with summary_scope(name, family, values=[tensor]) as (tag, scope):
        if tensor.shape.ndims not in (None, 0):
            tensor = reshape(tensor, [])
        val = apply_op(ScalarSummary, [_tag_const(tag, "tags"), tensor], name=scope)
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def histogram(name, values, collections=None, family=None):
    """A histogram of ``values`` (any shape; NaN or Inf make the op fail)."""
    values = convert_to_tensor(values)
    with summary_scope(name, family, values=[values], default_name="HistogramSummary") as (tag, scope):
        val = apply_op(HistogramSummary, [_tag_const(tag, "tag"), values], name=scope)
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def image(name, tensor, max_outputs=3, collections=None, family=None):
    """Images from a [batch, height, width, channels] tensor (channels 1, 3 or 4;
    uint8, or float normalized per image as TF does), PNG-encoded."""
    tensor = convert_to_tensor(tensor)
    if max_outputs < 1:
        raise ValueError("max_outputs must be >= 1, got %d" % max_outputs)
    with summary_scope(name, family, values=[tensor]) as (tag, scope):
        val = apply_op(ImageSummary, [_tag_const(tag, "tag"), tensor],
                       {"max_images": int(max_outputs),
                        "bad_color": np.array([255, 0, 0, 255], dtype=np.uint8)}, name=scope)
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def audio(name, tensor, sample_rate, max_outputs=3, collections=None, family=None):
    """Audio clips from a float32 [batch, frames] or [batch, frames, channels]
    tensor with values in [-1, 1], WAV-encoded."""
    tensor = convert_to_tensor(tensor)
    with summary_scope(name, family=family, values=[tensor]) as (tag, scope):
        sample_rate = convert_to_tensor(sample_rate, dtype=dtypes.float32, name="sample_rate")
        val = apply_op(AudioSummaryV2, [_tag_const(tag, "tag"), tensor, sample_rate],
                       {"max_outputs": int(max_outputs)}, name=scope)
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def tensor_summary(name, tensor, summary_description=None, collections=None, summary_metadata=None,
                   family=None, display_name=None):
    """A summary holding a whole tensor (a TensorProto) plus its metadata."""
    pb = _summary_pb2()
    if summary_metadata is None:
        summary_metadata = pb.SummaryMetadata()
    if summary_description is not None:
        summary_metadata.summary_description = summary_description
    if display_name is not None:
        summary_metadata.display_name = display_name
    serialized = summary_metadata.SerializeToString()
    tensor = convert_to_tensor(tensor)
    with summary_scope(name, family, values=[tensor]) as (tag, scope):
        meta = constant(np.array(serialized, dtype=object), dtype=dtypes.string,
                        name="serialized_summary_metadata")
        val = apply_op(TensorSummaryV2, [_tag_const(tag, "tag"), tensor, meta], name=scope)
    _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def text(name, tensor, collections=None):
    """A text summary of a string tensor (TensorBoard's Text dashboard renders Markdown)."""
    tensor = convert_to_tensor(tensor)
    if tensor.dtype is not dtypes.string:
        raise ValueError("Expected tensor %s to have dtype string, got %s" % (tensor.name, tensor.dtype.name))
    pb = _summary_pb2()
    meta = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name="text"))
    return tensor_summary(name=name, tensor=tensor, summary_metadata=meta, collections=collections)


def merge(inputs, collections=None, name=None):
    """One Summary holding the values of all ``inputs`` (serialized Summary tensors);
    a tag appearing twice makes it fail."""
    inputs = [convert_to_tensor(i) for i in inputs]
    if not inputs:
        raise ValueError("tf.summary.merge needs at least one input")
    graph = inputs[0].graph
    with graph.as_default(), name_scope(name, "Merge", inputs):
        val = apply_op(MergeSummary, inputs, {"N": len(inputs)}, name=name or "MergeSummary")
    _collect(val, collections, [])
    return val


def merge_all(key=GraphKeys.SUMMARIES, scope=None, name=None):
    """``merge`` of every summary in collection ``key`` (None if there are none)."""
    ops = get_default_graph().get_collection(key, scope=scope)
    if not ops:
        return None
    return merge(ops, name=name)

