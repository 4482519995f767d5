"""FuncGraph: the graph ``tf.function`` traces its Python function into.

An ordinary Graph plus what a function needs of the eager world around it:

- tensor arguments are placeholders (``inputs``);
- an eager tensor used by an op is *captured*: a placeholder fed with its
  value at every call (small integer tensors -- shapes, axes -- become
  constants, so shape inference and folding see them);
- an eager variable used by an op is captured *by handle*: a VariableV2 op
  whose ``shared_name`` is the variable's handle name (container ""), so the
  compiled plan reads and updates the eager variable's own resource; each read
  is an Identity of that ref (``variable_reads``: what GradientTape sums over);
- automatic control dependencies, as TF 2's: an op that reads a captured
  variable runs after the last update of it, an update runs after the reads
  (and their consumers so far) and the updates before it; ``stateful_ops``
  lists the ops with side effects, which every call runs even when no output
  depends on them;
- variables created while tracing are lifted out (eager variables), on the
  first trace of a Function only (``lift_variables``).
"""
from nbflow.framework.eager_tensor import host_value
from nbflow.framework.graph import Graph
from nbflow.ops.array_shape_ops import Snapshot
from nbflow.ops.base import Op, apply_op, constant_from_array
from nbflow.ops.constant_op import Placeholder
from nbflow.ops.state_ops import VariableV2

SINGLETON_VARIABLES_ERROR = (
    "tf.function only supports singleton tf.Variables created on the first call. Make sure the "
    "tf.Variable is only created once or created outside tf.function.")

#: stateful op types that are not side effects a call must run
_NOT_SIDE_EFFECTS = frozenset(("Placeholder", "PlaceholderWithDefault", "VariableV2", "Const"))
#: eager integer/bool tensors up to this size are captured as constants (shapes, axes)
_SMALL_CONSTANT = 64


def _may_alias(op_def):
    """The op's output may be its input's buffer (Identity, Reshape, ...)."""
    return op_def.forwards_input is not None or \
        getattr(op_def.plan_forwards, "__func__", None) is not Op.plan_forwards.__func__


