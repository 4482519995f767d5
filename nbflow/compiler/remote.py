"""The remote pass: ops placed on ps tasks become segments run there (docs/DISTRIBUTED.md).

After placement, the ops of a worker's plan placed on ``/job:ps/task:k`` are cut
into *segments*: an op's level is the number of device changes on the longest
path reaching it, and the ops of one ps task with one level form one segment.
A segment is convex (a path leaving the task and coming back raises the level
by two), so it runs as one request: its inputs go to the ps in one message, the
ps runs its ops (its own Session over its ResourceManager: runtime/ps_server.py)
and sends back the values the worker needs. A training step of an MLP is then
two requests per ps task (the variable reads, then the updates), plus the
global step's increment, which waits for every task's updates.

A variable op (a resource with no inputs, as VariableV2) read by several
segments of its task is copied into each: the copy names the same resource on
the ps, so an ApplyX op updates the variable in place there. Each segment
becomes one :class:`SegmentOp` (an ``ops.mpi_ops.PsSegment``) on the host, whose
kernel (backends/cpu/mpi.py) does the request; the other passes see an ordinary
stateful op.
"""
import pickle

from nbflow.backends.devices import RemoteTaskDevice
from nbflow.framework import errors
from nbflow.ops.mpi_ops import PsSegment


class SegmentOp:
    """What the passes after this one see of a segment: an op on the host."""

    op_def = PsSegment
    type = PsSegment.type
    device = ""

    def __init__(self, name, inputs, outputs, control_inputs, attrs, members):
        self.name, self.inputs, self.outputs = name, tuple(inputs), list(outputs)
        self.control_inputs, self.attrs, self.members = list(control_inputs), attrs, members

    def get_attr(self, name):
        return self.attrs[name]

    def __repr__(self):
        return "<SegmentOp %s: %d ops>" % (self.name, len(self.members))


def remote_pass(program):
    placement = program.placement
    if not any(isinstance(placement[op], RemoteTaskDevice) for op in program.ops):
        return
    fed = {t for t, _, _ in program.feeds}
    index = {op: i for i, op in enumerate(program.ops)}
    _pull_onto_ps(program, placement, fed)
    segments = _segments(program.ops, placement, fed)
    home = {op: key for key, members in segments.items() for op in members}
    extended = {key: _with_variable_copies(members, placement, fed, index) for key, members in segments.items()}
    fetched = set(program.fetch_tensors)
    targets = set(program.target_ops)
    consumers = {}
    for op in program.ops:
        for t in op.inputs:
            if t not in fed:
                consumers.setdefault(t, []).append(op)
    seg_ops = {}
    for n, (key, members) in enumerate(sorted(extended.items(), key=lambda kv: index[kv[1][0]])):
        device = key[0]
        own = set(segments[key])
        member_set = set(members)
        # dicts as ordered sets: the values crossing into and out of the segment, in op order
        inputs = list(dict.fromkeys(t for op in members for t in op.inputs if t in fed or t.op not in member_set))
        controls = list(dict.fromkeys(c for op in members for c in op.control_inputs if c not in member_set))
        # a consumer in a segment holding its own copy of this (variable) op needs nothing sent
        outputs = [t for op in members if op in own for t in op.outputs
                   if t in fetched or any(c not in member_set and op not in extended.get(home.get(c), ())
                                          for c in consumers.get(t, ()))]
        needed = outputs or any(not _is_variable_source(op) or op in targets for op in own)
        if not needed:
            continue
        name = "ps_segment_%d(%s)" % (n, device.name)
        attrs = {"rank": device.rank, "task": device.name, "output_specs": [(t.dtype, t.shape) for t in outputs],
                 "segment": describe_segment(members, inputs, outputs, device)}
        seg = SegmentOp(name, inputs, outputs, controls, attrs, members)
        seg.first = min(index[op] for op in own)
        seg_ops[key] = seg
        placement[seg] = program.host
        program.note("remote", "%s: %d ops (%s), %d values in, %d out"
                     % (name, len(members), ", ".join(op.name for op in members[:6])
                        + (", ..." if len(members) > 6 else ""), len(inputs), len(outputs)))
    for op, key in home.items():
        if key in seg_ops:
            program.alias_op[op] = seg_ops[key]
        else:  # a segment of variable ops only, each read where it is needed
            copies = [s for s in seg_ops.values() if op in s.members]
            if copies:
                program.alias_op[op] = copies[0]
    program.ops = _reorder(program.ops, seg_ops, home, program.alias_op, fed, index)


