"""Eager execution: ``apply_op`` runs the op's registered kernel at once.

The same Op classes, shape inference and kernels as graph mode -- an eager op
is one node of a graph that is never built. The first call of an op with a
given signature (op type, attrs, input dtypes and shapes, device, and the
values of the few small inputs its inference or kernel reads, such as a
reduction's axes) infers its outputs and binds its kernel; later calls find
the bound kernel in a cache and call it: no shape-inference objects, no plan.

Kernels are bound with ``fresh_outputs``: each call returns new arrays, as
eager tensors are immutable values. Variables are updated in place, but
copy-on-write: when a variable's array is also held by an eager tensor (a
read), an update first gives the variable a copy. An op's variable inputs are
its ``resource_inputs`` and the optimizers' leading ``n_refs`` (the variable and
its slots): the kernel gets the variable's own array (host or device) and the
op runs where the variables live (runtime/eager_placement.py).
"""
import sys

import numpy as np

from nbflow.backends import registry
from nbflow.backends.context import KernelContext
from nbflow.compiler.resolve import kernel_error
from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework import context, errors, tape_state
from nbflow.framework.eager_tensor import HOST_DEVICE, EagerTensor, dtype_of
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import base
from nbflow.ops.base import InferContext
from nbflow.runtime import eager_placement
from nbflow.state.resources import eager_resources

#: input values up to this many elements are shown to inference and kernels (axes,
#: shapes, perms); larger inputs are data, never baked into a bound kernel
_SMALL = 64
#: bound kernels kept; past this the cache starts over (random ops with fresh seeds)
_CACHE_LIMIT = 8192

_cache = {}
_resources = eager_resources()


def resources():
    """The ResourceManager of eager mode: eager variables, random streams, queues."""
    return _resources


def clear_cache():
    """Forget every bound kernel (a new random seed; tests)."""
    _cache.clear()


class EagerOp:
    """What a kernel factory's context and an error need of the op: its name, attrs, definition."""

    __slots__ = ("name", "attrs", "op_def")

    def __init__(self, op_def, attrs, name):
        self.op_def, self.attrs, self.name = op_def, attrs, name

    @property
    def type(self):
        return self.op_def.type

    def get_attr(self, name):
        return self.attrs[name]


class _ReadTracker(list):
    """Input values that records which of them inference and the kernel factory read."""

    def __init__(self, values):
        super().__init__(values)
        self.read = set()

    def __getitem__(self, i):
        self.read.add(i)
        return list.__getitem__(self, i)

    def __iter__(self):
        self.read.update(range(len(self)))
        return list.__iter__(self)


_new_tensor = object.__new__


class _Bound:
    """One op signature's bound kernel."""

    __slots__ = ("run", "n_out", "out_np", "prechecks", "value_inputs", "by_value", "out_np0", "out_dtype0",
                 "device_name", "on_host")

    def __init__(self, run, n_out, out_np, prechecks, value_inputs):
        self.run, self.n_out, self.out_np, self.prechecks = run, n_out, out_np, prechecks
        self.value_inputs = value_inputs
        self.by_value = None
        self.out_np0 = np.dtype(out_np[0]) if out_np else None
        self.out_dtype0 = None  # the DType of output 0 (set by _bind)
        #: where the kernel runs: its outputs' ``.device`` (host arrays, or device arrays on a GPU)
        self.device_name, self.on_host = HOST_DEVICE, True


def _freeze(v):
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    hash(v)
    return v


def _attrs_key(attrs):
    if not attrs:
        return ()
    key = tuple(attrs.items())  # a call site builds its attrs in one order
    try:
        hash(key)
        return key
    except TypeError:
        pass
    try:
        return tuple(sorted((k, _freeze(v)) for k, v in attrs.items()))
    except TypeError:
        return None  # unhashable attrs (functions, graphs): bind at every call


def _op_name(op_cls, attrs):
    """Random ops draw from a stream named by their op: one per (type, seeds)."""
    if "seed2" in attrs:
        return "%s/seed_%s_%s" % (op_cls.type, attrs.get("seed", 0), attrs["seed2"])
    return op_cls.type


def _as_eager(t, op_cls, i):
    if type(t) is EagerTensor:
        return t
    if is_eager_variable(t):  # a variable used as a value
        return t.value()
    if isinstance(t, base.Tensor):
        raise TypeError("An op outside of the function building code is being passed a \"Graph\" tensor (%r, "
                        "input %d of %s). Graph tensors can't be used while executing eagerly."
                        % (t, i, op_cls.type))
    return base.convert_to_tensor(t)


