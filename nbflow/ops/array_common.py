"""Helpers shared by the array op families (nbflow/ops/array_*_ops.py).

Argument conversion (index and shape arguments as int tensors), concrete-value
helpers used by shape inference and by the backends' kernels. Nothing here
binds a kernel.
"""
import numpy as np

from nbflow.framework import context, dtypes
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import convert_to_tensor

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


def _fmt(dims):
    return "[%s]" % ",".join("?" if d is None else str(d) for d in dims)


def _is_tensor(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_graph_element")


def _contains_tensor(value):
    if _is_tensor(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_tensor(v) for v in value)
    return False


def _static(t):
    """``t``'s shape as a list when fully known at graph time, else None (gradients)."""
    return t.shape.as_list() if t.shape.is_fully_defined() else None


def _check_index_dtype(ctx, i, what):
    if ctx.input_dtypes[i] not in _INDEX_DTYPES:
        raise TypeError("Value passed to parameter '%s' of '%s' has DataType %s not in list of allowed values: "
                        "int32, int64" % (what, ctx.name, ctx.input_dtypes[i].name))


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


_INT32_MIN, _INT32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)
#: eager constants of shapes and axes, shared: eager tensors are immutable values
_eager_index_constants = {}


def _eager_index_constant(values):
    """An int32 (int64 if needed) eager constant of ``values``: a tuple of ints, or an int (0-d)."""
    t = _eager_index_constants.get(values)
    if t is None:
        small = all(_INT32_MIN <= e <= _INT32_MAX for e in (values if type(values) is tuple else (values,)))
        if len(_eager_index_constants) > 4096:
            _eager_index_constants.clear()
        t = _eager_index_constants[values] = convert_to_tensor(
            np.array(values, dtype=np.int32 if small else np.int64))
    return t


def _index_tensor(v, name=None):
    """An index argument (int, list, array or Tensor) as an int tensor: Python
    values become int32 (int64 if they need it), int arrays keep int32/int64."""
    if type(v) in (list, tuple) and all(type(e) is int for e in v):
        # the common case (a shape, axes): Python ints
        if context.executing_eagerly():
            return _eager_index_constant(tuple(v))
        small = all(_INT32_MIN <= e <= _INT32_MAX for e in v)
        return convert_to_tensor(np.array(v, dtype=np.int32 if small else np.int64), name=name)
    if _is_tensor(v):
        return convert_to_tensor(v)
    if isinstance(v, (list, tuple)) and _contains_tensor(v):
        return convert_to_tensor(list(v))
    arr = np.asarray(v)
    if arr.size == 0:
        arr = arr.astype(np.int32)
    if arr.dtype.kind not in "iu":
        raise TypeError("Expected int32 or int64 values, got %r" % (v,))
    small = arr.size == 0 or (arr.max() <= _INT32_MAX and arr.min() >= _INT32_MIN)
    if not (isinstance(v, (np.ndarray, np.generic)) and arr.dtype in (np.int32, np.int64)):
        arr = arr.astype(np.int32 if small else np.int64)
    return convert_to_tensor(arr, name=name)


def _shape_tensor(shape, name=None):
    """A shape argument (list, tuple, TensorShape, array or Tensor) as an int tensor."""
    if _is_tensor(shape):
        return convert_to_tensor(shape)
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError("Cannot convert a partially known TensorShape to a Tensor: %s" % shape)
        shape = shape.as_list()
    return _index_tensor(shape, name)


# -- joining and cutting along an axis (array_stack_ops, array_concat_ops) --------------

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


def _as_list(outs, n):
    if n == 0:
        return []
    if n == 1:
        return [outs]
    return list(outs)
