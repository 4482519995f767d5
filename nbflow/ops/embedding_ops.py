"""``tf.nn.embedding_lookup``: rows of an embedding table (or of a table split
into several tensors) at integer ids.

One table is one GatherV2, as in TF; its gradient w.r.t. the table is dense
(UnsortedSegmentSum, see array_concat_ops.py) rather than TF's IndexedSlices.

A table split into a list of tensors follows TF's "mod" and "div"
partition strategies for which id lives in which tensor and at which row.
TF routes the ids with DynamicPartition / DynamicStitch; nbflow gathers from
every partition (ids that live elsewhere read row 0) and keeps, for each id,
the rows of its own partition with a chain of element-wise selects (which
the planner fuses). That costs one gather per partition -- fine for the few
partitions tables are split into -- and every op in it has a gradient.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops as A
from nbflow.ops import clip_ops
from nbflow.ops import math_ops as M
from nbflow.ops import reduction_ops as R
from nbflow.ops.base import convert_to_tensor

__all__ = []  # tf.nn.embedding_lookup (see nbflow/nn)


def _clip(params, ids, max_norm):
    """Rows of ``params`` (the trailing axes after ids' rank) scaled to L2 norm <= max_norm."""
    if max_norm is None:
        return params
    ids_rank, params_rank = ids.shape.ndims, params.shape.ndims
    if ids_rank is None or params_rank is None:
        raise NotImplementedError("embedding_lookup with max_norm needs ids and params of known rank")
    return clip_ops.clip_by_norm(params, max_norm, axes=list(range(ids_rank, params_rank)))


def _check_ids(ids):
    if ids.dtype not in (dtypes.int32, dtypes.int64):
        raise TypeError("embedding_lookup: ids must be int32 or int64, got %s (%s)" % (ids.dtype.name, ids.name))


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """``tf.nn.embedding_lookup``: ``params[ids]`` along axis 0.

    ``params`` is one tensor (or variable) or a list of them holding one table
    split along axis 0: with ``"mod"`` id ``i`` is row ``i // n`` of
    ``params[i % n]``; with ``"div"`` the ids are split into contiguous
    ranges (the first ``total % n`` partitions one row longer). The result has
    shape ``ids.shape + params[0].shape[1:]``. ``max_norm`` clips each looked-up
    row to that L2 norm. An id outside the table is an InvalidArgumentError when
    the graph runs. ``validate_indices`` is ignored (as in TF)."""
    if params is None:
        raise ValueError("params must be specified")
    if isinstance(params, (list, tuple)):
        params = list(params)
        if not params:
            raise ValueError("Need at least one param")
    else:
        params = [params]
    if partition_strategy not in ("mod", "div"):
        raise ValueError("Unrecognized partition strategy: " + str(partition_strategy))
    with name_scope(name, "embedding_lookup", [p for p in params if isinstance(p, Tensor)] +
                    ([ids] if isinstance(ids, Tensor) else [])) as name:
        n = len(params)
        params = [convert_to_tensor(p, name="params") for p in params]
        if len({p.dtype for p in params}) > 1:
            raise TypeError("embedding_lookup: every partition of params must have one dtype, got %s"
                            % [p.dtype.name for p in params])
        ids = convert_to_tensor(ids, name="ids")
        _check_ids(ids)
        for p in params:
            if p.shape.ndims == 0:
                raise ValueError("embedding_lookup: params must be at least 1-dimensional, got the scalar %s"
                                 % p.name)
        if n == 1:
            result = _clip(A.gather(params[0], ids, name=name), ids, max_norm)
            return A.identity(result)
        return _partitioned_lookup(params, ids, partition_strategy, max_norm)


def _dim0(p):
    d = p.shape.as_tuple()
    return None if d is None else d[0]


def _partitioned_lookup(params, ids, strategy, max_norm):
    n = len(params)
    rank = params[0].shape.ndims
    if rank is None or any(p.shape.ndims != rank for p in params):
        raise NotImplementedError("embedding_lookup over a list of params needs partitions of one known rank, got "
                                  "%s" % [str(p.shape) for p in params])
    flat_ids = A.reshape(ids, [-1])
    idt = flat_ids.dtype
    if strategy == "mod":
        p_assign = M.floormod(flat_ids, n)
        new_ids = M.floordiv(flat_ids, n)
    else:
        sizes = [_dim0(p) for p in params]
        if None not in sizes:
            total = convert_to_tensor(np.array(sum(sizes), dtype=idt.as_numpy_dtype))
            if sum(sizes) < n:
                raise ValueError("embedding_lookup 'div': %d partitions hold only %d rows in all"
                                 % (n, sum(sizes)))
        else:
            total = R.reduce_sum(M.cast(A.stack([A.shape(p)[0] for p in params]), idt))
        ids_per_partition = M.floordiv(total, n)
        extras = M.floormod(total, n)
        p_assign = M.maximum(M.floordiv(flat_ids, ids_per_partition + 1),
                             M.floordiv(flat_ids - extras, ids_per_partition))
        new_ids = M.where_v2(M.less(p_assign, extras), M.floormod(flat_ids, ids_per_partition + 1),
                             M.floormod(flat_ids - extras, ids_per_partition))
    # ids outside every partition (div: < 0 or >= total) are looked up as they
    # are in the last partition, whose gather then reports them.
    valid = M.logical_and(M.greater_equal(p_assign, 0), M.less(p_assign, n))
    zero = A.zeros_like(new_ids)
    element_rank = rank - 1
    result = None
    for p in reversed(range(n)):
        mine = M.equal(p_assign, p)
        if p == n - 1:
            idx = M.where_v2(mine, new_ids, M.where_v2(valid, zero, flat_ids))
        else:
            idx = M.where_v2(mine, new_ids, zero)
        rows = A.gather(params[p], idx)
        if result is None:
            result = rows
        else:
            mask = A.reshape(mine, [-1] + [1] * element_rank) if element_rank else mine
            result = M.where_v2(mask, rows, result)
    element = params[0].shape.as_tuple()[1:]
    ids_dims = ids.shape.as_tuple()
    if ids_dims is not None and None not in ids_dims and None not in element:
        shape = list(ids_dims) + list(element)
    else:
        shape = A.concat([A.shape(ids), A.shape(params[0])[1:]], 0)
    result = A.reshape(result, shape)
    if ids_dims is not None:
        result.set_shape(TensorShape(list(ids_dims) + list(element)))
    return _clip(result, ids, max_norm)
