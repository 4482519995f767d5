"""Reductions and scans.

reduce_mean/max/min/prod/any/all/euclidean_norm (TF ops Mean, Max, Min, Prod,
Any, All, EuclideanNorm), argmax/argmin (ArgMax, ArgMin), cumsum/cumprod
(Cumsum, Cumprod), and the composites reduce_logsumexp and count_nonzero,
with their gradients. Sum (``reduce_sum``) and the Reduction base class are
in broadcast_ops.py, beside BroadcastTo (each is the other's gradient), and
exported here too.

CPU kernels: nbflow/backends/cpu/reduction.py (float16 inputs are computed
in float32 there and rounded back).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_shape_ops
from nbflow.ops import math_ops as M
from nbflow.ops.array_fill_ops import ones_like, zeros_like
from nbflow.ops.array_shape_ops import size
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.broadcast_ops import (  # noqa: F401  (Sum, Reduction, normalize_axes, reduction_axes: re-exported)
    Reduction, Sum, _broadcast_back, _reduce, normalize_axes, reduce_sum, reduction_args, reduction_axes,
)
from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_any",
           "reduce_all", "reduction_axes", "reduce_logsumexp", "reduce_euclidean_norm", "count_nonzero",
           "argmax", "argmin", "arg_max", "arg_min", "cumsum", "cumprod"]


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
    axis, keepdims = reduction_args(axis, keepdims, keep_dims, reduction_indices)
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
    axis, keepdims = reduction_args(axis, keepdims, keep_dims, reduction_indices)
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


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("Mean")
def _mean_grad(op, grad):
    x, y = op.inputs[0], op.outputs[0]
    nx, ny = x.shape.num_elements(), y.shape.num_elements()
    if nx is not None and ny is not None:
        factor = np.asarray(max(nx // max(ny, 1), 1), dtype=grad.dtype.as_numpy_dtype)
    else:
        factor = M.cast(M.maximum(M.floordiv(size(x), M.maximum(size(y), 1)), 1), grad.dtype)
    return M.realdiv(_broadcast_back(op, grad), factor) if grad.dtype.is_floating else None, None


def _minmax_reduce_grad(op, grad):
    x, y = op.inputs[0], op.outputs[0]
    y_b = _broadcast_back(op, y)
    g_b = _broadcast_back(op, grad)
    indicators = M.cast(M.equal(x, y_b), grad.dtype)
    count = _broadcast_back(op, reduce_sum(indicators, op.inputs[1], keepdims=op.attrs["keep_dims"]))
    return M.multiply(M.realdiv(indicators, count), g_b), None


@RegisterGradient("Max")
def _max_grad(op, grad):
    return _minmax_reduce_grad(op, grad)


@RegisterGradient("Min")
def _min_grad(op, grad):
    return _minmax_reduce_grad(op, grad)


@RegisterGradient("Prod")
def _prod_grad(op, grad):
    # d prod / d x_i = prod / x_i, computed without dividing by zero:
    # product of all other elements = exclusive cumprod from left * from right.
    x = op.inputs[0]
    y_b = _broadcast_back(op, op.outputs[0])
    g_b = _broadcast_back(op, grad)
    safe = M.where_v2(M.equal(x, 0), ones_like(x), x)
    n_zero = _broadcast_back(
        op, reduce_sum(M.cast(M.equal(x, 0), x.dtype), op.inputs[1], keepdims=op.attrs["keep_dims"]))
    prod_nonzero = _broadcast_back(
        op, reduce_prod(safe, op.inputs[1], keepdims=op.attrs["keep_dims"]))
    # no zeros: y / x; one zero: at the zero, product of the others; elsewhere 0.
    others = M.where_v2(M.equal(n_zero, 0), M.realdiv(y_b, safe),
                        M.where_v2(M.logical_and(M.equal(n_zero, 1), M.equal(x, 0)), prod_nonzero,
                                   zeros_like(x)))
    return M.multiply(g_b, others), None


for _t in ("Any", "All"):
    NotDifferentiable(_t)


@RegisterGradient("EuclideanNorm")
def _euclidean_norm_grad(op, grad):
    # d sqrt(sum x^2) / dx = x / norm (0 where the norm is 0: a subgradient)
    x = op.inputs[0]
    y_b = _broadcast_back(op, op.outputs[0])
    return M.multiply(_broadcast_back(op, grad), M.div_no_nan(x, y_b)), None


# -- scans ------------------------------------------------------------------------------

@RegisterGradient("Cumsum")
def _cumsum_grad(op, grad):
    # each x_i feeds every later (earlier when reverse) output: a scan the other way
    return cumsum(grad, op.inputs[1], exclusive=op.attrs["exclusive"], reverse=not op.attrs["reverse"]), None


@RegisterGradient("Cumprod")
def _cumprod_grad(op, grad):
    """Gradient of y = cumprod(x), exact with zeros in x (TF divides by x).

    Along the scan direction, let c_i count the zeros in x_0..x_i. Where c_i = 0,
    dL/dx_i = (sum over j fed by x_i of g_j y_j) / x_i. At the first zero (c_i = 1),
    dL/dx_i = sum over j fed by x_i of g_j * (product of the other factors of y_j),
    which is cumprod of x with the zero replaced by 1, up to the next zero.
    After the first zero every product contains it: 0.
    """
    x, axis = op.inputs
    excl, rev = op.attrs["exclusive"], op.attrs["reverse"]
    y = op.outputs[0]
    is_zero = M.equal(x, zeros_like(x))
    zeros_count = M.cast(is_zero, x.dtype)
    c_in = cumsum(zeros_count, axis, exclusive=False, reverse=rev)   # zeros up to and including i
    c_y = cumsum(zeros_count, axis, exclusive=excl, reverse=rev)     # zeros among the factors of y_i
    safe = M.where_v2(is_zero, ones_like(x), x)
    before_zero = M.realdiv(cumsum(M.multiply(grad, y), axis, exclusive=excl, reverse=not rev), safe)
    y_skip = cumprod(safe, axis, exclusive=excl, reverse=rev)
    one = ones_like(x)
    at_zero = cumsum(M.multiply(M.multiply(grad, y_skip), M.cast(M.less_equal(c_y, one), x.dtype)), axis,
                     exclusive=excl, reverse=not rev)
    zero = zeros_like(x)
    first_zero = M.logical_and(is_zero, M.equal(c_in, one))
    return M.where_v2(M.equal(c_in, zero), before_zero, M.where_v2(first_zero, at_zero, zero)), None
