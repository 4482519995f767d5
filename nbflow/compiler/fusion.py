"""Element-wise fusion: convex groups of element-wise ops become one generated kernel.

Every element-wise op is a scalar expression (ops/elementwise.py), so a group
of them is a list of scalar statements inside one loop: intermediate values
live in registers instead of memory. A group shares one iteration space (the
output shape of its members); operands from outside the group may broadcast
into it (scalars, bias vectors, general numpy broadcasting). Values that are
used outside the group, or fetched, become extra outputs of the kernel.
"""
import sys

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
        self.deps = set()  # groups this one depends on through ops outside it
        self.merged_into = None

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
    An op joins the group of a producer with its shape when that keeps the
    group convex; producer groups it joins together are merged.
    """
    group_of = {}
    depends_on = {}  # unit key -> set of groups it depends on, directly or not
    producer = {}    # slot -> unit key
    position = {}
    for index, (key, ins, outs, op, ctx) in enumerate(units):
        position[key] = index
        sources = [producer[sl] for sl in ins if sl in producer]
        if op is not None:
            for c in op.control_inputs:
                while c in alias_op:
                    c = alias_op[c]
                sources.append(c)
        dep = set()
        for p in sources:
            dep |= {_root(g) for g in depends_on.get(p, ())}
            if p in group_of:
                dep.add(_root(group_of[p]))
        if op is not None and fusible_op(op) and _fusible(op, ctx):
            shape = ctx.output_shapes[0].as_tuple()
            candidates = []
            for p in sources:
                g = _root(group_of[p]) if p in group_of else None
                if g is None or g.shape != shape or g in candidates:
                    continue
                # Convexity: no path leaves g and comes back into op.
                if all((q in group_of and _root(group_of[q]) is g) or g not in _roots(depends_on.get(q, ()))
                       for q in sources):
                    candidates.append(g)
            target = candidates[0] if candidates else Group(shape)
            for g in candidates[1:]:
                # Two producer groups merge only if neither depends on the other.
                if g not in target.deps and target not in g.deps:
                    _merge(g, target, group_of, position)
            target.add(op)
            target.deps |= dep - {target}
            group_of[key] = target
        depends_on[key] = dep
        for sl in outs:
            producer[sl] = key
    result = {}
    for key, g in group_of.items():
        g = _root(g)
        if len(g.ops) > 1:
            result[key] = g
    return result


def _root(g):
    while g.merged_into is not None:
        g = g.merged_into
    return g


def _roots(groups):
    return {_root(g) for g in groups}


def _merge(src, dst, group_of, position):
    src.merged_into = dst
    dst.ops = sorted(dst.ops + src.ops, key=lambda op: position[op])
    dst.members |= src.members
    dst.deps = _roots(dst.deps | src.deps) - {dst}


def _recycler(shape, dtype):
    """New output arrays for fetched values, reusing last run's array when the
    caller has dropped every reference to it (so a loop that discards results
    allocates nothing, and a kept result is never overwritten)."""
    last = [None]

    def new_buffer():
        buf = last[0]
        # references: last[0], the local ``buf`` and getrefcount's argument
        if buf is None or sys.getrefcount(buf) > 3:
            buf = np.empty(shape, dtype=dtype)
            last[0] = buf
        return buf
    return new_buffer


def _np_name(dtype):
    name = np.dtype(dtype.as_numpy_dtype).name
    return "np.bool_" if name == "bool" else "np." + name


def bind_group(group, slot_of, slot_shapes, slot_values, used_outside, fetched_slots, alloc=None):
    """Generate the group's kernel and return ``(step, fresh output slots)``.

    ``used_outside(tensor, group)`` tells whether a member's value is read by
    anything outside the group (another step, or a fetch). Fetched outputs get
    a fresh array each run (handed to the caller without a copy); other
    outputs come from ``alloc(shape, dtype)`` (the memory planner) if given."""
    alloc = alloc or (lambda shp, dt: np.empty(shp, dtype=dt))
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
        expr = op.op_def.scalar_expr_for([t.dtype for t in op.inputs], args,
                                         [slot_values[slot_of[t]] for t in op.inputs])
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
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in out_tensors)
    fresh = tuple(sl in fetched_slots for sl in out_slots)
    shape = group.shape
    if len(out_np) == 1:
        if fresh[0]:
            new_buffer = _recycler(shape, out_np[0])

            def run_fresh(*args):
                out = new_buffer()
                kernel(*args, out)
                return out
            return (run_fresh, in_slots, out_slots[0], 1), {out_slots[0]}
        out0 = alloc(shape, out_np[0])

        def run(*args):
            kernel(*args, out0)
            return out0
        return (run, in_slots, out_slots[0], 1), set()
    bufs = [_recycler(shape, d) if f else alloc(shape, d) for f, d in zip(fresh, out_np)]

    def run_multi(*args):
        outs = [b() if callable(b) else b for b in bufs]
        kernel(*args, *outs)
        return outs
    return (run_multi, in_slots, out_slots, len(bufs)), {sl for sl, f in zip(out_slots, fresh) if f}
