"""Array ops: shapes, reshapes, fills, broadcasting, slicing, gathering."""
import builtins

import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.ops.base import Op, apply_op, convert_to_tensor

__all__ = [
    "identity", "stop_gradient", "shape", "size", "rank", "reshape", "zeros_like", "ones_like", "fill",
    "zeros", "ones", "broadcast_to", "range",
]


def _shape_value_to_tuple(v):
    return tuple(int(d) for d in np.asarray(v).reshape(-1))


# -- pass-through --------------------------------------------------------------

class Identity(Op):
    type = "Identity"
    #: output 0 is input 0 unchanged: the planner aliases it instead of running it.
    forwards_input = 0

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def plan(cls, ctx):
        return lambda x: x


class StopGradient(Identity):
    type = "StopGradient"


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

    @classmethod
    def plan(cls, ctx):
        npd = ctx.attrs["out_type"].as_numpy_dtype
        return lambda x: np.array(x.shape, dtype=npd)


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

    @classmethod
    def plan(cls, ctx):
        npd = ctx.attrs["out_type"].as_numpy_dtype
        return lambda x: np.array(x.size, dtype=npd)


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

    @classmethod
    def plan(cls, ctx):
        return lambda x: np.array(x.ndim, dtype=np.int32)


def shape(input, name=None, out_type=dtypes.int32):
    return apply_op(Shape, [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)}, name=name or "Shape")


def size(input, name=None, out_type=dtypes.int32):
    return apply_op(Size, [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)}, name=name or "Size")


def rank(input, name=None):
    return apply_op(Rank, [convert_to_tensor(input)], name=name or "Rank")


# -- reshape ---------------------------------------------------------------------

def _resolve_reshape(in_dims, target, ctx=None):
    """Target shape with its -1 resolved (None where not yet known)."""
    target = list(target)
    if target.count(-1) > 1:
        raise _err(ctx, "Only one input size may be -1, not both %d and %d"
                   % tuple(i for i, d in enumerate(target) if d == -1)[:2])
    known_in = in_dims is not None and None not in in_dims
    n_in = int(np.prod(in_dims)) if known_in else None
    if -1 in target:
        rest = int(np.prod([d for d in target if d != -1]))
        if n_in is None:
            return [None if d == -1 else d for d in target]
        if rest == 0 or n_in % rest:
            raise _err(ctx, "Cannot reshape a tensor with %d elements to shape %s" % (n_in, target))
        target[target.index(-1)] = n_in // rest
    if n_in is not None and int(np.prod(target)) != n_in:
        raise _err(ctx, "Cannot reshape a tensor with %d elements to shape [%s] (%d elements)"
                   % (n_in, ",".join(str(d) for d in target), int(np.prod(target))))
    return target


def _err(ctx, msg):
    return ctx.error(msg) if ctx is not None else ValueError(msg)


class Reshape(Op):
    type = "Reshape"

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
            rank_ = n[0] if n is not None and len(n) == 1 else None
            return [(ctx.input_dtypes[0], TensorShape(None if rank_ is None else [None] * rank_))]
        return [(ctx.input_dtypes[0], TensorShape(_resolve_reshape(ctx.dims(0), _shape_value_to_tuple(target), ctx)))]

    @classmethod
    def plan(cls, ctx):
        out_shape = ctx.output_shapes[0]
        if out_shape.is_fully_defined():
            shp = out_shape.as_tuple()
            return lambda x, s: x.reshape(shp)

        def run(x, s):
            return x.reshape(_resolve_reshape(x.shape, _shape_value_to_tuple(s)))
        return run


def reshape(tensor, shape, name=None):
    x = convert_to_tensor(tensor)
    s = convert_to_tensor(list(shape) if isinstance(shape, tuple) else shape, dtype=dtypes.int32) \
        if not hasattr(shape, "op") else shape
    return apply_op(Reshape, [x, s], name=name or "Reshape")


# -- fills -------------------------------------------------------------------------

class Fill(Op):
    """Fill(dims, value)."""

    type = "Fill"

    @classmethod
    def infer(cls, ctx):
        dims = ctx.value(0)
        if dims is None:
            n = ctx.dims(0)
            return [(ctx.input_dtypes[1], TensorShape(None if n is None or n[0] is None else [None] * n[0]))]
        dims = _shape_value_to_tuple(dims)
        if any(d < 0 for d in dims):
            raise ctx.error("Fill dimensions must be >= 0, got %s" % (list(dims),))
        return [(ctx.input_dtypes[1], TensorShape(dims))]

    @classmethod
    def plan(cls, ctx):
        npd = ctx.out_np_dtype(0)
        return lambda dims, value: np.full(_shape_value_to_tuple(dims), value, dtype=npd)


def fill(dims, value, name=None):
    d = convert_to_tensor(dims, dtype=dtypes.int32) if not hasattr(dims, "op") else dims
    return apply_op(Fill, [d, convert_to_tensor(value)], name=name or "Fill")


def _shape_arg(shape):
    if hasattr(shape, "op"):
        return shape
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    return convert_to_tensor(np.asarray(shape, dtype=np.int32).reshape(-1), dtype=dtypes.int32)


