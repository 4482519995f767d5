"""The order pass: a topological order of the run units, fused groups as one unit.

The units come in topological order; a fused group (convex by construction)
becomes one unit, placed as early as its inputs allow. Data edges follow slots
(so transfers order correctly); control edges follow ops (through the ops
that run for ops merged away by CSE or forwarding). Ties go to the earlier
unit, so the order is deterministic.
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
    remaining = [len(d) for d in deps]
    ready = [i for i, n in enumerate(remaining) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(units[i])
        for j in users[i]:
            remaining[j] -= 1
            if remaining[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(units):
        raise AssertionError("fusion produced a cyclic schedule")
    return order