def _pull_onto_ps(program, placement, fed):
    """Place on ps task k the host ops that only serve it and need no host computation:
    a NoOp, or a stateless op whose data inputs all come from task k or from constants,
    every consumer (data or control) being on task k. TF colocates such ops there itself
    (Adam's ``beta1_power * beta1`` with ``colocate_with``); here they would otherwise
    split a ps task's updates into separate requests (a host op between them)."""
    users = {}
    for op in program.ops:
        for t in op.inputs:
            users.setdefault(t.op, []).append(op)
        for c in op.control_inputs:
            users.setdefault(c, []).append(op)
    kept = set(program.target_ops) | {t.op for t in program.fetch_tensors} | {t.op for t in fed}
    moved = 0
    for op in reversed(program.ops):
        if placement[op] is not program.host or op in kept or not users.get(op):
            continue
        tasks = {placement[u] for u in users[op]}
        task = next(iter(tasks))
        if len(tasks) != 1 or not isinstance(task, RemoteTaskDevice):
            continue
        if op.type != "NoOp" and (op.op_def.stateful or any(
                t in fed or (placement[t.op] is not task and t.op.type != "Const") for t in op.inputs)):
            continue
        try:
            pickle.dumps((op.op_def, dict(op.attrs)))
        except Exception:
            continue  # cannot travel: stays on the host
        placement[op] = task
        moved += 1
    if moved:
        program.note("remote", "%d host op(s) serving only one ps task placed there" % moved)


def _segments(ops, placement, fed):
    """(device, level) -> the ops of one ps task with one level, in topological order."""
    level = {}
    for op in ops:
        dev = placement[op]
        lv = 0
        for p in [t.op for t in op.inputs if t not in fed] + list(op.control_inputs):
            if p in level:
                lv = max(lv, level[p] + (placement[p] is not dev))
        level[op] = lv
    segments = {}
    for op in ops:
        if isinstance(placement[op], RemoteTaskDevice):
            segments.setdefault((placement[op], level[op]), []).append(op)
    return _merge_segments(ops, segments, fed)


def _merge_segments(ops, segments, fed):
    """Merge a task's segments wherever the result stays convex: a later segment joins an
    earlier one of its task unless a path leaves the earlier one and reaches the later one
    through another unit (a host op or another segment). With Adam on 2 ps tasks, the global
    step's increment and the beta powers' updates (on ps 0, after every task's updates) then
    join ps 0's updates: 4 requests a step instead of 6 (ps 1's updates go first)."""
    unit = {op: op for op in ops}
    position = {op: i for i, op in enumerate(ops)}
    for key, members in segments.items():
        for op in members:
            unit[op] = key
    succ = {}
    for op in ops:
        for p in [t.op for t in op.inputs if t not in fed] + list(op.control_inputs):
            if p in unit and unit[p] != unit[op]:
                succ.setdefault(unit[p], set()).add(unit[op])
    order = sorted(segments, key=lambda k: (k[0].name, k[1]))
    for i, early in enumerate(order):
        if early not in segments:
            continue
        for late in order[i + 1:]:
            if late not in segments or late[0].name != early[0].name or _reaches_through_other(succ, early, late):
                continue
            for op in segments[late]:
                unit[op] = early
            segments[early] = sorted(segments[early] + segments.pop(late), key=position.__getitem__)
            succ[early] = (succ.get(early, set()) | succ.pop(late, set())) - {early, late}
            for targets in succ.values():
                if late in targets:
                    targets.discard(late)
                    targets.add(early)
            for k in list(succ):
                succ[k].discard(k)
    return segments


