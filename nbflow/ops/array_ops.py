"""Array ops: shapes, reshapes, fills, broadcasting, slicing, gathering.

Ops that only move elements (Transpose, Slice, StridedSlice, ReverseV2, Tile,
Pad, ConcatV2, Pack, Unpack, Split, SplitV) subclass :class:`_LayoutOp`: a
``layout`` function turns concrete input shapes and the values of the
"layout inputs" (perm, begin, multiples, paddings, axis, ...) into strided
copies, each one call of ``kernels/cpu/array.strided_copy``. When those are
known at plan time (constants are folded by the planner), the copies and the
output buffers are prepared once; otherwise ``layout`` runs every step and the
outputs are allocated then.

Gradients are in array_grad.py (Identity, Reshape and BroadcastTo in math_grad.py).
"""
import builtins

import numpy as np

from nbflow.framework import dtypes, errors
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.kernels.cpu import array as K
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor

__all__ = [
    "identity", "stop_gradient", "shape", "shape_n", "size", "rank", "reshape", "zeros_like", "ones_like", "fill",
    "zeros", "ones", "broadcast_to", "range", "transpose", "invert_permutation", "expand_dims", "squeeze",
    "concat", "stack", "unstack", "split", "slice", "strided_slice", "gather", "gather_nd", "scatter_nd",
    "unsorted_segment_sum", "boolean_mask", "reverse", "reverse_v2", "one_hot", "tile", "pad", "eye",
    "linspace", "lin_space", "where_indices", "check_numerics", "broadcast_dynamic_shape",
    "broadcast_static_shape", "newaxis",
]

newaxis = None

_INDEX_DTYPES = (dtypes.int32, dtypes.int64)


def _shape_value_to_tuple(v):
    return tuple(int(d) for d in np.asarray(v).reshape(-1))


def _ints(v):
    return [int(d) for d in np.asarray(v).reshape(-1)]


def _known(dims):
    return dims is not None and None not in dims


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _is_tensor(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_graph_element")


def _contains_tensor(value):
    if _is_tensor(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_tensor(v) for v in value)
    return False


def _op_error(op):
    """Run-time errors name the op, as TF's do."""
    def make(msg):
        return errors.InvalidArgumentError(None, op, "%s\n\t [[node %s (defined as %s)]]" % (msg, op.name, op.type))
    return make


def _check_index_dtype(ctx, i, what):
    if ctx.input_dtypes[i] not in _INDEX_DTYPES:
        raise TypeError("Value passed to parameter '%s' of '%s' has DataType %s not in list of allowed values: "
                        "int32, int64" % (what, ctx.name, ctx.input_dtypes[i].name))


# -- strided copies ----------------------------------------------------------------

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _raw(a):
    """A C-contiguous array's buffer, flat, as unsigned ints of its item size
    (copies ignore the element type). Object (string) arrays stay objects."""
    flat = a.reshape(-1)
    if flat.dtype.kind == "O":
        return flat
    return flat.view(_UINT[flat.dtype.itemsize])


def _row_strides(shape):
    strides = [1] * len(shape)
    acc = 1
    for k in builtins.range(len(shape) - 1, -1, -1):
        strides[k] = acc
        acc *= shape[k]
    return strides


class _Copy:
    """One strided copy between flat buffers, prepared once.

    For every index i of ``shape``: dst[dst_off + i . dst_strides] =
    src[src_off + i . src_strides] (strides in elements; default dst: the
    row-major layout of ``shape``). Size-1 dimensions are dropped and
    dimensions contiguous in both buffers merged, so a plain block copy is
    one inner loop."""

    __slots__ = ("shape", "src_off", "src_strides", "dst_off", "dst_strides", "empty")

    def __init__(self, shape, src_off, src_strides, dst_off=0, dst_strides=None):
        shape = [int(n) for n in shape]
        if dst_strides is None:
            dst_strides = _row_strides(shape)
        self.empty = any(n == 0 for n in shape)
        merged = []
        for n, s, d in zip(shape, src_strides, dst_strides):
            if n == 1:
                continue
            if merged and merged[-1][1] == s * n and merged[-1][2] == d * n:
                merged[-1] = (merged[-1][0] * n, s, d)
            else:
                merged.append((n, s, d))
        self.shape = np.array([m[0] for m in merged], dtype=np.int64)
        self.src_strides = np.array([m[1] for m in merged], dtype=np.int64)
        self.dst_strides = np.array([m[2] for m in merged], dtype=np.int64)
        self.src_off = int(src_off)
        self.dst_off = int(dst_off)

    def __call__(self, src, dst):
        if self.empty:
            return
        s, d = _raw(src), _raw(dst)
        if s.dtype.kind == "O":
            self._object_copy(s, d)
        else:
            K.strided_copy(s, self.src_off, self.src_strides, d, self.dst_off, self.dst_strides, self.shape)

    def _object_copy(self, s, d):
        # strings: numpy fancy indexing over the same index arithmetic
        si = np.array(self.src_off, dtype=np.int64)
        di = np.array(self.dst_off, dtype=np.int64)
        for n, ss, ds in zip(self.shape, self.src_strides, self.dst_strides):
            r = np.arange(n, dtype=np.int64)
            si = si[..., None] + r * ss
            di = di[..., None] + r * ds
        d[di.reshape(-1)] = s[si.reshape(-1)]


def _zero_of(np_dtype):
    return b"" if np.dtype(np_dtype).kind == "O" else 0


def _execute(args, outs, moves, fills):
    for o, k in fills:
        outs[o][...] = args[k] if k is not None else _zero_of(outs[o].dtype)
    for i, o, copy in moves:
        copy(args[i], outs[o])


class _LayoutOp(Op):
    """An op that only moves elements (see the module docstring).

    ``layout(attrs, shapes, values, fail)`` receives the concrete input shapes
    (tuples), the values of the layout inputs ({input index: array}) and
    ``fail(message) -> exception``; it returns (output shapes, moves, fills):
    a move ``(input, output, _Copy)`` copies elements of an input into an
    output; a fill ``(output, input or None)`` first sets a whole output to an
    input's scalar value (or zero)."""

    pooled_outputs = True
    outputs_alias_inputs = False
    #: inputs whose values (not only shapes) decide the layout
    layout_inputs = ()

    @classmethod
    def layout_indices(cls, n_inputs):
        return cls.layout_inputs

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        # abstract: every concrete layout op (Transpose, Slice, ...) defines it
        raise TypeError("%s is a layout op without a layout() method" % cls.__name__)

    @classmethod
    def static_layout(cls, ctx):
        """The layout when shapes and layout values are all known now, else None."""
        shapes = [s.as_tuple() for s in ctx.input_shapes]
        if not all(_known(s) for s in shapes):
            return None
        values = {i: ctx.value(i) for i in cls.layout_indices(len(shapes))}
        if any(v is None for v in values.values()):
            return None
        return cls.layout(ctx.attrs, shapes, values, ctx.error)

    @classmethod
    def plan(cls, ctx):
        static = cls.static_layout(ctx)
        out_np = [d.as_numpy_dtype for d in ctx.output_dtypes]
        if static is not None:
            out_shapes, moves, fills = static
            outs = []
            for i, (s, npd) in enumerate(zip(out_shapes, out_np)):
                buf = ctx.static_buffer(i)
                outs.append(buf if buf is not None and buf.shape == tuple(s) else np.empty(s, dtype=npd))
            return _bind_layout(outs, moves, fills)
        which = cls.layout_indices(len(ctx.input_shapes))
        fail = _op_error(ctx.op)
        attrs = ctx.attrs

        def run(*args):
            out_shapes, moves, fills = cls.layout(attrs, [a.shape for a in args], {i: args[i] for i in which}, fail)
            outs = [np.empty(s, dtype=npd) for s, npd in zip(out_shapes, out_np)]
            _execute(args, outs, moves, fills)
            return outs[0] if len(outs) == 1 else tuple(outs)
        return run

    @classmethod
    def fold_constant(cls, op, vals):
        """Graph-time value for small constant inputs (shape arithmetic)."""
        if builtins.any(np.asarray(v).dtype.kind == "O" or np.size(v) > 1000 for v in vals):
            return None
        try:
            out_shapes, moves, fills = cls.layout(op.attrs, [np.shape(v) for v in vals],
                                                  {i: vals[i] for i in cls.layout_indices(len(vals))}, ValueError)
        except ValueError:
            return None
        if builtins.sum(_prod(s) for s in out_shapes) > 1000:
            return None
        outs = [np.empty(s, dtype=t.dtype.as_numpy_dtype) for s, t in zip(out_shapes, op.outputs)]
        _execute([np.ascontiguousarray(v) for v in vals], outs, moves, fills)
        return outs[0] if len(outs) == 1 else None


def _bind_layout(outs, moves, fills):
    if len(outs) == 1 and len(moves) == 1 and not fills:
        (i, _, copy), = moves
        out = outs[0]

        if i == 0:
            def run(x, *rest):
                copy(x, out)
                return out
        else:
            def run(*args):
                copy(args[i], out)
                return out
        return run
    result = outs[0] if len(outs) == 1 else tuple(outs)

    def run_all(*args):
        _execute(args, outs, moves, fills)
        return result
    return run_all


def _axis_value(v, rank, fail, what="axis", extra=0):
    """A scalar axis in [-(rank+extra), rank+extra), normalized."""
    arr = np.asarray(v)
    if arr.ndim != 0:
        raise fail("%s must be a scalar, got shape %s" % (what, list(arr.shape)))
    a = int(arr)
    hi = rank + extra
    if a < -hi or a >= hi:
        raise fail("Expected %s in the range [%d, %d), but got %d" % (what, -hi, hi, a))
    return a % hi if hi else 0


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

    @classmethod
    def fold_constant(cls, op, vals):
        return vals[0]


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


class ShapeN(Op):
    type = "ShapeN"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["out_type"], TensorShape([s.ndims])) for s in ctx.input_shapes]

    @classmethod
    def plan_value(cls, ctx):
        npd = ctx.attrs["out_type"].as_numpy_dtype
        dims = [ctx.dims(i) for i in builtins.range(len(ctx.input_shapes))]
        if all(_known(d) for d in dims):
            return tuple(np.array(d, dtype=npd) for d in dims)
        return None

    @classmethod
    def plan(cls, ctx):
        npd = ctx.attrs["out_type"].as_numpy_dtype
        return lambda *xs: tuple(np.array(x.shape, dtype=npd) for x in xs)


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

    @classmethod
    def plan_forwards(cls, ctx):
        # to the shape it already has: the input itself
        if ctx.output_shapes[0].is_fully_defined() and ctx.output_shapes[0] == ctx.input_shapes[0]:
            return 0
        return None

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
    def plan(cls, ctx):
        out_shape = ctx.output_shapes[0]
        if out_shape.is_fully_defined():
            shp = out_shape.as_tuple()
            return lambda x, s: x.reshape(shp)
        fail = _op_error(ctx.op)

        def run(x, s):
            return x.reshape(_resolve_reshape(x.shape, _shape_value_to_tuple(s), fail))
        return run

    @classmethod
    def fold_constant(cls, op, vals):
        try:
            return np.reshape(vals[0], _resolve_reshape(np.shape(vals[0]), _shape_value_to_tuple(vals[1])))
        except ValueError:
            return None


