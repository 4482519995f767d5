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
        #: every operand is full-size or a scalar (one flat loop; needed for reductions)
        self.flat = True
        #: Sum/Mean ops over all axes of a member's value, done in the same loop
        self.reductions = []

    def add(self, op, flat=True):
        self.ops.append(op)
        self.members.add(op)
        self.flat = self.flat and flat

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
    # strings have no scalar kernels; float16 computes in float32 in its own op
    unfusible = (dtypes.string, dtypes.float16)
    return all(d not in unfusible for d in ctx.input_dtypes) and op.outputs[0].dtype not in unfusible


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
        def convex(g):
            """Joining g keeps it convex: no path leaves g and comes back into op."""
            return all((q in group_of and _root(group_of[q]) is g) or g not in _roots(depends_on.get(q, ()))
                       for q in sources)

        if op is not None and fusible_op(op) and _fusible(op, ctx):
            shape = ctx.output_shapes[0].as_tuple()
            flat = _flat(ctx, shape)
            candidates = []
            for p in sources:
                g = _root(group_of[p]) if p in group_of else None
                if g is None or g.shape != shape or g in candidates or (g.reductions and not flat):
                    continue
                if any(q in g.reductions for q in sources):
                    continue  # a sum is complete only after the loop: its users run later
                if convex(g):
                    candidates.append(g)
            target = candidates[0] if candidates else Group(shape)
            for g in candidates[1:]:
                # Two producer groups merge only if neither depends on the other.
                if g not in target.deps and target not in g.deps and \
                        not ((g.reductions or target.reductions) and not (g.flat and target.flat)):
                    _merge(g, target, group_of, position)
            target.add(op, flat)
            target.deps |= dep - {target}
            group_of[key] = target
        elif op is not None and fusible_op(op) and _full_reduction(op, ctx):
            # A sum/mean over everything a group computes: accumulate in its loop.
            p = producer.get(ins[0])
            g = _root(group_of[p]) if p in group_of else None
            if g is not None and g.flat and g.shape == ctx.input_shapes[0].as_tuple() and convex(g):
                g.add(op)
                g.reductions.append(op)
                g.deps |= dep - {g}
                group_of[key] = g
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


def _flat(ctx, shape):
    return all(s.num_elements() == 1 or s.as_tuple() == shape for s in ctx.input_shapes)


def _full_reduction(op, ctx):
    """A Sum/Mean (``fusible_reduction``) over all axes of a float tensor, axes known."""
    if getattr(op.op_def, "fusible_reduction", None) not in ("sum", "mean") or op.control_inputs:
        return False
    dims, axes = ctx.input_shapes[0].as_tuple(), ctx.value(1)
    if dims is None or None in dims or axes is None or not op.outputs[0].dtype.is_floating:
        return False
    rank = len(dims)
    return rank > 0 and sorted({int(a) % rank for a in np.asarray(axes).reshape(-1)}) == list(range(rank))


def _merge(src, dst, group_of, position):
    src.merged_into = dst
    dst.flat = dst.flat and src.flat
    dst.reductions += src.reductions
    dst.ops = sorted(dst.ops + src.ops, key=lambda op: position[op])
    dst.members |= src.members
    dst.deps = _roots(dst.deps | src.deps) - {dst}


def _bind_with_reductions(group, kernel, in_tensors, out_tensors, slot_of, out_np, alloc):
    """Step of a group that also reduces: element-wise outputs, then the sums."""
    red_tensors = [op.outputs[0] for op in group.reductions]
    group.inputs, group.outputs = in_tensors, out_tensors + red_tensors
    bufs = [alloc(group.shape, d) for d in out_np]
    reds = [np.empty(tuple(t.shape.as_list()) if t.shape.is_fully_defined() else (), dtype=t.dtype.as_numpy_dtype)
            for t in red_tensors]
    outs = bufs + reds
    in_slots = tuple(slot_of[t] for t in in_tensors)
    out_slots = tuple(slot_of[t] for t in group.outputs)

    def run(*args):
        kernel(*args, *outs)
        return outs
    if len(outs) == 1:
        r0 = outs[0]

        def run_one(*args):
            kernel(*args, r0)
            return r0
        return (run_one, in_slots, out_slots[0], 1), set()
    return (run, in_slots, out_slots, len(outs)), set()


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
        if op in group.reductions:
            continue
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
    out_tensors = [op.outputs[0] for op in group.ops
                   if op not in group.reductions and used_outside(op.outputs[0], group)]
    if not out_tensors and not group.reductions:  # only an Operation was fetched
        out_tensors = [group.ops[-1].outputs[0]]
    sums = []
    for op in group.reductions:
        t = op.inputs[0]
        sl = slot_of[t]
        if sl not in name_of:  # summing a group input directly
            name_of[sl] = "x%d" % len(in_tensors)
            in_tensors.append(t)
        sums.append((name_of[sl], op.outputs[0].dtype.as_numpy_dtype, op.op_def.fusible_reduction == "mean"))
    in_np = [t.dtype.as_numpy_dtype for t in in_tensors]
    in_shapes = [slot_shapes[slot_of[t]].as_tuple() for t in in_tensors]
    out_np = [t.dtype.as_numpy_dtype for t in out_tensors]
    kernel, _ = ew_kernels.get_kernel(statements, [name_of[slot_of[t]] for t in out_tensors], in_np, in_shapes,
                                      out_np, group.shape, sums)
    if group.reductions:
        return _bind_with_reductions(group, kernel, in_tensors, out_tensors, slot_of, out_np, alloc)
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
