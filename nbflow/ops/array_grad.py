"""Gradients of the array ops, as graph ops.

(Identity, Reshape and BroadcastTo are registered in math_grad.py.) Shapes
needed by a gradient are Python lists when they are static at graph time,
else Shape/StridedSlice/Pack ops that the planner folds once feed shapes are
known. Gathers get dense gradients (UnsortedSegmentSum, ScatterNd) rather
than TF's IndexedSlices.
"""
import numpy as np

from nbflow.autodiff.gradients import NotDifferentiable, RegisterGradient
from nbflow.framework import dtypes
from nbflow.ops import array_ops as A
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import apply_op, constant_value, convert_to_tensor

__all__ = []

for _t in ("Where", "OneHot", "LinSpace", "ShapeN", "BroadcastArgs", "InvertPermutation"):
    NotDifferentiable(_t)


def _static(t):
    return t.shape.as_list() if t.shape.is_fully_defined() else None


def _shape_of(t, out_type=dtypes.int32):
    """``t``'s shape: a Python list when static, else a Shape tensor."""
    s = _static(t)
    return s if s is not None else A.shape(t, out_type=out_type)


def _reshape_to_input(op, grad):
    return A.reshape(grad, _shape_of(op.inputs[0]))


@RegisterGradient("Transpose")
def _transpose_grad(op, grad):
    p = op.inputs[1]
    pv = constant_value(p)
    inv = np.argsort(np.asarray(pv)).astype(np.asarray(pv).dtype) if pv is not None else A.invert_permutation(p)
    return A.transpose(grad, inv), None


@RegisterGradient("ExpandDims")
def _expand_dims_grad(op, grad):
    return _reshape_to_input(op, grad), None


@RegisterGradient("Squeeze")
def _squeeze_grad(op, grad):
    return _reshape_to_input(op, grad)


@RegisterGradient("Fill")
def _fill_grad(op, grad):
    return None, R.reduce_sum(grad)


# -- concat / stack / split ----------------------------------------------------------

@RegisterGradient("ConcatV2")
def _concat_grad(op, grad):
    xs, axis = op.inputs[:-1], op.inputs[-1]
    av = constant_value(axis)
    rank = grad.shape.ndims
    if av is not None and rank is not None:
        a = int(av) % rank
        sizes = [x.shape.as_tuple()[a] if x.shape.ndims is not None else None for x in xs]
        if None in sizes:
            sizes = A.stack([A.shape(x)[a] for x in xs])
        grads = A.split(grad, sizes, axis=a, num=len(xs))
    else:
        # the axis is known only at run time
        a = M.floormod(axis, M.cast(A.rank(grad), axis.dtype))
        sizes = A.stack([A.gather(A.shape(x, out_type=axis.dtype), a) for x in xs])
        grads = A.split(grad, sizes, axis=a, num=len(xs))
    for g, x in zip(grads, xs):
        g.set_shape(x.shape)
    return list(grads) + [None]


@RegisterGradient("Pack")
def _pack_grad(op, grad):
    return A.unstack(grad, num=op.attrs["N"], axis=op.attrs["axis"])


@RegisterGradient("Unpack")
def _unpack_grad(op, *grads):
    return A.stack(list(grads), axis=op.attrs["axis"])


@RegisterGradient("Split")
def _split_grad(op, *grads):
    return None, A.concat(list(grads), op.inputs[0])


@RegisterGradient("SplitV")
def _splitv_grad(op, *grads):
    return A.concat(list(grads), op.inputs[2]), None, None


# -- slicing ----------------------------------------------------------------------------

@RegisterGradient("Slice")
def _slice_grad(op, grad):
    """Zeros around the slice: Pad with begin before and the rest after."""
    x, begin, _ = op.inputs
    y = op.outputs[0]
    bv, xs, ys = constant_value(begin), _static(x), _static(y)
    if bv is not None and xs is not None and ys is not None:
        before = np.asarray(bv).reshape(-1)
        after = np.asarray(xs) - before - np.asarray(ys)
        paddings = np.stack([before, after], axis=1).astype(np.asarray(bv).dtype)
    else:
        before = begin
        after = M.subtract(M.subtract(A.shape(x, out_type=begin.dtype), begin), A.shape(y, out_type=begin.dtype))
        paddings = A.stack([before, after], axis=1)
    return A.pad(grad, paddings), None, None


def _masks(op, dtype, index):
    attrs = {m: op.attrs[m] for m in A._MASKS}
    attrs["T"] = dtype
    attrs["Index"] = index
    return attrs


@RegisterGradient("StridedSlice")
def _strided_slice_grad(op, grad):
    x, begin, end, strides = op.inputs
    xs = _static(x)
    shp = convert_to_tensor(np.array(xs, dtype=begin.dtype.as_numpy_dtype)) if xs is not None \
        else A.shape(x, out_type=begin.dtype)
    g = apply_op(A.StridedSliceGrad, [shp, begin, end, strides, grad], _masks(op, grad.dtype, begin.dtype),
                 name="StridedSliceGrad")
    return g, None, None, None


@RegisterGradient("StridedSliceGrad")
def _strided_slice_grad_grad(op, grad):
    _, begin, end, strides, _ = op.inputs
    g = apply_op(A.StridedSlice, [grad, begin, end, strides], _masks(op, grad.dtype, begin.dtype),
                 name="StridedSlice")
    return None, None, None, None, g


@RegisterGradient("ReverseV2")
def _reverse_grad(op, grad):
    return A.reverse(grad, op.inputs[1]), None