def _shape_tensor(shape, name=None):
    """A shape argument (list, tuple, TensorShape, array or Tensor) as an int tensor."""
    if _is_tensor(shape):
        return convert_to_tensor(shape)
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError("Cannot convert a partially known TensorShape to a Tensor: %s" % shape)
        shape = shape.as_list()
    return _index_tensor(shape, name)


def reshape(tensor, shape, name=None):
    x = convert_to_tensor(tensor)
    return apply_op(Reshape, [x, _shape_tensor(shape)], name=name or "Reshape")


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

    @classmethod
    def plan(cls, ctx):
        npd = ctx.out_np_dtype(0)
        out = ctx.static_buffer(0)
        if out is not None:
            def run_static(dims, value):
                out[...] = value
                return out
            return run_static
        fail = _op_error(ctx.op)

        def run(dims, value):
            d = _shape_value_to_tuple(dims)
            if any(n < 0 for n in d):
                raise fail("Fill dimensions must be >= 0, got %s" % (list(d),))
            return np.full(d, value, dtype=npd)
        return run


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
    from nbflow.ops.constant_op import constant

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

    @classmethod
    def plan(cls, ctx):
        v = cls._value(ctx.input_dtypes[0])
        return lambda x: np.full(x.shape, v, dtype=x.dtype)


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

    @classmethod
    def plan(cls, ctx):
        npd = ctx.input_dtypes[0].as_numpy_dtype
        if ctx.input_dtypes[0] in (dtypes.string, dtypes.float16):  # no Numba kernels for these
            return lambda x, s: np.ascontiguousarray(np.broadcast_to(x, _shape_value_to_tuple(s)))
        out = ctx.static_buffer(0)
        in_dims = ctx.dims(0)
        if out is not None and in_dims is not None and None not in in_dims:
            kernel, _ = ew_kernels.get_kernel([], ["x0"], [npd], [in_dims], [npd], out.shape)

            def run(x, s):
                kernel(x, out)
                return out
            return run
        fail = _op_error(ctx.op)

        def run_dynamic(x, s):
            target = _shape_value_to_tuple(s)
            if x.ndim > len(target) or any(d != 1 and d != t for d, t in zip(x.shape[::-1], target[::-1])):
                raise fail("Unable to broadcast tensor of shape %s to %s" % (list(x.shape), list(target)))
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


def _broadcast_shapes(a, b, fail):
    a, b = list(a), list(b)
    n = builtins.max(len(a), len(b))
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
            return [(ctx.input_dtypes[0], TensorShape([builtins.max(na[0], nb[0])]))]
        return [(ctx.input_dtypes[0], TensorShape([None]))]

    @classmethod
    def plan(cls, ctx):
        fail = _op_error(ctx.op)
        npd = ctx.out_np_dtype(0)
        return lambda a, b: np.array(_broadcast_shapes(_ints(a), _ints(b), fail), dtype=npd)

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
        from nbflow.ops.math_ops import cast

        sx, sy = cast(sx, dtypes.int64), cast(sy, dtypes.int64)
    return apply_op(BroadcastArgs, [sx, sy], name="BroadcastArgs")


def broadcast_static_shape(shape_x, shape_y):
    """The broadcast of two TensorShapes (unknown dims stay unknown where they matter)."""
    sx, sy = as_shape(shape_x), as_shape(shape_y)
    if sx.ndims is None or sy.ndims is None:
        return TensorShape(None)
    a, b = list(sx.as_tuple()), list(sy.as_tuple())
    n = builtins.max(len(a), len(b))
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
        return (builtins.abs(limit - start) + builtins.abs(delta) - 1) // builtins.abs(delta)
    return int(np.ceil(builtins.abs((limit - start) / delta)))


class Range(Op):
    type = "Range"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        for i, what in enumerate(("start", "limit", "delta")):
            s = ctx.input_shapes[i]
            if s.ndims is not None and s.ndims != 0:
                raise ctx.error("%s must be a scalar, not shape %s" % (what, s))
        vals = [ctx.value(i) for i in builtins.range(3)]
        dt = ctx.input_dtypes[0]
        if all(v is not None for v in vals):
            n = _range_size(*[np.asarray(v).item() for v in vals], ctx.error)
            return [(dt, TensorShape([n]))]
        return [(dt, TensorShape([None]))]

    @classmethod
    def plan(cls, ctx):
        npd = ctx.out_np_dtype(0)
        fail = _op_error(ctx.op)

        def run(a, b, c):
            a, b, c = a.item(), b.item(), c.item()
            n = _range_size(a, b, c, fail)
            return (a + np.arange(n, dtype=npd) * np.asarray(c, dtype=npd)).astype(npd, copy=False)
        return run


_RANGE_HIERARCHY = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64]


def range(start, limit=None, delta=1, dtype=None, name="range"):
    """``tf.range``: the dtype is ``dtype``, else the widest of the arguments'
    (int32 < int64 < float32 < float64), as TF."""
    if limit is None:
        start, limit = 0, start
    from nbflow.ops.math_ops import cast

    with name_scope(name, "Range", [start, limit, delta]) as scope:
        from nbflow.ops.base import _infer_numpy

        args = (start, limit, delta)
        if dtype is None:
            found = [convert_to_tensor(v).dtype if _is_tensor(v) else dtypes.as_dtype(_infer_numpy(v, None).dtype)
                     for v in args]
            for d in found:
                if d not in _RANGE_HIERARCHY:
                    raise TypeError("tf.range: arguments must be int32, int64, float32 or float64, got %s" % d.name)
            dtype = builtins.max(found, key=_RANGE_HIERARCHY.index)
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

    @classmethod
    def plan(cls, ctx):
        out = ctx.static_buffer(0)
        npd = ctx.out_np_dtype(0)
        fail = _op_error(ctx.op)

        def run(start, stop, num):
            n = int(num)
            if n <= 0:
                raise fail("Requires num > 0: %d" % n)
            o = out if out is not None else np.empty(n, dtype=npd)
            K.linspace(start.reshape(1), stop.reshape(1), o)
            return o
        return run


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
    from nbflow.ops import math_ops as M
    from nbflow.ops.constant_op import constant

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
        rr = expand_dims(range(convert_to_tensor(num_rows, dtype=dtypes.int32)), 1)  # tf.range
        cc = expand_dims(range(convert_to_tensor(cols, dtype=dtypes.int32)), 0)
        mat = M.cast(M.equal(rr, cc), dtype)
        if batch_shape is None:
            return identity(mat, name=scope)
        target = concat([_shape_tensor(batch), shape(mat)], 0)
        return broadcast_to(mat, target, name=scope)


# -- transpose ---------------------------------------------------------------------

def _check_perm(perm, rank, fail):
    perm = [int(p) for p in perm]
    if len(perm) != rank:
        raise fail("transpose expects a vector of size %d. But input(1) is a vector of size %d" % (rank, len(perm)))
    for k, p in enumerate(perm):
        if p < 0 or p >= rank:
            raise fail("perm[%d] = %d is out of range [0, %d)" % (k, p, rank))
    if len(set(perm)) != rank:
        missing = [k for k in builtins.range(rank) if k not in perm][0]
        raise fail("%d is missing from {%s}." % (missing, ",".join(str(p) for p in perm)))
    return perm


class Transpose(_LayoutOp):
    type = "Transpose"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "perm")
        dims = ctx.dims(0)
        perm = ctx.value(1)
        if perm is None:
            if dims is not None:
                return [(ctx.input_dtypes[0], TensorShape([None] * len(dims)))]
            n = ctx.dims(1)
            return [(ctx.input_dtypes[0], TensorShape(None if not n or n[0] is None else [None] * n[0]))]
        perm = _ints(perm)
        if dims is None:
            return [(ctx.input_dtypes[0], TensorShape([None] * len(perm)))]
        perm = _check_perm(perm, len(dims), ctx.error)
        return [(ctx.input_dtypes[0], TensorShape([dims[p] for p in perm]))]

    @classmethod
    def plan_forwards(cls, ctx):
        perm = ctx.value(1)
        if perm is not None and _ints(perm) == list(builtins.range(np.size(perm))):
            return 0
        return None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = shapes[0]
        perm = _check_perm(_ints(values[1]), len(dims), fail)
        strides = _row_strides(dims)
        out = [dims[p] for p in perm]
        return [out], [(0, 0, _Copy(out, 0, [strides[p] for p in perm]))], []


def transpose(a, perm=None, name="transpose", conjugate=False):
    """``tf.transpose``: dimension i of the result is dimension perm[i] of ``a``
    (default: reversed)."""
    with name_scope(name, "transpose", [a]) as scope:
        x = convert_to_tensor(a, name="a")
        if perm is None:
            r = x.shape.ndims
            if r is not None:
                perm_t = convert_to_tensor(np.arange(r - 1, -1, -1, dtype=np.int32), name="perm")
            else:
                from nbflow.ops import math_ops as M

                rk = rank(x)
                perm_t = M.subtract(M.subtract(rk, 1), range(0, rk, 1))
        else:
            perm_t = _index_tensor(perm, "perm")
        return apply_op(Transpose, [x, perm_t], name=scope)


def _index_tensor(v, name=None):
    """An index argument (int, list, array or Tensor) as an int tensor: Python
    values become int32 (int64 if they need it), int arrays keep int32/int64."""
    if _is_tensor(v):
        return convert_to_tensor(v)
    if isinstance(v, (list, tuple)) and _contains_tensor(v):
        return convert_to_tensor(list(v))
    arr = np.asarray(v)
    if arr.size == 0:
        arr = arr.astype(np.int32)
    if arr.dtype.kind not in "iu":
        raise TypeError("Expected int32 or int64 values, got %r" % (v,))
    small = arr.size == 0 or (arr.max() <= np.iinfo(np.int32).max and arr.min() >= np.iinfo(np.int32).min)
    if not (isinstance(v, (np.ndarray, np.generic)) and arr.dtype in (np.int32, np.int64)):
        arr = arr.astype(np.int32 if small else np.int64)
    return convert_to_tensor(arr, name=name)


