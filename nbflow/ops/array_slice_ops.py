"""Strided slicing: StridedSlice with TF's five masks, its gradient
StridedSliceGrad, and ``tensor[...]`` indexing. All are layout ops.

Gradients are here. (``tf.slice``, the op Slice, is in array_pad_ops.py:
Slice and Pad are each other's gradient.)
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops.array_common import (
    _INDEX_DTYPES, _check_index_dtype, _fmt, _index_tensor, _ints, _is_tensor, _prod, _static,
)
from nbflow.ops.array_fill_ops import ones_like
from nbflow.ops.array_gather_ops import boolean_mask
from nbflow.ops.array_layout import _Copy, _LayoutOp, _row_strides
from nbflow.ops.array_shape_ops import shape
from nbflow.ops.array_stack_ops import stack
from nbflow.ops.base import apply_op, constant_value, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["strided_slice"]


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
    entries = list(range(n))
    ell_pos = next((i for i in entries if ell & (1 << i)), None)
    if ell_pos is None:
        ell_pos = n  # an implicit ellipsis after the last entry
        entries.append(n)
    n_sparse = len(entries)
    new_after = sum(1 for i in range(ell_pos + 1, n) if new & (1 << i) and not ell & (1 << i))
    dense = []   # per input dim: sparse index, or None (whole dim)
    final = []   # per output dim: input dim index, or "new"
    full = 0
    for i in entries:
        bit = 1 << i
        if i == ell_pos:
            stop = min(rank_ - (n_sparse - i) + 1 + new_after, rank_)
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
            return min(max(v, lo), hi)

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
        off = sum(b * st for (b, n, s), st in zip(spec, strides) if n)
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
        off = sum(b * st for (b, n, s), st in zip(spec, strides) if n)
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
        ts = [M.cast(t, dtypes.int64) for t in ts]
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
            t = M.cast(t, dtype)
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
        if isinstance(s, slice):
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


# -- gradients ------------------------------------------------------------------------

def _masks(op, dtype, index):
    attrs = {m: op.attrs[m] for m in _MASKS}
    attrs["T"] = dtype
    attrs["Index"] = index
    return attrs


@RegisterGradient("StridedSlice")
def _strided_slice_grad(op, grad):
    x, begin, end, strides = op.inputs
    xs = _static(x)
    shp = convert_to_tensor(np.array(xs, dtype=begin.dtype.as_numpy_dtype)) if xs is not None \
        else shape(x, out_type=begin.dtype)
    g = apply_op(StridedSliceGrad, [shp, begin, end, strides, grad], _masks(op, grad.dtype, begin.dtype),
                 name="StridedSliceGrad")
    return g, None, None, None


@RegisterGradient("StridedSliceGrad")
def _strided_slice_grad_grad(op, grad):
    _, begin, end, strides, _ = op.inputs
    g = apply_op(StridedSlice, [grad, begin, end, strides], _masks(op, grad.dtype, begin.dtype),
                 name="StridedSlice")
    return None, None, None, None, g
