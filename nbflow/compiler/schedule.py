"""The order pass: a topological order of the run units, fused groups as one unit.

The units come in topological order; a fused group (convex by construction)
becomes one unit, placed as early as its inputs allow. Data edges follow slots
(so transfers order correctly); control edges follow ops (through the ops
that run for ops merged away by CSE or forwarding). Ties go to the earlier
unit, so the order is deterministic.

An op class may set ``schedule_priority``: -1 runs as early as possible (it
and the ops it needs go first, in index order of the early ops), +1 only when
nothing else is ready (in the order of the early ops they follow). nbflow.distribute starts a gradient bucket's
all-reduce (-1) as soon as its gradients exist and waits for it (+1) last, so
the rest of the backward pass runs while the messages travel.
"""
import heapq

from nbflow.compiler.program import KernelUnit


def order_pass(program):
    program.schedule = order_units(program.units, program.groups, program.alias_op)
    program.note("order", "%d run units" % len(program.schedule))


def order_units(pending, groups, alias_op):
    units, unit_ins = [], []
    unit_of_op = {}
    producer = {}
    for item in pending:
        ins, outs, _ = item.io() if not isinstance(item, KernelUnit) else (item.ins, item.outs, None)
        if not isinstance(item, KernelUnit):
            producer[outs[0]] = len(units)
            unit_ins.append(list(ins))
            units.append(item)
            continue
        op = item.op
        g = groups.get(op)
        if g is None:
            u = len(units)
            units.append(item)
            unit_ins.append(list(ins))
        elif g.ops[0] is op:
            u = len(units)
            units.append(g)
            unit_ins.append(list(ins))
        else:
            u = unit_of_op[g.ops[0]]
            unit_ins[u].extend(ins)
        unit_of_op[op] = u
        for s in outs:
            producer[s] = u
    deps = [set() for _ in units]
    for u, ins in enumerate(unit_ins):
        for s in ins:
            v = producer.get(s)
            if v is not None and v != u:
                deps[u].add(v)
    for item in pending:
        if isinstance(item, KernelUnit):
            u = unit_of_op[item.op]
            for c in item.op.control_inputs:
                while c in alias_op:
                    c = alias_op[c]
                v = unit_of_op.get(c)
                if v is not None and v != u:
                    deps[u].add(v)
    users = [[] for _ in units]
    for u, d in enumerate(deps):
        for v in d:
            users[v].append(u)
    priority = _priorities(units, deps)
    remaining = [len(d) for d in deps]
    ready = [(priority[i], i) for i, n in enumerate(remaining) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(units[i])
        for j in users[i]:
            remaining[j] -= 1
            if remaining[j] == 0:
                heapq.heappush(ready, (priority[j], j))
    if len(order) != len(units):
        raise AssertionError("fusion produced a cyclic schedule")
    return order


def _priorities(units, deps):
    """The ready-queue key of each unit. Without ``schedule_priority`` anywhere, the unit's
    index (the plain topological order). Otherwise the early units (-1) in index order, each
    preceded by those of its ancestors that no earlier one needs (so each starts as soon as
    its own inputs can be computed), then the others, the late ones (+1) last."""
    hint = [getattr(getattr(getattr(u, "op", None), "op_def", None), "schedule_priority", 0) for u in units]
    if not any(hint):
        return list(range(len(units)))
    key = [(1 if h == 0 else 2 if h > 0 else None, 0, i) for i, h in enumerate(hint)]
    claimed = [False] * len(units)
    for rank, u in enumerate(i for i, h in enumerate(hint) if h < 0):
        stack = [u]
        while stack:
            v = stack.pop()
            if not claimed[v]:
                claimed[v] = True
                key[v] = (0, rank, v)
                stack.extend(deps[v])
    for i, h in enumerate(hint):
        if h > 0:  # late units in the order of the early ones they wait for
            key[i] = (2, min([key[d][1] for d in deps[i] if hint[d] < 0] or [0]), i)
    return key