_state = context._state


def execute(op_cls, inputs, attrs, name):
    """Run one op now; returns its EagerTensor(s) (or None for an op with no outputs)."""
    variables = None
    if type(inputs) is not list and type(inputs) is not tuple:
        inputs = list(inputs)
    n_in = len(inputs)
    try:
        # the common case: every input an eager tensor
        if n_in == 2:
            arrays = [inputs[0]._value, inputs[1]._value]
        elif n_in == 1:
            arrays = [inputs[0]._value]
        else:
            arrays = [t._value for t in inputs]
        eager_inputs = inputs
        refs = _REF_POSITIONS.get(op_cls)
        if refs is None or refs:  # an op class seen first, or one with variable inputs
            raise AttributeError
    except AttributeError:
        arrays, variables, eager_inputs = _gather_inputs(op_cls, inputs)
    akey = _attrs_key(attrs) if attrs else ()
    devices = _state.device_stack
    device = devices[-1] if devices else None
    if akey is not None:
        if n_in == 2 and not variables:
            a, b = arrays
            key = (op_cls, akey, device, a.dtype, a.shape, b.dtype, b.shape)
        elif n_in == 1 and not variables:
            a = arrays[0]
            key = (op_cls, akey, device, a.dtype, a.shape)
        else:
            sig = [op_cls, akey, device]
            for a in arrays:
                sig.append(a.dtype)
                sig.append(a.shape)
            if variables:
                sig.append(tuple((i, v._handle) for i, v in variables.items()))
            key = tuple(sig)
        bound = _cache.get(key)
    else:
        key = bound = None
    if bound is None:
        bound = _bind(op_cls, eager_inputs, arrays, attrs, variables, device)
        if key is not None:
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            if bound.value_inputs:
                # bound for these input values: the signature keeps a table of kernels by value
                top = _Bound(None, 0, (), (), bound.value_inputs)
                top.by_value = {_value_key(arrays, bound.value_inputs): bound}
                _cache[key] = top
            else:
                _cache[key] = bound
    elif bound.by_value is not None:
        table = bound.by_value
        vkey = _value_key(arrays, bound.value_inputs)
        hit = table.get(vkey)
        if hit is None:
            if len(table) >= _CACHE_LIMIT:
                table.clear()
            hit = table[vkey] = _bind(op_cls, eager_inputs, arrays, attrs, variables, device)
        bound = hit
    if bound.prechecks:
        for check in bound.prechecks:
            check()
    if variables:
        _copy_on_write(variables, arrays)
    try:
        result = bound.run(*arrays)
    except errors.OpError:
        raise
    except Exception as e:
        raise kernel_error(EagerOp(op_cls, attrs, name or op_cls.type), e) from e
    n = bound.n_out
    if n == 1:
        if (type(result) is not np.ndarray or (result.dtype is not bound.out_np0 and result.dtype != bound.out_np0)) \
                and bound.on_host:
            result = np.asarray(result, dtype=bound.out_np0)
        out = _new_tensor(EagerTensor)
        out._value, out._dtype, out._shape, out._device_name = result, bound.out_dtype0, None, bound.device_name
        if tape_state._recording and op_cls.differentiable:
            tape_state.record(op_cls, attrs, name, eager_inputs, (out,))
        return out
    outputs = _wrap(result, bound)
    if tape_state._recording and op_cls.differentiable:
        tape_state.record(op_cls, attrs, name, eager_inputs, outputs)
    return outputs if n else None


def _ref_positions(op_cls):
    """The inputs an op updates in place or names a resource by: ``resource_inputs`` and the
    optimizers' leading ``n_refs`` (the compiler's placement reads the same two)."""
    refs = _REF_POSITIONS.get(op_cls)
    if refs is None:
        refs = _REF_POSITIONS[op_cls] = \
            frozenset(op_cls.resource_inputs) | frozenset(range(getattr(op_cls, "n_refs", 0)))
    return refs


#: op class -> its ref positions (``_ref_positions``), filled at each class's first call
_REF_POSITIONS = {}


