"""Sequences: Range (tf.range) and LinSpace (tf.linspace).

Neither is differentiable. CPU kernels: nbflow/backends/cpu/array_fill.py.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.array_common import _check_index_dtype, _is_tensor
from nbflow.ops.base import Op, _infer_numpy, apply_op, convert_to_tensor
from nbflow.ops.math_cast_ops import cast

# tf.range is ``range_`` here, so that ``range`` stays the builtin (array_ops exports it as ``range``)
__all__ = ["linspace", "lin_space"]


def _range_size(start, limit, delta, fail):
    if delta == 0:
        raise fail("Requires delta != 0: %s" % (delta,))
    if delta > 0 and start > limit:
        raise fail("Requires start <= limit when delta > 0: %s/%s" % (start, limit))
    if delta < 0 and start < limit:
        raise fail("Requires start >= limit when delta < 0: %s/%s" % (start, limit))
    if isinstance(start, (int, np.integer)) and isinstance(limit, (int, np.integer)) \
            and isinstance(delta, (int, np.integer)):
        return (abs(limit - start) + abs(delta) - 1) // abs(delta)
    return int(np.ceil(abs((limit - start) / delta)))


class Range(Op):
    type = "Range"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        for i, what in enumerate(("start", "limit", "delta")):
            s = ctx.input_shapes[i]
            if s.ndims is not None and s.ndims != 0:
                raise ctx.error("%s must be a scalar, not shape %s" % (what, s))
        vals = [ctx.value(i) for i in range(3)]
        dt = ctx.input_dtypes[0]
        if all(v is not None for v in vals):
            n = _range_size(*[np.asarray(v).item() for v in vals], ctx.error)
            return [(dt, TensorShape([n]))]
        return [(dt, TensorShape([None]))]


_RANGE_HIERARCHY = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64]


def range_(start, limit=None, delta=1, dtype=None, name="range"):
    """``tf.range``: the dtype is ``dtype``, else the widest of the arguments'
    (int32 < int64 < float32 < float64), as TF."""
    if limit is None:
        start, limit = 0, start
    with name_scope(name, "Range", [start, limit, delta]) as scope:
        args = (start, limit, delta)
        if dtype is None:
            found = [convert_to_tensor(v).dtype if _is_tensor(v) else dtypes.as_dtype(_infer_numpy(v, None).dtype)
                     for v in args]
            for d in found:
                if d not in _RANGE_HIERARCHY:
                    raise TypeError("tf.range: arguments must be int32, int64, float32 or float64, got %s" % d.name)
            dtype = max(found, key=_RANGE_HIERARCHY.index)
        dtype = dtypes.as_dtype(dtype)
        if dtype not in _RANGE_HIERARCHY:
            raise TypeError("tf.range: dtype must be int32, int64, float32 or float64, got %s" % dtype.name)
        # Python values convert to the result dtype directly (so they stay known at graph time);
        # tensors of another dtype are cast
        ins = []
        for v, n in zip(args, ("start", "limit", "delta")):
            if _is_tensor(v):
                t = convert_to_tensor(v)
                ins.append(t if t.dtype is dtype else cast(t, dtype))
            else:
                ins.append(convert_to_tensor(v, dtype=dtype, name=n))
        return apply_op(Range, ins, {"Tidx": dtype}, name=scope)


class LinSpace(Op):
    type = "LinSpace"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if not dt.is_floating or dt is dtypes.float16 or ctx.input_dtypes[1] is not dt:
            raise TypeError("LinSpace '%s': start and stop must both be float32 or float64, got %s and %s"
                            % (ctx.name, dt.name, ctx.input_dtypes[1].name))
        _check_index_dtype(ctx, 2, "num")
        for i, what in enumerate(("start", "stop", "num")):
            s = ctx.input_shapes[i]
            if s.ndims is not None and s.ndims != 0:
                raise ctx.error("%s must be a scalar, not shape %s" % (what, s))
        n = ctx.value(2)
        if n is not None:
            if int(n) <= 0:
                raise ctx.error("Requires num > 0: %d" % int(n))
            return [(dt, TensorShape([int(n)]))]
        return [(dt, TensorShape([None]))]


def linspace(start, stop, num, name=None):
    start = convert_to_tensor(start) if _is_tensor(start) or isinstance(start, (np.ndarray, np.floating)) \
        else convert_to_tensor(start, dtype=dtypes.float32)
    stop = convert_to_tensor(stop, dtype=start.dtype) if not _is_tensor(stop) else convert_to_tensor(stop)
    num = convert_to_tensor(num) if _is_tensor(num) else convert_to_tensor(num, dtype=dtypes.int32)
    return apply_op(LinSpace, [start, stop, num], name=name or "LinSpace")


lin_space = linspace
