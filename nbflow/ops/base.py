"""The Op protocol and the single construction path, ``apply_op``.

An op definition is a subclass of :class:`Op`. It declares

* ``type``   -- TF's op type name ("Add", "MatMul", ...);
* ``infer``  -- output dtypes and (partially known) shapes from the inputs';
  used at graph-construction time, and again at plan time with concrete
  shapes and any constant input values;
* its gradient, registered by type name with :func:`RegisterGradient` (as TF),
  in the same family module.

Ops never bind kernels: a backend registers, per device type, the factory that
binds an op type's kernel (``nbflow/backends/<device>/``).

Also ``convert_to_tensor`` and Const, the op it builds (``tf.constant`` is in
constant_op.py).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.context import _EAGER, _default_graph_stack
from nbflow.framework.eager_tensor import EagerTensor, host_value
from nbflow.framework.graph import Operation, Tensor, get_default_graph
from nbflow.framework.tensor_shape import TensorShape, as_shape
from nbflow.ops.gradient_registry import NotDifferentiable

_OP_TYPES = {}


class Op:
    """Base class of every op definition."""

    type = None
    #: stateful ops (variables, random, assign) are never folded or merged.
    stateful = False
    #: False declares the op type not differentiable (its gradient is None for
    #: every input: comparisons, shapes, ...) in the gradient registry.
    differentiable = True
    #: outputs may be views of inputs (the memory planner assumes so unless told).
    outputs_alias_inputs = True
    #: output buffers may come from the memory planner's pool (their contents
    #: are rewritten every run; nothing is kept in them between runs).
    pooled_outputs = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # A subclass that inherits its type (a variant such as BiasAdd's NCHW form)
        # does not replace the op type's class.
        if cls.type is not None and "type" in cls.__dict__:
            _OP_TYPES[cls.type] = cls
            if not cls.differentiable:
                NotDifferentiable(cls.type)

    #: index of the input that output 0 always equals (Identity): no step runs.
    forwards_input = None

    @classmethod
    def plan_forwards(cls, ctx):
        """Index of the input that output 0 equals for these concrete shapes, or
        None. Defaults to ``forwards_input``; e.g. a Sum over size-1 axes or a
        Reshape to the same shape returns its input unchanged."""
        return cls.forwards_input

    @classmethod
    def infer(cls, ctx):
        """Return [(DType, TensorShape), ...] for the outputs."""
        raise NotImplementedError("Op %s defines no shape inference" % cls.type)

    #: input indices that name a resource (a variable for Assign, a queue for
    #: QueueEnqueue): the compiler resolves them to handles (``resource_handle``).
    resource_inputs = ()

    @classmethod
    def resource_handle(cls, op):
        """The handle of the resource this op owns (variables, queues), or None."""
        return None


def forwards_when_shape_kept(cls, ctx):
    """``plan_forwards`` of ops whose output is their input when the output shape
    equals the input's (Reshape to the same shape, a Sum over size-1 axes with the
    shape kept, BroadcastTo the same shape): use as ``classmethod(forwards_when_shape_kept)``."""
    if ctx.output_shapes[0].is_fully_defined() and ctx.output_shapes[0] == ctx.input_shapes[0]:
        return 0
    return None


def op_class(type_name):
    return _OP_TYPES[type_name]


def registered_op_types():
    """Every op type defined (type name -> Op class)."""
    return dict(_OP_TYPES)


class InferContext:
    """What shape inference sees: input dtypes/shapes, attrs, constant values."""

    __slots__ = ("name", "input_dtypes", "input_shapes", "attrs", "input_values")

    def __init__(self, name, input_dtypes, input_shapes, attrs, input_values):
        self.name = name
        self.input_dtypes = input_dtypes
        self.input_shapes = input_shapes
        self.attrs = attrs
        self.input_values = input_values

    def value(self, i):
        """The input's value if known before running (a constant), else None."""
        return self.input_values[i]

    def dims(self, i):
        """Input i's dims as a tuple (entries may be None), or None if rank unknown."""
        return self.input_shapes[i].as_tuple()

    def error(self, message):
        return ValueError("%s (op: '%s')" % (message, self.name))


# -- constant values known at graph-construction time ----------------------

