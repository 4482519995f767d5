"""tf.function: trace a Python function into a graph once per input signature, compile
it with the graph compiler, and call the compiled plan.

- A call in eager mode builds its *signature key* -- the tensor arguments' (dtype,
  shape), the Python arguments' values and the structure -- and looks up the
  ConcreteFunction traced for it; on a miss the Python function is traced into a
  FuncGraph (nbflow/eager/func_graph.py). A ConcreteFunction compiles one executor
  Plan per concrete feed shapes (a trace with unknown dims serves several) over
  eager mode's ResourceManager, so variables are captured by handle and updated in
  place; outputs come back as EagerTensors in the structure the function returned.
- ``input_signature`` fixes the trace; ``reduce_retracing`` (``experimental_relax_shapes``)
  retraces a second shape of an argument with the dims that differ unknown.
- Variables may be created on the first trace only (they are lifted out).
- Outside eager execution (TF 1.x graphs, or inside another trace) the Python
  function is called inline: it builds ops in the current graph.
- While a GradientTape records, a call is recorded as one op whose gradient runs
  the gradient graph of the function (built once, on the trace graph) on the
  intermediates the forward call kept.
- ``jit_compile`` / ``experimental_compile`` are accepted and change nothing: every
  trace is compiled (fused, planned) already.
"""
import functools
import importlib
import importlib.util
import inspect
import sys
import weakref

import numpy as np

from nbflow.autodiff.gradients import gradients
from nbflow.backends.devices import local_devices
from nbflow.eager.func_graph import FuncGraph, placeholder_for
from nbflow.eager.tensor_spec import TensorSpec
from nbflow.framework.eager_tensor import is_eager_variable
from nbflow.framework import context, dtypes, errors, nest, tape_state
from nbflow.framework.context import _EAGER, _default_graph_stack
from nbflow.framework.eager_tensor import EagerTensor, dtype_of, host_value
from nbflow.framework.graph import Operation, Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.runtime import eager_placement
from nbflow.runtime.executor import Plan
from nbflow.runtime.session import ConfigProto
from nbflow.state.resources import eager_resources


#: callables ``f(concrete_function)`` told of each call of a traced function from eager code
#: (tf.summary.trace_on records the graphs called; an empty list costs one test per call)
call_observers = []


# -- AutoGraph: the one place nbflow.autograph is looked for -----------------------------------

def _autograph_convert(fn):
    """``nbflow.autograph.convert(fn)`` when that module exists, else ``fn`` itself."""
    if importlib.util.find_spec("nbflow.autograph") is None:
        return fn
    return importlib.import_module("nbflow.autograph").convert(fn)


# -- the runtime plans run in: eager mode's resources --------------------------------------------

class _EagerRuntime:
    """What a Plan needs of a runtime: devices, a config, and the ResourceManager (eager
    mode's, where eager variables live)."""

    def __init__(self):
        self.local_devices = local_devices()
        self.config = ConfigProto()
        self.resources = eager_resources()


_runtime = []


def _get_runtime():
    if not _runtime:
        _runtime.append(_EagerRuntime())
    return _runtime[0]


def _make_plan(elements, feeds):
    return Plan(_get_runtime(), elements, feeds)


def evaluate_lifted(tensor):
    """A tensor of a trace graph computed now (a lifted variable's initial value)."""
    try:
        plan = _make_plan([tensor], [])
        value = plan.run(())[0]
    except errors.OpError as e:
        raise ValueError("A tf.Variable created inside a tf.function must have an initial value that does not "
                         "depend on the function's arguments (%s). Pass a callable or create it outside."
                         % e.message) from e
    return np.array(value, copy=True, order="C")


# -- signature keys ------------------------------------------------------------------------------