def _gather_inputs(op_cls, inputs):
    """Arrays of the inputs, converting Python values and reading variables; the
    variables passed as ref inputs (``resource_inputs``, ``n_refs``), by input index."""
    res_inputs = _ref_positions(op_cls)
    arrays, variables = [], None
    eager_inputs = list(inputs)
    for i, t in enumerate(eager_inputs):
        if res_inputs and i in res_inputs and is_eager_variable(t):
            if variables is None:
                variables = {}
            variables[i] = t
            arrays.append(t._eager_resource.read())
            continue
        if type(t) is not EagerTensor:
            t = eager_inputs[i] = _as_eager(t, op_cls, i)
        arrays.append(t._value)
    return arrays, variables, eager_inputs


def _wrap(result, bound):
    n = bound.n_out
    if n == 0:
        return []
    if n == 1:
        results = (result,)
    else:
        results = result
    out = []
    for r, npd in zip(results, bound.out_np):
        if bound.on_host and (type(r) is not np.ndarray or r.dtype != npd):
            r = np.asarray(r, dtype=npd)
        out.append(EagerTensor(r, bound.device_name))
    return out


def _copy_on_write(variables, arrays):
    """A variable about to be updated in place whose array an eager tensor also holds
    (a read) gets its own copy first, so the tensor keeps the value it was read with."""
    for i, var in variables.items():
        res = var._eager_resource
        value = res.value
        # referents: res.value, arrays[i], the local, getrefcount's argument
        if value is not None and sys.getrefcount(value) > 4:
            res.value = arrays[i] = eager_placement.private_copy(value, var.device)


def _bind(op_cls, inputs, arrays, attrs, variables, device_scope):
    """Infer the op's outputs for these inputs and bind its kernel (on the host, or on the
    GPU that eager placement picks for it: runtime/eager_placement.py)."""
    op_name = _op_name(op_cls, attrs)
    eop = EagerOp(op_cls, attrs, op_name)
    res_inputs = set(variables or ())
    values = _ReadTracker([eager_placement.to_host(a) if (i not in res_inputs and a.size <= _SMALL) else None
                           for i, a in enumerate(arrays)])
    in_dtypes = [dtype_of(a.dtype) for a in arrays]
    in_shapes = [TensorShape(a.shape) for a in arrays]
    for i, var in (variables or {}).items():
        in_dtypes[i] = var.dtype
    ictx = InferContext(op_name, in_dtypes, in_shapes, attrs, values)
    try:
        specs = getattr(op_cls, "plan_infer", op_cls.infer)(ictx)
    except (ValueError, TypeError) as e:
        raise errors.InvalidArgumentError(None, eop, "%s [Op:%s]" % (e, op_cls.type)) from e
    out_dtypes = [d for d, _ in specs]
    gpus = eager_placement.gpus()
    gpu = eager_placement.gpu_for(op_cls, device_scope, eager_placement.OpView(
        eop, in_dtypes, in_shapes, out_dtypes, [s for _, s in specs]), variables) if gpus else None
    factory = registry.kernel_factory(op_cls, "GPU" if gpu is not None else "CPU")
    if factory is None:
        raise errors.NotFoundError(None, eop, "No registered '%s' OpKernel for CPU devices [Op:%s]"
                                   % (op_cls.type, op_cls.type))
    kctx = KernelContext(eop, in_dtypes, in_shapes, values, out_dtypes, [s for _, s in specs])
    kctx.device = gpu
    kctx.fresh_outputs = True
    kctx.resources = _resources
    kctx.input_handles = {i: v._handle for i, v in (variables or {}).items()}
    kctx.used_outputs = frozenset(range(len(specs)))
    try:
        run = factory(kctx)
    except errors.OpError:
        raise
    except (ValueError, TypeError) as e:
        raise errors.InvalidArgumentError(None, eop, "%s [Op:%s]" % (e, op_cls.type)) from e
    if gpus:  # inputs may live on either side: each goes where the kernel runs
        run = eager_placement.moving_inputs(run, gpu)
    bound = _Bound(run, len(specs), [d.as_numpy_dtype for d in out_dtypes], list(kctx.prechecks),
                   tuple(sorted(values.read)))
    bound.out_dtype0 = out_dtypes[0] if out_dtypes else None
    if gpu is not None:
        bound.device_name, bound.on_host = gpu.name, False
    return bound


def _value_key(arrays, indices):
    # on every call of an op bound by value (reductions' axes): a device array only with a GPU
    return tuple((a if type(a) is np.ndarray else eager_placement.to_host(a)).tobytes() if a.size <= _SMALL
                 else None for a in [arrays[i] for i in indices])


base.set_eager_executor(execute)