class InvertPermutation(Op):
    type = "InvertPermutation"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 0, "x")
        s = ctx.input_shapes[0]
        if s.ndims is not None and s.ndims != 1:
            raise ctx.error("invert_permutation expects a 1-D vector, got shape %s" % s)
        return [(ctx.input_dtypes[0], TensorShape([None]) if s.ndims is None else s)]

    @classmethod
    def plan(cls, ctx):
        fail = _op_error(ctx.op)

        def run(x):
            n = x.shape[0]
            _check_perm(x, n, fail)
            out = np.empty(n, dtype=x.dtype)
            out[x] = np.arange(n, dtype=x.dtype)
            return out
        return run


def invert_permutation(x, name=None):
    return apply_op(InvertPermutation, [_index_tensor(x)], name=name or "InvertPermutation")


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
    def plan(cls, ctx):
        out = ctx.output_shapes[0]
        if out.is_fully_defined():
            shp = out.as_tuple()
            return lambda x, d: x.reshape(shp)
        fail = _op_error(ctx.op)
        return lambda x, d: x.reshape(cls._target(x.shape, d, fail))

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
    def plan(cls, ctx):
        out = ctx.output_shapes[0]
        if out.is_fully_defined():
            shp = out.as_tuple()
            return lambda x: x.reshape(shp)
        fail = _op_error(ctx.op)
        axes = ctx.attrs["squeeze_dims"]
        return lambda x: x.reshape(cls._target(x.shape, axes, fail))

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


# -- concat / stack / unstack / split ------------------------------------------------

def _merge_dims(shapes, skip, fail, what):
    """Merge partially known shapes of one rank except at axis ``skip``."""
    rank_ = None
    merged = None
    first = None
    for s in shapes:
        if s is None:
            continue
        if rank_ is None:
            rank_, merged, first = len(s), list(s), s
            continue
        if len(s) != rank_:
            raise fail("Shape must be rank %d but is rank %d for %s" % (rank_, len(s), what))
        for k, d in enumerate(s):
            if k == skip:
                continue
            if merged[k] is None:
                merged[k] = d
            elif d is not None and d != merged[k]:
                raise fail("Dimension %d in both shapes must be equal, but are %d and %d. Shapes are %s and %s. "
                           "(%s)" % (k, merged[k], d, _fmt(first), _fmt(s), what))
    return rank_, merged


def _fmt(dims):
    return "[%s]" % ",".join("?" if d is None else str(d) for d in dims)


def _same_dtypes(ctx, indices, what):
    dt = ctx.input_dtypes[indices[0]]
    for i in indices:
        if ctx.input_dtypes[i] is not dt:
            raise TypeError("%s '%s': all values must have one dtype, got %s and %s"
                            % (what, ctx.name, dt.name, ctx.input_dtypes[i].name))
    return dt


class ConcatV2(_LayoutOp):
    type = "ConcatV2"

    @classmethod
    def layout_indices(cls, n_inputs):
        return (n_inputs - 1,)

    @classmethod
    def infer(cls, ctx):
        n = len(ctx.input_shapes) - 1
        dt = _same_dtypes(ctx, list(builtins.range(n)), "ConcatV2")
        _check_index_dtype(ctx, n, "axis")
        shapes = [ctx.dims(i) for i in builtins.range(n)]
        axis_v = ctx.value(n)
        ranks = sorted({len(s) for s in shapes if s is not None})
        if len(ranks) > 1:
            raise ctx.error("Shape must be rank %d but is rank %d for concat" % (ranks[0], ranks[1]))
        if not ranks:
            return [(dt, TensorShape(None))]
        rank_ = ranks[0]
        if rank_ == 0:
            raise ctx.error("Can't concatenate scalars (use tf.stack instead)")
        if axis_v is None:
            return [(dt, TensorShape([None] * rank_))]
        a = _axis_value(axis_v, rank_, ctx.error, "ConcatOp : concatenating dimension")
        rank_, merged = _merge_dims(shapes, a, ctx.error, "concat")
        total = 0
        for s in shapes:
            if s is None or s[a] is None:
                total = None
                break
            total += s[a]
        merged[a] = total
        return [(dt, TensorShape(merged))]

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        n = len(shapes) - 1
        dims = shapes[:n]
        r = len(dims[0])
        if r == 0:
            raise fail("Can't concatenate scalars (use tf.stack instead)")
        a = _axis_value(values[n], r, fail, "ConcatOp : concatenating dimension")
        for k, s in enumerate(dims):
            if len(s) != r or any(s[j] != dims[0][j] for j in builtins.range(r) if j != a):
                raise fail("ConcatOp : Dimensions of inputs should match: shape[0] = %s vs. shape[%d] = %s"
                           % (_fmt(dims[0]), k, _fmt(s)))
        outer = _prod(dims[0][:a])
        widths = [_prod(s[a:]) for s in dims]
        total = builtins.sum(widths)
        out = list(dims[0])
        out[a] = builtins.sum(s[a] for s in dims)
        moves, col = [], 0
        for i, w in enumerate(widths):
            moves.append((i, 0, _Copy((outer, w), 0, (w, 1), col, (total, 1))))
            col += w
        return [out], moves, []


def _convert_values(values, name="values"):
    """A list of values as tensors of one dtype (the first tensor's, if any)."""
    values = list(values)
    first = next((v for v in values if _is_tensor(v)), None)
    dtype = convert_to_tensor(first).dtype if first is not None else None
    out = []
    for v in values:
        if _is_tensor(v):
            out.append(convert_to_tensor(v))
        else:
            out.append(convert_to_tensor(v, dtype=dtype))
            if dtype is None:
                dtype = out[-1].dtype
    return out


def concat(values, axis, name="concat"):
    """``tf.concat`` (ConcatV2): join tensors along an existing axis."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 0:
        raise ValueError("tf.concat needs at least one value")
    if len(values) == 1:
        with name_scope(name) as scope:
            axis_t = _index_tensor(axis, "concat_dim")
            if axis_t.shape.ndims not in (None, 0):
                raise ValueError("Shape must be rank 0 but is rank %d for the concat axis" % axis_t.shape.ndims)
            return identity(values[0], name=scope)
    xs = _convert_values(values)
    axis_t = _index_tensor(axis, "axis") if not _is_tensor(axis) else convert_to_tensor(axis)
    return apply_op(ConcatV2, xs + [axis_t], {"N": len(xs), "T": xs[0].dtype, "Tidx": axis_t.dtype},
                    name=name or "concat")


class Pack(_LayoutOp):
    type = "Pack"

    @classmethod
    def infer(cls, ctx):
        n = len(ctx.input_shapes)
        dt = _same_dtypes(ctx, list(builtins.range(n)), "Pack")
        rank_, merged = _merge_dims([ctx.dims(i) for i in builtins.range(n)], None, ctx.error, "stack")
        if rank_ is None:
            return [(dt, TensorShape(None))]
        a = _axis_value(ctx.attrs["axis"], rank_, ctx.error, "axis", extra=1)
        return [(dt, TensorShape(merged[:a] + [n] + merged[a:]))]

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        n = len(shapes)
        r = len(shapes[0])
        for k, s in enumerate(shapes):
            if tuple(s) != tuple(shapes[0]):
                raise fail("Shapes of all inputs must match: values[0].shape = %s != values[%d].shape = %s"
                           % (_fmt(shapes[0]), k, _fmt(s)))
        a = _axis_value(attrs["axis"], r, fail, "axis", extra=1)
        dims = list(shapes[0])
        outer, w = _prod(dims[:a]), _prod(dims[a:])
        moves = [(i, 0, _Copy((outer, w), 0, (w, 1), i * w, (n * w, 1))) for i in builtins.range(n)]
        return [dims[:a] + [n] + dims[a:]], moves, []


def stack(values, axis=0, name="stack"):
    """``tf.stack`` (Pack): join tensors along a new axis."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 0:
        raise ValueError("tf.stack needs at least one value")
    if axis == 0 and not _contains_tensor(values):
        # Python values become one constant (as TF does)
        try:
            return convert_to_tensor(values, name=name)
        except (TypeError, ValueError):
            pass
    xs = _convert_values(values)
    r = xs[0].shape.ndims
    if r is not None and (axis < -(r + 1) or axis >= r + 1):
        raise ValueError("axis = %d not in [%d, %d)" % (axis, -(r + 1), r + 1))
    return apply_op(Pack, xs, {"N": len(xs), "axis": int(axis), "T": xs[0].dtype}, name=name or "stack")


class Unpack(_LayoutOp):
    type = "Unpack"

    @classmethod
    def infer(cls, ctx):
        num = ctx.attrs["num"]
        dims = ctx.dims(0)
        dt = ctx.input_dtypes[0]
        if dims is None:
            return [(dt, TensorShape(None))] * num
        a = _axis_value(ctx.attrs["axis"], len(dims), ctx.error, "axis")
        if dims[a] is not None and dims[a] != num:
            raise ctx.error("Dimension must be %d but is %d for unstack along axis %d" % (num, dims[a], a))
        return [(dt, TensorShape(list(dims[:a]) + list(dims[a + 1:])))] * num

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = list(shapes[0])
        num = attrs["num"]
        a = _axis_value(attrs["axis"], len(dims), fail, "axis")
        if dims[a] != num:
            raise fail("Input shape axis %d must equal %d, got shape %s" % (a, num, _fmt(dims)))
        outer, inner = _prod(dims[:a]), _prod(dims[a + 1:])
        out = dims[:a] + dims[a + 1:]
        moves = [(0, i, _Copy((outer, inner), i * inner, (num * inner, 1))) for i in builtins.range(num)]
        return [out] * num, moves, []


def _as_list(outs, n):
    if n == 0:
        return []
    if n == 1:
        return [outs]
    return list(outs)


def unstack(value, num=None, axis=0, name="unstack"):
    """``tf.unstack`` (Unpack): a list of the slices along ``axis``."""
    x = convert_to_tensor(value)
    dims = x.shape.as_tuple()
    if dims is not None:
        r = len(dims)
        if axis < -r or axis >= r:
            raise ValueError("axis = %d not in [%d, %d)" % (axis, -r, r))
    if num is None:
        if dims is None or dims[axis] is None:
            raise ValueError("Cannot infer num from shape %s" % x.shape)
        num = dims[axis]
    num = int(num)
    outs = apply_op(Unpack, [x], {"num": num, "axis": int(axis), "T": x.dtype}, name=name or "unstack")
    return _as_list(outs, num)