class FuncGraph(Graph):
    """The graph of one trace of a ``tf.function``."""

    def __init__(self, name, allow_variables=True, evaluate=None):
        super().__init__()
        #: ``evaluate(tensor) -> array``: computes a tensor of this graph now (a compiled plan)
        self.evaluate = evaluate
        self.name = name
        #: the placeholders of the tensor arguments, in call order
        self.inputs = []
        #: captured eager tensors: [(EagerTensor, placeholder)], in capture order
        self.captures = []
        self._capture_by_id = {}
        #: captured eager variables: [(EagerVariable, ref tensor)], in capture order
        self.variable_captures = []
        self._var_by_id = {}
        #: id(variable) -> the read tensors of it in this graph
        self.variable_reads = {}
        #: ids of the variables this graph updates
        self.written_variables = set()
        #: ops with side effects (updates, asserts, control flow) outside control-flow bodies
        self.stateful_ops = []
        self._ref_owner = {}        # id(ref tensor) -> variable
        self._last_write = {}       # id(variable) -> the last op updating it
        self._readers = {}          # id(variable) -> ops reading it since that update
        self._stale = {}            # id(read) -> (read, updates after it): used later, it is copied
        self._snapshots = {}        # id(read) -> its copy, taken before those updates
        self._allow_variables = allow_variables
        self._hooks_on = True

    # -- variables created while tracing -----------------------------------------------
    @property
    def lift_variables(self):
        """Read by ``tf.Variable(...)``: true on a first trace (the variable is lifted out,
        an eager variable); a later trace may create none (TF's ValueError)."""
        if not self._allow_variables:
            raise ValueError(SINGLETON_VARIABLES_ERROR)
        return True

    def lift_initial_value(self, tensor):
        """The value of ``tensor`` of this graph (a variable's initial value built in the
        trace), computed now -- it must not depend on the function's arguments."""
        return self.evaluate(tensor)

    # -- captures -------------------------------------------------------------------------
    def _outside(self):
        """Save and clear the control-flow context and control dependencies."""
        saved = self._control_dependencies_stack, self._control_flow_context, self._hooks_on
        self._control_dependencies_stack, self._control_flow_context, self._hooks_on = [], None, False
        return saved

    def _restore(self, saved):
        self._control_dependencies_stack, self._control_flow_context, self._hooks_on = saved

    def capture_eager_tensor(self, t):
        entry = self._capture_by_id.get(id(t))
        if entry is not None:
            return entry[1]
        saved = self._outside()
        try:
            v = host_value(t._value)
            if v.dtype.kind in "iub" and v.size <= _SMALL_CONSTANT:
                ph = None
                out = constant_from_array(v, name="captured_const")
            else:
                out = ph = apply_op(Placeholder, [], {"dtype": t.dtype, "shape": t.shape}, name="capture",
                                    graph=self)
        finally:
            self._restore(saved)
        self._capture_by_id[id(t)] = (t, out)
        if ph is not None:
            self.captures.append((t, ph))
        return out

    def capture_variable(self, var):
        """The ref tensor (a VariableV2 op on the variable's handle) of ``var`` in this graph."""
        entry = self._var_by_id.get(id(var))
        if entry is not None:
            return entry[1]
        saved = self._outside()
        try:
            ref = apply_op(VariableV2, [], {"shape": var.shape, "dtype": var.dtype, "container": "",
                                            "shared_name": var.handle.name},
                           name=var.name.split(":")[0], graph=self)
            # the plan runs it where the eager variable's value lives (host memory or a GPU)
            ref.op._set_device(var.device)
        finally:
            self._restore(saved)
        self._var_by_id[id(var)] = (var, ref)
        self._ref_owner[id(ref)] = var
        self.variable_captures.append((var, ref))
        return ref

    def read_variable(self, var):
        """A read of ``var`` (an Identity of its ref, ordered after its last update)."""
        from nbflow.ops.array_ops import identity
        ref = self.capture_variable(var)
        read = identity(ref, name="read")
        self.variable_reads.setdefault(id(var), []).append(read)
        return read

    # -- automatic control dependencies ---------------------------------------------------------
    def create_op(self, op_def, inputs, attrs, output_specs, name, control_inputs=()):
        if not self._hooks_on or not self._ref_owner:
            op = super().create_op(op_def, inputs, attrs, output_specs, name, control_inputs)
            if self._hooks_on:
                self._note_side_effect(op)
            return op
        if self._stale:
            inputs = [self.fresh(t) for t in inputs]
        extra = list(control_inputs)
        touched = []  # (variable id, is_write)
        res_inputs = op_def.resource_inputs or ()
        for i, t in enumerate(inputs):
            var = self._ref_owner.get(id(t))
            if var is None:
                continue
            write = op_def.stateful and i in res_inputs
            vid = id(var)
            touched.append((vid, write))
            last = self._last_write.get(vid)
            if last is not None and last not in extra and self._same_context(last):
                extra.append(last)
            if write:
                for r in self._alias_readers(vid):
                    if r not in extra and self._same_context(r):
                        extra.append(r)
        op = super().create_op(op_def, inputs, attrs, output_specs, name, extra)
        in_body = self._control_flow_context is not None
        for vid, write in touched:
            if write:
                self.written_variables.add(vid)
                if not in_body:
                    for r in self._readers.get(vid, ()):
                        if r.type == "Identity":  # a read: its later users get a copy taken before
                            self._stale.setdefault(id(r.outputs[0]), (r.outputs[0], []))[1].append(op)
                    self._last_write[vid] = op
                    self._readers[vid] = []
            elif not in_body:
                self._readers.setdefault(vid, []).append(op)
        self._note_side_effect(op)
        return op

    def fresh(self, t):
        """``t``, or when it is a variable read that an update after it would change in
        place, its copy taken before that update (a Snapshot op)."""
        entry = self._stale.get(id(t))
        if entry is None or entry[0] is not t:
            return t
        snap = self._snapshots.get(id(t))
        if snap is None:
            saved = self._outside()
            try:
                snap = self._snapshots[id(t)] = apply_op(Snapshot, [t], name="read_snapshot", graph=self)
            finally:
                self._restore(saved)
            for w in entry[1]:
                w._add_control_input(snap.op)
        return snap

    def _same_context(self, op):
        return op._control_flow_context is self._control_flow_context

    def _alias_readers(self, vid):
        """The ops reading a variable since its last update: the readers and, through ops
        whose output may be their input's buffer, every op that sees that buffer."""
        out, stack, seen = [], list(self._readers.get(vid, ())), set()
        while stack:
            op = stack.pop()
            if op in seen:
                continue
            seen.add(op)
            out.append(op)
            if _may_alias(op.op_def):
                for t in op.outputs:
                    stack.extend(t._consumers)
        return out

    def _note_side_effect(self, op):
        if op.op_def.stateful and self._control_flow_context is None and op.type not in _NOT_SIDE_EFFECTS \
                and "seed2" not in op.attrs:
            self.stateful_ops.append(op)

    def without_hooks(self):
        """A context in which ops are built without control dependencies or side-effect
        bookkeeping (gradient graphs)."""
        graph = self

        class _Ctx:
            def __enter__(self):
                self.saved = graph._hooks_on
                graph._hooks_on = False

            def __exit__(self, *exc):
                graph._hooks_on = self.saved

        return _Ctx()


def placeholder_for(graph, dtype, shape, name):
    return apply_op(Placeholder, [], {"dtype": dtype, "shape": shape}, name=name, graph=graph)
