"""Broadcasting and its adjoint, the sum.

BroadcastTo (``tf.broadcast_to``) repeats a tensor along axes of size 1 and
Sum (``tf.reduce_sum``) adds such copies back: each is the other's gradient,
so the two live here, with the Reduction base class that Sum shares with the
other reductions (reduction_ops.py). Also the broadcast of shapes
(BroadcastGradientArgs, BroadcastArgs, ``broadcast_dynamic_shape``,
``broadcast_static_shape``), ReducedShape (a reduction's shape with its axes
kept, for the reduction gradients) and ``reduce_to_shape``: the gradient of
a broadcast operand summed back to its shape, which the gradient of every
broadcasting op uses.

CPU kernels: nbflow/backends/cpu/array_fill.py (BroadcastTo and the shape
ops), reduction.py (Sum), math.py (ReducedShape).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.ops import array_shape_ops
from nbflow.ops.array_common import (
    _check_index_dtype, _eager_index_constant, _ints, _shape_tensor, _shape_value_to_tuple,
)
from nbflow.ops.array_range_ops import range_
from nbflow.ops.array_shape_ops import reshape, shape
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor, forwards_when_shape_kept
from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.ops.math_cast_ops import cast

__all__ = ["broadcast_to", "broadcast_dynamic_shape", "broadcast_static_shape", "reduce_sum"]


# -- reductions: the base class, Sum ------------------------------------------------

def normalize_axes(axes_value, rank, ctx=None):
    axes = np.asarray(axes_value).reshape(-1).tolist()
    out = []
    for a in axes:
        if a < -rank or a >= rank:
            msg = "Invalid reduction dimension %d for input with %d dimensions." % (a, rank)
            raise (ctx.error(msg) if ctx is not None else ValueError(msg))
        out.append(a % rank if rank else 0)
    return sorted(set(out))


class Reduction(Op):
    """Base: inputs (input, reduction_indices); attr keep_dims."""

    kinds = "fiu"

    @classmethod
    def out_dtype(cls, in_dtype):
        return in_dtype

    plan_forwards = classmethod(forwards_when_shape_kept)

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if dt._np is None or dt._np.kind not in cls.kinds:
            raise TypeError("Value passed to '%s' (%s) has DataType %s not in list of allowed values"
                            % (ctx.name, cls.type, dt.name))
        keep = ctx.attrs["keep_dims"]
        dims = ctx.dims(0)
        axes_val = ctx.value(1)
        if dims is None:
            return [(cls.out_dtype(dt), TensorShape(None))]
        rank = len(dims)
        if axes_val is None:
            if keep:
                return [(cls.out_dtype(dt), TensorShape([None] * rank))]
            return [(cls.out_dtype(dt), TensorShape(None))]
        axes = normalize_axes(axes_val, rank, ctx)
        if keep:
            shape = [1 if i in axes else d for i, d in enumerate(dims)]
        else:
            shape = [d for i, d in enumerate(dims) if i not in axes]
        return [(cls.out_dtype(dt), TensorShape(shape))]


class Sum(Reduction):
    type = "Sum"
    fusible_reduction = "sum"


def reduction_axes(x, axis):
    """The axes tensor for ``axis`` (None means all axes)."""
    if x._is_eager:
        # eager: shared constants of the axes (nbflow/ops/array_common.py)
        if axis is None:
            return _eager_index_constant(tuple(range(x._value.ndim)))
        if type(axis) is int:
            return _eager_index_constant(axis)
        if type(axis) in (list, tuple) and all(type(a) is int for a in axis):
            return _eager_index_constant(tuple(axis))
    if axis is None:
        rank = x.shape.ndims
        if rank is not None:
            return convert_to_tensor(np.arange(rank, dtype=np.int32), name="Const")
        return range_(0, array_shape_ops.rank(x))
    if isinstance(axis, (list, tuple)):
        axis = np.asarray(axis, dtype=np.int32)
    return convert_to_tensor(axis, dtype=dtypes.int32) if not hasattr(axis, "dtype") or \
        not hasattr(axis, "op") else axis


def reduction_args(axis, keepdims, keep_dims, reduction_indices):
    """(axis, keepdims) from TF 1.x's deprecated aliases ``keep_dims`` and ``reduction_indices``."""
    if keep_dims is not None:
        keepdims = keep_dims
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
        axis = reduction_indices
    return axis, keepdims


