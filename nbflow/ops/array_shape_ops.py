"""Shape ops: identity, shape queries, reshape, expand_dims, squeeze, check_numerics.

Ops whose output is the input's elements unchanged (a view or the input
itself), and the shape queries, which are known at plan time and fold. Their
gradients are here.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.array_common import (
    _INDEX_DTYPES, _check_index_dtype, _index_tensor, _known, _shape_tensor, _shape_value_to_tuple, _static,
)
from nbflow.ops.base import Op, apply_op, convert_to_tensor, forwards_when_shape_kept
from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient

__all__ = [
    "identity", "stop_gradient", "shape", "shape_n", "size", "rank", "reshape", "expand_dims", "squeeze",
    "check_numerics",
]


# -- pass-through --------------------------------------------------------------

class Identity(Op):
    type = "Identity"
    #: output 0 is input 0 unchanged: the planner aliases it instead of running it.
    forwards_input = 0

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def fold_constant(cls, op, vals):
        return vals[0]


class StopGradient(Identity):
    type = "StopGradient"


class Snapshot(Op):
    """A copy of the input (TF's Snapshot): its value does not change when the input's
    buffer is later updated in place (a variable read taken before an update)."""

    type = "Snapshot"

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


def identity(input, name=None):
    x = convert_to_tensor(input)
    return apply_op(Identity, [x], name=name or "Identity")


def stop_gradient(input, name=None):
    return apply_op(StopGradient, [convert_to_tensor(input)], name=name or "StopGradient")


# -- shape queries (known at plan time, so they fold) ----------------------------

class Shape(Op):
    type = "Shape"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        r = ctx.input_shapes[0].ndims
        return [(ctx.attrs["out_type"], TensorShape([r]))]

    @classmethod
    def plan_value(cls, ctx):
        dims = ctx.dims(0)
        if dims is not None and None not in dims:
            return np.array(dims, dtype=ctx.attrs["out_type"].as_numpy_dtype)
        return None


class ShapeN(Op):
    type = "ShapeN"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["out_type"], TensorShape([s.ndims])) for s in ctx.input_shapes]

    @classmethod
    def plan_value(cls, ctx):
        npd = ctx.attrs["out_type"].as_numpy_dtype
        dims = [ctx.dims(i) for i in range(len(ctx.input_shapes))]
        if all(_known(d) for d in dims):
            return tuple(np.array(d, dtype=npd) for d in dims)
        return None


class Size(Op):
    type = "Size"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["out_type"], TensorShape([]))]

    @classmethod
    def plan_value(cls, ctx):
        dims = ctx.dims(0)
        if dims is not None and None not in dims:
            return np.array(int(np.prod(dims)), dtype=ctx.attrs["out_type"].as_numpy_dtype)
        return None


class Rank(Op):
    type = "Rank"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.int32, TensorShape([]))]

    @classmethod
    def plan_value(cls, ctx):
        dims = ctx.dims(0)
        return None if dims is None else np.array(len(dims), dtype=np.int32)


def _out_type(out_type):
    out_type = dtypes.as_dtype(out_type)
    if out_type not in _INDEX_DTYPES:
        raise TypeError("out_type must be int32 or int64, got %s" % out_type.name)
    return out_type


def shape(input, name=None, out_type=dtypes.int32):
    return apply_op(Shape, [convert_to_tensor(input)], {"out_type": _out_type(out_type)}, name=name or "Shape")


def shape_n(input, out_type=dtypes.int32, name=None):
    """Shapes of several tensors (one ShapeN op)."""
    xs = [convert_to_tensor(x) for x in input]
    if not xs:
        raise ValueError("shape_n needs at least one tensor")
    outs = apply_op(ShapeN, xs, {"out_type": _out_type(out_type), "N": len(xs)}, name=name or "ShapeN")
    return [outs] if len(xs) == 1 else list(outs)


def size(input, name=None, out_type=dtypes.int32):
    return apply_op(Size, [convert_to_tensor(input)], {"out_type": _out_type(out_type)}, name=name or "Size")


def rank(input, name=None):
    return apply_op(Rank, [convert_to_tensor(input)], name=name or "Rank")


# -- reshape ---------------------------------------------------------------------

def _resolve_reshape(in_dims, target, ctx=None):
    """Target shape with its -1 resolved (None where not yet known)."""
    target = list(target)
    if target.count(-1) > 1:
        raise _err(ctx, "Only one input size may be -1, not both %d and %d"
                   % tuple(i for i, d in enumerate(target) if d == -1)[:2])
    bad = [d for d in target if d < -1]
    if bad:
        raise _err(ctx, "Size %d must be non-negative, not %d" % (target.index(bad[0]), bad[0]))
    known_in = in_dims is not None and None not in in_dims
    n_in = int(np.prod(in_dims)) if known_in else None
    if -1 in target:
        rest = int(np.prod([d for d in target if d != -1]))
        if n_in is None:
            return [None if d == -1 else d for d in target]
        if rest == 0:
            if n_in != 0:
                raise _err(ctx, "Cannot reshape a tensor with %d elements to shape %s" % (n_in, target))
            # 0 elements: the -1 is ambiguous; TF makes it 0
            target[target.index(-1)] = 0
            return target
        if n_in % rest:
            raise _err(ctx, "Input to reshape is a tensor with %d values, but the requested shape requires a "
                            "multiple of %d" % (n_in, rest))
        target[target.index(-1)] = n_in // rest
    if n_in is not None and int(np.prod(target)) != n_in:
        raise _err(ctx, "Cannot reshape a tensor with %d elements to shape [%s] (%d elements)"
                   % (n_in, ",".join(str(d) for d in target), int(np.prod(target))))
    return target


def _err(ctx, msg):
    if ctx is None:
        return ValueError(msg)
    if callable(ctx) and not hasattr(ctx, "error"):
        return ctx(msg)
    return ctx.error(msg)


class Reshape(Op):
    type = "Reshape"

    plan_forwards = classmethod(forwards_when_shape_kept)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "shape")
        target = ctx.value(1)
        if target is None:
            n = ctx.dims(1)
            rank_ = n[0] if n is not None and len(n) == 1 else None
            return [(ctx.input_dtypes[0], TensorShape(None if rank_ is None else [None] * rank_))]
        if np.ndim(target) > 1:
            raise ctx.error("Shape must be rank 1 but is rank %d" % np.ndim(target))
        return [(ctx.input_dtypes[0], TensorShape(_resolve_reshape(ctx.dims(0), _shape_value_to_tuple(target), ctx)))]

    @classmethod
    def fold_constant(cls, op, vals):
        try:
            return np.reshape(vals[0], _resolve_reshape(np.shape(vals[0]), _shape_value_to_tuple(vals[1])))
        except ValueError:
            return None


def reshape(tensor, shape, name=None):
    x = convert_to_tensor(tensor)
    return apply_op(Reshape, [x, _shape_tensor(shape)], name=name or "Reshape")


# -- expand_dims / squeeze (views of the input) ------------------------------------

class ExpandDims(Op):
    type = "ExpandDims"

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "dim")
        dims = ctx.dims(0)
        axis = ctx.value(1)
        if dims is None:
            return [(ctx.input_dtypes[0], TensorShape(None))]
        if axis is None:
            return [(ctx.input_dtypes[0], TensorShape([None] * (len(dims) + 1)))]
        return [(ctx.input_dtypes[0], TensorShape(cls._target(dims, axis, ctx.error)))]

    @staticmethod
    def _target(dims, axis, fail):
        a = np.asarray(axis).reshape(-1)
        if a.size != 1:
            raise fail("'dim' input must be a tensor with a single value, got %d values" % a.size)
        a = int(a[0])
        r = len(dims)
        if a < -r - 1 or a > r:
            raise fail("Tried to expand dim index %d for tensor with %d dimensions." % (a, r))
        if a < 0:
            a += r + 1
        return list(dims[:a]) + [1] + list(dims[a:])

    @classmethod
    def fold_constant(cls, op, vals):
        try:
            return np.reshape(vals[0], cls._target(np.shape(vals[0]), vals[1], ValueError))
        except ValueError:
            return None


def expand_dims(input, axis=None, name=None, dim=None):
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    x = convert_to_tensor(input)
    return apply_op(ExpandDims, [x, _index_tensor(axis)], name=name or "ExpandDims")


class Squeeze(Op):
    type = "Squeeze"

    @classmethod
    def infer(cls, ctx):
        dims = ctx.dims(0)
        axes = ctx.attrs["squeeze_dims"]
        if dims is None:
            return [(ctx.input_dtypes[0], TensorShape(None))]
        if not axes and None in dims:
            # which unknown dims are 1 is known only at run time
            return [(ctx.input_dtypes[0], TensorShape(None))]
        return [(ctx.input_dtypes[0], TensorShape(cls._target(dims, axes, ctx.error)))]

    @staticmethod
    def _target(dims, axes, fail):
        r = len(dims)
        if not axes:
            return [d for d in dims if d != 1]
        norm = set()
        for a in axes:
            if a < -r or a >= r:
                raise fail("Tried to squeeze dim index %d for tensor with %d dimensions." % (a, r))
            a = a % r
            if dims[a] is not None and dims[a] != 1:
                raise fail("Can not squeeze dim[%d], expected a dimension of 1, got %d" % (a, dims[a]))
            norm.add(a)
        return [d for i, d in enumerate(dims) if i not in norm]

    @classmethod
    def fold_constant(cls, op, vals):
        try:
            return np.reshape(vals[0], cls._target(np.shape(vals[0]), op.attrs["squeeze_dims"], ValueError))
        except ValueError:
            return None


def squeeze(input, axis=None, name=None, squeeze_dims=None):
    if squeeze_dims is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'squeeze_dims' and 'axis'")
        axis = squeeze_dims
    if axis is None:
        axis = []
    elif isinstance(axis, (int, np.integer)):
        axis = [axis]
    axis = [int(a) for a in axis]
    return apply_op(Squeeze, [convert_to_tensor(input)], {"squeeze_dims": axis}, name=name or "Squeeze")


# -- check_numerics ---------------------------------------------------------------------

class CheckNumerics(Op):
    """CheckNumerics(tensor), attr message: the tensor itself, or an
    InvalidArgumentError naming the message when it holds a NaN or an infinity."""

    type = "CheckNumerics"

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if not dt.is_floating:
            raise TypeError("Value passed to parameter 'tensor' of '%s' has DataType %s not in list of allowed "
                            "values: float16, float32, float64" % (ctx.name, dt.name))
        return [(dt, ctx.input_shapes[0])]


def check_numerics(tensor, message, name=None):
    x = convert_to_tensor(tensor)
    return apply_op(CheckNumerics, [x], {"message": str(message), "T": x.dtype}, name=name or "CheckNumerics")


# -- gradients ------------------------------------------------------------------------

def _shape_of(t, out_type=dtypes.int32):
    """``t``'s shape: a Python list when static, else a Shape tensor."""
    s = _static(t)
    return s if s is not None else shape(t, out_type=out_type)


def _reshape_to_input(op, grad):
    return reshape(grad, _shape_of(op.inputs[0]))


@RegisterGradient("Snapshot")
def _snapshot_grad(op, grad):
    return grad


@RegisterGradient("Identity")
def _identity_grad(op, grad):
    return grad


NotDifferentiable("StopGradient")


@RegisterGradient("Reshape")
def _reshape_grad(op, grad):
    x = op.inputs[0]
    target = list(x.shape.as_tuple()) if x.shape.is_fully_defined() else shape(x)
    return reshape(grad, target), None


@RegisterGradient("ExpandDims")
def _expand_dims_grad(op, grad):
    return _reshape_to_input(op, grad), None


@RegisterGradient("Squeeze")
def _squeeze_grad(op, grad):
    return _reshape_to_input(op, grad)


@RegisterGradient("CheckNumerics")
def _check_numerics_grad(op, grad):
    return check_numerics(grad, "Not a number (NaN) or infinity (Inf) values detected in gradient. "
                          + op.attrs["message"])
