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
from nbflow.ops.base import apply_op, constant_from_array, convert_to_tensor
from nbflow.ops.elementwise import ElementwiseOp


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
        self._input_spec, self._wraps_output = input_spec, wrap_output is not None
        self._batched = None
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

    # -- map and batch fused: one run of the function per batch --------------------------------------
    def batched(self):
        """The function for whole batches when that is the same as running it per element
        and stacking (TF's map_and_batch fusion with map vectorization), else None.

        That holds when every op between the element's tensors and the outputs is
        element-wise (or an Identity) and numpy broadcasting keeps the batch dimension
        apart: the operands that depend on the element have one rank, the others
        (constants) no more than it, and every output depends on the element. Such a
        function computes each position of a batch exactly as it computes that element.
        The batched function replays the element trace's ops on batched placeholders: the
        user's Python function is still traced once."""
        if self._batched is None:
            graph = self._concrete.graph
            ok = not self._wraps_output and _vectorizable(graph, self._concrete.outputs)
            self._batched = self._replay_batched(graph) if ok else False
        return self._batched or None

    def _replay_batched(self, graph):
        ops = [op for op in graph.get_operations() if op.type != "Placeholder"]
        element_inputs = list(graph.inputs)
        structured = self.output_structure

        def replay(*args):
            mapping = dict(zip(element_inputs, args))
            for op in ops:
                if op.type == "Const":
                    outs = [constant_from_array(op.attrs["value"])]
                else:
                    outs = apply_op(op.op_def, [mapping[t] for t in op.inputs], dict(op.attrs), name=op.name)
                    outs = outs if isinstance(outs, list) else [outs]
                mapping.update(zip(op.outputs, outs))
            return structure.map_structure(lambda t: mapping[t], structured)

        batched_spec = structure.map_structure(lambda s: structure.with_batch(s, None), self._input_spec)
        if not self._unpack:
            return TracedFunction(lambda x: replay(*structure.flatten(x)), batched_spec, "batched", False)
        return TracedFunction(lambda *xs: replay(*[t for x in xs for t in structure.flatten(x)]),
                              batched_spec, "batched", False)


def _vectorizable(graph, outputs):
    """Whether ``graph`` (a traced per-element function) maps over a batch position by position."""
    if graph.variable_captures or graph.stateful_ops or graph.captures:
        return False
    batched = {}  # tensor -> its per-element rank, for tensors that depend on the element
    for t in graph.inputs:
        if t.shape.ndims is None:
            return False
        batched[t] = t.shape.ndims
    for op in graph.get_operations():
        if op.type in ("Placeholder", "Const"):
            continue
        if op.type != "Identity" and not issubclass(op.op_def, ElementwiseOp):
            return False
        ranks_in = [batched[t] for t in op.inputs if t in batched]
        if not ranks_in:
            return False  # constant work: keep the plain path
        other = [t.shape.ndims for t in op.inputs if t not in batched]
        if len(set(ranks_in)) != 1 or any(r is None or r > ranks_in[0] for r in other):
            return False
        for out in op.outputs:
            if out.shape.ndims != ranks_in[0]:
                return False
            batched[out] = ranks_in[0]
    return bool(outputs) and all(t in batched for t in outputs)
