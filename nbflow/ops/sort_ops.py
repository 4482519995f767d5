"""Sorting: top_k (TopKV2), sort, argsort and unique (Unique).

As in TF, ``sort``/``argsort`` are built from TopKV2 along the last axis
(transposing another axis there first); an ascending sort is a descending sort
of an order-reversed copy (``-x`` for floats, ``~x`` -- bitwise not -- for
integers, which is exact even for the most negative value). All sorts are
stable: equal values keep their order.

top_k's gradient scatters the values' gradient back to the input positions.
TF composes that from GatherV2/ScatterNd; nbflow gives it two small ops of
its own, ``ScatterLastAxis`` and ``GatherLastAxis`` (each the other's gradient,
so second derivatives work).

CPU kernels: nbflow/backends/cpu/sort.py.
"""
import collections

import numpy as np

from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops
from nbflow.ops import math_ops as M
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor

__all__ = ["sort", "argsort", "unique"]
# top_k lives in tf.nn / tf.math in TF 1.15, not at the top level: nbflow.nn imports it from here.

TopKV2Output = collections.namedtuple("TopKV2", ["values", "indices"])
UniqueOutput = collections.namedtuple("Unique", ["y", "idx"])


def _check_sortable(ctx, cls):
    dt = ctx.input_dtypes[0]
    if dt._np is None or dt._np.kind not in "fiu":
        raise TypeError("Value passed to '%s' (%s) has DataType %s not in list of allowed values"
                        % (ctx.name, cls.type, dt.name))


# -- TopKV2 ----------------------------------------------------------------------------

class TopKV2(Op):
    """The k largest entries of each row along the last axis, and their indices.

    Inputs (input, k); attr ``sorted`` (the values always come out sorted,
    which TF allows for sorted=False too). Ties: the lower index first."""

    type = "TopKV2"

    @classmethod
    def infer(cls, ctx):
        _check_sortable(ctx, cls)
        if ctx.input_dtypes[1] is not dtypes.int32:
            raise TypeError("Input 'k' of '%s' (TopKV2) must be int32, got %s" % (ctx.name, ctx.input_dtypes[1].name))
        if ctx.input_shapes[1].ndims not in (None, 0):
            raise ctx.error("k must be 0-D, got shape %s" % ctx.input_shapes[1])
        dims = ctx.dims(0)
        k = ctx.value(1)
        if k is not None:
            k = int(k)
            if k < 0:
                raise ctx.error("Need k >= 0, got %d" % k)
        if dims is None:
            shape = TensorShape(None)
        else:
            if len(dims) == 0:
                raise ctx.error("input must be >= 1-D, got shape []")
            if k is not None and dims[-1] is not None and dims[-1] < k:
                raise ctx.error("input must have at least k columns. Had %d, needed %d" % (dims[-1], k))
            shape = TensorShape(list(dims[:-1]) + [k])
        return [(ctx.input_dtypes[0], shape), (dtypes.int32, shape)]


def top_k(input, k=1, sorted=True, name=None):
    """``tf.nn.top_k``: (values, indices) of the k largest entries along the last axis."""
    x = convert_to_tensor(input)
    kt = k if hasattr(k, "op") else convert_to_tensor(k, dtype=dtypes.int32)
    values, indices = apply_op(TopKV2, [x, kt], {"sorted": bool(sorted), "T": x.dtype}, name=name or "TopKV2")
    return TopKV2Output(values, indices)


# -- the scatter/gather pair behind top_k's gradient --------------------------------------

class ScatterLastAxis(Op):
    """(indices, updates, shape) -> zeros(shape) with out[..., indices[..., j]] += updates[..., j]."""

    type = "ScatterLastAxis"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        shape = ctx.value(2)
        if shape is not None:
            return [(ctx.input_dtypes[1], TensorShape([int(d) for d in np.asarray(shape).reshape(-1)]))]
        dims = ctx.dims(0)
        return [(ctx.input_dtypes[1], TensorShape(None if dims is None else list(dims[:-1]) + [None]))]


class GatherLastAxis(Op):
    """(params, indices) -> out[..., j] = params[..., indices[..., j]]."""

    type = "GatherLastAxis"
    pooled_outputs = True
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[1])]


def _shape_of(t):
    if t.shape.is_fully_defined():
        return convert_to_tensor(np.array(t.shape.as_list(), dtype=np.int32))
    return array_ops.shape(t)


@RegisterGradient("TopKV2")
def _top_k_grad(op, grad_values, grad_indices):
    x = op.inputs[0]
    indices = op.outputs[1]
    return apply_op(ScatterLastAxis, [indices, grad_values, _shape_of(x)]), None