class Split(_LayoutOp):
    """Split(split_dim, value): ``num_split`` equal pieces."""

    type = "Split"
    layout_inputs = (0,)

    @classmethod
    def infer(cls, ctx):
        n = ctx.attrs["num_split"]
        dt = ctx.input_dtypes[1]
        dims = ctx.dims(1)
        axis_v = ctx.value(0)
        if dims is None:
            return [(dt, TensorShape(None))] * n
        if axis_v is None:
            return [(dt, TensorShape([None] * len(dims)))] * n
        a = _axis_value(axis_v, len(dims), ctx.error, "split dimension")
        out = list(dims)
        if dims[a] is not None:
            if dims[a] % n:
                raise ctx.error("Dimension size must be evenly divisible by %d but is %d" % (n, dims[a]))
            out[a] = dims[a] // n
        return [(dt, TensorShape(out))] * n

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        n = attrs["num_split"]
        dims = list(shapes[1])
        a = _axis_value(values[0], len(dims), fail, "split dimension")
        if dims[a] % n:
            raise fail("Number of ways to split should evenly divide the split dimension, but got split_dim %d "
                       "(size = %d) and num_split %d" % (a, dims[a], n))
        return _split_layout(dims, a, [dims[a] // n] * n, 1)


def _split_layout(dims, a, sizes, src):
    outer = _prod(dims[:a])
    inner = _prod(dims[a + 1:])
    width = dims[a] * inner
    shapes, moves, col = [], [], 0
    for i, s in enumerate(sizes):
        out = list(dims)
        out[a] = s
        shapes.append(out)
        moves.append((src, i, _Copy((outer, s * inner), col, (width, 1))))
        col += s * inner
    return shapes, moves, []


def _resolve_splits(sizes, dim, fail):
    sizes = list(sizes)
    neg = [i for i, s in enumerate(sizes) if s == -1]
    if len(neg) > 1:
        raise fail("Only one dimensions can have a value of -1 (second one found at dimension %d)" % neg[1])
    if any(s < -1 for s in sizes):
        raise fail("Split sizes must be >= 0 (or -1 once), got %s" % (sizes,))
    if dim is None:
        return [None if s == -1 else s for s in sizes]
    known = builtins.sum(s for s in sizes if s != -1)
    if neg:
        if known > dim:
            raise fail("Determined shape must either match input shape along split_dim exactly if fully "
                       "specified, or be less than the size of the input along split_dim if not fully "
                       "specified.  Got: %d" % known)
        sizes[neg[0]] = dim - known
    elif known != dim:
        raise fail("Determined shape must either match input shape along split_dim exactly if fully "
                   "specified, or be less than the size of the input along split_dim if not fully "
                   "specified.  Got: %d" % known)
    return sizes


class SplitV(_LayoutOp):
    """SplitV(value, size_splits, split_dim)."""

    type = "SplitV"
    layout_inputs = (1, 2)

    @classmethod
    def infer(cls, ctx):
        n = ctx.attrs["num_split"]
        dt = ctx.input_dtypes[0]
        _check_index_dtype(ctx, 1, "size_splits")
        dims = ctx.dims(0)
        sizes_v, axis_v = ctx.value(1), ctx.value(2)
        if sizes_v is not None and np.size(sizes_v) != n:
            raise ctx.error("Number of split sizes (%d) must equal num_split (%d)" % (np.size(sizes_v), n))
        if dims is None:
            return [(dt, TensorShape(None))] * n
        if axis_v is None:
            return [(dt, TensorShape([None] * len(dims)))] * n
        a = _axis_value(axis_v, len(dims), ctx.error, "split dimension")
        if sizes_v is None:
            out = list(dims)
            out[a] = None
            return [(dt, TensorShape(out))] * n
        sizes = _resolve_splits(_ints(sizes_v), dims[a], ctx.error)
        res = []
        for s in sizes:
            out = list(dims)
            out[a] = s
            res.append((dt, TensorShape(out)))
        return res

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = list(shapes[0])
        a = _axis_value(values[2], len(dims), fail, "split dimension")
        sizes = _resolve_splits(_ints(values[1]), dims[a], fail)
        if len(sizes) != attrs["num_split"]:
            raise fail("Number of split sizes (%d) must equal num_split (%d)" % (len(sizes), attrs["num_split"]))
        return _split_layout(dims, a, sizes, 0)


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """``tf.split``: an int makes equal pieces (Split); a list of sizes, where
    one may be -1, makes pieces of those sizes (SplitV)."""
    x = convert_to_tensor(value)
    if isinstance(num_or_size_splits, (int, np.integer)) and not isinstance(num_or_size_splits, bool):
        n = int(num_or_size_splits)
        if n <= 0:
            raise ValueError("Number of ways to split should be > 0, but got %d" % n)
        outs = apply_op(Split, [_index_tensor(axis, "split_dim") if not _is_tensor(axis) else
                                convert_to_tensor(axis), x], {"num_split": n, "T": x.dtype}, name=name or "split")
        return _as_list(outs, n)
    sizes = _index_tensor(num_or_size_splits) if not _is_tensor(num_or_size_splits) \
        else convert_to_tensor(num_or_size_splits)
    if sizes.shape.ndims == 0:
        raise ValueError("Rank-0 tensors are not supported as the num_or_size_splits argument to split. "
                         "Argument provided: %s" % (num_or_size_splits,))
    if num is None:
        dims = sizes.shape.as_tuple()
        num = dims[0] if dims else None
        if num is None:
            raise ValueError("Cannot infer num from shape %s" % (num_or_size_splits,))
    axis_t = _index_tensor(axis, "split_dim") if not _is_tensor(axis) else convert_to_tensor(axis)
    outs = apply_op(SplitV, [x, sizes, axis_t], {"num_split": int(num), "T": x.dtype, "Tlen": sizes.dtype},
                    name=name or "split")
    return _as_list(outs, int(num))


# -- slice / strided slice ----------------------------------------------------------

def _slice_sizes(dims, begin, size, fail):
    """Concrete (begin, size) lists of Slice, checked against ``dims``."""
    r = len(dims)
    if len(begin) != r or len(size) != r:
        raise fail("Expected begin and size arguments to be 1-D tensors of size %d, but got shapes [%d] and [%d] "
                   "instead." % (r, len(begin), len(size)))
    out = []
    for k in builtins.range(r):
        b, s, d = begin[k], size[k], dims[k]
        if s == -1:
            s = d - b if d is not None else None
        if d is not None:
            if b < 0 or b > d:
                raise fail("Expected begin[%d] in [0, %d], but got %d" % (k, d, b))
            if s is None or s < 0 or b + s > d:
                raise fail("Expected size[%d] in [0, %d], but got %d" % (k, d - b, size[k]))
        elif b < 0 or (s is not None and s < 0):
            raise fail("Expected begin[%d] >= 0 and size[%d] >= -1, got %d and %d" % (k, k, b, size[k]))
        out.append(s)
    return out


class Slice(_LayoutOp):
    type = "Slice"
    layout_inputs = (1, 2)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "begin")
        _check_index_dtype(ctx, 2, "size")
        dims = ctx.dims(0)
        begin, size_v = ctx.value(1), ctx.value(2)
        dt = ctx.input_dtypes[0]
        if dims is None:
            n = ctx.dims(2) or ctx.dims(1)
            r = n[0] if n else None
            if size_v is not None:
                return [(dt, TensorShape([None if s == -1 else s for s in _ints(size_v)]))]
            return [(dt, TensorShape(None if r is None else [None] * r))]
        if begin is None and size_v is None:
            return [(dt, TensorShape([None] * len(dims)))]
        if begin is None:
            sz = _ints(size_v)
            if len(sz) != len(dims):
                raise ctx.error("Expected size argument to be a 1-D tensor of size %d, got %d" % (len(dims), len(sz)))
            return [(dt, TensorShape([None if s == -1 else s for s in sz]))]
        if size_v is None:
            return [(dt, TensorShape([None] * len(dims)))]
        return [(dt, TensorShape(_slice_sizes(dims, _ints(begin), _ints(size_v), ctx.error)))]

    @classmethod
    def plan_forwards(cls, ctx):
        out = ctx.output_shapes[0]
        return 0 if out.is_fully_defined() and out == ctx.input_shapes[0] else None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = shapes[0]
        begin = _ints(values[1])
        sizes = _slice_sizes(dims, begin, _ints(values[2]), fail)
        strides = _row_strides(dims)
        off = builtins.sum(b * s for b, s in zip(begin, strides))
        return [sizes], [(0, 0, _Copy(sizes, off, strides))], []


def slice(input_, begin, size, name=None):
    """``tf.slice``: the block of ``size`` (-1: to the end) starting at ``begin``."""
    x = convert_to_tensor(input_)
    b = _index_tensor(begin)
    s = _index_tensor(size) if not _is_tensor(size) else convert_to_tensor(size)
    if b.dtype is not s.dtype:
        from nbflow.ops.math_ops import cast

        b, s = cast(b, dtypes.int64), cast(s, dtypes.int64)
    return apply_op(Slice, [x, b, s], {"T": x.dtype, "Index": b.dtype}, name=name or "Slice")


_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _strided_spec(dims, begin, end, strides, attrs, fail):
    """Canonicalize a strided slice over input ``dims`` (entries may be None).

    ``begin``/``end`` may be None (values unknown). Returns (final shape,
    per-input-dim (begin, size, stride)) with None where unknown; shrunk
    dims have size 1 there and are left out of the final shape; new axes are
    1 in the final shape only.
    """
    n = len(strides)
    for what, v in (("begin", begin), ("end", end)):
        if v is not None and len(v) != n:
            raise fail("Expected begin, end, and strides to be 1D equal size tensors, but got shapes [%d], [%d], "
                       "and [%d] instead." % (len(begin or ()), len(end or ()), n))
    bm, em, ell, new, shrink = (attrs[m] for m in _MASKS)
    if ell & (ell - 1):
        raise fail("Multiple ellipses in slice spec not allowed")
    rank_ = len(dims)
    entries = list(builtins.range(n))
    ell_pos = next((i for i in entries if ell & (1 << i)), None)
    if ell_pos is None:
        ell_pos = n  # an implicit ellipsis after the last entry
        entries.append(n)
    n_sparse = len(entries)
    new_after = builtins.sum(1 for i in builtins.range(ell_pos + 1, n) if new & (1 << i) and not ell & (1 << i))
    dense = []   # per input dim: sparse index, or None (whole dim)
    final = []   # per output dim: input dim index, or "new"
    full = 0
    for i in entries:
        bit = 1 << i
        if i == ell_pos:
            stop = builtins.min(rank_ - (n_sparse - i) + 1 + new_after, rank_)
            while full < stop:
                dense.append(None)
                final.append(full)
                full += 1
        elif new & bit:
            final.append("new")
        else:
            if full >= rank_:
                raise fail("Index out of range using input dim %d; input has only %d dims" % (full, rank_))
            dense.append(i)
            if not shrink & bit:
                final.append(full)
            full += 1
    if full < rank_:
        raise fail("Index out of range: the slice covers %d of %d dims" % (full, rank_))
    spec = []
    for k, i in enumerate(dense):
        d = dims[k]
        if i is None:
            spec.append((0, d, 1))
            continue
        bit = 1 << i
        s = int(strides[i])
        if s == 0:
            raise fail("strides[%d] must be non-zero" % i)
        if shrink & bit:
            if begin is None:
                spec.append((None, 1, 1))
                continue
            b = int(begin[i])
            if d is not None:
                bb = b + d if b < 0 else b
                if bb < 0 or bb >= d:
                    raise fail("slice index %d of dimension %d out of bounds." % (b, k))
                spec.append((bb, 1, 1))
            else:
                spec.append((None if b < 0 else b, 1, 1))
            continue
        if d is None:
            spec.append((None, None, s))
            continue
        lo, hi = (0, d) if s > 0 else (-1, d - 1)

        def canon(v, masked, default):
            if masked:
                return default
            if v < 0:
                v += d
            return builtins.min(builtins.max(v, lo), hi)

        if (not bm & bit and begin is None) or (not em & bit and end is None):
            spec.append((None, None, s))
            continue
        b = canon(int(begin[i]) if begin is not None else 0, bm & bit, 0 if s > 0 else d - 1)
        e = canon(int(end[i]) if end is not None else 0, em & bit, d if s > 0 else -1)
        if s > 0:
            size_ = (e - b + s - 1) // s if e > b else 0
        else:
            size_ = (b - e - s - 1) // (-s) if b > e else 0
        spec.append((b, size_, s))
    shape_ = [1 if f == "new" else spec[f][1] for f in final]
    return shape_, spec


class StridedSlice(_LayoutOp):
    """StridedSlice(input, begin, end, strides) with TF's five masks."""

    type = "StridedSlice"
    layout_inputs = (1, 2, 3)

    @classmethod
    def infer(cls, ctx):
        for i, what in ((1, "begin"), (2, "end"), (3, "strides")):
            _check_index_dtype(ctx, i, what)
        dims = ctx.dims(0)
        dt = ctx.input_dtypes[0]
        strides = ctx.value(3)
        if dims is None or strides is None:
            return [(dt, TensorShape(None))]
        b, e = ctx.value(1), ctx.value(2)
        shape_, _ = _strided_spec(dims, None if b is None else _ints(b), None if e is None else _ints(e),
                                  _ints(strides), ctx.attrs, ctx.error)
        return [(dt, TensorShape(shape_))]

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = shapes[0]
        shape_, spec = _strided_spec(dims, _ints(values[1]), _ints(values[2]), _ints(values[3]), attrs, fail)
        strides = _row_strides(dims)
        off = builtins.sum(b * st for (b, n, s), st in zip(spec, strides) if n)
        copy = _Copy([n for _, n, _ in spec], off, [s * st for (_, _, s), st in zip(spec, strides)])
        return [shape_], [(0, 0, copy)], []

    @classmethod
    def plan_forwards(cls, ctx):
        out = ctx.output_shapes[0]
        if not (out.is_fully_defined() and out == ctx.input_shapes[0]):
            return None
        static = cls.static_layout(ctx)
        if static is None:
            return None
        copy = static[1][0][2]
        # the whole input in order: one contiguous block from offset 0
        n = out.num_elements()
        if copy.src_off == 0 and (n <= 1 or (len(copy.shape) == 1 and copy.src_strides[0] == 1)):
            return 0
        return None


class StridedSliceGrad(_LayoutOp):
    """StridedSliceGrad(shape, begin, end, strides, dy): dy scattered into zeros of ``shape``."""

    type = "StridedSliceGrad"
    layout_inputs = (0, 1, 2, 3)

    @classmethod
    def infer(cls, ctx):
        v = ctx.value(0)
        dt = ctx.input_dtypes[4]
        if v is not None:
            return [(dt, TensorShape(_ints(v)))]
        n = ctx.dims(0)
        return [(dt, TensorShape(None if not n or n[0] is None else [None] * n[0]))]

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = _ints(values[0])
        shape_, spec = _strided_spec(dims, _ints(values[1]), _ints(values[2]), _ints(values[3]), attrs, fail)
        if _prod(shape_) != _prod(shapes[4]):
            raise fail("StridedSliceGrad: dy has shape %s, but the slice has shape %s"
                       % (_fmt(shapes[4]), _fmt(shape_)))
        strides = _row_strides(dims)
        sizes = [n for _, n, _ in spec]
        off = builtins.sum(b * st for (b, n, s), st in zip(spec, strides) if n)
        copy = _Copy(sizes, 0, _row_strides(sizes), off, [s * st for (_, _, s), st in zip(spec, strides)])
        return [dims], [(4, 0, copy)], [(0, None)]


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                  shrink_axis_mask=0, var=None, name=None):
    """``tf.strided_slice`` (numpy-style slicing; see ``Tensor.__getitem__``)."""
    x = convert_to_tensor(input_)
    b = _index_tensor(begin)
    e = _index_tensor(end)
    if strides is None:
        bv = constant_value(b)
        strides = np.ones_like(bv) if bv is not None else ones_like(b)
    s = _index_tensor(strides)
    ts = [b, e, s]
    if len({t.dtype for t in ts}) > 1:
        from nbflow.ops.math_ops import cast

        ts = [cast(t, dtypes.int64) for t in ts]
    attrs = {"begin_mask": int(begin_mask), "end_mask": int(end_mask), "ellipsis_mask": int(ellipsis_mask),
             "new_axis_mask": int(new_axis_mask), "shrink_axis_mask": int(shrink_axis_mask), "T": x.dtype,
             "Index": ts[0].dtype}
    return apply_op(StridedSlice, [x] + ts, attrs, name=name or "StridedSlice")


