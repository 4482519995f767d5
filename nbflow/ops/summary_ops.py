"""Summary op types (TF 1.x ScalarSummary, HistogramSummary, ImageSummary, AudioSummaryV2,
TensorSummaryV2, MergeSummary), and TF 2's write op (WriteSummaryV2).

Each is a stateful op whose output is a 0-d string tensor holding a serialized
``Summary`` protocol buffer; its kernel (nbflow/backends/cpu/summary.py) builds
it when ``Session.run`` fetches it. The tf.summary functions that build these
ops are in nbflow/summary/summary_ops.py.
"""
import itertools
import weakref

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op


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


_writer_ids = itertools.count(1)


# -- op definitions -----------------------------------------------------------------

class _SummaryOp(Op):
    stateful = True
    differentiable = False


class ScalarSummary(_SummaryOp):
    type = "ScalarSummary"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tags")
        _check_real(ctx, 1, "values")
        if not ctx.input_shapes[0].is_compatible_with(ctx.input_shapes[1]):
            raise ctx.error("tags and values not the same shape: %s != %s" % tuple(ctx.input_shapes))
        return [(dtypes.string, TensorShape([]))]


class HistogramSummary(_SummaryOp):
    type = "HistogramSummary"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tag")
        _check_real(ctx, 1, "values")
        return [(dtypes.string, TensorShape([]))]


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


class TensorSummaryV2(_SummaryOp):
    type = "TensorSummaryV2"

    @classmethod
    def infer(cls, ctx):
        _check_string(ctx, 0, "tag")
        _check_string(ctx, 2, "serialized_summary_metadata")
        return [(dtypes.string, TensorShape([]))]


class MergeSummary(_SummaryOp):
    type = "MergeSummary"

    @classmethod
    def infer(cls, ctx):
        for i in range(len(ctx.input_dtypes)):
            _check_string(ctx, i, "input %d" % i)
        return [(dtypes.string, TensorShape([]))]


# -- TF 2 summaries (tf.summary.scalar(..., step=) with a default writer) --------------------

#: id -> the summary writer a WriteSummaryV2 op writes to (registered by nbflow/summary/summary_v2.py;
#: weak: a closed, dropped writer is gone and its ops write nothing)
_writers = weakref.WeakValueDictionary()


def register_writer(writer):
    """Make ``writer`` (an object with ``_write_summary(summary_proto, step)``) reachable by
    the write ops built for it; returns its id (the ops' ``writer_id`` attr)."""
    wid = next(_writer_ids)
    _writers[wid] = writer
    return wid


def lookup_writer(writer_id):
    """The writer registered under ``writer_id``, or None if it has been dropped."""
    return _writers.get(writer_id)


class WriteSummaryV2(Op):
    """Writes one TF 2 summary (tag, plugin metadata, the data as a tensor) to the writer
    ``writer_id`` at the step given by input 0, if input 2 (a bool) is true. Inputs: step
    (int64 scalar), data, should_record (bool scalar). Attrs: writer_id, tag, kind ("scalar",
    "histogram", "image", "text"), metadata (serialized SummaryMetadata), buckets,
    max_outputs. Output: a bool scalar, whether it wrote (TF 2's return value)."""

    type = "WriteSummaryV2"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        if not ctx.input_dtypes[0].is_integer:
            raise TypeError("step of %s must be an integer tensor, got %s" % (ctx.name, ctx.input_dtypes[0].name))
        if ctx.input_shapes[0].ndims not in (None, 0):
            raise ctx.error("step must be a scalar, got shape %s" % (ctx.input_shapes[0],))
        kind = ctx.attrs["kind"]
        if kind == "text":
            _check_string(ctx, 1, "data")
        elif kind == "image":
            _check_real(ctx, 1, "data", _IMAGE_DTYPES)
            dims = ctx.dims(1)
            if dims is not None and (len(dims) != 4 or dims[3] not in (None, 1, 3, 4)):
                raise ctx.error("image data must be 4-D [k, h, w, c] with c 1, 3 or 4, got %s"
                                % (ctx.input_shapes[1],))
        else:
            _check_real(ctx, 1, "data")
            if kind == "scalar" and ctx.input_shapes[1].ndims not in (None, 0):
                raise ctx.error("scalar data must be a scalar, got shape %s" % (ctx.input_shapes[1],))
        return [(dtypes.bool_, TensorShape([]))]
