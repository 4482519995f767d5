"""Padding and slicing: Pad/PadV2 (constant; layout ops), MirrorPad (REFLECT,
SYMMETRIC) and Slice (``tf.slice``; a layout op), with their gradients.

Slice is here because Slice and Pad are each other's gradient: a slice's
gradient pads it with zeros back to the input's shape, a pad's gradient
slices out the interior. MirrorPad is one gather per padded axis (the index
maps come from ``_mirror_steps``); MirrorPadGrad adds each padded element's
gradient back to its mirror source. (StridedSlice and ``tensor[...]`` are in
array_slice_ops.py.)
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops.array_common import (
    _check_index_dtype, _fmt, _index_tensor, _ints, _is_tensor, _known, _prod, _static,
)
from nbflow.ops.array_layout import _Copy, _LayoutOp, _row_strides
from nbflow.ops.array_shape_ops import rank, reshape, shape
from nbflow.ops.array_stack_ops import stack
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient

# tf.slice is ``slice_`` here, so that ``slice`` stays the builtin (array_ops exports it as ``slice``)
__all__ = ["pad"]


# -- pad -------------------------------------------------------------------------------

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
        off = sum(a * s for (a, _), s in zip(pads, ostr))
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


# -- slice -----------------------------------------------------------------------------

def _slice_sizes(dims, begin, size, fail):
    """Concrete (begin, size) lists of Slice, checked against ``dims``."""
    r = len(dims)
    if len(begin) != r or len(size) != r:
        raise fail("Expected begin and size arguments to be 1-D tensors of size %d, but got shapes [%d] and [%d] "
                   "instead." % (r, len(begin), len(size)))
    out = []
    for k in range(r):
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
        off = sum(b * s for b, s in zip(begin, strides))
        return [sizes], [(0, 0, _Copy(sizes, off, strides))], []


def slice_(input_, begin, size, name=None):
    """``tf.slice``: the block of ``size`` (-1: to the end) starting at ``begin``."""
    x = convert_to_tensor(input_)
    b = _index_tensor(begin)
    s = _index_tensor(size) if not _is_tensor(size) else convert_to_tensor(size)
    if b.dtype is not s.dtype:
        b, s = M.cast(b, dtypes.int64), M.cast(s, dtypes.int64)
    return apply_op(Slice, [x, b, s], {"T": x.dtype, "Index": b.dtype}, name=name or "Slice")


# -- gradients ------------------------------------------------------------------------

def _pad_grad(op, grad):
    """The interior of the padded gradient: Slice from paddings[:, 0]."""
    x, paddings = op.inputs[0], op.inputs[1]
    pv, xs = constant_value(paddings), _static(x)
    if pv is not None:
        begin = np.asarray(pv)[:, 0].copy()
    else:
        rank_ = x.shape.ndims
        if rank_ is None:
            begin = reshape(slice_(paddings, [0, 0], stack([rank(x), 1])), [-1])
        else:
            begin = reshape(slice_(paddings, [0, 0], [rank_, 1]), [-1])
    size_ = xs if xs is not None else shape(x, out_type=paddings.dtype)
    if isinstance(begin, np.ndarray) and not isinstance(size_, list):
        begin = begin.astype(paddings.dtype.as_numpy_dtype)
    g = slice_(grad, begin, size_)
    return g


@RegisterGradient("Pad")
def _pad_grad_v1(op, grad):
    return _pad_grad(op, grad), None


@RegisterGradient("PadV2")
def _pad_grad_v2(op, grad):
    return _pad_grad(op, grad), None, None


@RegisterGradient("MirrorPad")
def _mirror_pad_grad(op, grad):
    return apply_op(MirrorPadGrad, [grad, op.inputs[1]], {"mode": op.attrs["mode"], "T": grad.dtype,
                                                         "Tpaddings": op.inputs[1].dtype}), None


@RegisterGradient("MirrorPadGrad")
def _mirror_pad_grad_grad(op, grad):
    return apply_op(MirrorPad, [grad, op.inputs[1]], {"mode": op.attrs["mode"], "T": grad.dtype,
                                                     "Tpaddings": op.inputs[1].dtype}), None


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
        after = M.subtract(M.subtract(shape(x, out_type=begin.dtype), begin), shape(y, out_type=begin.dtype))
        paddings = stack([before, after], axis=1)
    return pad(grad, paddings), None, None