def _check_index(idx):
    """Indices of ``tensor[...]``: ints and scalar int32/int64 tensors."""
    if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
        return
    if _is_tensor(idx):
        t = convert_to_tensor(idx)
        if t.dtype in _INDEX_DTYPES and t.shape.ndims in (None, 0):
            return
    raise TypeError("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar tf.int32/"
                    "tf.int64 tensors are valid indices, got %r" % (idx,))


def _as_index(e, dtype):
    if _is_tensor(e):
        t = convert_to_tensor(e)
        if t.dtype is not dtype:
            from nbflow.ops.math_ops import cast

            t = cast(t, dtype)
        return t
    return convert_to_tensor(np.asarray(e, dtype=dtype.as_numpy_dtype))


def _slice_helper(tensor, slice_spec, var=None):
    """``tensor[slice_spec]``: numpy-style basic indexing as one StridedSlice.

    Ints (negative count from the end) drop a dimension; slices take ranges
    with any non-zero step; ``...`` stands for the remaining dims; ``None``
    (tf.newaxis) inserts a dimension of 1. Scalar int32/int64 tensors work as
    ints and in slice bounds. A boolean tensor or array is ``boolean_mask``.
    """
    if isinstance(slice_spec, bool) or (_is_tensor(slice_spec) and convert_to_tensor(slice_spec).dtype is
                                        dtypes.bool_) or (isinstance(slice_spec, np.ndarray) and
                                                          slice_spec.dtype == np.bool_):
        return boolean_mask(tensor, slice_spec)
    if not isinstance(slice_spec, (list, tuple)):
        slice_spec = [slice_spec]
    begin, end, strides = [], [], []
    masks = dict.fromkeys(_MASKS, 0)
    for index, s in enumerate(slice_spec):
        bit = 1 << index
        if isinstance(s, builtins.slice):
            if s.start is not None:
                _check_index(s.start)
                begin.append(s.start)
            else:
                begin.append(0)
                masks["begin_mask"] |= bit
            if s.stop is not None:
                _check_index(s.stop)
                end.append(s.stop)
            else:
                end.append(0)
                masks["end_mask"] |= bit
            if s.step is not None:
                _check_index(s.step)
                strides.append(s.step)
            else:
                strides.append(1)
        elif s is Ellipsis:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask"] |= bit
        elif s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["new_axis_mask"] |= bit
        else:
            _check_index(s)
            begin.append(s)
            end.append(s + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
    with name_scope(None, "strided_slice", [tensor]) as scope:
        x = convert_to_tensor(tensor)
        if begin:
            tensors = [convert_to_tensor(e) for e in begin + end + strides if _is_tensor(e)]
            if tensors:
                # one index dtype for all three (int64 if any index tensor is int64)
                dt = dtypes.int64 if any(t.dtype is dtypes.int64 for t in tensors) else dtypes.int32
                packed = [stack([_as_index(e, dt) for e in v]) for v in (begin, end, strides)]
            else:
                packed = [_index_tensor(v) for v in (begin, end, strides)]
        else:
            empty = convert_to_tensor(np.zeros(0, dtype=np.int32))
            packed = [empty, empty, empty]
        return strided_slice(x, packed[0], packed[1], packed[2], name=scope, **masks)


# -- reverse, tile, pad ---------------------------------------------------------------

def _reverse_axes(axes, rank_, fail):
    out = []
    for a in _ints(axes):
        if a < -rank_ or a >= rank_:
            raise fail("'axis'[%d] = %d is out of valid range [%d, %d)" % (len(out), a, -rank_, rank_))
        a %= rank_
        if a in out:
            raise fail("axis %d specified more than once." % a)
        out.append(a)
    return out


class ReverseV2(_LayoutOp):
    type = "ReverseV2"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "axis")
        dims = ctx.dims(0)
        axes = ctx.value(1)
        if dims is not None and axes is not None:
            if np.ndim(axes) != 1:
                raise ctx.error("'axis' must be 1-D, got shape %s" % (list(np.shape(axes)),))
            _reverse_axes(axes, len(dims), ctx.error)
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    @classmethod
    def plan_forwards(cls, ctx):
        axes, dims = ctx.value(1), ctx.dims(0)
        if axes is not None and _known(dims) and all(dims[a] <= 1 for a in _reverse_axes(axes, len(dims), ctx.error)):
            return 0
        return None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = shapes[0]
        axes = _reverse_axes(values[1], len(dims), fail)
        strides = _row_strides(dims)
        off = builtins.sum((dims[a] - 1) * strides[a] for a in axes if dims[a])
        src = [-s if k in axes else s for k, s in enumerate(strides)]
        return [list(dims)], [(0, 0, _Copy(dims, off, src))], []


def reverse(tensor, axis, name=None):
    """``tf.reverse`` (ReverseV2): reverse the listed axes."""
    return apply_op(ReverseV2, [convert_to_tensor(tensor), _index_tensor(axis)], name=name or "ReverseV2")


reverse_v2 = reverse


