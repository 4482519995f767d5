"""Reductions and scans.

reduce_sum/mean/max/min/prod/any/all/euclidean_norm (TF ops Sum, Mean, Max,
Min, Prod, Any, All, EuclideanNorm), argmax/argmin (ArgMax, ArgMin),
cumsum/cumprod (Cumsum, Cumprod), and the composites reduce_logsumexp and
count_nonzero. Gradients are in math_grad.py.

CPU kernels: nbflow/backends/cpu/reduction.py (float16 inputs are computed
in float32 there and rounded back).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_shape_ops
from nbflow.ops import math_ops as M
from nbflow.ops.base import Op, apply_op, convert_to_tensor

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_any",
           "reduce_all", "reduction_axes", "reduce_logsumexp", "reduce_euclidean_norm", "count_nonzero",
           "argmax", "argmin", "arg_max", "arg_min", "cumsum", "cumprod"]


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

    @classmethod
    def plan_forwards(cls, ctx):
        # reducing only size-1 axes (or none) with the shape kept: the input itself
        if ctx.output_shapes[0].is_fully_defined() and ctx.output_shapes[0] == ctx.input_shapes[0]:
            return 0
        return None

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


class Prod(Reduction):
    type = "Prod"


class Max(Reduction):
    type = "Max"


class Min(Reduction):
    type = "Min"


class Any(Reduction):
    type = "Any"
    kinds = "b"


class All(Reduction):
    type = "All"
    kinds = "b"


class EuclideanNorm(Reduction):
    """sqrt(sum(x * x)) over the axes (for integers the root is truncated, as TF)."""

    type = "EuclideanNorm"

    @classmethod
    def plan_forwards(cls, ctx):
        return None  # over size-1 axes it is |x|, not x


class Mean(Reduction):
    """Sum, then divide by the number of reduced elements (for integers rounding
    toward zero, as TF's C++ division)."""

    type = "Mean"
    fusible_reduction = "mean"


def reduction_axes(x, axis):
    """The axes tensor for ``axis`` (None means all axes)."""
    if axis is None:
        rank = x.shape.ndims
        if rank is not None:
            return convert_to_tensor(np.arange(rank, dtype=np.int32), name="Const")
        # (imported here, not at the top: array_fill_ops, where Range is, imports this module for Fill's gradient)
        from nbflow.ops.array_fill_ops import range_

        return range_(0, array_shape_ops.rank(x))
    if isinstance(axis, (list, tuple)):
        axis = np.asarray(axis, dtype=np.int32)
    return convert_to_tensor(axis, dtype=dtypes.int32) if not hasattr(axis, "dtype") or \
        not hasattr(axis, "op") else axis


def _reduce(cls, input_tensor, axis, keepdims, name, keep_dims=None, reduction_indices=None):
    if keep_dims is not None:
        keepdims = keep_dims
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
        axis = reduction_indices
    x = convert_to_tensor(input_tensor)
    axes = reduction_axes(x, axis)
    return apply_op(cls, [x, axes], {"keep_dims": bool(keepdims), "T": x.dtype}, name=name or cls.type)


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Sum, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Mean, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_max(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Max, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_min(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Min, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_prod(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Prod, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_any(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(Any, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_all(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce(All, input_tensor, axis, keepdims, name, keep_dims, reduction_indices)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(EuclideanNorm, input_tensor, axis, keepdims, name)


def reduce_logsumexp(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """log(sum(exp(x))) computed stably: the (finite) max is subtracted first.

    Built from Max, Sub, Exp, Sum, Log, Add as TF does, so it has a gradient
    (softmax of x) and fuses like any element-wise chain."""
    # (imported here, not at the top: array_fill_ops, where ZerosLike is, imports this module for Fill's gradient)
    from nbflow.ops.array_fill_ops import zeros_like

    if keep_dims is not None:
        keepdims = keep_dims
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
        axis = reduction_indices
    keepdims = bool(keepdims)
    with name_scope(name, "ReduceLogSumExp", [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor)
        if not x.dtype.is_floating:
            raise TypeError("reduce_logsumexp '%s' needs a floating-point tensor, got %s" % (scope, x.dtype.name))
        raw_max = reduce_max(x, axis, keepdims=True)
        # -inf/inf/nan maxima are not subtracted (an all -inf slice stays -inf).
        my_max = array_shape_ops.stop_gradient(M.where_v2(M.is_finite(raw_max), raw_max, zeros_like(raw_max)))
        result = M.log(reduce_sum(M.exp(M.subtract(x, my_max)), axis, keepdims=keepdims))
        if not keepdims:
            shp = result.shape
            my_max = array_shape_ops.reshape(
                my_max, shp.as_list() if shp.is_fully_defined() else array_shape_ops.shape(result))
        return M.add(result, my_max, name=scope)


def count_nonzero(input_tensor=None, axis=None, keepdims=None, dtype=dtypes.int64, name=None,
                  reduction_indices=None, keep_dims=None, input=None):
    """Number of non-zero (non-False) elements along the axes, as ``dtype``."""
    if input is not None:
        if input_tensor is not None:
            raise ValueError("Cannot specify both 'input' and 'input_tensor'")
        input_tensor = input
    if keep_dims is not None:
        keepdims = keep_dims
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
        axis = reduction_indices
    with name_scope(name, "count_nonzero", [input_tensor]):
        x = convert_to_tensor(input_tensor)
        zero = convert_to_tensor(np.zeros((), dtype=x.dtype.as_numpy_dtype))
        nonzero = M.cast(M.not_equal(x, zero), dtypes.int64)
        return M.cast(reduce_sum(nonzero, axis, keepdims=bool(keepdims)), dtypes.as_dtype(dtype))


# -- one-axis ops: ArgMax, ArgMin, Cumsum, Cumprod ------------------------------------

def _one_axis(value, rank, what, ctx=None):
    """The axis in [0, rank) given as a scalar in [-rank, rank)."""
    arr = np.asarray(value)
    if arr.ndim != 0:
        msg = "%s must be a scalar, got shape %s" % (what, list(arr.shape))
        raise (ctx.error(msg) if ctx is not None else ValueError(msg))
    a = int(arr)
    if a < -rank or a >= rank:
        msg = "Expected %s in the range [%d, %d), but got %d" % (what, -rank, rank, a)
        raise (ctx.error(msg) if ctx is not None else ValueError(msg))
    return a % rank


def _check_axis_input(ctx, i, name):
    dt = ctx.input_dtypes[i]
    if dt not in (dtypes.int32, dtypes.int64):
        raise TypeError("Value passed to parameter '%s' of '%s' has DataType %s not in list of allowed "
                        "values: int32, int64" % (name, ctx.name, dt.name))
    r = ctx.input_shapes[i].ndims
    if r is not None and r != 0:
        raise ctx.error("%s must be a scalar, but has rank %d" % (name, r))


def _check_numeric(ctx, cls):
    dt = ctx.input_dtypes[0]
    if dt._np is None or dt._np.kind not in "fiu":
        raise TypeError("Value passed to '%s' (%s) has DataType %s not in list of allowed values"
                        % (ctx.name, cls.type, dt.name))


class ArgMax(Op):
    """Index of the largest value along one axis (first one on ties). Inputs (input, dimension)."""

    type = "ArgMax"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        _check_numeric(ctx, cls)
        _check_axis_input(ctx, 1, "dimension")
        out_t = ctx.attrs["output_type"]
        dims = ctx.dims(0)
        if dims is None:
            return [(out_t, TensorShape(None))]
        axis_v = ctx.value(1)
        if axis_v is None:
            return [(out_t, TensorShape([None] * max(len(dims) - 1, 0)))]
        axis = _one_axis(axis_v, len(dims), "dimension", ctx)
        if dims[axis] == 0:
            raise ctx.error("Reduction axis %d is empty in shape %s" % (axis, TensorShape(dims)))
        return [(out_t, TensorShape(dims[:axis] + dims[axis + 1:]))]


class ArgMin(ArgMax):
    type = "ArgMin"


def _arg_reduce(cls, input, axis, name, dimension, output_type):
    if dimension is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dimension'")
        axis = dimension
    if axis is None:
        axis = 0
    output_type = dtypes.as_dtype(output_type)
    if output_type not in (dtypes.int32, dtypes.int64):
        raise TypeError("output_type of %s must be int32 or int64, got %s" % (cls.type, output_type.name))
    x = convert_to_tensor(input)
    ax = axis if hasattr(axis, "op") else convert_to_tensor(axis, dtype=dtypes.int32)
    return apply_op(cls, [x, ax], {"T": x.dtype, "Tidx": ax.dtype, "output_type": output_type},
                    name=name or cls.type)


def argmax(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):
    """Index of the largest value along ``axis`` (default 0); the lowest index on ties."""
    return _arg_reduce(ArgMax, input, axis, name, dimension, output_type)


def argmin(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):
    """Index of the smallest value along ``axis`` (default 0); the lowest index on ties."""
    return _arg_reduce(ArgMin, input, axis, name, dimension, output_type)


def arg_max(input, dimension, name=None, output_type=dtypes.int64):
    return _arg_reduce(ArgMax, input, None, name, dimension, output_type)


def arg_min(input, dimension, name=None, output_type=dtypes.int64):
    return _arg_reduce(ArgMin, input, None, name, dimension, output_type)


class Cumsum(Op):
    """Running sum along one axis. Inputs (x, axis); attrs exclusive, reverse."""

    type = "Cumsum"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_numeric(ctx, cls)
        _check_axis_input(ctx, 1, "axis")
        dims = ctx.dims(0)
        if dims is not None:
            if len(dims) == 0:
                raise ctx.error("%s needs an input of rank >= 1, got a scalar" % cls.type)
            if ctx.value(1) is not None:
                _one_axis(ctx.value(1), len(dims), "scan axis", ctx)
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


class Cumprod(Cumsum):
    """Running product along one axis. Inputs (x, axis); attrs exclusive, reverse."""

    type = "Cumprod"


def _scan(cls, x, axis, exclusive, reverse, name):
    x = convert_to_tensor(x)
    ax = axis if hasattr(axis, "op") else convert_to_tensor(axis, dtype=dtypes.int32)
    return apply_op(cls, [x, ax], {"exclusive": bool(exclusive), "reverse": bool(reverse), "T": x.dtype,
                                   "Tidx": ax.dtype}, name=name or cls.type)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along ``axis``: [a, b, c] -> [a, a + b, a + b + c];
    exclusive: [0, a, a + b]; reverse: [a + b + c, b + c, c]."""
    return _scan(Cumsum, x, axis, exclusive, reverse, name)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along ``axis``: [a, b, c] -> [a, a * b, a * b * c];
    exclusive: [1, a, a * b]; reverse: [a * b * c, b * c, c]."""
    return _scan(Cumprod, x, axis, exclusive, reverse, name)