def _encode(x, leaves):
    """The hashable key of ``x``; tensor leaves' arrays (or TensorSpecs) go to ``leaves``."""
    t = type(x)
    if t is EagerTensor:
        v = x._value
        if type(v) is not np.ndarray:  # a tensor on a GPU: the plan feeds host arrays
            v = host_value(v)
        leaves.append(v)
        return (v.dtype, v.shape)
    if t is tuple or t is list:
        return (t, tuple([_encode(e, leaves) for e in x]))
    if t is dict:
        return (t, tuple([(k, _encode(x[k], leaves)) for k in sorted(x)]))
    if t is np.ndarray:
        v = _contiguous(x)
        leaves.append(v)
        return (v.dtype, v.shape)
    return _encode_other(x, leaves)


def _encode_other(x, leaves):
    if isinstance(x, (tuple, list)):
        return (type(x), tuple([_encode(e, leaves) for e in x]))
    if isinstance(x, dict):
        return (type(x), tuple([(k, _encode(x[k], leaves)) for k in sorted(x)]))
    if isinstance(x, TensorSpec):
        leaves.append(x)
        return (np.dtype(x.dtype.as_numpy_dtype), x.shape.as_tuple())
    if is_eager_variable(x):
        return ("variable", x._handle)
    if isinstance(x, Tensor):
        raise TypeError("A graph tensor (%r) was passed to a tf.function called eagerly" % (x,))
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return (type(x), x)


def _contiguous(a):
    """``a`` as a C-contiguous array (np.ascontiguousarray would make a 0-d array 1-d)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _is_leaf(x):
    return type(x) is EagerTensor or isinstance(x, (np.ndarray, TensorSpec))


def _map_leaves(x, fn):
    """``x`` with each tensor leaf replaced by ``fn(leaf)`` (the order of ``_encode``)."""
    if _is_leaf(x):
        return fn(x)
    if isinstance(x, dict):
        new = {k: _map_leaves(x[k], fn) for k in sorted(x)}
        return type(x)((k, new[k]) for k in x)
    if isinstance(x, (tuple, list)):
        vals = [_map_leaves(e, fn) for e in x]
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*vals)
        return type(x)(vals)
    return x


def _rank_key(key):
    """The key with each tensor's shape replaced by its rank (relaxed lookups)."""
    if type(key) is not tuple:
        return key
    if len(key) == 3 and key[0] == "kw":
        return ("kw", _rank_key(key[1]), _rank_key(key[2]))
    if len(key) != 2:
        return key
    a, b = key
    if isinstance(a, np.dtype):
        return (a, None if b is None else len(b))
    if isinstance(a, type) and issubclass(a, (tuple, list)):
        return (a, tuple([_rank_key(e) for e in b]))
    if isinstance(a, type) and issubclass(a, dict):
        return (a, tuple([(k, _rank_key(v)) for k, v in b]))
    return key


def _call_key(args, kwargs, leaves):
    if kwargs:
        return ("kw", _encode(args, leaves), _encode(kwargs, leaves))
    return _encode(args, leaves)


def _fits(dims, shape):
    if dims is None:
        return True
    return len(dims) == len(shape) and all(d is None or d == s for d, s in zip(dims, shape))


def _leaf_dims(leaf):
    if isinstance(leaf, TensorSpec):
        return leaf.shape.as_tuple()
    return leaf.shape


def _relax(old, new):
    """The most specific shape both fit: differing dims unknown."""
    if old is None or new is None or len(old) != len(new):
        return None
    return tuple(a if a == b else None for a, b in zip(old, new))


# -- Function -------------------------------------------------------------------------------------