@RegisterGradient("ScatterLastAxis")
def _scatter_last_axis_grad(op, grad):
    indices = op.inputs[0]
    return None, apply_op(GatherLastAxis, [grad, indices]), None


@RegisterGradient("GatherLastAxis")
def _gather_last_axis_grad(op, grad):
    params, indices = op.inputs
    return apply_op(ScatterLastAxis, [indices, grad, _shape_of(params)]), None


# -- sort, argsort ----------------------------------------------------------------------

def _order_reversed(x):
    """A copy of x whose descending order is x's ascending order."""
    if x.dtype.is_floating:
        return M.negative(x)
    return apply_op(M.Invert, [x], name="Invert")


def _sort_or_argsort(values, axis, direction, return_argsort):
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError("Unknown direction: %s (expected 'ASCENDING' or 'DESCENDING')" % (direction,))
    axis_v = constant_value(axis) if hasattr(axis, "op") else axis
    if axis_v is None or np.ndim(axis_v) != 0 or not np.issubdtype(np.asarray(axis_v).dtype, np.integer):
        raise ValueError("axis must be a constant scalar")
    axis = int(axis_v)
    x = convert_to_tensor(values)
    if x.dtype.as_numpy_dtype is None or np.dtype(x.dtype.as_numpy_dtype).kind not in "fiu":
        raise TypeError("sort/argsort need a numeric tensor, got %s" % x.dtype.name)
    rank = x.shape.ndims
    if rank is None:
        if axis != -1:
            raise ValueError("sort/argsort along axis %d need a tensor of known rank" % axis)
        last = None
    else:
        if rank == 0:
            raise ValueError("sort/argsort need a tensor of rank >= 1, got a scalar")
        if axis < -rank or axis >= rank:
            raise ValueError("axis %d is out of range for a tensor of rank %d" % (axis, rank))
        axis %= rank
        last = axis == rank - 1
    perm = None
    if last is False:
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        try:
            transpose = array_ops.transpose
        except AttributeError:
            raise NotImplementedError("sort/argsort along axis %d (not the last) needs tf.transpose, which "
                                      "nbflow does not have yet" % axis) from None
        x = transpose(x, perm)
    ascending = direction == "ASCENDING"
    keyed = _order_reversed(x) if ascending else x
    n = keyed.shape.as_tuple()[-1] if keyed.shape.ndims is not None else None
    k = n if n is not None else array_ops.shape(keyed)[-1]
    top_values, indices = top_k(keyed, k)
    if return_argsort:
        out = indices
    else:
        out = _order_reversed(top_values) if ascending else top_values
    if perm is not None:
        out = transpose(out, perm)
    return out


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """Sorted copy of ``values`` along ``axis`` (stable; gradient flows to the values)."""
    with name_scope(name, "sort", [values]):
        return _sort_or_argsort(values, axis, direction, return_argsort=False)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """int32 indices that sort ``values`` along ``axis``. Always stable (equal
    values keep their order), which also satisfies ``stable=True``."""
    del stable
    with name_scope(name, "argsort", [values]):
        return _sort_or_argsort(values, axis, direction, return_argsort=True)


# -- unique --------------------------------------------------------------------------------

class Unique(Op):
    """(x) -> (y, idx): the distinct values of a 1-D x in order of first appearance,
    and for each element its position in y. y's length is known only at run time."""

    type = "Unique"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        dt = ctx.input_dtypes[0]
        if dt._np is None or dt._np.kind not in "fiub":
            raise TypeError("Value passed to '%s' (Unique) has DataType %s not in list of allowed values"
                            % (ctx.name, dt.name))
        shp = ctx.input_shapes[0]
        if shp.ndims is not None and shp.ndims != 1:
            raise ctx.error("unique expects a 1D vector, got shape %s" % shp)
        shp = shp.with_rank(1) if shp.ndims is None else shp
        return [(dt, TensorShape([None])), (ctx.attrs["out_idx"], shp)]


NotDifferentiable("Unique")


def unique(x, out_idx=dtypes.int32, name=None):
    """(y, idx): y the distinct values of 1-D ``x`` in order of first appearance,
    idx (``out_idx``: int32 or int64) with x == gather(y, idx)."""
    out_idx = dtypes.as_dtype(out_idx)
    if out_idx not in (dtypes.int32, dtypes.int64):
        raise TypeError("out_idx must be int32 or int64, got %s" % out_idx.name)
    x = convert_to_tensor(x)
    y, idx = apply_op(Unique, [x], {"T": x.dtype, "out_idx": out_idx}, name=name or "Unique")
    return UniqueOutput(y, idx)
