"""Summary ops (TF 1.x ``tf.summary.scalar/histogram/image/audio/text/merge``).

Each is a stateful graph op whose output is a 0-d string tensor holding a
serialized ``Summary`` protocol buffer, computed when ``Session.run`` fetches
it (fetched, it is ``bytes``, as in TF). ``FileWriter.add_summary`` writes it.
"""
import contextlib
import logging
import re

import numpy as np

from nbflow.framework import dtypes, errors
from nbflow.framework.graph import GraphKeys, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.summary.encoding import (
    as_bytes, encode_png, encode_wav, histogram_proto, image_to_uint8, tensor_proto,
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


def _tag_str(t):
    t = t[()] if isinstance(t, np.ndarray) and t.ndim == 0 else t
    return t.decode("utf-8") if isinstance(t, (bytes, np.bytes_)) else str(t)


def _check_string(ctx, i, what):
    if ctx.input_dtypes[i] is not dtypes.string:
        raise TypeError("%s of %s must be a string tensor, got %s" % (what, ctx.name, ctx.input_dtypes[i].name))


def _check_real(ctx, i, what, allowed=None):
    dt = ctx.input_dtypes[i]
    ok = dt in allowed if allowed is not None else (dt.is_floating or dt.is_integer)
    if not ok:
        raise TypeError("%s of %s must be %s, got %s" % (
            what, ctx.name, "one of " + ", ".join(d.name for d in allowed) if allowed else "a real number tensor",
            dt.name))


# -- op definitions -----------------------------------------------------------------

class _SummaryOp(Op):
    stateful = True
    differentiable = False

    @classmethod
    def plan(cls, ctx):
        build = cls.build
        out = np.empty((), dtype=object)  # a 0-d string tensor: fetched, it is the bytes
        op = ctx.op

        def run(*inputs):
            s = build(op, *inputs)
            out[()] = s.SerializeToString() if not isinstance(s, bytes) else s
            return out
        return run


class ScalarSummary(_SummaryOp):
    type = "ScalarSummary"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tags")
        _check_real(ctx, 1, "values")
        if not ctx.input_shapes[0].is_compatible_with(ctx.input_shapes[1]):
            raise ctx.error("tags and values not the same shape: %s != %s" % tuple(ctx.input_shapes))
        return [(dtypes.string, TensorShape([]))]

    @staticmethod
    def build(op, tags, values):
        if tags.shape != values.shape:
            raise errors.InvalidArgumentError(
                None, op, "tags and values not the same shape: %s != %s (tag '%s')"
                % (list(tags.shape), list(values.shape), _tag_str(tags.ravel()[0]) if tags.size else ""))
        s = _summary_pb2().Summary()
        for t, v in zip(tags.ravel(), values.ravel()):
            s.value.add(tag=_tag_str(t), simple_value=float(v))
        return s


class HistogramSummary(_SummaryOp):
    type = "HistogramSummary"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tag")
        _check_real(ctx, 1, "values")
        return [(dtypes.string, TensorShape([]))]

    @staticmethod
    def build(op, tag, values):
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                kind = "Nan" if np.isnan(values).any() else "Infinity"
                raise errors.InvalidArgumentError(
                    None, op, "%s in summary histogram for: %s" % (kind, op.name))
        s = _summary_pb2().Summary()
        s.value.add(tag=_tag_str(tag), histo=histogram_proto(values))
        return s


_IMAGE_DTYPES = (dtypes.uint8, dtypes.float16, dtypes.float32, dtypes.float64)


class ImageSummary(_SummaryOp):
    type = "ImageSummary"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tag")
        _check_real(ctx, 1, "tensor", _IMAGE_DTYPES)
        dims = ctx.dims(1)
        if dims is not None and (len(dims) != 4 or dims[3] not in (None, 1, 3, 4)):
            raise ctx.error("Tensor must be 4-D with last dim 1, 3, or 4, not %s" % (ctx.input_shapes[1],))
        return [(dtypes.string, TensorShape([]))]

    @staticmethod
    def build(op, tag, images):
        if images.ndim != 4 or images.shape[3] not in (1, 3, 4):
            raise errors.InvalidArgumentError(
                None, op, "Tensor must be 4-D with last dim 1, 3, or 4, not %s (op %s)"
                % (list(images.shape), op.name))
        max_images = op.attrs["max_images"]
        bad_color = op.attrs["bad_color"]
        base = _tag_str(tag)
        s = _summary_pb2().Summary()
        for i in range(min(max_images, images.shape[0])):
            img = image_to_uint8(images[i], bad_color)
            h, w, c = img.shape
            t = "%s/image/%d" % (base, i) if max_images > 1 else "%s/image" % base
            s.value.add(tag=t, image=_summary_pb2().Summary.Image(
                height=h, width=w, colorspace=c, encoded_image_string=encode_png(img)))
        return s


class AudioSummaryV2(_SummaryOp):
    type = "AudioSummaryV2"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tag")
        _check_real(ctx, 1, "tensor", (dtypes.float32,))
        dims = ctx.dims(1)
        if dims is not None and len(dims) not in (2, 3):
            raise ctx.error("Tensor must be 3-D or 2-D, got: %s" % (ctx.input_shapes[1],))
        if ctx.input_shapes[2].ndims not in (None, 0):
            raise ctx.error("sample_rate must be a scalar, got %s" % (ctx.input_shapes[2],))
        return [(dtypes.string, TensorShape([]))]

    @staticmethod
    def build(op, tag, audio, sample_rate):
        if audio.ndim not in (2, 3):
            raise errors.InvalidArgumentError(
                None, op, "Tensor must be 3-D or 2-D, got: %s (op %s)" % (list(audio.shape), op.name))
        rate = float(sample_rate)
        if not rate > 0:
            raise errors.InvalidArgumentError(
                None, op, "sample_rate must be > 0, got %s (op %s)" % (rate, op.name))
        if audio.ndim == 2:
            audio = audio[:, :, None]
        max_outputs = op.attrs["max_outputs"]
        base = _tag_str(tag)
        s = _summary_pb2().Summary()
        for i in range(min(max_outputs, audio.shape[0])):
            t = "%s/audio/%d" % (base, i) if max_outputs > 1 else "%s/audio" % base
            s.value.add(tag=t, audio=_summary_pb2().Summary.Audio(
                sample_rate=rate, num_channels=audio.shape[2], length_frames=audio.shape[1],
                encoded_audio_string=encode_wav(audio[i], rate), content_type="audio/wav"))
        return s


class TensorSummaryV2(_SummaryOp):
    type = "TensorSummaryV2"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tag")
        _check_string(ctx, 2, "serialized_summary_metadata")
        return [(dtypes.string, TensorShape([]))]

    @staticmethod
    def build(op, tag, tensor, metadata):
        pb = _summary_pb2()
        s = pb.Summary()
        v = s.value.add(tag=_tag_str(tag))
        v.metadata.ParseFromString(as_bytes(metadata[()] if metadata.ndim == 0 else metadata.ravel()[0]))
        v.tensor.CopyFrom(tensor_proto(tensor))
        return s


class MergeSummary(_SummaryOp):
    type = "MergeSummary"

    @classmethod
    def infer(cls, ctx):
        for i in range(len(ctx.input_dtypes)):
            _check_string(ctx, i, "input %d" % i)
        return [(dtypes.string, TensorShape([]))]

    @staticmethod
    def build(op, *inputs):
        pb = _summary_pb2()
        merged = pb.Summary()
        seen = set()
        for arr in inputs:
            for item in np.asarray(arr).ravel():
                part = pb.Summary()
                try:
                    part.ParseFromString(as_bytes(item))
                except Exception:  # protobuf's DecodeError
                    raise errors.InvalidArgumentError(
                        None, op, "Could not parse one of the summary inputs of %s" % op.name) from None
                for v in part.value:
                    if v.tag in seen:
                        raise errors.InvalidArgumentError(
                            None, op, "Duplicate tag %s found in summary inputs (op %s)" % (v.tag, op.name))
                    seen.add(v.tag)
                    merged.value.add().CopyFrom(v)
        return merged


# -- public functions ------------------------------------------------------------------

def _tag_const(tag, name):
    from nbflow.ops.constant_op import constant

    return constant(tag, dtype=dtypes.string, name=name)


def scalar(name, tensor, collections=None, family=None):
    """A summary of one real number: ``tensor`` must hold a single value."""
    tensor = convert_to_tensor(tensor)
    if tensor.shape.ndims is not None and tensor.shape.num_elements() not in (None, 1):
        raise ValueError("tf.summary.scalar(%r): the tensor must hold a single value, got shape %s"
                         % (name, tensor.shape))
    with summary_scope(name, family, values=[tensor]) as (tag, scope):
        if tensor.shape.ndims not in (None, 0):
            from nbflow.ops.array_ops import reshape

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
        from nbflow.ops.constant_op import constant

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

