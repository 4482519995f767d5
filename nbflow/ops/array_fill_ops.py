"""Tensors built from shapes and scalars, and broadcasting.

Fill, zeros/ones (a Const when small and static, as TF), zeros_like/ones_like,
broadcast_to and the broadcast of shapes, range, linspace and eye. Gradients
are here (BroadcastTo: math_grad.py).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.array_common import (
    _check_index_dtype, _contains_tensor, _ints, _is_tensor, _prod, _shape_tensor, _shape_value_to_tuple,
)
from nbflow.ops.array_concat_ops import concat
from nbflow.ops.array_shape_ops import expand_dims, identity, reshape, shape
from nbflow.ops.base import Op, _infer_numpy, apply_op, convert_to_tensor
from nbflow.ops.constant_op import constant
from nbflow.ops.gradient_registry import RegisterGradient

# tf.range is ``range_`` here, so that ``range`` stays the builtin (array_ops exports it as ``range``)
__all__ = [
    "zeros_like", "ones_like", "fill", "zeros", "ones", "broadcast_to", "eye", "linspace", "lin_space",
    "broadcast_dynamic_shape", "broadcast_static_shape",
]


# -- fills -------------------------------------------------------------------------

class Fill(Op):
    """Fill(dims, value)."""

    type = "Fill"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 0, "dims")
        vshape = ctx.input_shapes[1]
        if vshape.ndims is not None and vshape.ndims != 0:
            raise ctx.error("Shape must be rank 0 but is rank %d: value must be a scalar" % vshape.ndims)
        dims = ctx.value(0)
        if dims is None:
            n = ctx.dims(0)
            return [(ctx.input_dtypes[1], TensorShape(None if n is None or n[0] is None else [None] * n[0]))]
        if np.ndim(dims) != 1:
            raise ctx.error("dims must be a vector, got shape %s" % (list(np.shape(dims)),))
        dims = _shape_value_to_tuple(dims)
        if any(d < 0 for d in dims):
            raise ctx.error("Fill dimensions must be >= 0, got %s" % (list(dims),))
        return [(ctx.input_dtypes[1], TensorShape(dims))]


def fill(dims, value, name=None):
    return apply_op(Fill, [_shape_tensor(dims), convert_to_tensor(value)], name=name or "Fill")


def _shape_arg(shape):
    return _shape_tensor(shape)


def _static_shape_list(shape):
    """The shape as a list of ints when it is given as Python values, else None."""
    if _is_tensor(shape) or _contains_tensor(shape):
        return None
    if isinstance(shape, TensorShape):
        return shape.as_list() if shape.is_fully_defined() else None
    try:
        arr = np.asarray(shape)
    except (TypeError, ValueError):
        return None
    if arr.dtype.kind not in "iu" or arr.ndim > 1:
        return None
    return [int(d) for d in arr.reshape(-1)]


def _const_fill(shape, value, dtype, name, kind):
    """TF builds a Const for a small Python shape (fewer than 1000 elements), else a Fill."""
    with name_scope(name, kind, [shape]) as scope:
        dims = _static_shape_list(shape)
        if dims is not None:
            if any(d < 0 for d in dims):
                raise ValueError("Fill dimensions must be >= 0, got %s" % (dims,))
            if _prod(dims) < 1000:
                return constant(np.full(dims, value, dtype=dtype.as_numpy_dtype), dtype=dtype, name=scope)
        s = _shape_tensor(shape)
        if s.shape.ndims == 0:
            s = reshape(s, [-1])
        return fill(s, convert_to_tensor(np.asarray(value, dtype=dtype.as_numpy_dtype), dtype=dtype), name=scope)


def zeros(shape, dtype=dtypes.float32, name=None):
    dtype = dtypes.as_dtype(dtype)
    return _const_fill(shape, b"" if dtype is dtypes.string else 0, dtype, name, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    dtype = dtypes.as_dtype(dtype)
    if dtype is dtypes.string:
        raise TypeError("tf.ones is not defined for strings")
    return _const_fill(shape, 1, dtype, name, "ones")


class ZerosLike(Op):
    type = "ZerosLike"
    differentiable = False
    fill_value = 0

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def plan_value(cls, ctx):
        dims = ctx.dims(0)
        if dims is not None and None not in dims:
            return np.full(dims, cls._value(ctx.input_dtypes[0]), dtype=ctx.input_dtypes[0].as_numpy_dtype)
        return None

    @classmethod
    def _value(cls, dtype):
        if dtype is dtypes.string:
            if cls.fill_value:
                raise TypeError("ones_like is not defined for strings")
            return b""
        return cls.fill_value


class OnesLike(ZerosLike):
    type = "OnesLike"
    fill_value = 1


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    x = convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) is not x.dtype:
        out = zeros(shape(x) if not x.shape.is_fully_defined() else x.shape.as_list(), dtype=dtype,
                    name=name or "zeros_like")
        out.set_shape(x.shape)
        return out
    return apply_op(ZerosLike, [x], name=name or "zeros_like")


def ones_like(tensor, dtype=None, name=None, optimize=True):
    x = convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) is not x.dtype:
        out = ones(shape(x) if not x.shape.is_fully_defined() else x.shape.as_list(), dtype=dtype,
                   name=name or "ones_like")
        out.set_shape(x.shape)
        return out
    return apply_op(OnesLike, [x], name=name or "ones_like")


# -- broadcasting ------------------------------------------------------------------

class BroadcastTo(Op):
    type = "BroadcastTo"

    @classmethod
    def plan_forwards(cls, ctx):
        # to the shape it already has: the input itself
        if ctx.output_shapes[0].is_fully_defined() and ctx.output_shapes[0] == ctx.input_shapes[0]:
            return 0
        return None

    @classmethod
    def infer(cls, ctx):
        target = ctx.value(1)
        if target is None:
            n = ctx.dims(1)
            r = n[0] if n is not None and len(n) == 1 else None
            return [(ctx.input_dtypes[0], TensorShape(None if r is None else [None] * r))]
        target = _shape_value_to_tuple(target)
        dims = ctx.dims(0)
        if dims is not None:
            if len(dims) > len(target) or any(
                    d is not None and d != 1 and d != t for d, t in zip(dims[::-1], target[::-1])):
                raise ctx.error("Unable to broadcast tensor of shape %s to %s" % (ctx.input_shapes[0], list(target)))
        return [(ctx.input_dtypes[0], TensorShape(target))]


def broadcast_to(input, shape, name=None):
    return apply_op(BroadcastTo, [convert_to_tensor(input), _shape_arg(shape)], name=name or "BroadcastTo")


def broadcast_gradient_axes(sx, sy):
    """Axes along which each of two broadcast operands must be summed."""
    sx, sy = list(sx), list(sy)
    n = max(len(sx), len(sy))
    px, py = [1] * (n - len(sx)) + sx, [1] * (n - len(sy)) + sy
    rx = [i for i in range(n) if px[i] == 1 and py[i] != 1 or i < n - len(sx)]
    ry = [i for i in range(n) if py[i] == 1 and px[i] != 1 or i < n - len(sy)]
    # a dim that is 1 in both is summed in neither (it is size 1 anyway)
    return np.array(rx, dtype=np.int32), np.array(ry, dtype=np.int32)


class BroadcastGradientArgs(Op):
    """(shape_x, shape_y) -> (axes to sum for x's gradient, axes for y's)."""

    type = "BroadcastGradientArgs"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.int32, TensorShape([None])), (dtypes.int32, TensorShape([None]))]


def _broadcast_shapes(a, b, fail):
    a, b = list(a), list(b)
    n = max(len(a), len(b))
    a = [1] * (n - len(a)) + a
    b = [1] * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise fail("Incompatible shapes: [%s] vs. [%s]" % (",".join(map(str, a)), ",".join(map(str, b))))
    return out


class BroadcastArgs(Op):
    """The broadcast shape of two shapes (tf.broadcast_dynamic_shape)."""

    type = "BroadcastArgs"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        for i in (0, 1):
            _check_index_dtype(ctx, i, "s%d" % i)
        if ctx.input_dtypes[0] is not ctx.input_dtypes[1]:
            raise TypeError("BroadcastArgs '%s': s0 and s1 must have one dtype" % ctx.name)
        a, b = ctx.value(0), ctx.value(1)
        if a is not None and b is not None:
            return [(ctx.input_dtypes[0], TensorShape([len(_broadcast_shapes(_ints(a), _ints(b), ctx.error))]))]
        na, nb = ctx.dims(0), ctx.dims(1)
        if na and nb and na[0] is not None and nb[0] is not None:
            return [(ctx.input_dtypes[0], TensorShape([max(na[0], nb[0])]))]
        return [(ctx.input_dtypes[0], TensorShape([None]))]

    @classmethod
    def fold_constant(cls, op, vals):
        try:
            return np.array(_broadcast_shapes(_ints(vals[0]), _ints(vals[1]), ValueError),
                            dtype=op.outputs[0].dtype.as_numpy_dtype)
        except ValueError:
            return None


def broadcast_dynamic_shape(shape_x, shape_y):
    """The broadcast of two shape vectors, as a tensor (BroadcastArgs)."""
    sx, sy = _shape_tensor(shape_x), _shape_tensor(shape_y)
    if sx.dtype is not sy.dtype:
        sx, sy = M.cast(sx, dtypes.int64), M.cast(sy, dtypes.int64)
    return apply_op(BroadcastArgs, [sx, sy], name="BroadcastArgs")


def broadcast_static_shape(shape_x, shape_y):
    """The broadcast of two TensorShapes (unknown dims stay unknown where they matter)."""
    sx, sy = as_shape(shape_x), as_shape(shape_y)
    if sx.ndims is None or sy.ndims is None:
        return TensorShape(None)
    a, b = list(sx.as_tuple()), list(sy.as_tuple())
    n = max(len(a), len(b))
    a = [1] * (n - len(a)) + a
    b = [1] * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x is None or y is None:
            known = y if x is None else x
            out.append(known if known is not None and known > 1 else None)
        elif x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError("Incompatible shapes for broadcasting: %s and %s" % (sx, sy))
    return TensorShape(out)


# -- range and linspace ------------------------------------------------------------

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
                ins.append(t if t.dtype is dtype else M.cast(t, dtype))
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


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """Identity matrices: a constant when the sizes are Python values, else built
    from Range/Equal/Cast (folded at plan time when the sizes are known)."""
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "eye", [num_rows, num_columns, batch_shape]) as scope:
        cols = num_rows if num_columns is None else num_columns
        batch = [] if batch_shape is None else batch_shape
        if not _contains_tensor([num_rows, cols, batch]):
            r, c = int(num_rows), int(cols)
            b = [int(d) for d in np.asarray(batch).reshape(-1)]
            if r < 0 or c < 0 or any(d < 0 for d in b):
                raise ValueError("eye: sizes must be non-negative, got %s x %s, batch %s" % (r, c, b))
            value = np.broadcast_to(np.eye(r, c, dtype=dtype.as_numpy_dtype), b + [r, c])
            return constant(value, dtype=dtype, name=scope)
        rr = expand_dims(range_(convert_to_tensor(num_rows, dtype=dtypes.int32)), 1)
        cc = expand_dims(range_(convert_to_tensor(cols, dtype=dtypes.int32)), 0)
        mat = M.cast(M.equal(rr, cc), dtype)
        if batch_shape is None:
            return identity(mat, name=scope)
        target = concat([_shape_tensor(batch), shape(mat)], 0)
        return broadcast_to(mat, target, name=scope)


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Fill")
def _fill_grad(op, grad):
    return None, R.reduce_sum(grad)
