"""CPU kernels of the summary ops (nbflow/ops/summary_ops.py): each builds and
serializes a ``Summary`` protocol buffer (TensorBoard's messages)."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.backends.summary_encoding import (
    as_bytes, encode_png, encode_wav, histogram_proto, image_to_uint8, tensor_proto,
)
from nbflow.framework import errors
from nbflow.ops import summary_ops


def _summary_pb2():
    from tensorboard.compat.proto import summary_pb2  # imported on first use (slow import)

    return summary_pb2


def _tag_str(t):
    t = t[()] if isinstance(t, np.ndarray) and t.ndim == 0 else t
    return t.decode("utf-8") if isinstance(t, (bytes, np.bytes_)) else str(t)


def _build_scalar_summary(ctx, tags, values):
    if tags.shape != values.shape:
        raise ctx.op_error(errors.InvalidArgumentError, "tags and values not the same shape: %s != %s (tag '%s')"
            % (list(tags.shape), list(values.shape), _tag_str(tags.ravel()[0]) if tags.size else ""))
    s = _summary_pb2().Summary()
    for t, v in zip(tags.ravel(), values.ravel()):
        s.value.add(tag=_tag_str(t), simple_value=float(v))
    return s


def _build_histogram_summary(ctx, tag, values):
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            kind = "Nan" if np.isnan(values).any() else "Infinity"
            raise ctx.op_error(errors.InvalidArgumentError, "%s in summary histogram for: %s" % (kind, ctx.name))
    s = _summary_pb2().Summary()
    s.value.add(tag=_tag_str(tag), histo=histogram_proto(values))
    return s


def _build_image_summary(ctx, tag, images):
    if images.ndim != 4 or images.shape[3] not in (1, 3, 4):
        raise ctx.op_error(errors.InvalidArgumentError, "Tensor must be 4-D with last dim 1, 3, or 4, not %s (op %s)"
            % (list(images.shape), ctx.name))
    max_images = ctx.attrs["max_images"]
    bad_color = ctx.attrs["bad_color"]
    base = _tag_str(tag)
    s = _summary_pb2().Summary()
    for i in range(min(max_images, images.shape[0])):
        img = image_to_uint8(images[i], bad_color)
        h, w, c = img.shape
        t = "%s/image/%d" % (base, i) if max_images > 1 else "%s/image" % base
        s.value.add(tag=t, image=_summary_pb2().Summary.Image(
            height=h, width=w, colorspace=c, encoded_image_string=encode_png(img)))
    return s


def _build_audio_summary_v2(ctx, tag, audio, sample_rate):
    if audio.ndim not in (2, 3):
        raise ctx.op_error(errors.InvalidArgumentError, "Tensor must be 3-D or 2-D, got: %s (op %s)" % (list(audio.shape), ctx.name))
    rate = float(sample_rate)
    if not rate > 0:
        raise ctx.op_error(errors.InvalidArgumentError, "sample_rate must be > 0, got %s (op %s)" % (rate, ctx.name))
    if audio.ndim == 2:
        audio = audio[:, :, None]
    max_outputs = ctx.attrs["max_outputs"]
    base = _tag_str(tag)
    s = _summary_pb2().Summary()
    for i in range(min(max_outputs, audio.shape[0])):
        t = "%s/audio/%d" % (base, i) if max_outputs > 1 else "%s/audio" % base
        s.value.add(tag=t, audio=_summary_pb2().Summary.Audio(
            sample_rate=rate, num_channels=audio.shape[2], length_frames=audio.shape[1],
            encoded_audio_string=encode_wav(audio[i], rate), content_type="audio/wav"))
    return s


def _build_tensor_summary_v2(ctx, tag, tensor, metadata):
    pb = _summary_pb2()
    s = pb.Summary()
    v = s.value.add(tag=_tag_str(tag))
    v.metadata.ParseFromString(as_bytes(metadata[()] if metadata.ndim == 0 else metadata.ravel()[0]))
    v.tensor.CopyFrom(tensor_proto(tensor))
    return s


def _build_merge_summary(ctx, *inputs):
    pb = _summary_pb2()
    merged = pb.Summary()
    seen = set()
    for arr in inputs:
        for item in np.asarray(arr).ravel():
            part = pb.Summary()
            try:
                part.ParseFromString(as_bytes(item))
            except Exception:  # protobuf's DecodeError
                raise ctx.op_error(errors.InvalidArgumentError, "Could not parse one of the summary inputs of %s" % ctx.name) from None
            for v in part.value:
                if v.tag in seen:
                    raise ctx.op_error(errors.InvalidArgumentError, "Duplicate tag %s found in summary inputs (op %s)" % (v.tag, ctx.name))
                seen.add(v.tag)
                merged.value.add().CopyFrom(v)
    return merged


_BUILDERS = {
    summary_ops.ScalarSummary: _build_scalar_summary,
    summary_ops.HistogramSummary: _build_histogram_summary,
    summary_ops.ImageSummary: _build_image_summary,
    summary_ops.AudioSummaryV2: _build_audio_summary_v2,
    summary_ops.TensorSummaryV2: _build_tensor_summary_v2,
    summary_ops.MergeSummary: _build_merge_summary,
}


@register_kernel(summary_ops._SummaryOp)
def _summary_op(ctx):
    build = _BUILDERS[ctx.op_def]
    out = np.empty((), dtype=object)  # a 0-d string tensor: fetched, it is the bytes

    def run(*inputs):
        s = build(ctx, *inputs)
        out[()] = s.SerializeToString() if not isinstance(s, bytes) else s
        return out
    return run


# -- TF 2 summaries: tensor summaries with plugin metadata, as TF 2 / TensorBoard write them ---------

DEFAULT_BUCKET_COUNT = 30


def histogram_buckets(data, bucket_count=None):
    """TF 2's histogram tensor: float64 [k, 3] rows (left edge, right edge, count), k equal
    buckets over [min, max] (the last closed); all-equal data: every edge the value, the count
    in the last bucket; no data: k rows of zeros."""
    k = DEFAULT_BUCKET_COUNT if bucket_count is None else max(0, int(bucket_count))
    data = np.asarray(data, dtype=np.float64).ravel()
    if not np.isfinite(data).all():
        raise errors.InvalidArgumentError(None, None, "%s in summary histogram data"
                                          % ("Nan" if np.isnan(data).any() else "Infinity"))
    if k == 0 or data.size == 0:
        return np.zeros((k, 3))
    lo, hi = data.min(), data.max()
    if lo == hi:
        counts = np.zeros(k)
        counts[-1] = data.size
        return np.stack([np.full(k, lo), np.full(k, lo), counts], axis=1)
    width = (hi - lo) / k
    idx = np.minimum(np.floor((data - lo) / width).astype(np.int64), k - 1)
    counts = np.bincount(idx, minlength=k).astype(np.float64)
    edges = np.linspace(lo, hi, k + 1)
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def _image_tensor(images, max_outputs):
    """TF 2's image tensor: strings [width, height, PNG...] of the first ``max_outputs``
    images (floats in [0, 1] scaled to uint8 with saturation, as convert_image_dtype)."""
    if images.dtype != np.uint8:
        images = np.clip(np.asarray(images, dtype=np.float64) * 255.5, 0, 255).astype(np.uint8)
    n = min(int(max_outputs), images.shape[0])
    h, w = images.shape[1], images.shape[2]
    out = [str(w).encode(), str(h).encode()] + [encode_png(images[i]) for i in range(n)]
    return np.array(out, dtype=object)


def v2_summary(kind, tag, data, metadata, buckets=None, max_outputs=3):
    """The Summary proto TF 2 writes for ``tf.summary.<kind>(tag, data)``: one value with
    ``metadata`` (a SummaryMetadata, or its serialization) and the data as a tensor."""
    pb = _summary_pb2()
    data = np.asarray(data)
    if kind == "scalar":
        if data.size != 1:
            raise errors.InvalidArgumentError(None, None, "tf.summary.scalar(%r): data must be a scalar, got shape %s"
                                              % (tag, list(data.shape)))
        tensor = np.asarray(data.reshape(()), dtype=np.float32)
    elif kind == "histogram":
        tensor = histogram_buckets(data, buckets)
    elif kind == "image":
        if data.ndim != 4 or data.shape[3] not in (1, 3, 4):
            raise errors.InvalidArgumentError(None, None, "tf.summary.image(%r): data must be [k, h, w, c] with c "
                                              "1, 3 or 4, got shape %s" % (tag, list(data.shape)))
        tensor = _image_tensor(data, max_outputs)
    elif kind == "text":
        tensor = data.astype(object) if data.dtype != object else data
    else:
        raise ValueError("unknown summary kind %r" % (kind,))
    s = pb.Summary()
    v = s.value.add(tag=tag)
    if isinstance(metadata, (bytes, bytearray)):
        v.metadata.ParseFromString(bytes(metadata))
    else:
        v.metadata.CopyFrom(metadata)
    v.tensor.CopyFrom(tensor_proto(tensor))
    return s


@register_kernel(summary_ops.WriteSummaryV2)
def _write_summary_v2(ctx):
    a = ctx.attrs
    kind, tag, metadata, buckets, max_outputs = a["kind"], a["tag"], a["metadata"], a["buckets"], a["max_outputs"]
    writer_id = a["writer_id"]

    def run(step, data, should_record):
        writer = summary_ops.lookup_writer(writer_id)
        if writer is None or not bool(should_record):
            return np.bool_(False)
        summary = v2_summary(kind, tag, data, metadata, buckets if buckets >= 0 else None, max_outputs)
        writer._write_summary(summary, int(step))
        return np.bool_(True)
    return run