def zeros(shape, dtype=dtypes.float32, name=None):
    dtype = dtypes.as_dtype(dtype)
    return fill(_shape_arg(shape), convert_to_tensor(np.zeros((), dtype.as_numpy_dtype), dtype=dtype),
                name=name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    dtype = dtypes.as_dtype(dtype)
    return fill(_shape_arg(shape), convert_to_tensor(np.ones((), dtype.as_numpy_dtype), dtype=dtype),
                name=name or "ones")


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
            return np.full(dims, cls.fill_value, dtype=ctx.input_dtypes[0].as_numpy_dtype)
        return None

    @classmethod
    def plan(cls, ctx):
        v = cls.fill_value
        return lambda x: np.full(x.shape, v, dtype=x.dtype)


class OnesLike(ZerosLike):
    type = "OnesLike"
    fill_value = 1


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    x = convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) is not x.dtype:
        return zeros(shape(x), dtype=dtype, name=name)
    return apply_op(ZerosLike, [x], name=name or "zeros_like")


def ones_like(tensor, dtype=None, name=None, optimize=True):
    x = convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) is not x.dtype:
        return ones(shape(x), dtype=dtype, name=name)
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
            return [(ctx.input_dtypes[0], TensorShape(None))]
        target = _shape_value_to_tuple(target)
        dims = ctx.dims(0)
        if dims is not None:
            if len(dims) > len(target) or any(
                    d is not None and d != 1 and d != t for d, t in zip(dims[::-1], target[::-1])):
                raise ctx.error("Unable to broadcast tensor of shape %s to %s" % (ctx.input_shapes[0], list(target)))
        return [(ctx.input_dtypes[0], TensorShape(target))]

    @classmethod
    def plan(cls, ctx):
        npd = ctx.input_dtypes[0].as_numpy_dtype
        out = ctx.static_buffer(0)
        in_dims = ctx.dims(0)
        if out is not None and in_dims is not None and None not in in_dims:
            kernel, _ = ew_kernels.get_kernel([], ["x0"], [npd], [in_dims], [npd], out.shape)

            def run(x, s):
                kernel(x, out)
                return out
            return run

        def run_dynamic(x, s):
            target = _shape_value_to_tuple(s)
            kernel, _ = ew_kernels.get_kernel([], ["x0"], [npd], [x.shape], [npd], target)
            o = np.empty(target, dtype=npd)
            kernel(x, o)
            return o
        return run_dynamic


def broadcast_to(input, shape, name=None):
    return apply_op(BroadcastTo, [convert_to_tensor(input), _shape_arg(shape)], name=name or "BroadcastTo")


def broadcast_gradient_axes(sx, sy):
    """Axes along which each of two broadcast operands must be summed."""
    sx, sy = list(sx), list(sy)
    n = builtins.max(len(sx), len(sy))
    px, py = [1] * (n - len(sx)) + sx, [1] * (n - len(sy)) + sy
    rx = [i for i in builtins.range(n) if px[i] == 1 and py[i] != 1 or i < n - len(sx)]
    ry = [i for i in builtins.range(n) if py[i] == 1 and px[i] != 1 or i < n - len(sy)]
    # a dim that is 1 in both is summed in neither (it is size 1 anyway)
    return np.array(rx, dtype=np.int32), np.array(ry, dtype=np.int32)


class BroadcastGradientArgs(Op):
    """(shape_x, shape_y) -> (axes to sum for x's gradient, axes for y's)."""

    type = "BroadcastGradientArgs"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.int32, TensorShape([None])), (dtypes.int32, TensorShape([None]))]

    @classmethod
    def plan(cls, ctx):
        return lambda sx, sy: broadcast_gradient_axes(sx, sy)


# -- range -------------------------------------------------------------------------

class Range(Op):
    type = "Range"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        vals = [ctx.value(i) for i in builtins.range(3)]
        dt = ctx.input_dtypes[0]
        if all(v is not None for v in vals):
            n = len(np.arange(*[v.item() for v in vals]))
            return [(dt, TensorShape([n]))]
        return [(dt, TensorShape([None]))]

    @classmethod
    def plan(cls, ctx):
        npd = ctx.out_np_dtype(0)
        return lambda a, b, c: np.arange(a, b, c, dtype=npd)


def range(start, limit=None, delta=1, dtype=None, name="range"):
    if limit is None:
        start, limit = 0, start
    vals = [start, limit, delta]
    if dtype is None:
        tensors = [v for v in vals if hasattr(v, "op")]
        if tensors:
            dtype = tensors[0].dtype
        elif any(isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f") for v in vals):
            dtype = dtypes.float32
        else:
            dtype = dtypes.int32
    dtype = dtypes.as_dtype(dtype)
    from nbflow.ops.math_ops import cast

    ins = [cast(convert_to_tensor(v), dtype) if hasattr(v, "op") else convert_to_tensor(v, dtype=dtype)
           for v in vals]
    return apply_op(Range, ins, {"Tidx": dtype}, name=name)
