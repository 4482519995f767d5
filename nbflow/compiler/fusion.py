"""Element-wise fusion: convex groups of element-wise ops become one generated kernel.

Every element-wise op is a scalar expression (ops/elementwise.py), so a group
of them is a list of scalar statements inside one loop: intermediate values
live in registers instead of memory. A group shares one iteration space (the
output shape of its members); operands from outside the group may broadcast
into it (scalars, bias vectors, general numpy broadcasting). Values that are
used outside the group, or fetched, become extra outputs of the kernel.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.ops.elementwise import ElementwiseOp


class Group:
    """A convex set of element-wise ops sharing one output shape."""

    def __init__(self, shape):
        self.shape = shape
        self.ops = []
        self.members = set()
        self.source_path = None
        self.inputs = []
        self.outputs = []

    def add(self, op):
        self.ops.append(op)
        self.members.add(op)

    def __repr__(self):
        return "<FusedGroup %s shape=%s>" % ("+".join(op.type for op in self.ops), self.shape)


def _fusible(op, ctx):
    od = op.op_def
    if not (isinstance(od, type) and issubclass(od, ElementwiseOp)):
        return False
    # An op that customises its own kernel binding is not a plain scalar expression.
    if getattr(od.plan, "__func__", None) is not ElementwiseOp.plan.__func__:
        return False
    if op.control_inputs or len(op.outputs) != 1:
        return False
    if not ctx.output_shapes[0].is_fully_defined():
        return False
    if any(not s.is_fully_defined() for s in ctx.input_shapes):
        return False
    return all(d is not dtypes.string for d in ctx.input_dtypes) and op.outputs[0].dtype is not dtypes.string


def find_groups(units, fusible_op, alias_op):
    """Map each fused op to its Group (groups of two or more ops only).

    ``units``: the plan's run units in topological order, each with
    ``(key, input slots, output slots, op or None, ctx)``; dependencies follow
    slots (values may be shared after CSE) and control edges (``alias_op``
    maps ops that were merged away to the op that runs for them).
    ``fusible_op(op)`` says whether an op may join a group (e.g. right device).
    """
    group_of = {}
    depends_on = {}  # unit key -> set of groups it depends on, directly or not
    producer = {}    # slot -> unit key
    for key, ins, outs, op, ctx in units:
        sources = [producer[sl] for sl in ins if sl in producer]
        if op is not None:
            for c in op.control_inputs:
                while c in alias_op:
                    c = alias_op[c]
                sources.append(c)
        dep = set()
        for p in sources:
            dep |= depends_on.get(p, set())
            if p in group_of:
                dep.add(group_of[p])
        if op is not None and fusible_op(op) and _fusible(op, ctx):
            shape = ctx.output_shapes[0].as_tuple()
            target = None
            for p in sources:
                g = group_of.get(p)
                if g is None or g.shape != shape:
                    continue
                # Convexity: no path leaves g and comes back into op.
                if all(group_of.get(q) is g or g not in depends_on.get(q, ()) for q in sources):
                    target = g
                    break
            if target is None:
                target = Group(shape)
            target.add(op)
            group_of[key] = target
        depends_on[key] = dep
        for sl in outs:
            producer[sl] = key
    return {op: g for op, g in group_of.items() if len(g.ops) > 1}


def _np_name(dtype):
    name = np.dtype(dtype.as_numpy_dtype).name
    return "np.bool_" if name == "bool" else "np." + name


def bind_group(group, slot_of, slot_shapes, used_outside):
    """Generate the group's kernel and return an executor step.

    ``used_outside(tensor, group)`` tells whether a member's value is read by
    anything outside the group (another step, or a fetch)."""
    # Keyed by slot, not tensor: after CSE two tensors may share one value.
    name_of = {}
    in_tensors = []
    statements = []
    for k, op in enumerate(group.ops):
        args = []
        for t in op.inputs:
            sl = slot_of[t]
            if sl not in name_of:
                name_of[sl] = "x%d" % len(in_tensors)
                in_tensors.append(t)
            args.append(name_of[sl])
        out = op.outputs[0]
        expr = op.op_def.scalar_expr([t.dtype for t in op.inputs], args)
        name_of[slot_of[out]] = "t%d" % k
        statements.append("t%d = %s(%s)" % (k, _np_name(out.dtype), expr))
    out_tensors = [op.outputs[0] for op in group.ops if used_outside(op.outputs[0], group)]
    if not out_tensors:  # only an Operation was fetched: the last value is still computed
        out_tensors = [group.ops[-1].outputs[0]]
    in_np = [t.dtype.as_numpy_dtype for t in in_tensors]
    in_shapes = [slot_shapes[slot_of[t]].as_tuple() for t in in_tensors]
    out_np = [t.dtype.as_numpy_dtype for t in out_tensors]
    kernel, _ = ew_kernels.get_kernel(statements, [name_of[slot_of[t]] for t in out_tensors], in_np, in_shapes,
                                      out_np, group.shape)
    group.inputs, group.outputs = in_tensors, out_tensors
    group.source_path = ew_kernels.source_path(kernel)
    bufs = tuple(np.empty(group.shape, dtype=d) for d in out_np)
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in out_tensors)
    if len(bufs) == 1:
        out0 = bufs[0]

        def run(*args):
            kernel(*args, out0)
            return out0
        return run, in_slots, out_slots[0], 1

    def run_multi(*args):
        kernel(*args, *bufs)
        return bufs
    return run_multi, in_slots, out_slots, len(bufs)