def _reduce(cls, input_tensor, axis, keepdims, name, keep_dims=None, reduction_indices=None):
    axis, keepdims = reduction_args(axis, keepdims, keep_dims, reduction_indices)
    x = convert_to_tensor(input_tensor)
    axes = reduction_axes(x, axis)
    return apply_op(cls, [x, axes], {"keep_dims": bool(keepdims), "T": x.dtype}, name=name or cls.type)


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Sum, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


# -- broadcasting --------------------------------------------------------------------

class BroadcastTo(Op):
    type = "BroadcastTo"

    plan_forwards = classmethod(forwards_when_shape_kept)

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
    return apply_op(BroadcastTo, [convert_to_tensor(input), _shape_tensor(shape)], name=name or "BroadcastTo")


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
        sx, sy = cast(sx, dtypes.int64), cast(sy, dtypes.int64)
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


# -- gradients ------------------------------------------------------------------------

def _static_dims(t):
    if t._is_eager:
        return t._value.shape
    return t.shape.as_tuple() if t.shape.is_fully_defined() else None


def reduce_to_shape(grad, x):
    """Sum ``grad`` (of the broadcast output) back to ``x``'s shape.

    Emits nothing when the static shapes already match (as TF's
    SmartBroadcastGradientArgs); otherwise the reduction axes come from a
    BroadcastGradientArgs node that the planner folds with concrete shapes.
    """
    gx, gg = _static_dims(x), _static_dims(grad)
    if gx is not None and gx == gg:
        return grad
    if gx is not None and gg is not None:
        rx, _ = broadcast_gradient_axes(gx, gg)
        summed = reduce_sum(grad, rx.tolist()) if len(rx) else grad
        return reshape(summed, list(gx)) if len(rx) else summed
    sx, sg = shape(x), shape(grad)
    rx, _ = apply_op(BroadcastGradientArgs, [sx, sg])
    out = reshape(apply_op(Sum, [grad, rx], {"keep_dims": False, "T": grad.dtype}), sx)
    out.set_shape(x.shape)
    return out


class _KeptShape(Op):
    """shape(x) with the reduced axes set to 1 (TF's reduced_shape helper; CPU kernel in
    nbflow/backends/cpu/math.py)."""

    type = "ReducedShape"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


def _kept_shape(op):
    """The reduced tensor's shape with reduced dims kept as 1 (static list or Tensor)."""
    x, axes = op.inputs
    dims = x.shape.as_tuple()
    axes_v = constant_value(axes)
    if dims is not None and None not in dims and axes_v is not None:
        ax = normalize_axes(axes_v, len(dims))
        return [1 if i in ax else d for i, d in enumerate(dims)]
    return apply_op(_KeptShape, [shape(x), axes])


def _broadcast_back(op, grad):
    x = op.inputs[0]
    target = list(x.shape.as_tuple()) if x.shape.is_fully_defined() else shape(x)
    if grad.shape.ndims == 0:
        return broadcast_to(grad, target)  # a full reduction: the scalar broadcasts as it is
    g = reshape(grad, _kept_shape(op))
    return broadcast_to(g, target)


@RegisterGradient("Sum")
def _sum_grad(op, grad):
    return _broadcast_back(op, grad), None


@RegisterGradient("BroadcastTo")
def _broadcast_to_grad(op, grad):
    return reduce_to_shape(grad, op.inputs[0]), None
