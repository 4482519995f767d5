"""Summary op types (TF 1.x ScalarSummary, HistogramSummary, ImageSummary, AudioSummaryV2,
TensorSummaryV2, MergeSummary).

Each is a stateful op whose output is a 0-d string tensor holding a serialized
``Summary`` protocol buffer; its kernel (nbflow/backends/cpu/summary.py) builds
it when ``Session.run`` fetches it. The tf.summary functions that build these
ops are in nbflow/summary/summary_ops.py.
"""
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
