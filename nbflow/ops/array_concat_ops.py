"""Concat, stack, unstack and split: layout ops joining or cutting along an axis.

Also the auto-packing of lists holding tensors (``convert_to_tensor`` of
``[t, 1.0]`` builds a Pack, as TF). Gradients are here.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops.array_common import (
    _axis_value, _check_index_dtype, _contains_tensor, _fmt, _index_tensor, _ints, _is_tensor, _prod,
)
from nbflow.ops.array_layout import _Copy, _LayoutOp
from nbflow.ops.array_shape_ops import identity, rank, shape
from nbflow.ops.base import apply_op, constant_value, convert_to_tensor, register_list_packer
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["concat", "stack", "unstack", "split"]


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
        dt = _same_dtypes(ctx, list(range(n)), "ConcatV2")
        _check_index_dtype(ctx, n, "axis")
        shapes = [ctx.dims(i) for i in range(n)]
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
            if len(s) != r or any(s[j] != dims[0][j] for j in range(r) if j != a):
                raise fail("ConcatOp : Dimensions of inputs should match: shape[0] = %s vs. shape[%d] = %s"
                           % (_fmt(dims[0]), k, _fmt(s)))
        outer = _prod(dims[0][:a])
        widths = [_prod(s[a:]) for s in dims]
        total = sum(widths)
        out = list(dims[0])
        out[a] = sum(s[a] for s in dims)
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
        dt = _same_dtypes(ctx, list(range(n)), "Pack")
        rank_, merged = _merge_dims([ctx.dims(i) for i in range(n)], None, ctx.error, "stack")
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
        moves = [(i, 0, _Copy((outer, w), 0, (w, 1), i * w, (n * w, 1))) for i in range(n)]
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
        moves = [(0, i, _Copy((outer, inner), i * inner, (num * inner, 1))) for i in range(num)]
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
    known = sum(s for s in sizes if s != -1)
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


register_list_packer(_autopack)  # convert_to_tensor (base.py) packs lists holding Tensors with it


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("ConcatV2")
def _concat_grad(op, grad):
    xs, axis = op.inputs[:-1], op.inputs[-1]
    av = constant_value(axis)
    rank_ = grad.shape.ndims
    if av is not None and rank_ is not None:
        a = int(av) % rank_
        sizes = [x.shape.as_tuple()[a] if x.shape.ndims is not None else None for x in xs]
        if None in sizes:
            sizes = stack([shape(x)[a] for x in xs])
        grads = split(grad, sizes, axis=a, num=len(xs))
    else:
        # the axis is known only at run time
        # (imported here, not at the top: array_gather_ops imports this module for concat)
        from nbflow.ops.array_gather_ops import gather

        a = M.floormod(axis, M.cast(rank(grad), axis.dtype))
        sizes = stack([gather(shape(x, out_type=axis.dtype), a) for x in xs])
        grads = split(grad, sizes, axis=a, num=len(xs))
    for g, x in zip(grads, xs):
        g.set_shape(x.shape)
    return list(grads) + [None]


@RegisterGradient("Pack")
def _pack_grad(op, grad):
    return unstack(grad, num=op.attrs["N"], axis=op.attrs["axis"])


@RegisterGradient("Unpack")
def _unpack_grad(op, *grads):
    return stack(list(grads), axis=op.attrs["axis"])


@RegisterGradient("Split")
def _split_grad(op, *grads):
    return None, concat(list(grads), op.inputs[0])


@RegisterGradient("SplitV")
def _splitv_grad(op, *grads):
    return concat(list(grads), op.inputs[2]), None, None
