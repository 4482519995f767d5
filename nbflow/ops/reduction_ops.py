"""Reductions: reduce_sum/mean/max/min/prod/any/all (TF ops Sum, Mean, Max, ...)."""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.kernels.cpu import reduce as K
from nbflow.ops.base import Op, apply_op, convert_to_tensor

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_any",
           "reduce_all", "reduction_axes"]


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
        if out is None or fixed_axes is None or dims is None or None in dims:
            return run
        axes = normalize_axes(fixed_axes, len(dims))
        view = K.as_outer_mid_inner(dims, axes)
        if view is None:
            return run
        out2 = out.reshape(view[0], view[2])
        kernel = cls.kernel_for(np.dtype(ctx.input_dtypes[0].as_numpy_dtype))

        def run_static(x, axes_value):
            kernel(x.reshape(view), out2)
            return out

        return run_static

    @classmethod
    def reduce(cls, x, axes, out_shape, out_np):
        """Reduce with shapes known only now (allocates)."""
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


class Mean(Reduction):
    """Sum, then divide by the number of reduced elements (integer division for ints)."""

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
                np.floor_divide(out, n, out=out)
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