def constant_value(tensor):
    """The value of ``tensor`` if it is computable without running (else None)."""
    if not isinstance(tensor, Tensor):
        return None
    if type(tensor) is EagerTensor:
        return host_value(tensor._value)
    op = tensor.op
    if op.type == "Const":
        return op.attrs["value"]
    if op.type == "Shape":
        shp = op.inputs[0].shape
        if shp.is_fully_defined():
            return np.array(shp.as_list(), dtype=tensor.dtype.as_numpy_dtype)
    if op.type == "Size":
        n = op.inputs[0].shape.num_elements()
        if n is not None:
            return np.array(n, dtype=tensor.dtype.as_numpy_dtype)
    if op.type == "Rank":
        r = op.inputs[0].shape.ndims
        if r is not None:
            return np.array(r, dtype=np.int32)
    fold = getattr(op.op_def, "fold_constant", None)
    if fold is not None:
        # memoized per op: a graph with shared sub-graphs would otherwise be
        # re-folded once per path (inputs never change once an op exists)
        if "_folded_value" in op.__dict__:
            return op._folded_value
        vals = [constant_value(t) for t in op.inputs]
        result = fold(op, vals) if all(v is not None for v in vals) else None
        op._folded_value = result
        return result
    return None


# -- conversion ------------------------------------------------------------

class Const(Op):
    """A constant: the op ``convert_to_tensor`` builds (``tf.constant`` is in constant_op.py)."""

    type = "Const"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        v = ctx.attrs["value"]
        return [(ctx.attrs["dtype"], TensorShape(v.shape))]


def constant_from_array(arr, name="Const"):
    arr = np.array(arr, order="C", copy=True)  # ascontiguousarray would make 0-d 1-d
    arr.setflags(write=False)
    if _EAGER[0] and not _default_graph_stack:
        return EagerTensor(arr)
    return apply_op(Const, [], {"value": arr, "dtype": dtypes.as_dtype(arr.dtype)}, name=name)


_conversion_hooks = []


def register_tensor_conversion_function(base_type, conversion_func):
    """Objects of ``base_type`` become Tensors via ``conversion_func(value, dtype, name)``."""
    _conversion_hooks.append((base_type, conversion_func))


# -- auto-packing: convert_to_tensor of a list holding Tensors is a Pack (tf.stack),
# an op defined above this module: array_stack_ops registers its packing
# function here when imported (as TF's array_ops registers its auto-packing
# conversion function).
_list_packer = []


def register_list_packer(fn):
    """``fn(value, dtype=None, name=None)`` packs a (nested) list holding Tensors."""
    _list_packer[:] = [fn]


def _string_array(value):
    """TF strings are bytes: str elements are UTF-8 encoded (as TF 1.x fetches them)."""
    arr = np.array(value, dtype=object)
    flat = arr.reshape(-1)
    for i, v in enumerate(flat):
        if isinstance(v, str):
            flat[i] = v.encode("utf-8")
        elif isinstance(v, (bytes, np.bytes_)):
            flat[i] = bytes(v)
        else:
            raise TypeError("Expected string, got %r of type '%s' instead." % (v, type(v).__name__))
    return arr


def _infer_numpy(value, dtype):
    if value is None:
        raise ValueError("None values not supported.")
    if dtype is not None:
        npd = dtype.as_numpy_dtype
        arr = np.asarray(value)
        if dtype is dtypes.string:
            return _string_array(value)
        if arr.dtype.kind == "f" and dtype.is_integer:
            if not np.all(np.floor(arr) == arr):
                raise TypeError("Expected %s, got %r of type '%s' instead." % (dtype.name, value, type(value).__name__))
        if arr.dtype.kind in "OSU" and dtype is not dtypes.string:
            raise TypeError("Expected %s, got %r of type '%s' instead." % (dtype.name, value, type(value).__name__))
        return np.asarray(value, dtype=npd)
    arr = np.asarray(value)
    if arr.dtype.kind in "SUO":
        return _string_array(value)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return arr
    # Python scalars and lists follow TF: floats are float32, ints int32.
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64:
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return arr
        return arr.astype(np.int32)
    return arr


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None, dtype_hint=None):
    """``tf.convert_to_tensor``: Tensors pass through; Python and numpy values become Const."""
    if dtype is None and type(value) is EagerTensor:
        return value
    dtype = dtypes.as_dtype(dtype) if dtype is not None else None
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype is not dtype:
            raise ValueError(
                "Tensor conversion requested dtype %s for Tensor with dtype %s: %r"
                % (dtype.name, value.dtype.name, value)
            )
        return value
    for base, fn in _conversion_hooks:
        if isinstance(value, base):
            return fn(value, dtype=dtype, name=name)
    if isinstance(value, Operation):
        raise TypeError("Can't convert Operation '%s' to Tensor (target dtype=%s)" % (value.name, dtype))
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        # a list holding Tensors is packed (TF's auto-packing), e.g. [tf.shape(x)[0], -1]
        if not _list_packer:
            raise RuntimeError("nbflow.ops.array_stack_ops is not imported; import nbflow first")
        return _list_packer[0](value, dtype=dtype, name=name)
    hint = preferred_dtype or dtype_hint
    if dtype is None and hint is not None:
        try:
            arr = _infer_numpy(value, dtypes.as_dtype(hint))
        except (TypeError, ValueError):
            arr = _infer_numpy(value, None)
    else:
        arr = _infer_numpy(value, dtype)
    return constant_from_array(arr, name=name or "Const")


