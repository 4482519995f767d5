"""Gathers and scatters by coordinates: gather_nd and scatter_nd (each the
other's gradient), boolean_mask and one_hot. (gather and unsorted_segment_sum
are in array_concat_ops.py; Where, the coordinates of the true elements that
boolean_mask gathers, is in math_select_ops.py beside tf.where.)

Gathers get dense gradients (ScatterNd) rather than TF's IndexedSlices.
Gradients are here.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.array_common import _check_index_dtype, _fmt, _index_tensor, _ints, _is_tensor, _known, _prod
from nbflow.ops.array_concat_ops import concat, gather
from nbflow.ops.array_shape_ops import _shape_of, reshape, shape, squeeze
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.ops.math_select_ops import where_indices

__all__ = ["gather_nd", "scatter_nd", "boolean_mask", "one_hot"]


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


def scatter_nd(indices, updates, shape, name=None):
    i = _index_tensor(indices) if not _is_tensor(indices) else convert_to_tensor(indices)
    u = convert_to_tensor(updates)
    s = _index_tensor(shape) if not _is_tensor(shape) else convert_to_tensor(shape)
    if s.dtype is not i.dtype:
        s = M.cast(s, i.dtype)
    return apply_op(ScatterNd, [i, u, s], name=name or "ScatterNd")


# -- boolean_mask, one_hot ---------------------------------------------------------------

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
            s = shape(x)
            leading = R.reduce_prod(s[axis:axis + ndims_mask], [0], keepdims=True)
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


# -- gradients ------------------------------------------------------------------------

@RegisterGradient("GatherNd")
def _gather_nd_grad(op, grad):
    params, indices = op.inputs
    shp = _shape_of(params, indices.dtype)
    if isinstance(shp, list):
        shp = np.array(shp, dtype=indices.dtype.as_numpy_dtype)
    return scatter_nd(indices, grad, shp), None


@RegisterGradient("ScatterNd")
def _scatter_nd_grad(op, grad):
    indices = op.inputs[0]
    return None, gather_nd(grad, indices), None
