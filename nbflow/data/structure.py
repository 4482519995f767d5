"""Elements of a dataset: nests of tensors, carried as flat lists of numpy arrays.

tf.data's nests are tuples (namedtuples included) and dicts; a list is a single
tensor (``from_tensor_slices([1, 2, 3])`` has three scalar elements), as in TF.
Inside a pipeline an element is a flat list of C-contiguous numpy arrays, in
the order ``flatten`` gives (dict keys sorted); ``pack`` rebuilds the nest.
A component may also be a graph ``Tensor`` (TF 1.x: ``from_tensor_slices(placeholder)``):
its value is read from the iterator's environment when the pipeline runs.
"""
import numpy as np

from nbflow.eager.tensor_spec import TensorSpec
from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework import dtypes
from nbflow.framework.eager_tensor import EagerTensor, host_value
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape

__all__ = ["flatten", "pack", "map_structure", "to_component", "spec_of", "TensorSpec"]


def is_nested(x):
    return isinstance(x, (tuple, dict))


def flatten(x):
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    if isinstance(x, tuple):
        return [leaf for e in x for leaf in flatten(e)]
    return [x]


def _pack(structure, it):
    if isinstance(structure, dict):
        vals = {k: _pack(structure[k], it) for k in sorted(structure)}
        return type(structure)((k, vals[k]) for k in structure)
    if isinstance(structure, tuple):
        vals = [_pack(e, it) for e in structure]
        return type(structure)(*vals) if hasattr(structure, "_fields") else type(structure)(vals)
    return next(it)


def pack(structure, flat):
    """``structure`` with its leaves replaced, in order, by ``flat``."""
    if not is_nested(structure):
        return flat[0]
    return _pack(structure, iter(flat))


def map_structure(fn, structure):
    return pack(structure, [fn(x) for x in flatten(structure)])


def same_structure(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and \
            all(same_structure(x, y) for x, y in zip(a, b))
    return True


def _python_array(value, dtype):
    """TF's conversion of Python values: ints int32, floats float32, strings bytes."""
    if dtype is not None:
        npd = dtype.as_numpy_dtype
        if dtype is dtypes.string:
            return _string_array(value)
        return np.array(value, dtype=npd)
    arr = np.array(value)
    if arr.dtype.kind in "USO":
        return _string_array(value)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64:
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return arr
        return arr.astype(np.int32)
    return arr


def _string_array(value):
    arr = np.array(value, dtype=object)
    flat = arr.reshape(-1)
    for i, v in enumerate(flat):
        if isinstance(v, str):
            flat[i] = v.encode("utf-8")
        elif isinstance(v, np.bytes_):
            flat[i] = bytes(v)
    return arr


def to_component(value, dtype=None):
    """A pipeline component: a C-contiguous numpy array, or a graph Tensor (symbolic)."""
    dtype = dtypes.as_dtype(dtype) if dtype is not None else None
    if type(value) is EagerTensor:
        arr = host_value(value._value)
    elif is_eager_variable(value):      # an eager variable: its value now
        arr = np.array(value._host_value(), copy=True)
    elif isinstance(value, Tensor):
        if dtype is not None and value.dtype is not dtype:
            raise TypeError("Expected a %s tensor, got %s: %r" % (dtype.name, value.dtype.name, value))
        return value
    elif isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind in "SU":
            arr = _string_array(arr)
    elif hasattr(value, "value") and hasattr(value, "initializer") and hasattr(value, "op"):
        return value.value()                     # a graph Variable: a read of it
    else:
        arr = _python_array(value, dtype)
    if dtype is not None and arr.dtype != dtype.as_numpy_dtype:
        if dtype is dtypes.string:
            arr = _string_array(arr)
        else:
            arr = arr.astype(dtype.as_numpy_dtype)
    if not arr.flags.c_contiguous:
        arr = np.array(arr, order="C")
    return arr


def dtype_of_array(arr):
    if arr.dtype == object:
        return dtypes.string
    return dtypes.as_dtype(arr.dtype)


def spec_of(component, drop_first=False, name=None):
    """The TensorSpec of a component (of its slices with ``drop_first``)."""
    if isinstance(component, Tensor):
        shape = component.shape
        if drop_first:
            if shape.ndims == 0:
                raise ValueError("Unbatching a tensor is only supported for rank >= 1: %r" % (component,))
            shape = TensorShape(None) if shape.ndims is None else TensorShape(shape.as_tuple()[1:])
        return TensorSpec(shape, component.dtype, name)
    shape = component.shape
    if drop_first:
        if component.ndim == 0:
            raise ValueError("Unbatching a tensor is only supported for rank >= 1")
        shape = shape[1:]
    return TensorSpec(shape, dtype_of_array(component), name)


def spec_dims(spec):
    return spec.shape.as_tuple()


def with_batch(spec, n):
    """The spec of ``n`` stacked elements of ``spec`` (n None: unknown)."""
    dims = spec.shape.as_tuple()
    return TensorSpec(TensorShape(None) if dims is None else TensorShape((n,) + dims), spec.dtype)


def without_batch(spec):
    dims = spec.shape.as_tuple()
    if dims is not None and len(dims) == 0:
        raise ValueError("Cannot unbatch an element with a scalar component (%r)" % (spec,))
    return TensorSpec(TensorShape(None) if dims is None else TensorShape(dims[1:]), spec.dtype)


def most_specific_compatible(a, b):
    """The spec both fit: dims that differ unknown (a different rank: unknown shape)."""
    if a.dtype is not b.dtype:
        raise TypeError("Incompatible dtypes %s and %s" % (a.dtype.name, b.dtype.name))
    da, db = a.shape.as_tuple(), b.shape.as_tuple()
    if da is None or db is None or len(da) != len(db):
        return TensorSpec(TensorShape(None), a.dtype)
    return TensorSpec(TensorShape(tuple(x if x == y else None for x, y in zip(da, db))), a.dtype)


def fits(spec, arr):
    dims = spec.shape.as_tuple()
    if dims is None:
        return True
    return len(dims) == arr.ndim and all(d is None or d == s for d, s in zip(dims, arr.shape))