class Function:
    """A callable that traces ``python_function`` per input signature (``tf.function``)."""

    def __init__(self, python_function, name=None, input_signature=None, autograph=True,
                 reduce_retracing=False, jit_compile=None):
        if input_signature is not None:
            input_signature = tuple(input_signature) if isinstance(input_signature, (list, tuple)) \
                else (input_signature,)
            for spec in nest.flatten(input_signature):
                if not isinstance(spec, TensorSpec):
                    raise TypeError("input_signature must be a possibly nested sequence of TensorSpec objects, "
                                    "got %r" % (spec,))
        self._python_function = python_function
        self._name = name or getattr(python_function, "__name__", "function")
        self._input_signature = input_signature
        self._autograph = autograph
        self._reduce_retracing = bool(reduce_retracing)
        self._jit_compile = jit_compile
        self._traced_fn = None
        self._cache = {}          # signature key -> ConcreteFunction
        self._general = {}        # rank key -> [(leaf dims, ConcreteFunction)]: traces with unknown dims
        self._seen_dims = {}      # rank key -> the relaxed dims so far (reduce_retracing)
        self._tracing_count = 0
        self._traced = False
        self._signature_concrete = None
        self._instances = weakref.WeakKeyDictionary()
        self._instances_by_id = {}
        self._arg_names = _arg_names(python_function)
        functools.update_wrapper(self, python_function, updated=())

    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    def experimental_get_tracing_count(self):
        return self._tracing_count

    # -- methods: one Function per instance ------------------------------------------------
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        try:
            bound = self._instances.get(instance)
        except TypeError:
            bound = self._instances_by_id.get(id(instance))
        if bound is None:
            bound = Function(self._python_function.__get__(instance, owner), self._name, self._input_signature,
                             self._autograph, self._reduce_retracing, self._jit_compile)
            try:
                self._instances[instance] = bound
            except TypeError:
                self._instances_by_id[id(instance)] = bound
        return bound

    # -- calls ----------------------------------------------------------------------------------
    def _fn(self):
        fn = self._traced_fn
        if fn is None:
            fn = self._traced_fn = _autograph_convert(self._python_function) if self._autograph \
                else self._python_function
        return fn

    def __call__(self, *args, **kwargs):
        if not _EAGER[0] or _default_graph_stack:
            # TF 1.x graphs, or inside another trace: build the ops inline
            return self._fn()(*args, **kwargs)
        if self._input_signature is not None:
            concrete, arrays = self._signature_call(args, kwargs)
        else:
            leaves = []
            if kwargs:
                key = _call_key(args, kwargs, leaves)
            else:
                parts = []
                for a in args:  # the common case, tensors only: _encode's key, built inline
                    if type(a) is not EagerTensor:
                        del leaves[:]
                        key = _encode(args, leaves)
                        break
                    v = a._value
                    if type(v) is not np.ndarray:
                        v = host_value(v)
                    leaves.append(v)
                    parts.append((v.dtype, v.shape))
                else:
                    key = (tuple, tuple(parts))
            concrete = self._cache.get(key)
            if concrete is None:
                concrete = self._lookup_slow(key, args, kwargs, leaves)
            arrays = leaves
        if call_observers:
            for observe in call_observers:
                observe(concrete)
        if tape_state._recording:
            return concrete._call_recorded(arrays, _tensor_leaves(args, kwargs))
        return concrete._call_arrays(arrays)

    def _lookup_slow(self, key, args, kwargs, leaves):
        rkey = _rank_key(key)
        for dims, concrete in self._general.get(rkey, ()):
            if all(_fits(d, _leaf_dims(leaf)) for d, leaf in zip(dims, leaves)):
                self._cache[key] = concrete
                return concrete
        dims = [_leaf_dims(leaf) for leaf in leaves]
        if self._reduce_retracing:
            prev = self._seen_dims.get(rkey)
            if prev is not None:
                dims = [_relax(a, b) for a, b in zip(prev, dims)]
            self._seen_dims[rkey] = dims
        specs = [(_leaf_dtype(leaf), d) for leaf, d in zip(leaves, dims)]
        concrete = self._trace(args, kwargs, specs)
        if any(d is None or None in d for d in dims):
            self._general.setdefault(rkey, []).append((dims, concrete))
        self._cache[key] = concrete
        return concrete

    def _signature_call(self, args, kwargs):
        concrete = self._signature_concrete or self._signature_trace()
        if kwargs:
            args = _bind_kwargs(self._python_function, args, kwargs)
        signature = self._input_signature
        if len(args) != len(signature):
            raise TypeError("%s() takes %d positional arguments (input_signature %s) but %d were given"
                            % (self._name, len(signature), signature, len(args)))
        flat = []
        try:
            _flatten_up_to(list(signature), list(args), flat)
        except (TypeError, ValueError, KeyError):
            raise _incompatible(args, signature) from None
        specs = concrete._specs
        arrays = []
        for x, spec in zip(flat, specs):
            if type(x) is EagerTensor:
                v = host_value(x._value)
            elif is_eager_variable(x):
                v = x._host_value()
            else:
                try:
                    v = convert_to_tensor(x, dtype=spec.dtype)._value
                except (TypeError, ValueError):
                    raise _incompatible(args, self._input_signature) from None
            if not spec._matches(v.dtype, v.shape):
                raise _incompatible(args, self._input_signature)
            arrays.append(v)
        return concrete, arrays

    def _signature_trace(self):
        specs = list(self._input_signature)
        leaves = []
        _encode(specs, leaves)
        concrete = self._trace(tuple(specs), {}, [(s.dtype, s.shape.as_tuple()) for s in leaves])
        concrete._specs = leaves
        self._signature_concrete = concrete
        return concrete

    def _trace(self, args, kwargs, specs):
        """Trace the Python function into a FuncGraph with placeholders of ``specs``."""
        graph = FuncGraph(self._name, allow_variables=not self._traced, evaluate=evaluate_lifted)
        it = iter(specs)
        placeholders = []

        def make_placeholder(leaf):
            dtype, dims = next(it)
            k = len(placeholders)
            name = leaf.name if isinstance(leaf, TensorSpec) and leaf.name else \
                (self._arg_names[k] if k < len(self._arg_names) and len(specs) <= len(self._arg_names)
                 else "args_%d" % k)
            ph = placeholder_for(graph, dtypes.as_dtype(dtype), TensorShape(dims), name)
            placeholders.append(ph)
            return ph

        with graph.as_default():
            pargs = _map_leaves(args, make_placeholder)
            pkwargs = _map_leaves(kwargs, make_placeholder)
            graph.inputs = placeholders
            outputs = self._fn()(*pargs, **pkwargs)
            concrete = ConcreteFunction(graph, outputs, self._name)
        self._traced = True
        self._tracing_count += 1
        return concrete

    def get_concrete_function(self, *args, **kwargs):
        """The ConcreteFunction for these arguments (tensors, TensorSpecs or Python values),
        traced if needed."""
        if self._input_signature is not None and not args and not kwargs:
            return self._signature_concrete or self._signature_trace()
        if self._input_signature is not None:
            return self._signature_call(args, kwargs)[0]
        leaves = []
        key = _call_key(args, kwargs, leaves)
        concrete = self._cache.get(key)
        if concrete is None:
            with context.eager_mode():
                concrete = self._lookup_slow(key, args, kwargs, leaves)
        return concrete

    def __repr__(self):
        return "<nbflow.function %s>" % self._name


