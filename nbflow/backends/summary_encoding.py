"""Encoders for summary values: PNG images, WAV audio, histograms, TensorProtos.

Pure numpy + the standard library (zlib, struct, wave); the protobuf messages
come from the ``tensorboard`` package.
"""
import io
import struct
import zlib

import numpy as np

# -- PNG ----------------------------------------------------------------------

_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grayscale, gray+alpha, RGB, RGBA


def _png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(image, compression=6):
    """PNG bytes of a uint8 image of shape [height, width, channels], channels 1-4."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in _PNG_COLOR_TYPE:
        raise ValueError("encode_png needs a uint8 [height, width, 1|2|3|4] array, got %s %s"
                         % (image.dtype, image.shape))
    h, w, c = image.shape
    # each scanline: filter type 0 (None), then the row's bytes
    rows = np.empty((h, 1 + w * c), dtype=np.uint8)
    rows[:, 0] = 0
    rows[:, 1:] = image.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), compression)) + _png_chunk(b"IEND", b""))


def image_to_uint8(image, bad_color=(255, 0, 0, 255)):
    """One [h, w, c] image as uint8, as TF's ImageSummary does.

    uint8 passes through. Floating images are normalized one image at a time:
    if no value is negative they are scaled so the largest is 255; otherwise 0
    maps to 128 and they are scaled so the largest magnitude lands at 0 or 255
    (127 steps away). Pixels with a non-finite value in any channel become
    ``bad_color`` (its first ``c`` components).
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    x = image.astype(np.float64)
    finite = np.isfinite(x)
    good = finite.all(axis=-1)
    vals = x[finite]
    lo = vals.min() if vals.size else 0.0
    hi = vals.max() if vals.size else 0.0
    if lo < 0:
        m = max(abs(lo), abs(hi))
        scale, offset = (127.0 / m if m > 0 else 0.0), 128.0
    else:
        scale, offset = (255.0 / hi if hi > 0 else 0.0), 0.0
    with np.errstate(invalid="ignore"):
        out = np.clip(np.floor(np.where(finite, x, 0.0) * scale + offset), 0, 255).astype(np.uint8)
    if not good.all():
        c = x.shape[-1]
        out[~good] = np.asarray(bad_color, dtype=np.uint8)[:c]
    return out


# -- WAV ------------------------------------------------------------------------

def encode_wav(samples, sample_rate):
    """16-bit PCM WAV bytes of float samples [frames, channels] in [-1, 1] (clipped)."""
    import wave

    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2:
        raise ValueError("encode_wav needs [frames, channels] samples, got shape %s" % (samples.shape,))
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(round(sample_rate)))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


# -- histograms -------------------------------------------------------------------

def _default_bucket_limits():
    """TF's default histogram buckets: +-[1e-12 .. 1e20) growing by 10%, 0, +-DBL_MAX."""
    pos = []
    v = 1.0e-12
    while v < 1.0e20:
        pos.append(v)
        v *= 1.1
    pos.append(np.finfo(np.float64).max)
    neg = [-p for p in reversed(pos)]
    return np.array(neg + [0.0] + pos, dtype=np.float64)


BUCKET_LIMITS = _default_bucket_limits()


def histogram_proto(values):
    """A HistogramProto of ``values`` (finite numbers) over TF's default buckets.

    A value v falls in the first bucket whose limit is > v; runs of empty buckets
    are collapsed into one (the last of the run), as TF writes them.
    """
    from tensorboard.compat.proto import summary_pb2

    v = np.asarray(values, dtype=np.float64).ravel()
    h = summary_pb2.HistogramProto()
    if v.size == 0:
        h.min, h.max, h.num, h.sum, h.sum_squares = np.finfo(np.float64).max, -np.finfo(np.float64).max, 0, 0, 0
        h.bucket_limit.append(np.finfo(np.float64).max)
        h.bucket.append(0.0)
        return h
    h.min = float(v.min())
    h.max = float(v.max())
    h.num = float(v.size)
    h.sum = float(v.sum())
    h.sum_squares = float(np.dot(v, v))
    idx = np.searchsorted(BUCKET_LIMITS, v, side="right")
    idx = np.minimum(idx, len(BUCKET_LIMITS) - 1)
    counts = np.bincount(idx, minlength=len(BUCKET_LIMITS)).astype(np.float64)
    nz = counts > 0
    # keep non-empty buckets, and the last bucket of every run of empty ones
    # (an empty bucket is kept when the next one is non-empty or it is the last)
    keep = nz.copy()
    keep[:-1] |= ~nz[:-1] & nz[1:]
    keep[-1] = True
    # a run of empty buckets at the very end collapses into the last one
    limits, bucket = BUCKET_LIMITS[keep], counts[keep]
    h.bucket_limit.extend(limits.tolist())
    h.bucket.extend(bucket.tolist())
    return h


# -- TensorProto ------------------------------------------------------------------

def _dtype_enum(np_dtype):
    from tensorboard.compat.proto import types_pb2

    return {
        np.dtype(np.float16): types_pb2.DT_HALF, np.dtype(np.float32): types_pb2.DT_FLOAT,
        np.dtype(np.float64): types_pb2.DT_DOUBLE, np.dtype(np.int8): types_pb2.DT_INT8,
        np.dtype(np.int16): types_pb2.DT_INT16, np.dtype(np.int32): types_pb2.DT_INT32,
        np.dtype(np.int64): types_pb2.DT_INT64, np.dtype(np.uint8): types_pb2.DT_UINT8,
        np.dtype(np.uint16): types_pb2.DT_UINT16, np.dtype(np.bool_): types_pb2.DT_BOOL,
        np.dtype(np.object_): types_pb2.DT_STRING,
    }.get(np.dtype(np_dtype))


def shape_proto(dims):
    """A TensorShapeProto; ``dims`` a tuple with None for unknown dims, or None (unknown rank)."""
    from tensorboard.compat.proto import tensor_shape_pb2

    p = tensor_shape_pb2.TensorShapeProto()
    if dims is None:
        p.unknown_rank = True
        return p
    for d in dims:
        p.dim.add(size=-1 if d is None else int(d))
    return p


def as_bytes(s):
    if isinstance(s, bytes):
        return s
    if isinstance(s, np.bytes_):
        return bytes(s)
    return str(s).encode("utf-8")


def tensor_proto(array, with_content=True):
    """A TensorProto of a numpy array (strings as string_val, numbers as tensor_content)."""
    from tensorboard.compat.proto import tensor_pb2

    a = np.asarray(array)
    enum = _dtype_enum(a.dtype)
    if enum is None:
        if a.dtype.kind in "SU":
            a = a.astype(object)
            enum = _dtype_enum(a.dtype)
        else:
            raise TypeError("no TensorProto dtype for numpy %s" % a.dtype)
    p = tensor_pb2.TensorProto(dtype=enum, tensor_shape=shape_proto(a.shape))
    if not with_content:
        return p
    if a.dtype == object:
        p.string_val.extend(as_bytes(s) for s in a.ravel())
    else:
        p.tensor_content = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    return p