class Tile(_LayoutOp):
    type = "Tile"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "multiples")
        dims = ctx.dims(0)
        m = ctx.value(1)
        dt = ctx.input_dtypes[0]
        if m is None:
            if dims is not None:
                return [(dt, TensorShape([None] * len(dims)))]
            n = ctx.dims(1)
            return [(dt, TensorShape(None if not n or n[0] is None else [None] * n[0]))]
        m = _ints(m)
        if dims is None:
            return [(dt, TensorShape([0 if k == 0 else None for k in m]))]
        cls._check(dims, m, ctx.error)
        return [(dt, TensorShape([0 if k == 0 else (None if d is None else d * k) for d, k in zip(dims, m)]))]

    @staticmethod
    def _check(dims, m, fail):
        if len(m) != len(dims):
            raise fail("Expected multiples argument to be a vector of length %d but got length %d"
                       % (len(dims), len(m)))
        for k, v in enumerate(m):
            if v < 0:
                raise fail("Expected multiples[%d] >= 0, but got %d" % (k, v))

    @classmethod
    def plan_forwards(cls, ctx):
        m = ctx.value(1)
        return 0 if m is not None and all(v == 1 for v in _ints(m)) else None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = list(shapes[0])
        m = _ints(values[1])
        cls._check(dims, m, fail)
        strides = _row_strides(dims)
        shape_, src = [], []
        for d, k, s in zip(dims, m, strides):
            shape_ += [k, d]
            src += [0, s]
        return [[d * k for d, k in zip(dims, m)]], [(0, 0, _Copy(shape_, 0, src))], []


def tile(input, multiples, name=None):
    return apply_op(Tile, [convert_to_tensor(input), _index_tensor(multiples)], name=name or "Tile")


def _paddings(v, rank_, fail):
    arr = np.asarray(v)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] != rank_:
        raise fail("The first dimension of paddings must be the rank of inputs%s, and its second dimension "
                   "must be 2: got paddings of shape %s" % (_fmt([rank_, 2]), list(arr.shape)))
    pads = [(int(a), int(b)) for a, b in arr]
    for a, b in pads:
        if a < 0 or b < 0:
            raise fail("Paddings must be non-negative: %d %d" % (a, b))
    return pads


def _pad_infer(ctx):
    _check_index_dtype(ctx, 1, "paddings")
    dims = ctx.dims(0)
    p = ctx.value(1)
    dt = ctx.input_dtypes[0]
    if p is None:
        if dims is not None:
            return dt, [None] * len(dims), None
        n = ctx.dims(1)
        return dt, (None if not n or n[0] is None else [None] * n[0]), None
    if dims is None:
        dims = [None] * np.shape(p)[0] if np.ndim(p) == 2 else None
        if dims is None:
            raise ctx.error("paddings must be a matrix with 2 columns, got shape %s" % (list(np.shape(p)),))
    pads = _paddings(p, len(dims), ctx.error)
    return dt, [None if d is None else d + a + b for d, (a, b) in zip(dims, pads)], pads


class Pad(_LayoutOp):
    """Pad(input, paddings): zeros around; PadV2 adds constant_values."""

    type = "Pad"
    layout_inputs = (1,)

    @classmethod
    def infer(cls, ctx):
        dt, out, _ = _pad_infer(ctx)
        if len(ctx.input_shapes) > 2:
            s = ctx.input_shapes[2]
            if s.ndims not in (None, 0):
                raise ctx.error("constant_values must be a scalar, got shape %s" % s)
            if ctx.input_dtypes[2] is not dt:
                raise TypeError("Pad '%s': constant_values has dtype %s, the input %s"
                                % (ctx.name, ctx.input_dtypes[2].name, dt.name))
        return [(dt, TensorShape(out))]

    @classmethod
    def plan_forwards(cls, ctx):
        p = ctx.value(1)
        return 0 if p is not None and not np.any(np.asarray(p)) else None

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        dims = list(shapes[0])
        pads = _paddings(values[1], len(dims), fail)
        out = [d + a + b for d, (a, b) in zip(dims, pads)]
        ostr = _row_strides(out)
        off = builtins.sum(a * s for (a, _), s in zip(pads, ostr))
        fills = [(0, 2 if len(shapes) > 2 else None)]
        return [out], [(0, 0, _Copy(dims, 0, _row_strides(dims), off, ostr))], fills


class PadV2(Pad):
    type = "PadV2"


def _mirror_map(n, a, b, mode, k, fail):
    """Source index (in [0, n)) of each index of a padded dimension."""
    limit = n - 1 if mode == "REFLECT" else n
    if a > limit or b > limit:
        raise fail("paddings must be less than%s the dimension size: %d, %d not less than %d"
                   % ("" if mode == "REFLECT" else " or equal to", a, b, n if mode == "REFLECT" else n + 1))
    j = np.arange(-a, n + b, dtype=np.int64)
    if mode == "REFLECT":
        j = np.where(j < 0, -j, j)
        j = np.where(j >= n, 2 * (n - 1) - j, j)
    else:
        j = np.where(j < 0, -j - 1, j)
        j = np.where(j >= n, 2 * n - 1 - j, j)
    return j


def _mirror_steps(dims, pads, mode, fail):
    """Per padded axis: (shape before as (outer, n, inner), index map, shape after)."""
    steps = []
    cur = list(dims)
    for k, (a, b) in enumerate(pads):
        idx = _mirror_map(cur[k], a, b, mode, k, fail)
        if not a and not b:
            continue
        before = (_prod(cur[:k]), cur[k], _prod(cur[k + 1:]))
        cur = cur[:k] + [cur[k] + a + b] + cur[k + 1:]
        steps.append((before, idx, list(cur)))
    return steps, cur


class MirrorPad(Op):
    """MirrorPad(input, paddings), mode REFLECT or SYMMETRIC: one gather per padded axis."""

    type = "MirrorPad"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        dt, out, pads = _pad_infer(ctx)
        dims = ctx.dims(0)
        if pads is not None and _known(dims):
            _mirror_steps(dims, pads, ctx.attrs["mode"], ctx.error)
        return [(dt, TensorShape(out))]

    @classmethod
    def plan_forwards(cls, ctx):
        p = ctx.value(1)
        return 0 if p is not None and not np.any(np.asarray(p)) else None

    @classmethod
    def plan(cls, ctx):
        mode = ctx.attrs["mode"]
        fail = _op_error(ctx.op)
        fixed = ctx.value(1)
        dims = ctx.dims(0)
        if _known(dims) and fixed is not None:
            steps, _ = _mirror_steps(dims, _paddings(fixed, len(dims), fail), mode, fail)
            if steps:
                # buffers for the intermediate results and the output, allocated once
                npd = ctx.out_np_dtype(0)
                bufs = [np.empty(after, dtype=npd) for _, _, after in steps[:-1]]
                last = ctx.static_buffer(0)
                bufs.append(last if last is not None else np.empty(steps[-1][2], dtype=npd))

                def run_static(x, p):
                    cur = x
                    for (before, idx, _), nxt in zip(steps, bufs):
                        _gather3(cur.reshape(before), idx, nxt.reshape(before[0], len(idx), before[2]))
                        cur = nxt
                    return cur
                return run_static

        def run(x, p):
            steps, out_shape = _mirror_steps(x.shape, _paddings(fixed if fixed is not None else p, x.ndim, fail),
                                             mode, fail)
            cur = x
            for before, idx, after in steps:
                nxt = np.empty(after, dtype=x.dtype)
                _gather3(cur.reshape(before), idx, nxt.reshape(before[0], len(idx), before[2]))
                cur = nxt
            return cur if steps else x.copy()
        return run


class MirrorPadGrad(Op):
    """MirrorPadGrad(grad, paddings): each padded element's gradient added back
    to its mirror source, one axis at a time (last padded axis first)."""

    type = "MirrorPadGrad"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "paddings")
        dims = ctx.dims(0)
        p = ctx.value(1)
        dt = ctx.input_dtypes[0]
        if dims is None or p is None:
            return [(dt, TensorShape(None if dims is None else [None] * len(dims)))]
        pads = _paddings(p, len(dims), ctx.error)
        return [(dt, TensorShape([None if d is None else d - a - b for d, (a, b) in zip(dims, pads)]))]

    @classmethod
    def plan(cls, ctx):
        mode = ctx.attrs["mode"]
        fail = _op_error(ctx.op)

        def run(g, p):
            pads = _paddings(p, g.ndim, fail)
            dims = [d - a - b for d, (a, b) in zip(g.shape, pads)]
            if any(d < 0 for d in dims):
                raise fail("MirrorPadGrad: paddings %s exceed the gradient's shape %s" % (pads, list(g.shape)))
            steps, _ = _mirror_steps(dims, pads, mode, fail)
            cur = g
            for before, idx, after in reversed(steps):
                nxt = np.empty(before, dtype=g.dtype)
                bad = K.segment_sum(cur.reshape(before[0], len(idx), before[2]), idx, nxt)
                assert bad < 0
                cur = nxt
            return cur.reshape(dims) if steps else g.copy()
        return run


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """``tf.pad``: CONSTANT (Pad, or PadV2 with constant_values), REFLECT or
    SYMMETRIC (MirrorPad)."""
    x = convert_to_tensor(tensor)
    p = _index_tensor(paddings)
    mode_u = mode.upper() if isinstance(mode, str) else mode
    if mode_u == "CONSTANT":
        if not _is_tensor(constant_values) and not isinstance(constant_values, (str, bytes)) \
                and np.all(np.asarray(constant_values) == 0):
            return apply_op(Pad, [x, p], {"T": x.dtype, "Tpaddings": p.dtype}, name=name or "Pad")
        c = convert_to_tensor(constant_values, dtype=x.dtype) if not _is_tensor(constant_values) \
            else convert_to_tensor(constant_values)
        return apply_op(PadV2, [x, p, c], {"T": x.dtype, "Tpaddings": p.dtype}, name=name or "PadV2")
    if mode_u in ("REFLECT", "SYMMETRIC"):
        if x.dtype is dtypes.string:
            raise TypeError("tf.pad with mode %s is not supported for strings in nbflow" % mode_u)
        return apply_op(MirrorPad, [x, p], {"mode": mode_u, "T": x.dtype, "Tpaddings": p.dtype},
                        name=name or "MirrorPad")
    raise ValueError("Unknown padding mode: %s" % (mode,))


# -- gather / scatter ------------------------------------------------------------------

def _gather3(params3, idx, out3):
    """Gather along axis 1 of (outer, n, inner) arrays; returns the bad index position or -1."""
    if params3.dtype.kind == "O":
        bad = np.nonzero((idx < 0) | (idx >= params3.shape[1]))[0]
        if bad.size:
            return int(bad[0])
        out3[...] = params3[:, idx, :]
        return -1
    u = _UINT[params3.dtype.itemsize]
    return K.gather(params3.view(u), idx, out3.view(u))


def _index_position(pos, shape_):
    if len(shape_) <= 1:
        return str(pos)
    return ",".join(str(int(i)) for i in np.unravel_index(pos, shape_))


