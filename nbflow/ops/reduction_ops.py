"""Reductions and scans.

reduce_sum/mean/max/min/prod/any/all/euclidean_norm (TF ops Sum, Mean, Max,
Min, Prod, Any, All, EuclideanNorm), argmax/argmin (ArgMax, ArgMin),
cumsum/cumprod (Cumsum, Cumprod), and the composites reduce_logsumexp and
count_nonzero. Gradients are in math_grad.py.

float16 inputs are computed in float32 and rounded back (Numba has no float16
arithmetic on the CPU).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.kernels.cpu import reduce as K
from nbflow.kernels.cpu import scan as S
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

    @classmethod
    def plan(cls, ctx):
        out_np = ctx.out_np_dtype(0)
        keep = ctx.attrs["keep_dims"]
        fixed_axes = ctx.value(1)

        def run(x, axes_value):
            axes = normalize_axes(fixed_axes if fixed_axes is not None else axes_value, x.ndim)
            out_shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keep else \
                tuple(d for i, d in enumerate(x.shape) if i not in axes)
            return cls.reduce(x, axes, out_shape, out_np)

        out = ctx.static_buffer(0)
        dims = ctx.dims(0)
        if out is None or fixed_axes is None or dims is None or None in dims or out_np == np.float16:
            return run
        axes = normalize_axes(fixed_axes, len(dims))
        view = K.as_outer_mid_inner(dims, axes)
        in_np = np.dtype(ctx.input_dtypes[0].as_numpy_dtype)
        kernel = cls.kernel_for(in_np)
        if view is None:
            # The axes are not one block (e.g. (0, 2)): move them last into a
            # buffer allocated once, then reduce that.
            rest = [i for i in range(len(dims)) if i not in axes]
            perm = rest + axes
            tdims = [dims[i] for i in perm]
            buf = np.empty(tdims, dtype=in_np)
            tview = K.as_outer_mid_inner(tdims, list(range(len(rest), len(dims))))
            tout = out.reshape(tview[0], tview[2])

            def run_gathered(x, axes_value):
                np.copyto(buf, x.transpose(perm))
                kernel(buf.reshape(tview), tout)
                return out
            return run_gathered
        out2 = out.reshape(view[0], view[2])

        def run_static(x, axes_value):
            kernel(x.reshape(view), out2)
            return out

        return run_static

    @classmethod
    def reduce(cls, x, axes, out_shape, out_np):
        """Reduce with shapes known only now (allocates)."""
        if x.dtype == np.float16:
            return cls.reduce(x.astype(np.float32), axes, out_shape, np.float32).astype(np.float16)
        rest = [i for i in range(x.ndim) if i not in axes]
        view = K.as_outer_mid_inner(x.shape, axes)
        if view is None:
            x = np.ascontiguousarray(x.transpose(rest + axes))
            view = K.as_outer_mid_inner(x.shape, list(range(len(rest), x.ndim)))
        out = np.empty(out_shape, dtype=out_np)
        cls.kernel_for(x.dtype)(x.reshape(view), out.reshape(view[0], view[2]))
        return out

    @classmethod
    def kernel_for(cls, np_dtype):
        return cls.kernel


class Sum(Reduction):
    type = "Sum"
    fusible_reduction = "sum"
    kernel = staticmethod(K.sum_mid)


class Prod(Reduction):
    type = "Prod"
    kernel = staticmethod(K.prod_mid)


class Max(Reduction):
    type = "Max"

    @classmethod
    def kernel_for(cls, np_dtype):
        low = -np.inf if np_dtype.kind == "f" else np.iinfo(np_dtype).min
        low = np_dtype.type(low)
        return lambda x, out: K.max_mid(x, out, low)


class Min(Reduction):
    type = "Min"

    @classmethod
    def kernel_for(cls, np_dtype):
        high = np.inf if np_dtype.kind == "f" else np.iinfo(np_dtype).max
        high = np_dtype.type(high)
        return lambda x, out: K.min_mid(x, out, high)


class Any(Reduction):
    type = "Any"
    kinds = "b"
    kernel = staticmethod(K.any_mid)


class All(Reduction):
    type = "All"
    kinds = "b"
    kernel = staticmethod(K.all_mid)


class EuclideanNorm(Reduction):
    """sqrt(sum(x * x)) over the axes (for integers the root is truncated, as TF)."""

    type = "EuclideanNorm"

    @classmethod
    def plan_forwards(cls, ctx):
        return None  # over size-1 axes it is |x|, not x

    @classmethod
    def kernel_for(cls, np_dtype):
        def norm(x, out):
            K.sum_squares_mid(x, out)
            if np_dtype.kind == "f":
                np.sqrt(out, out=out)
            else:
                out[...] = np.sqrt(out)
        return norm


class Mean(Reduction):
    """Sum, then divide by the number of reduced elements (for integers rounding
    toward zero, as TF's C++ division)."""

    type = "Mean"
    fusible_reduction = "mean"

    @classmethod
    def kernel_for(cls, np_dtype):
        def mean(x, out):
            K.sum_mid(x, out)
            n = x.shape[1]
            if np_dtype.kind == "f":
                np.divide(out, np_dtype.type(n) if n else np_dtype.type(np.nan), out=out)
            elif n:
                K.divide_trunc(out, n)
        return mean


def reduction_axes(x, axis):
    """The axes tensor for ``axis`` (None means all axes)."""
    if axis is None:
        rank = x.shape.ndims
        if rank is not None:
            return convert_to_tensor(np.arange(rank, dtype=np.int32), name="Const")
        from nbflow.ops.array_ops import range as tf_range, rank as tf_rank

        return tf_range(0, tf_rank(x))
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
    from nbflow.ops import array_ops
    from nbflow.ops import math_ops as M

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
        my_max = array_ops.stop_gradient(
            M.where_v2(M.is_finite(raw_max), raw_max, array_ops.zeros_like(raw_max)))
        result = M.log(reduce_sum(M.exp(M.subtract(x, my_max)), axis, keepdims=keepdims))
        if not keepdims:
            shp = result.shape
            my_max = array_ops.reshape(my_max, shp.as_list() if shp.is_fully_defined() else array_ops.shape(result))
        return M.add(result, my_max, name=scope)


def count_nonzero(input_tensor=None, axis=None, keepdims=None, dtype=dtypes.int64, name=None,
                  reduction_indices=None, keep_dims=None, input=None):
    """Number of non-zero (non-False) elements along the axes, as ``dtype``."""
    from nbflow.ops import math_ops as M

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


def _outer_mid_inner(shape, axis):
    outer = int(np.prod(shape[:axis])) if axis else 1
    inner = int(np.prod(shape[axis + 1:])) if axis + 1 < len(shape) else 1
    return outer, shape[axis], inner


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
    kernel = staticmethod(K.argmax_mid)

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

    @classmethod
    def plan(cls, ctx):
        out_np = ctx.out_np_dtype(0)
        fixed = ctx.value(1)
        kernel = cls.kernel
        static_out = ctx.static_buffer(0)

        def run(x, dim):
            axis = _one_axis(fixed if fixed is not None else dim, x.ndim, "dimension")
            if x.shape[axis] == 0:
                raise ValueError("Reduction axis %d is empty in shape %s" % (axis, list(x.shape)))
            o, r, n = _outer_mid_inner(x.shape, axis)
            out = static_out if static_out is not None else \
                np.empty(x.shape[:axis] + x.shape[axis + 1:], dtype=out_np)
            if x.dtype == np.float16:
                x = x.astype(np.float32)
            kernel(x.reshape(o, r, n), out.reshape(o, n))
            return out
        return run


class ArgMin(ArgMax):
    type = "ArgMin"
    kernel = staticmethod(K.argmin_mid)


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
    kernel = staticmethod(S.cumsum_mid)
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

    @classmethod
    def plan(cls, ctx):
        fixed = ctx.value(1)
        exclusive, reverse = bool(ctx.attrs["exclusive"]), bool(ctx.attrs["reverse"])
        kernel = cls.kernel
        static_out = ctx.static_buffer(0)

        def run(x, axis_value):
            if x.ndim == 0:
                raise ValueError("%s needs an input of rank >= 1, got a scalar" % cls.type)
            axis = _one_axis(fixed if fixed is not None else axis_value, x.ndim, "scan axis")
            view = _outer_mid_inner(x.shape, axis)
            out = static_out if static_out is not None else np.empty(x.shape, dtype=x.dtype)
            if x.dtype == np.float16:
                o32 = np.empty(view, dtype=np.float32)
                kernel(x.astype(np.float32).reshape(view), o32, exclusive, reverse)
                out[...] = o32.reshape(x.shape)
                return out
            kernel(x.reshape(view), out.reshape(view), exclusive, reverse)
            return out
        return run


class Cumprod(Cumsum):
    """Running product along one axis. Inputs (x, axis); attrs exclusive, reverse."""

    type = "Cumprod"
    kernel = staticmethod(S.cumprod_mid)


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