@RegisterGradient("Tile")
def _tile_grad(op, grad):
    """Sum the copies: view the gradient as [m0, d0, m1, d1, ...] and sum the m axes."""
    x, multiples = op.inputs
    mv, xs = constant_value(multiples), _static(x)
    if mv is not None and xs is not None:
        m = [int(v) for v in np.asarray(mv).reshape(-1)]
        if all(v == 1 for v in m):
            return grad, None
        split_shape = [d for pair in zip(m, xs) for d in pair]
        g = R.reduce_sum(A.reshape(grad, split_shape), list(range(0, 2 * len(m), 2)))
    else:
        input_shape = A.shape(x, out_type=multiples.dtype)
        split_shape = A.reshape(A.transpose(A.stack([multiples, input_shape])), [-1])
        axes = A.range(0, A.size(split_shape), 2)
        g = R.reduce_sum(A.reshape(grad, split_shape), axes)
    g.set_shape(x.shape)
    return g, None


def _pad_grad(op, grad):
    """The interior of the padded gradient: Slice from paddings[:, 0]."""
    x, paddings = op.inputs[0], op.inputs[1]
    pv, xs = constant_value(paddings), _static(x)
    if pv is not None:
        begin = np.asarray(pv)[:, 0].copy()
    else:
        rank = x.shape.ndims
        if rank is None:
            begin = A.reshape(A.slice(paddings, [0, 0], A.stack([A.rank(x), 1])), [-1])
        else:
            begin = A.reshape(A.slice(paddings, [0, 0], [rank, 1]), [-1])
    size = xs if xs is not None else A.shape(x, out_type=paddings.dtype)
    if isinstance(begin, np.ndarray) and not isinstance(size, list):
        begin = begin.astype(paddings.dtype.as_numpy_dtype)
    g = A.slice(grad, begin, size)
    return g


@RegisterGradient("Pad")
def _pad_grad_v1(op, grad):
    return _pad_grad(op, grad), None


@RegisterGradient("PadV2")
def _pad_grad_v2(op, grad):
    return _pad_grad(op, grad), None, None


@RegisterGradient("MirrorPad")
def _mirror_pad_grad(op, grad):
    return apply_op(A.MirrorPadGrad, [grad, op.inputs[1]], {"mode": op.attrs["mode"], "T": grad.dtype,
                                                           "Tpaddings": op.inputs[1].dtype}), None


@RegisterGradient("MirrorPadGrad")
def _mirror_pad_grad_grad(op, grad):
    return apply_op(A.MirrorPad, [grad, op.inputs[1]], {"mode": op.attrs["mode"], "T": grad.dtype,
                                                       "Tpaddings": op.inputs[1].dtype}), None


# -- gathers and scatters (dense gradients) ------------------------------------------------

@RegisterGradient("GatherV2")
def _gather_grad(op, grad):
    """Add each gathered slice's gradient back at its index (UnsortedSegmentSum,
    with transposes for an axis other than 0, as TF)."""
    params, indices, axis = op.inputs
    av = constant_value(axis)
    rank = params.shape.ndims
    if av is None or rank is None:
        raise NotImplementedError("The gradient of tf.gather '%s' needs a constant axis and params of known rank"
                                  % op.name)
    a = int(av) % rank
    ps, idx_s = _static(params), _static(indices)
    flat_idx = A.reshape(indices, [-1])
    if ps is not None and idx_s is not None:
        values_shape = ps[:a] + [int(np.prod(idx_s))] + ps[a + 1:]
        num = ps[a]
    else:
        p_shape = A.shape(params)
        values_shape = A.concat([p_shape[:a], A.reshape(A.size(indices), [1]), p_shape[a + 1:]], 0)
        num = p_shape[a]
    values = A.reshape(grad, values_shape)
    if a == 0:
        g = A.unsorted_segment_sum(values, flat_idx, num)
    else:
        perm = [a] + list(range(a)) + list(range(a + 1, rank))
        g = A.unsorted_segment_sum(A.transpose(values, perm), flat_idx, num)
        g = A.transpose(g, list(range(1, a + 1)) + [0] + list(range(a + 1, rank)))
    g.set_shape(params.shape)
    return g, None, None


@RegisterGradient("UnsortedSegmentSum")
def _unsorted_segment_sum_grad(op, grad):
    """Each data row gets its segment's gradient (zero for dropped negative ids)."""
    data, ids, _ = op.inputs
    g = A.gather(grad, M.maximum(ids, np.zeros((), ids.dtype.as_numpy_dtype)))
    keep = M.greater_equal(ids, np.zeros((), ids.dtype.as_numpy_dtype))
    rd, ri = data.shape.ndims, ids.shape.ndims
    if rd is None or ri is None:
        raise NotImplementedError("The gradient of UnsortedSegmentSum '%s' needs inputs of known rank" % op.name)
    if rd > ri:
        ids_s = _static(ids)
        target = ids_s + [1] * (rd - ri) if ids_s is not None else \
            A.concat([A.shape(ids), np.ones(rd - ri, dtype=np.int32)], 0)
        keep = A.reshape(keep, target)
    return M.where_v2(keep, g, A.zeros_like(g)), None, None


@RegisterGradient("GatherNd")
def _gather_nd_grad(op, grad):
    params, indices = op.inputs
    shp = _shape_of(params, indices.dtype)
    if isinstance(shp, list):
        shp = np.array(shp, dtype=indices.dtype.as_numpy_dtype)
    return A.scatter_nd(indices, grad, shp), None


@RegisterGradient("ScatterNd")
def _scatter_nd_grad(op, grad):
    indices = op.inputs[0]
    return None, A.gather_nd(grad, indices), None


@RegisterGradient("CheckNumerics")
def _check_numerics_grad(op, grad):
    return A.check_numerics(grad, "Not a number (NaN) or infinity (Inf) values detected in gradient. "
                            + op.attrs["message"])