def _reaches_through_other(succ, a, b):
    """Whether a path a -> x -> ... -> b exists with x not b (or b -> ... -> a at all)."""
    def reaches(start, goal, first_step_ok):
        stack = [x for x in succ.get(start, ()) if first_step_ok(x)]
        seen = set()
        while stack:
            x = stack.pop()
            if x == goal:
                return True
            if x not in seen:
                seen.add(x)
                stack.extend(succ.get(x, ()))
        return False
    return reaches(a, b, lambda x: x != b) or reaches(b, a, lambda x: True)


def _is_variable_source(op):
    """A resource op with no inputs (VariableV2), or an Identity chain reading one."""
    while op.type == "Identity" and op.inputs and not op.control_inputs:
        op = op.inputs[0].op
    return not op.inputs and not op.control_inputs and op.op_def.resource_handle(op) is not None


def _with_variable_copies(members, placement, fed, index):
    """``members`` plus copies of the variable ops (of the same task) they read."""
    out = list(members)
    seen = set(members)
    stack = list(members)
    while stack:
        op = stack.pop()
        for t in op.inputs:
            p = t.op
            if t in fed or p in seen or placement.get(p) is not placement[members[0]] or not _is_variable_source(p):
                continue
            seen.add(p)
            out.append(p)
            stack.append(p)
    out.sort(key=lambda op: index[op])
    return out


def _reorder(ops, seg_ops, home, alias_op, fed, index):
    """The host's ops and the segments, topologically ordered (ties: original order)."""
    import heapq

    def unit(op):
        while op in alias_op and op not in seg_ops.values():
            op = alias_op[op]
        return op
    units = [op for op in ops if op not in home] + list(seg_ops.values())
    pos = {u: index[u] if u in index else u.first for u in units}
    deps = {u: set() for u in units}
    for u in units:
        preds = [t.op for t in u.inputs if t not in fed] + list(u.control_inputs)
        for p in preds:
            p = unit(p)
            if p in deps and p is not u:
                deps[u].add(p)
    users = {u: [] for u in units}
    for u, d in deps.items():
        for p in d:
            users[p].append(u)
    remaining = {u: len(d) for u, d in deps.items()}
    ready = [(pos[u], id(u), u) for u in units if remaining[u] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, _, u = heapq.heappop(ready)
        order.append(u)
        for v in users[u]:
            remaining[v] -= 1
            if remaining[v] == 0:
                heapq.heappush(ready, (pos[v], id(v), v))
    if len(order) != len(units):
        raise AssertionError("remote pass: the segments make a cyclic plan")
    return order


def describe_segment(members, inputs, outputs, device):
    """The pickled description runtime/ps_server.py rebuilds the segment's ops from."""
    at = {op: j for j, op in enumerate(members)}
    in_at = {t: k for k, t in enumerate(inputs)}
    ops = []
    for op in members:
        refs = [("in", in_at[t]) if t in in_at else ("op", at[t.op], t.value_index) for t in op.inputs]
        ctrl = [at[c] for c in op.control_inputs if c in at]
        ops.append((op.op_def, op.name, dict(op.attrs), refs, ctrl, [(t.dtype, t.shape) for t in op.outputs]))
        try:
            pickle.dumps(ops[-1])
        except Exception as e:
            raise errors.InvalidArgumentError(
                None, op, "%s (%s) is placed on %s but cannot be sent there: %s: %s. Place it on the worker "
                "(docs/DISTRIBUTED.md)" % (op.name, op.type, device.name, type(e).__name__, e)) from None
    # the ops to run: all but the variable ops themselves (running one alone would read it)
    desc = {"inputs": [(t.dtype, t.shape) for t in inputs], "ops": ops,
            "targets": [j for j, op in enumerate(members) if not _is_variable_source(op)],
            "outputs": [(at[t.op], t.value_index) for t in outputs]}
    return pickle.dumps(desc, protocol=pickle.HIGHEST_PROTOCOL)