class GatherV2(Op):
    """GatherV2(params, indices, axis)."""

    type = "GatherV2"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "indices")
        _check_index_dtype(ctx, 2, "axis")
        if ctx.attrs.get("batch_dims", 0):
            raise NotImplementedError("tf.gather with batch_dims != 0 is not supported by nbflow")
        p, i = ctx.dims(0), ctx.dims(1)
        axis_v = ctx.value(2)
        dt = ctx.input_dtypes[0]
        if p is None or i is None or axis_v is None:
            return [(dt, TensorShape(None))]
        if len(p) == 0:
            raise ctx.error("Shape must be at least rank 1 but is rank 0 (params of gather)")
        a = _axis_value(axis_v, len(p), ctx.error, "axis")
        return [(dt, TensorShape(list(p[:a]) + list(i) + list(p[a + 1:])))]

    @classmethod
    def plan(cls, ctx):
        fail = _op_error(ctx.op)
        fixed_axis = ctx.value(2)
        out_np = ctx.out_np_dtype(0)
        static_out = ctx.static_buffer(0)
        p_dims = ctx.dims(0)
        if static_out is not None and fixed_axis is not None and _known(p_dims):
            a = _axis_value(fixed_axis, len(p_dims), fail, "axis")
            view = (_prod(p_dims[:a]), p_dims[a], _prod(p_dims[a + 1:]))

            def run_static(params, indices, axis):
                flat = indices.reshape(-1)
                bad = _gather3(params.reshape(view), flat, static_out.reshape(view[0], flat.shape[0], view[2]))
                if bad >= 0:
                    raise fail("indices[%s] = %d is not in [0, %d)"
                               % (_index_position(bad, indices.shape), flat[bad], view[1]))
                return static_out
            return run_static

        def run(params, indices, axis):
            if params.ndim == 0:
                raise fail("params must be at least 1 dimensional")
            a = _axis_value(axis, params.ndim, fail, "axis")
            p = params.shape
            view = (_prod(p[:a]), p[a], _prod(p[a + 1:]))
            out = np.empty(p[:a] + indices.shape + p[a + 1:], dtype=out_np)
            flat = indices.reshape(-1)
            bad = _gather3(params.reshape(view), flat, out.reshape(view[0], flat.shape[0], view[2]))
            if bad >= 0:
                raise fail("indices[%s] = %d is not in [0, %d)"
                           % (_index_position(bad, indices.shape), flat[bad], view[1]))
            return out
        return run

    @classmethod
    def fold_constant(cls, op, vals):
        params, idx, axis = vals
        if np.size(params) > 1000 or np.size(idx) > 1000 or np.asarray(params).dtype.kind == "O":
            return None
        try:
            a = _axis_value(axis, np.ndim(params), ValueError, "axis")
            n = np.shape(params)[a]
            if np.any(np.asarray(idx) < 0) or np.any(np.asarray(idx) >= n):
                return None
            return np.take(params, idx, axis=a)
        except (ValueError, IndexError):
            return None


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """``tf.gather`` (GatherV2): slices of ``params`` along ``axis`` at ``indices``."""
    if batch_dims != 0:
        raise NotImplementedError("tf.gather with batch_dims != 0 is not supported by nbflow")
    p = convert_to_tensor(params)
    i = _index_tensor(indices) if not _is_tensor(indices) else convert_to_tensor(indices)
    if axis is None:
        axis = 0
    a = _index_tensor(axis) if not _is_tensor(axis) else convert_to_tensor(axis)
    return apply_op(GatherV2, [p, i, a], {"batch_dims": 0, "Tparams": p.dtype, "Tindices": i.dtype,
                                          "Taxis": a.dtype}, name=name or "GatherV2")


class UnsortedSegmentSum(Op):
    """UnsortedSegmentSum(data, segment_ids, num_segments): sums of the rows of
    ``data`` that share a segment id (negative ids are dropped)."""

    type = "UnsortedSegmentSum"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if not dt.is_numeric or dt is dtypes.float16:
            raise TypeError("UnsortedSegmentSum '%s': data must be float32/float64 or integer, got %s"
                            % (ctx.name, dt.name))
        _check_index_dtype(ctx, 1, "segment_ids")
        _check_index_dtype(ctx, 2, "num_segments")
        d, i = ctx.dims(0), ctx.dims(1)
        n = ctx.value(2)
        if d is None or i is None:
            return [(dt, TensorShape(None))]
        if len(i) > len(d) or any(a is not None and b is not None and a != b for a, b in zip(d, i)):
            raise ctx.error("data.shape = %s does not start with segment_ids.shape = %s" % (_fmt(d), _fmt(i)))
        if n is not None and int(n) < 0:
            raise ctx.error("num_segments must be non-negative, got %d" % int(n))
        return [(dt, TensorShape([None if n is None else int(n)] + list(d[len(i):])))]

    @classmethod
    def plan(cls, ctx):
        fail = _op_error(ctx.op)
        out_np = ctx.out_np_dtype(0)
        static_out = ctx.static_buffer(0)

        def run(data, ids, num):
            n = int(num)
            rest = data.shape[ids.ndim:]
            if data.shape[:ids.ndim] != ids.shape:
                raise fail("data.shape = %s does not start with segment_ids.shape = %s"
                           % (_fmt(data.shape), _fmt(ids.shape)))
            out = static_out if static_out is not None else np.empty((n,) + rest, dtype=out_np)
            flat = ids.reshape(-1)
            inner = _prod(rest)
            bad = K.segment_sum(data.reshape(1, flat.shape[0], inner), flat, out.reshape(1, n, inner))
            if bad >= 0:
                raise fail("segment_ids[%s] = %d is out of range [0, %d)"
                           % (_index_position(bad, ids.shape), flat[bad], n))
            return out
        return run


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    d = convert_to_tensor(data)
    ids = _index_tensor(segment_ids) if not _is_tensor(segment_ids) else convert_to_tensor(segment_ids)
    n = _index_tensor(num_segments) if not _is_tensor(num_segments) else convert_to_tensor(num_segments)
    return apply_op(UnsortedSegmentSum, [d, ids, n], name=name or "UnsortedSegmentSum")


class GatherNd(Op):
    """GatherNd(params, indices): params[indices[..., :]] (slices when the last
    dimension of indices is shorter than params' rank)."""

    type = "GatherNd"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 1, "indices")
        p, i = ctx.dims(0), ctx.dims(1)
        dt = ctx.input_dtypes[0]
        if p is None or i is None:
            return [(dt, TensorShape(None))]
        if len(i) == 0:
            raise ctx.error("indices must be at least a vector")
        k = i[-1]
        if k is None:
            return [(dt, TensorShape(None))]
        if k > len(p):
            raise ctx.error("indices.shape[-1] must be <= params.rank, but saw indices shape: %s and params "
                            "shape: %s" % (_fmt(i), _fmt(p)))
        return [(dt, TensorShape(list(i[:-1]) + list(p[k:])))]

    @classmethod
    def plan(cls, ctx):
        fail = _op_error(ctx.op)
        out_np = ctx.out_np_dtype(0)
        static_out = ctx.static_buffer(0)

        def run(params, indices):
            k = indices.shape[-1]
            if k > params.ndim:
                raise fail("indices.shape[-1] must be <= params.rank")
            lead = indices.shape[:-1]
            rows = _prod(lead)
            inner = _prod(params.shape[k:])
            out = static_out if static_out is not None else np.empty(lead + params.shape[k:], dtype=out_np)
            idx2 = indices.reshape(rows, k)
            dims_ = np.array(params.shape[:k], dtype=np.int64)
            p2 = params.reshape(_prod(params.shape[:k]), inner)
            o2 = out.reshape(rows, inner)
            if p2.dtype.kind == "O":
                bad = np.nonzero(np.any((idx2 < 0) | (idx2 >= dims_), axis=1))[0] if rows else []
                bad = int(bad[0]) if len(bad) else -1
                if bad < 0 and rows:
                    o2[...] = p2[np.ravel_multi_index(idx2.T, params.shape[:k]) if k else np.zeros(rows, int)]
            else:
                u = _UINT[p2.dtype.itemsize]
                bad = K.gather_nd(p2.view(u), idx2, dims_, o2.view(u))
            if bad >= 0:
                raise fail("indices%s = [%s] does not index into param shape %s"
                           % (_fmt(list(np.unravel_index(bad, lead))) if lead else "[0]",
                              ", ".join(str(v) for v in idx2[bad]), _fmt(params.shape)))
            return out
        return run


def gather_nd(params, indices, name=None, batch_dims=0):
    if batch_dims != 0:
        raise NotImplementedError("tf.gather_nd with batch_dims != 0 is not supported by nbflow")
    p = convert_to_tensor(params)
    i = _index_tensor(indices) if not _is_tensor(indices) else convert_to_tensor(indices)
    return apply_op(GatherNd, [p, i], name=name or "GatherNd")


class ScatterNd(Op):
    """ScatterNd(indices, updates, shape): zeros of ``shape`` with the updates
    added at the indices (duplicates add up)."""

    type = "ScatterNd"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _check_index_dtype(ctx, 0, "indices")
        _check_index_dtype(ctx, 2, "shape")
        dt = ctx.input_dtypes[1]
        if not dt.is_numeric or dt is dtypes.float16:
            raise TypeError("ScatterNd '%s': updates must be float32/float64 or integer, got %s"
                            % (ctx.name, dt.name))
        s = ctx.value(2)
        if s is None:
            n = ctx.dims(2)
            return [(dt, TensorShape(None if not n or n[0] is None else [None] * n[0]))]
        shape_ = _ints(s)
        i, u = ctx.dims(0), ctx.dims(1)
        if i is not None and u is not None and i and i[-1] is not None:
            k = i[-1]
            want = list(i[:-1]) + shape_[k:]
            if k > len(shape_) or len(u) != len(want) or any(
                    a is not None and b is not None and a != b for a, b in zip(u, want)):
                raise ctx.error("updates has shape %s, but indices %s into shape %s need %s"
                                % (_fmt(u), _fmt(i), _fmt(shape_), _fmt(want)))
        return [(dt, TensorShape(shape_))]

    @classmethod
    def plan(cls, ctx):
        fail = _op_error(ctx.op)
        out_np = ctx.out_np_dtype(0)
        static_out = ctx.static_buffer(0)

        def run(indices, updates, shape_):
            dims = _ints(shape_)
            k = indices.shape[-1]
            rows = _prod(indices.shape[:-1])
            inner = _prod(dims[k:])
            if updates.size != rows * inner:
                raise fail("updates has shape %s, which does not match indices %s and shape %s"
                           % (_fmt(updates.shape), _fmt(indices.shape), _fmt(dims)))
            out = static_out if static_out is not None else np.empty(dims, dtype=out_np)
            bad = K.scatter_nd(updates.reshape(rows, inner), indices.reshape(rows, k),
                               np.array(dims[:k], dtype=np.int64), out.reshape(_prod(dims[:k]), inner))
            if bad >= 0:
                raise fail("indices[%d] = [%s] does not index into shape %s"
                           % (bad, ", ".join(str(v) for v in indices.reshape(rows, k)[bad]), _fmt(dims)))
            return out
        return run


