"""The functions of ``map``/``filter``/``flat_map``/``reduce``: traced once, run per element.

As TF does, the user's function is traced ONCE into a graph -- a ``tf.function``
with an ``input_signature`` built from the dataset's element_spec (nbflow.eager)
-- and each element runs the compiled plan. Python side effects in the function
therefore happen once, at trace time. AutoGraph converts the function first
(as ``Dataset.map`` does in TF). A tuple element is passed as positional
arguments; any other element (a dict, a namedtuple, one tensor) as one argument.
"""
from nbflow.data import structure
from nbflow.data.structure import TensorSpec
from nbflow.eager.function import Function, _autograph_convert
from nbflow.framework.graph import Tensor
from nbflow.ops.base import convert_to_tensor


def _to_tensors(value):
    """A function's result as a nest of graph tensors (lists and Python values converted)."""
    if isinstance(value, dict):
        return type(value)((k, _to_tensors(v)) for k, v in value.items())
    if isinstance(value, tuple):
        vals = [_to_tensors(v) for v in value]
        return type(value)(*vals) if hasattr(value, "_fields") else tuple(vals)
    if hasattr(value, "_element_spec") and not isinstance(value, Tensor):
        return value  # a Dataset (flat_map)
    return convert_to_tensor(value)


def unpack_args(spec):
    return type(spec) is tuple


class TracedFunction:
    """``fn`` traced once for elements of ``input_spec``; called with flat arrays, it
    returns the flat arrays of its result."""

    def __init__(self, fn, input_spec, name="dataset_fn", autograph=True, wrap_output=None):
        self.trace_count = 0
        self._unpack = unpack_args(input_spec)
        signature = list(input_spec) if self._unpack else [input_spec]
        user_fn = _autograph_convert(fn) if autograph else fn
        captured = {}

        def traced(*args):
            self.trace_count += 1
            out = user_fn(*args) if self._unpack else user_fn(args[0])
            if wrap_output is not None:
                out = wrap_output(out, captured)
            return _to_tensors(out)

        self._function = Function(traced, name=getattr(fn, "__name__", name), input_signature=signature,
                                  autograph=False)
        self._concrete = self._function.get_concrete_function()
        self.extra = captured
        self.output_structure = self._concrete.structured_outputs
        outs = structure.flatten(self.output_structure)
        self.output_spec = structure.pack(self.output_structure, [TensorSpec(t.shape, t.dtype) for t in outs]) \
            if structure.is_nested(self.output_structure) else TensorSpec(outs[0].shape, outs[0].dtype)
        self.n_outputs = len(outs)

    def __call__(self, flat):
        """The function's flat outputs (numpy) for one element's flat arrays: the trace's
        plan run directly (ConcreteFunction._call_arrays without its eager tensors and
        output nest, which cost more than the plan for small elements)."""
        c = self._concrete
        if self.n_outputs == 0:
            return []
        arrays = flat if type(flat) is list else list(flat)
        feeds = arrays + c._capture_values if c._capture_values else arrays
        key = None if c._static else tuple([a.shape for a in arrays])
        plan = c._plans.get(key)
        if plan is None:
            plan = c._plan(c._plans, key, c._elements, lambda: c._feeds(feeds))
        values = c._run(plan, feeds, c._n_fetch)
        return [values[k] for _, k in c._template]