def _leaf_dtype(leaf):
    if isinstance(leaf, TensorSpec):
        return leaf.dtype
    return dtype_of(leaf.dtype)


def _arg_names(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _bind_kwargs(fn, args, kwargs):
    bound = inspect.signature(fn).bind(*args, **kwargs)
    return bound.args


def _flatten_up_to(sig, x, out):
    """The arguments matched to the TensorSpecs of ``sig`` (a nest), in its flat order."""
    if isinstance(sig, TensorSpec):
        out.append(x)
    elif isinstance(sig, dict):
        for k in sorted(sig):
            _flatten_up_to(sig[k], x[k], out)
    else:
        if not isinstance(x, (list, tuple)) or len(x) != len(sig):
            raise ValueError("structure")
        for s, e in zip(sig, x):
            _flatten_up_to(s, e, out)


def _incompatible(args, signature):
    return ValueError("Python inputs incompatible with input_signature:\n  inputs: (\n    %s)\n  input_signature: "
                      "(\n    %s)." % (",\n    ".join(str(a) for a in args),
                                       ",\n    ".join(repr(s) for s in signature)))


def _tensor_leaves(args, kwargs):
    """The call's tensor arguments as EagerTensors (the objects a tape watches)."""
    out = []

    def take(leaf):
        out.append(leaf if type(leaf) is EagerTensor else EagerTensor(_contiguous(leaf)))
        return leaf

    _map_leaves(args, take)
    _map_leaves(kwargs, take)
    return out


# -- ConcreteFunction ------------------------------------------------------------------------------

class ConcreteFunction:
    """One trace: its FuncGraph, and the compiled plans that run it."""

    def __init__(self, graph, structured_outputs, name):
        self.graph = graph
        self.name = name
        self._specs = None
        fetch, index = [], {}
        template = []  # per flat output: ("t", fetch index) or ("v", a Python value)
        for o in nest.flatten(structured_outputs):
            if is_eager_variable(o):
                o = graph.read_variable(o)
            elif type(o) is EagerTensor:
                o = graph.capture_eager_tensor(o)
            if isinstance(o, Tensor):
                o = graph.fresh(o)
                k = index.get(o)
                if k is None:
                    k = index[o] = len(fetch)
                    fetch.append(o)
                template.append(("t", k))
            elif isinstance(o, Operation):
                template.append(("v", None))
            else:
                template.append(("v", o))
        self._structure = structured_outputs
        self._template = template
        self._single = not nest.is_nested(structured_outputs) and template[0][0] == "t"
        self.outputs = fetch
        self._elements = fetch + [op for op in graph.stateful_ops if op not in fetch]
        self._n_fetch = len(fetch)
        self._capture_values = [host_value(t._value) for t, _ in graph.captures]
        self._feed_tensors = list(graph.inputs) + [ph for _, ph in graph.captures]
        self._static = all(t.shape.is_fully_defined() for t in graph.inputs)
        self._plans = {}
        self._written = [(var._eager_resource, var.device) for var, _ in graph.variable_captures
                         if id(var) in graph.written_variables]
        self._backward = None
        self._record_plans = {}

    @property
    def inputs(self):
        return self._feed_tensors

    @property
    def structured_outputs(self):
        return self._structure

    @property
    def variables(self):
        return tuple(var for var, _ in self.graph.variable_captures)

    @property
    def trainable_variables(self):
        return tuple(var for var in self.variables if var.trainable)

    # -- running -------------------------------------------------------------------------------
    def _plan(self, plans, key, elements, feeds_of):
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = _make_plan(elements, feeds_of())
        return plan

    def _feeds(self, arrays):
        return [(t, a.dtype, a.shape) for t, a in zip(self._feed_tensors, arrays)]

    def _copy_on_write(self):
        """Variables this call updates in place whose array an eager tensor still holds
        (an earlier read) get their own copy first, as eager updates do."""
        for res, home in self._written:
            value = res.value
            # referents: res.value, the local, getrefcount's argument
            if value is not None and sys.getrefcount(value) > 3:
                res.value = eager_placement.private_copy(value, home)

    def _run(self, plan, feed_values, n):
        if self._written:
            self._copy_on_write()
        with plan.lock:
            results = plan.run(feed_values)
            fresh = plan.fetch_is_fresh
            out = []
            for i in range(n):
                v = results[i]
                if type(v) is not np.ndarray:
                    v = np.asarray(v)
                elif not fresh[i]:
                    v = v.copy()
                out.append(v)
        return out

    def _call_arrays(self, arrays):
        feeds = arrays + self._capture_values if self._capture_values else arrays
        key = None if self._static else tuple([a.shape for a in arrays])
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(self._plans, key, self._elements, lambda: self._feeds(feeds))
        values = self._run(plan, feeds, self._n_fetch)
        return self._build([EagerTensor(v) for v in values])

    def _build(self, tensors):
        if self._single:
            return tensors[0]
        flat = [tensors[x] if kind == "t" else x for kind, x in self._template]
        return nest.pack_sequence_as(self._structure, flat)

    def __call__(self, *args, **kwargs):
        leaves = []
        _encode(args, leaves)
        _encode(kwargs, leaves)
        if len(leaves) != len(self.graph.inputs):
            raise TypeError("%s expects %d tensor arguments, got %d" % (self.name, len(self.graph.inputs),
                                                                         len(leaves)))
        arrays = []
        for leaf, ph in zip(leaves, self.graph.inputs):
            npd = ph.dtype.as_numpy_dtype
            if leaf.dtype != npd:
                raise ValueError("%s expects a %s tensor for %s, got %s" % (self.name, ph.dtype.name, ph.name,
                                                                          leaf.dtype))
            if not _fits(ph.shape.as_tuple(), leaf.shape):
                raise ValueError("%s expects shape %s for %s, got %s" % (self.name, ph.shape, ph.name,
                                                                       leaf.shape))
            arrays.append(leaf)
        for observe in call_observers:
            observe(self)
        with context.eager_mode():
            if tape_state._recording:
                return self._call_recorded(arrays, _tensor_leaves(args, kwargs))
            return self._call_arrays(arrays)

    # -- gradients through a call ------------------------------------------------------------------
    def _call_recorded(self, arrays, arg_tensors):
        """A call while a tape records: run it keeping what its gradient needs, and record it."""
        bw = self._backward or self._build_backward()
        reads = [var.value() for var in bw.variables]   # tapes see these as the variables
        inputs = arg_tensors + reads
        if not any(id(t) in tape._watched for tape in tape_state._tapes for t in inputs):
            return self._call_arrays(arrays)
        feeds = arrays + self._capture_values
        key = tuple([a.shape for a in feeds])
        elements = self.outputs + bw.kept + [op for op in self._elements[self._n_fetch:]]
        plan = self._plan(self._record_plans, key, elements, lambda: self._feeds(feeds))
        values = self._run(plan, feeds, self._n_fetch + len(bw.kept))
        outputs = [EagerTensor(v) for v in values[:self._n_fetch]]
        kept = values[self._n_fetch:]
        attrs = {"_concrete": self, "_kept": kept, "_n_args": len(arg_tensors)}
        tape_state.record(_CallOpDef, attrs, self.name, inputs, outputs)
        return self._build(outputs)

    def _build_backward(self):
        self._backward = _Backward(self)
        return self._backward


class _Backward:
    """The gradient graph of a trace's outputs with respect to its tensor arguments and
    the variables it reads, built once on the trace graph; its plan is fed what the
    forward call kept (``kept``: the forward tensors the gradient ops read)."""

    def __init__(self, concrete):
        g = concrete.graph
        n_ops = len(g._ops)
        ys = [(k, t) for k, t in enumerate(concrete.outputs) if t.dtype.is_floating]
        self.ys = [k for k, _ in ys]
        self.variables = [var for var, _ in g.variable_captures if g.variable_reads.get(id(var))]
        xs = [t for t in g.inputs if t.dtype.is_floating]
        reads = [r for var in self.variables for r in g.variable_reads[id(var)]]
        with g.as_default(), g.without_hooks():
            self.grad_inputs = [placeholder_for(g, t.dtype, t.shape, "output_grad") for _, t in ys]
            grads = gradients([t for _, t in ys], xs + reads, grad_ys=self.grad_inputs) if ys and (xs or reads) \
                else [None] * (len(xs) + len(reads))
            by_x = dict(zip([id(x) for x in xs], grads[:len(xs)]))
            self.arg_grads = [by_x.get(id(t)) for t in g.inputs]
            pos = len(xs)
            self.var_grads = []
            for var in self.variables:
                n = len(g.variable_reads[id(var)])
                parts = [p for p in grads[pos:pos + n] if p is not None]
                pos += n
                self.var_grads.append(None if not parts else parts[0] if len(parts) == 1 else math_ops.add_n(parts))
        new_ops = g._ops[n_ops:]
        new = set(new_ops)
        placeholders = set(self.grad_inputs)
        recompute = any(op.type in ("If", "While") for op in g._ops[:n_ops])
        if recompute:
            # control-flow gradients need their forward op in the same plan: recompute it
            self.kept = list(g.inputs) + [ph for _, ph in g.captures]
        else:
            kept, seen = [], set()
            for op in new_ops:
                for t in op.inputs:
                    if t.op not in new and t not in placeholders and t not in seen and t.op.type != "VariableV2":
                        seen.add(t)
                        kept.append(t)
            self.kept = kept
        self.fetch = [t for t in self.arg_grads + self.var_grads if t is not None]
        self.plans = {}

    def run(self, kept, out_grads):
        """The gradients of the call's inputs (None where unconnected)."""
        feed_tensors = self.kept + self.grad_inputs
        values = list(kept) + out_grads
        key = tuple([v.shape for v in values])
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = _make_plan(self.fetch, [(t, v.dtype, v.shape) for t, v in
                                                              zip(feed_tensors, values)])
        with plan.lock:
            results = plan.run(values)
            fresh = plan.fetch_is_fresh
            arrays = [np.asarray(v) if type(v) is not np.ndarray else (v if fresh[i] else v.copy())
                      for i, v in enumerate(results)]
        it = iter(arrays)
        return [None if t is None else EagerTensor(next(it)) for t in self.arg_grads + self.var_grads]


class _CallOpDef:
    """The op a tape records for a tf.function call (TF's StatefulPartitionedCall)."""

    type = "StatefulPartitionedCall"
    differentiable = True


@RegisterGradient("StatefulPartitionedCall")
def _call_grad(op, *out_grads):
    concrete = op.attrs["_concrete"]
    bw = concrete._backward
    grads = []
    for k in bw.ys:
        g = out_grads[k]
        t = op.outputs[k]
        grads.append(np.zeros(t._value.shape, t._value.dtype) if g is None
                     else _contiguous(np.asarray(host_value(g._value if type(g) is EagerTensor
                                                           else convert_to_tensor(g)._value),
                                                 dtype=t._value.dtype)))
    in_grads = bw.run(op.attrs["_kept"], grads)
    n_args = op.attrs["_n_args"]
    arg_grads = in_grads[:len(bw.arg_grads)]
    if len(arg_grads) != n_args:  # arguments fed as numpy arrays are not watched anyway
        arg_grads = (arg_grads + [None] * n_args)[:n_args]
    return arg_grads + in_grads[len(bw.arg_grads):]


# -- the decorator -------------------------------------------------------------------------------------

def function(func=None, input_signature=None, autograph=True, experimental_autograph_options=None,
             experimental_relax_shapes=False, reduce_retracing=False, experimental_implements=None,
             experimental_follow_type_hints=None, jit_compile=None, experimental_compile=None, name=None):
    """``tf.function``: compile ``func`` into a callable graph (as a decorator, with or
    without arguments). ``jit_compile``/``experimental_compile`` are accepted and change
    nothing: nbflow compiles every trace (fusion, memory planning) anyway."""
    relax = bool(reduce_retracing or experimental_relax_shapes)
    jit = jit_compile if jit_compile is not None else experimental_compile

    def decorate(fn):
        if isinstance(fn, Function):
            fn = fn.python_function
        return Function(fn, name=name, input_signature=input_signature, autograph=autograph,
                        reduce_retracing=relax, jit_compile=jit)

    if func is None:
        return decorate
    return decorate(func)