def scatter_nd(indices, updates, shape, name=None):
    i = _index_tensor(indices) if not _is_tensor(indices) else convert_to_tensor(indices)
    u = convert_to_tensor(updates)
    s = _index_tensor(shape) if not _is_tensor(shape) else convert_to_tensor(shape)
    if s.dtype is not i.dtype:
        from nbflow.ops.math_ops import cast

        s = cast(s, i.dtype)
    return apply_op(ScatterNd, [i, u, s], name=name or "ScatterNd")


# -- where, boolean_mask, one_hot ---------------------------------------------------------

class Where(Op):
    """Where(input): int64 coordinates [N, rank] of the true (non-zero) elements,
    in row-major order. The number of rows is known only at run time."""

    type = "Where"
    differentiable = False
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if dt is dtypes.string:
            raise TypeError("Where '%s': the input must be bool or numeric, got string" % ctx.name)
        r = ctx.input_shapes[0].ndims
        return [(dtypes.int64, TensorShape([None, r]))]

    @classmethod
    def plan(cls, ctx):
        def run(x):
            flat = x.reshape(-1)
            if flat.dtype == np.float16:
                flat = flat.astype(np.float32)
            n = K.count_true(flat)
            out = np.empty((n, x.ndim), dtype=np.int64)
            if n:
                K.where_coords(flat, np.array(x.shape, dtype=np.int64), out)
            return out
        return run


def where_indices(condition, name=None):
    """``tf.where(condition)`` with one argument: the coordinates of the true elements."""
    return apply_op(Where, [convert_to_tensor(condition)], name=name or "Where")


def boolean_mask(tensor, mask, name="boolean_mask", axis=None):
    """``tf.boolean_mask``: the elements (or slices along ``axis``) where ``mask``
    is true, as TF builds it: reshape, Where, Squeeze, GatherV2."""
    with name_scope(name, "boolean_mask", [tensor, mask]):
        x = convert_to_tensor(tensor, name="tensor")
        m = convert_to_tensor(mask, name="mask")
        if m.dtype is not dtypes.bool_:
            raise TypeError("boolean_mask: mask must be a bool tensor, got %s" % m.dtype.name)
        shape_mask = m.shape
        ndims_mask = shape_mask.ndims
        shape_tensor = x.shape
        if ndims_mask is None:
            raise ValueError("Number of mask dimensions must be specified, even if some dimensions are None.  "
                             "E.g. shape=[None] is ok, but shape=None is not.")
        if ndims_mask == 0:
            raise ValueError("mask cannot be scalar.")
        axis = 0 if axis is None else int(axis)
        if shape_tensor.ndims is not None:
            if axis < 0:
                axis += shape_tensor.ndims
            if axis < 0 or axis + ndims_mask > shape_tensor.ndims:
                raise ValueError("mask of rank %d at axis %d does not fit a tensor of rank %d"
                                 % (ndims_mask, axis, shape_tensor.ndims))
            part = shape_tensor[axis:axis + ndims_mask]
            if not part.is_compatible_with(shape_mask):
                raise ValueError("Shapes %s and %s are incompatible" % (part, shape_mask))
        elif axis < 0:
            raise ValueError("boolean_mask: a negative axis needs a tensor of known rank")
        dims = shape_tensor.as_tuple()
        if dims is not None and _known(dims[axis:axis + ndims_mask]) and _known(dims[:axis]) \
                and _known(dims[axis + ndims_mask:]):
            target = list(dims[:axis]) + [_prod(dims[axis:axis + ndims_mask])] + list(dims[axis + ndims_mask:])
            if ndims_mask != 1:
                x = reshape(x, target)
        elif ndims_mask != 1:
            from nbflow.ops.reduction_ops import reduce_prod

            s = shape(x)
            leading = reduce_prod(s[axis:axis + ndims_mask], [0], keepdims=True)
            x = reshape(x, concat([s[:axis], leading, s[axis + ndims_mask:]], 0))
            if dims is not None:
                n = shape_tensor[axis:axis + ndims_mask].num_elements()
                x.set_shape(list(dims[:axis]) + [n] + list(dims[axis + ndims_mask:]))
        flat_mask = reshape(m, [-1]) if ndims_mask != 1 else m
        indices = squeeze(where_indices(flat_mask), axis=[1])
        return gather(x, indices, axis=axis)


class OneHot(Op):
    """OneHot(indices, depth, on_value, off_value), attr axis."""

    type = "OneHot"
    differentiable = False
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        if ctx.input_dtypes[0] not in (dtypes.uint8, dtypes.int32, dtypes.int64):
            raise TypeError("OneHot '%s': indices must be uint8, int32 or int64, got %s"
                            % (ctx.name, ctx.input_dtypes[0].name))
        if ctx.input_dtypes[1] is not dtypes.int32:
            raise TypeError("OneHot '%s': depth must be int32, got %s" % (ctx.name, ctx.input_dtypes[1].name))
        dt = ctx.input_dtypes[2]
        if ctx.input_dtypes[3] is not dt:
            raise TypeError("dtype %s of on_value does not match dtype %s of off_value" % (dt.name,
                                                                                          ctx.input_dtypes[3].name))
        if dt is dtypes.string:
            raise TypeError("one_hot with string values is not supported by nbflow")
        for i, what in ((1, "depth"), (2, "on_value"), (3, "off_value")):
            s = ctx.input_shapes[i]
            if s.ndims not in (None, 0):
                raise ctx.error("%s must be a scalar, but got shape %s" % (what, s))
        depth = ctx.value(1)
        if depth is not None and int(depth) < 0:
            raise ctx.error("depth must be non-negative, got: %d" % int(depth))
        dims = ctx.dims(0)
        axis = ctx.attrs["axis"]
        if dims is None:
            return [(dt, TensorShape(None))]
        r = len(dims)
        if axis < -1 or axis > r:
            raise ctx.error("Expected axis to be -1 or between [0, %d).  But received: %d" % (r + 1, axis))
        a = r if axis == -1 else axis
        return [(dt, TensorShape(list(dims[:a]) + [None if depth is None else int(depth)] + list(dims[a:])))]

    @classmethod
    def plan(cls, ctx):
        axis = ctx.attrs["axis"]
        out_np = ctx.out_np_dtype(0)
        static_out = ctx.static_buffer(0)
        u = _UINT[np.dtype(out_np).itemsize]
        fail = _op_error(ctx.op)

        def run(indices, depth, on, off):
            d = int(depth)
            if d < 0:
                raise fail("depth must be non-negative, got: %d" % d)
            a = indices.ndim if axis == -1 else axis
            shp = indices.shape[:a] + (d,) + indices.shape[a:]
            out = static_out if static_out is not None else np.empty(shp, dtype=out_np)
            outer, inner = _prod(indices.shape[:a]), _prod(indices.shape[a:])
            K.one_hot(indices.reshape(outer, inner), on.reshape(1).view(u), off.reshape(1).view(u),
                      out.reshape(outer, d, inner).view(u))
            return out
        return run


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """``tf.one_hot``: on_value where the index equals the position along the new
    axis, off_value elsewhere (indices out of range give a row of off_value)."""
    with name_scope(name, "one_hot", [indices, depth, on_value, off_value]) as scope:
        idx = _index_tensor(indices, "indices") if not _is_tensor(indices) else convert_to_tensor(indices)
        dtype = dtypes.as_dtype(dtype) if dtype is not None else None

        def conv(v, what):
            if v is None:
                return None
            if _is_tensor(v):
                t = convert_to_tensor(v)
                if dtype is not None and t.dtype is not dtype:
                    raise TypeError("dtype %s of %s does not match dtype parameter %s"
                                    % (t.dtype.name, what, dtype.name))
                return t
            return convert_to_tensor(v, dtype=dtype, name=what)

        on_t, off_t = conv(on_value, "on_value"), conv(off_value, "off_value")
        if dtype is None:
            dtype = on_t.dtype if on_t is not None else (off_t.dtype if off_t is not None else dtypes.float32)
        if on_t is None:
            on_t = convert_to_tensor(1, dtype=dtype, name="on_value")
        if off_t is None:
            off_t = convert_to_tensor(0, dtype=dtype, name="off_value")
        if on_t.dtype is not off_t.dtype:
            raise TypeError("dtype %s of on_value does not match dtype %s of off_value"
                            % (on_t.dtype.name, off_t.dtype.name))
        d = convert_to_tensor(depth, dtype=dtypes.int32, name="depth") if not _is_tensor(depth) \
            else convert_to_tensor(depth)
        return apply_op(OneHot, [idx, d, on_t, off_t], {"axis": -1 if axis is None else int(axis),
                                                         "T": dtype, "TI": idx.dtype}, name=scope)


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

    @classmethod
    def plan(cls, ctx):
        message = ctx.attrs["message"]
        fail = _op_error(ctx.op)

        def run(x):
            flat = x.reshape(-1)
            if flat.dtype == np.float16:
                flat = flat.astype(np.float32)
            flags = K.nonfinite_flags(flat)
            if flags:
                what = {1: "NaN", 2: "Inf", 3: "Inf and NaN"}[flags]
                raise fail("%s : Tensor had %s values" % (message, what))
            return x
        return run


def check_numerics(tensor, message, name=None):
    x = convert_to_tensor(tensor)
    return apply_op(CheckNumerics, [x], {"message": str(message), "T": x.dtype}, name=name or "CheckNumerics")


# -- auto-packing: lists holding tensors convert with tf.stack ---------------------------

def _autopack(value, dtype=None, name=None):
    """``convert_to_tensor`` of a (nested) list holding Tensors: TF packs it."""
    def pack(v):
        if isinstance(v, (list, tuple)):
            if not _contains_tensor(v):
                return convert_to_tensor(v, dtype=dtype)
            parts = [pack(e) for e in v]
            return stack(parts if dtype is None else
                         [convert_to_tensor(p, dtype=dtype) for p in parts], name="packed")
        return convert_to_tensor(v, dtype=dtype) if dtype is not None and not _is_tensor(v) else v
    out = pack(value)
    out = convert_to_tensor(out)
    if dtype is not None and out.dtype is not dtypes.as_dtype(dtype):
        raise ValueError("Tensor conversion requested dtype %s for a packed list of %s"
                         % (dtypes.as_dtype(dtype).name, out.dtype.name))
    return out