def _holds_tensor(value):
    if isinstance(value, (list, tuple)):
        return any(_holds_tensor(v) for v in value)
    return isinstance(value, Tensor) or hasattr(value, "_as_graph_element")


def convert_n_to_tensor(values, dtype=None, name=None):
    return [convert_to_tensor(v, dtype=dtype) for v in values]


# -- the single construction path -------------------------------------------

_NO_ATTRS = {}


def _no_eager_executor(op_cls, inputs, attrs, name):
    raise RuntimeError("eager execution needs nbflow.runtime.eager; import nbflow first")


#: ``execute(op_cls, inputs, attrs, name)``: runs one op eagerly (installed by nbflow/runtime/eager.py)
_eager_executor = [_no_eager_executor]


def set_eager_executor(fn):
    _eager_executor[0] = fn


def _capture(tensor):
    """An eager tensor used while building a graph: the graph captures it (``tf.function``'s
    graphs feed it at each call), else it becomes a constant of its value."""
    capture = getattr(get_default_graph(), "capture_eager_tensor", None)
    if capture is not None:
        return capture(tensor)
    return constant_from_array(host_value(tensor._value))


def apply_op(op_cls, inputs=(), attrs=None, name=None, graph=None):
    """Add one node of type ``op_cls`` (graph mode) and return its outputs.

    ``inputs`` must already be Tensors. Returns the Operation when the op has
    no outputs, a single Tensor when it has one, else the list of outputs.
    """
    if graph is None and _EAGER[0] and not _default_graph_stack:
        # eager: run the op's kernel now (nbflow/runtime/eager.py)
        return _eager_executor[0](op_cls, inputs, attrs or _NO_ATTRS, name)
    attrs = attrs or {}
    inputs = [_capture(t) if type(t) is EagerTensor else t for t in inputs]
    if graph is None:
        graph = inputs[0].graph if inputs else get_default_graph()
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError("apply_op(%s): inputs must be Tensors, got %r" % (op_cls.type, t))
    if name and name.endswith("/"):
        # TF's convention: a name ending in "/" (a name scope) is used as is.
        unique = name[:-1]
        graph._names_in_use.setdefault(unique.lower(), 1)
    else:
        unique = graph.unique_name(name or op_cls.type)
    if unique in graph._ops_by_name:
        raise ValueError("Duplicate node name in graph: '%s'" % unique)
    ctx = InferContext(
        unique,
        [t.dtype for t in inputs],
        [t.shape for t in inputs],
        attrs,
        [constant_value(t) for t in inputs],
    )
    specs = op_cls.infer(ctx)
    op = graph.create_op(op_cls, inputs, attrs, specs, unique)
    outs = op.outputs
    if not outs:
        return op
    if len(outs) == 1:
        return outs[0]
    return outs


def as_tensor_shape_arg(shape):
    """Normalize a shape argument (list, tuple, TensorShape or None)."""
    if shape is None:
        return TensorShape(None)
    return as_shape(shape)


def resource_handle_of(tensor):
    """The handle of the resource ``tensor`` refers to: its producer's own
    (VariableV2, FIFOQueueV2), looking through Identity (e.g. a colocated read)."""
    op = tensor.op
    while op.type == "Identity" and op.inputs:
        op = op.inputs[0].op
    handle = op.op_def.resource_handle(op)
    if handle is None:
        raise TypeError("'%s' must refer to a resource (a variable or a queue), got an output of %s"
                        % (tensor.name, op.type))
    return handle
