"""Element-wise fusion: convex groups of element-wise ops become one generated kernel.

Every element-wise op is a scalar expression (ops/elementwise.py), so a group
of them is a list of scalar statements inside one loop: intermediate values
live in registers instead of memory. A group shares one iteration space (the
output shape of its members); operands from outside the group may broadcast
into it (scalars, bias vectors, general numpy broadcasting). Values that are
used outside the group, or fetched, become extra outputs of the kernel.

This module finds the groups (per device); each device's backend generates
and binds their kernels (``registry.fused_binder``; CPU: backends/cpu/fused.py).
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.backends import registry
from nbflow.ops.elementwise import ElementwiseOp


class Group:
    """A convex set of element-wise ops sharing one output shape."""

    def __init__(self, shape):
        self.shape = shape
        self.ops = []
        self.members = set()
        self.source_path = None
        #: the Device the group runs on (set when it is bound)
        self.device = None
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

    def io(self):
        """(input slots, output slots, outputs may alias inputs): set by ``fusion_pass``."""
        return self.in_slots, self.out_slots, False

    def __repr__(self):
        return "<FusedGroup %s shape=%s>" % ("+".join(op.type for op in self.ops), self.shape)


def _fusible(op, ctx, device_type):
    od = op.op_def
    if not (isinstance(od, type) and issubclass(od, ElementwiseOp)):
        return False
    # Integer division checks its divisor for zeros before the loop: it runs alone.
    if od.divisor_input is not None and ctx.input_dtypes[od.divisor_input].is_integer:
        return False
    # An op with a kernel of its own on this device is not a plain scalar expression.
    if registry.kernel_factory(od, device_type) is not registry.kernel_factory(ElementwiseOp, device_type):
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


def find_groups(units, fusible_op, alias_op, device_type="CPU", reductions=True):
    """Map each fused op to its Group (groups of two or more ops only).

    ``units``: the plan's run units (KernelUnit, TransferUnit) in topological
    order; dependencies follow
    slots (values may be shared after CSE) and control edges (``alias_op``
    maps ops that were merged away to the op that runs for them).
    ``fusible_op(op)`` says whether an op may join a group (placed on
    ``device_type``, whose backend binds the group's generated kernel).
    An op joins the group of a producer with its shape when that keeps the
    group convex; producer groups it joins together are merged. ``reductions``:
    full sums/means of a member join its group (the device's binder does them).
    """
    group_of = {}
    depends_on = {}  # unit key -> set of groups it depends on, directly or not
    producer = {}    # slot -> unit key
    position = {}
    for index, unit in enumerate(units):
        op, ctx = getattr(unit, "op", None), getattr(unit, "ctx", None)
        key = op if op is not None else unit
        ins, outs, _ = unit.io()
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

        if op is not None and fusible_op(op) and _fusible(op, ctx, device_type):
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
        elif reductions and op is not None and fusible_op(op) and _full_reduction(op, ctx):
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


def fusion_pass(program):
    """Fusion runs per device: a group holds ops of one device whose backend binds fused kernels."""
    groups = {}
    for device in program.env.devices:
        if registry.fused_binder(device.device_type) is not None:
            groups.update(find_groups(program.units, lambda op, d=device: program.placement[op] is d,
                                      program.alias_op, device.device_type,
                                      registry.fuses_reductions(device.device_type)))
    program.groups = groups
    program.fused_groups = list({id(g): g for g in groups.values()}.values())
    slot_of = program.slot_of
    for g in program.fused_groups:
        g.device = program.placement[g.ops[0]]
        reads = program.slots_on(g.device)  # inputs from another device: their copies
        g.out_slots = [slot_of[op.outputs[0]] for op in g.ops]
        produced = set(g.out_slots)
        g.in_slots = [reads[t] for op in g.ops for t in op.inputs if reads[t] not in produced]
        program.note("fusion", "%s: %d ops in one kernel" % (g, len(g.ops)))
