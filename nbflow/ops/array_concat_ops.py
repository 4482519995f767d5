"""Concat, split and gather: ConcatV2, Split and SplitV (layout ops joining
tensors along an existing axis and cutting one into pieces along it),
GatherV2 and UnsortedSegmentSum, with their gradients.

They share a module because their gradients are built from one another:
concat's gradient is a split (along an axis known only at run time, with the
pieces' sizes gathered from their shapes), split's is a concat, gather's is
an UnsortedSegmentSum (whose shape, when it is known only at run time, is a
concat), and UnsortedSegmentSum's is a gather. Gathers get dense gradients
rather than TF's IndexedSlices. (stack and unstack are in array_stack_ops.py,
the other gathers and scatters in array_gather_ops.py.)
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops.array_common import (
    _as_list, _axis_value, _check_index_dtype, _convert_values, _fmt, _index_tensor, _ints, _is_tensor,
    _merge_dims, _prod, _same_dtypes, _static,
)
from nbflow.ops.array_fill_ops import zeros_like
from nbflow.ops.array_layout import _Copy, _LayoutOp
from nbflow.ops.array_reorder_ops import transpose
from nbflow.ops.array_shape_ops import identity, rank, reshape, shape, size
from nbflow.ops.array_stack_ops import stack
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["concat", "split", "gather", "unsorted_segment_sum"]


# -- concat / split ------------------------------------------------------------------

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


# -- gather / unsorted_segment_sum ------------------------------------------------------

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


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    d = convert_to_tensor(data)
    ids = _index_tensor(segment_ids) if not _is_tensor(segment_ids) else convert_to_tensor(segment_ids)
    n = _index_tensor(num_segments) if not _is_tensor(num_segments) else convert_to_tensor(num_segments)
    return apply_op(UnsortedSegmentSum, [d, ids, n], name=name or "UnsortedSegmentSum")


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
        a = M.floormod(axis, M.cast(rank(grad), axis.dtype))
        sizes = stack([gather(shape(x, out_type=axis.dtype), a) for x in xs])
        grads = split(grad, sizes, axis=a, num=len(xs))
    for g, x in zip(grads, xs):
        g.set_shape(x.shape)
    return list(grads) + [None]


@RegisterGradient("Split")
def _split_grad(op, *grads):
    return None, concat(list(grads), op.inputs[0])


@RegisterGradient("SplitV")
def _splitv_grad(op, *grads):
    return concat(list(grads), op.inputs[2]), None, None


@RegisterGradient("GatherV2")
def _gather_grad(op, grad):
    """Add each gathered slice's gradient back at its index (UnsortedSegmentSum,
    with transposes for an axis other than 0, as TF)."""
    params, indices, axis = op.inputs
    av = constant_value(axis)
    rank_ = params.shape.ndims
    if av is None or rank_ is None:
        raise NotImplementedError("The gradient of tf.gather '%s' needs a constant axis and params of known rank"
                                  % op.name)
    a = int(av) % rank_
    ps, idx_s = _static(params), _static(indices)
    flat_idx = reshape(indices, [-1])
    if ps is not None and idx_s is not None:
        values_shape = ps[:a] + [int(np.prod(idx_s))] + ps[a + 1:]
        num = ps[a]
    else:
        p_shape = shape(params)
        values_shape = concat([p_shape[:a], reshape(size(indices), [1]), p_shape[a + 1:]], 0)
        num = p_shape[a]
    values = reshape(grad, values_shape)
    if a == 0:
        g = unsorted_segment_sum(values, flat_idx, num)
    else:
        perm = [a] + list(range(a)) + list(range(a + 1, rank_))
        g = unsorted_segment_sum(transpose(values, perm), flat_idx, num)
        g = transpose(g, list(range(1, a + 1)) + [0] + list(range(a + 1, rank_)))
    g.set_shape(params.shape)
    return g, None, None


@RegisterGradient("UnsortedSegmentSum")
def _unsorted_segment_sum_grad(op, grad):
    """Each data row gets its segment's gradient (zero for dropped negative ids)."""
    data, ids, _ = op.inputs
    g = gather(grad, M.maximum(ids, np.zeros((), ids.dtype.as_numpy_dtype)))
    keep = M.greater_equal(ids, np.zeros((), ids.dtype.as_numpy_dtype))
    rd, ri = data.shape.ndims, ids.shape.ndims
    if rd is None or ri is None:
        raise NotImplementedError("The gradient of UnsortedSegmentSum '%s' needs inputs of known rank" % op.name)
    if rd > ri:
        ids_s = _static(ids)
        target = ids_s + [1] * (rd - ri) if ids_s is not None else \
            concat([shape(ids), np.ones(rd - ri, dtype=np.int32)], 0)
        keep = reshape(keep, target)
    return M.where_v2(keep, g, zeros_like(g)), None, None
