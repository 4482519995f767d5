"""The prune pass: the ops the fetches need, stopping at fed tensors, in a topological order."""
from nbflow.framework import errors


def prune_pass(program):
    fed = {t for t, _, _ in program.feeds}
    fetch_ops = [t.op for t in program.fetch_tensors if t not in fed] + list(program.target_ops)
    program.ops = prune(fetch_ops, fed)
    program.note("prune", "%d ops needed by the fetches" % len(program.ops))


def prune(fetch_ops, fed_tensors):
    """Ops needed to compute ``fetch_ops``, in a topological order."""
    fed_ops_only = {}
    for t in fed_tensors:
        fed_ops_only.setdefault(t.op, set()).add(t.value_index)
    order = []
    state = {}  # op -> 1 visiting, 2 done
    for root in fetch_ops:
        if state.get(root) == 2:
            continue
        stack = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if expanded:
                if state.get(op) != 2:
                    state[op] = 2
                    order.append(op)
                continue
            st = state.get(op)
            if st == 2:
                continue
            if st == 1:
                raise errors.InvalidArgumentError(None, op, "Graph has a cycle through node '%s'" % op.name)
            state[op] = 1
            stack.append((op, True))
            deps = []
            for t in op.inputs:
                if t in fed_tensors:
                    continue
                deps.append(t.op)
            deps.extend(op.control_inputs)
            for d in reversed(deps):
                if state.get(d) != 2:
                    if state.get(d) == 1:
                        raise errors.InvalidArgumentError(None, op, "Graph has a cycle through node '%s'" % d.name)
                    stack.append((d, False))
        # ops that are only reached as fed outputs are not run
    return [op for op in order if not _fully_fed(op, fed_ops_only)]


def _fully_fed(op, fed_ops_only):
    fed = fed_ops_only.get(op)
    return fed is not None and len(fed) == len(op.outputs)
