"""Plans: a pruned, shape-resolved, kernel-bound schedule for one Session.run.

A Plan is compiled once per (fetches, fed tensors, feed shapes and dtypes) and
reused. Compiling it:

1. prunes the graph to the ops the fetches need, stopping at fed tensors;
2. orders them topologically (data and control edges);
3. walks them in order with concrete shapes, asking each op definition for
   its output shapes and a bound kernel (``Op.plan``), which allocates output
   buffers once -- so a steady-state step allocates nothing;
4. folds every stateless op whose inputs are all known before running
   (constants, shapes of fed tensors, ...) into a constant slot.

Running it is a loop over pre-bound kernel calls on a slot array. The runtime
never looks at an op's type: everything op-specific lives in the op class.
"""
import heapq
import threading

import numpy as np

from nbflow.framework import errors
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
import nbflow.backends.cpu  # noqa: F401  (registers the CPU kernels)
from nbflow.backends import registry
from nbflow.backends.context import KernelContext
from nbflow.compiler import fusion
from nbflow.compiler.memory import BufferPlanner
from nbflow.compiler.options import CompilerOptions
from nbflow.runtime import placement
from nbflow.ops.base import resource_handle_of


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


class Plan:
    def __init__(self, runtime, elements, feeds):
        """``elements``: fetched Tensors and Operations (an Operation fetches None).
        ``feeds``: list of (tensor, np.dtype, shape) in the order feed values are given."""
        self.elements = list(elements)
        self.fetch_tensors = [e for e in elements if isinstance(e, Tensor)]
        self._fetched = set(self.fetch_tensors)
        target_ops = [e for e in elements if not isinstance(e, Tensor)]
        self.runtime = runtime
        self.lock = threading.Lock()
        self.options = CompilerOptions.from_config(getattr(runtime, "config", None))
        fed = {t: i for i, (t, _, _) in enumerate(feeds)}
        fetch_ops = [t.op for t in self.fetch_tensors if t not in fed] + list(target_ops)
        self.ops = prune(fetch_ops, set(fed))
        self._consumers = {}
        for op in self.ops:
            for i, t in enumerate(op.inputs):
                self._consumers.setdefault(t, []).append((op, i))
        self._build(feeds)

    def consumers(self, tensor):
        return self._consumers.get(tensor, [])

    # -- building ----------------------------------------------------------
    def _build(self, feeds):
        self.slot_of = {}        # tensor -> slot
        self.slot_shapes = []    # slot -> TensorShape (concrete where known)
        self.initial = []        # slot -> value known before running (folded), else None
        self._slot_device = []   # slot -> Device holding the value
        self._transfer_slot = {}
        self.alias_op = {}       # ops that run as another op (CSE) or not at all (forwarded)
        self.prechecks = []
        self.placement = placement.place(self.ops, self.runtime.local_devices, self.runtime.config)
        self._host = self.runtime.local_devices[0]
        self.feed_slots = [self._new_slot(TensorShape(shape), None, self._host, t) for t, _, shape in feeds]
        pending = self._walk()
        # Fetched values come back to the host.
        self.fetch_slots = [self._on_device(self.slot_of[e], self._host, pending) if isinstance(e, Tensor) else -1
                            for e in self.elements]
        self._bind(pending)
        self._compile_step()

    def _new_slot(self, shape, value, device, tensor=None):
        sl = len(self.slot_shapes)
        if tensor is not None:
            self.slot_of[tensor] = sl
        self.slot_shapes.append(shape)
        self.initial.append(value)
        self._slot_device.append(device)
        return sl

    def _on_device(self, slot, device, pending):
        """The slot holding ``slot``'s value on ``device`` (adding a copy when needed)."""
        src = self._slot_device[slot]
        if src is device:
            return slot
        key = (slot, device)
        if key not in self._transfer_slot:
            value = self.initial[slot]
            if value is not None:  # a constant: copy it once, now
                t = self._new_slot(self.slot_shapes[slot], device.from_host(src.to_host(value)), device)
            else:
                t = self._new_slot(self.slot_shapes[slot], None, device)
                pending.append(_Transfer(src, device, slot, t))
            self._transfer_slot[key] = t
        return self._transfer_slot[key]

    def _walk(self):
        """Shape-resolve the ops in order; fold, forward and CSE what can be.

        Returns the run units in topological order: (op, ctx, input slots,
        output slots) or _Transfer."""
        disabled = self.options.disabled
        cse_seen = {}
        pending = []
        for op in self.ops:
            op_def = op.op_def
            device = self.placement[op]
            host_ins = [self.slot_of[t] for t in op.inputs]
            ctx = self._context(op, host_ins)
            foldable = (not op_def.stateful and not op.control_inputs and op.outputs and "fold" not in disabled)
            # Some values follow from shapes alone (Shape, ZerosLike, ...).
            known = op_def.plan_value(ctx) if foldable and hasattr(op_def, "plan_value") else None
            if known is not None or (foldable and all(v is not None for v in ctx.input_values)):
                self._fold(op, ctx, known, cse_seen if "cse" not in disabled else None)
                continue
            ins = [self._on_device(sl, device, pending) for sl in host_ins]
            fwd = op_def.plan_forwards(ctx) if "identity" not in disabled and not op.control_inputs else None
            if fwd is not None and self._slot_device[ins[fwd]] is device \
                    and self.slot_shapes[ins[fwd]] == ctx.output_shapes[0]:
                # Identity-like: its output is its input; no step runs.
                self.slot_of[op.outputs[0]] = ins[fwd]
                self.alias_op[op] = op.inputs[fwd].op
                continue
            key = _cse_key(op, ins) if "cse" not in disabled and not op_def.stateful \
                and not op.control_inputs and op.outputs else None
            if key is not None and key in cse_seen:
                # Common subexpression: reuse the first op's outputs.
                first = cse_seen[key]
                for t, ft in zip(op.outputs, first.outputs):
                    self.slot_of[t] = self.slot_of[ft]
                self.alias_op[op] = first
                continue
            if key is not None:
                cse_seen[key] = op
            out_slots = [self._new_slot(shp, None, device, t) for t, shp in zip(op.outputs, ctx.output_shapes)]
            pending.append((op, ctx, ins, out_slots))
        return pending

    def _context(self, op, in_slots):
        """The PlanContext of ``op``: concrete input shapes and known values, inferred outputs."""
        op_def = op.op_def
        in_shapes = [self.slot_shapes[sl] for sl in in_slots]
        in_values = [self.initial[sl] for sl in in_slots]
        in_dtypes = [t.dtype for t in op.inputs]
        ictx = KernelContext(op, in_dtypes, in_shapes, in_values, None, None)
        try:
            specs = getattr(op_def, "plan_infer", op_def.infer)(ictx)
        except (ValueError, TypeError) as e:
            # Shapes known only now (from the feeds) can be impossible.
            raise errors.InvalidArgumentError(None, op, "%s\n\t [[node %s]]" % (e, op.name)) from e
        out_shapes = []
        for t, (_, shp) in zip(op.outputs, specs):
            try:
                out_shapes.append(t.shape.merge_with(shp))
            except ValueError:
                raise errors.InvalidArgumentError(
                    None, op, "Op '%s' produced shape %s, incompatible with its declared shape %s"
                    % (op.name, shp, t.shape)) from None
        ctx = KernelContext(op, in_dtypes, in_shapes, in_values, [t.dtype for t in op.outputs], out_shapes)
        self._describe_uses(op, ctx)
        ctx.resources = self.runtime.resources
        ctx.own_handle = op_def.resource_handle(op)
        ctx.input_handles = {i: resource_handle_of(op.inputs[i]) for i in op_def.resource_inputs}
        ctx.device = self.placement[op]
        ctx.prechecks = self.prechecks
        ctx.make_plan = self._make_subplan
        return ctx

    def _describe_uses(self, op, ctx):
        """What the kernel may know of the op's consumers in this plan: which
        outputs are used, by which op types, and whether output 0's value is
        read (not only written through a ref input, as Assign does)."""
        fetched = self._fetched
        used, types, read = set(), set(), op.outputs[0] in fetched if op.outputs else False
        for t in op.outputs:
            uses = self.consumers(t)
            if uses or t in fetched:
                used.add(t.value_index)
            for c, i in uses:
                types.add(c.type)
                if t.value_index == 0 and i not in getattr(c.op_def, "init_inputs", ()):
                    read = True
        ctx.used_outputs, ctx.consumer_types = frozenset(used), frozenset(types)
        ctx.value_read = read or not any(self.consumers(t) for t in op.outputs[:1])

    def _make_subplan(self, elements, feeds):
        return Plan(self.runtime, elements, feeds)

    def _fold(self, op, ctx, known, cse_seen):
        """Evaluate ``op`` now, on the host, and keep its outputs as constant slots."""
        try:
            result = known if known is not None else \
                registry.kernel_factory(op.op_def, "CPU")(ctx)(*ctx.input_values)
        except errors.OpError:
            raise
        except Exception as e:
            raise _kernel_error(op, e) from e
        for t, v in zip(op.outputs, _as_tuple(result, len(op.outputs))):
            v = np.asarray(v)
            vkey = ("value", _hashable(v)) if cse_seen is not None and v.size <= 64 else None
            if vkey is not None and vkey in cse_seen:
                self.slot_of[t] = cse_seen[vkey]  # equal small constants share a slot
                continue
            sl = self._new_slot(TensorShape(v.shape), v, self._host, t)
            if vkey is not None:
                cse_seen[vkey] = sl

    def _bind(self, pending):
        """Fuse element-wise groups, order the run units, plan memory, bind kernels."""
        disabled = self.options.disabled
        host = self._host
        groups = {}
        if "fusion" not in disabled:
            units = [(u, (u.src_slot,), (u.dst_slot,), None, None) if isinstance(u, _Transfer)
                     else (u[0], u[2], u[3], u[0], u[1]) for u in pending]
            # Fusion runs per device: groups hold ops of one device whose backend binds fused kernels.
            for device in self.runtime.local_devices:
                if registry.fused_binder(device.device_type) is not None:
                    groups.update(fusion.find_groups(units, lambda op, d=device: self.placement[op] is d,
                                                     self.alias_op, device.device_type))
        self.fused_groups = list({id(g): g for g in groups.values()}.values())
        readers = {}  # slot -> ops (or transfers) that read it each step
        for u in pending:
            for sl in ([u.src_slot] if isinstance(u, _Transfer) else u[2]):
                readers.setdefault(sl, []).append(u if isinstance(u, _Transfer) else u[0])
        fetched = set(self.fetch_slots)
        fresh_slots = set()  # fetched values that are new arrays each run (no copy needed)

        def used_outside(tensor, group):
            sl = self.slot_of[tensor]
            return sl in fetched or any(r not in group.members for r in readers.get(sl, ()))

        schedule = _order_units(pending, groups, self.alias_op)
        memory = None
        if "memory" not in disabled:
            memory = BufferPlanner([_unit_io(u, self.slot_of) for u in schedule], fetched)
        self.memory = memory
        self.steps = []
        self.step_ops = []
        for position, unit in enumerate(schedule):
            alloc = memory.allocator(position) if memory is not None else None
            if isinstance(unit, fusion.Group):
                binder = registry.fused_binder(self.placement[unit.ops[0]].device_type)
                step, fresh = binder(unit, self.slot_of, self.slot_shapes, self.initial, used_outside, fetched,
                                     alloc if self.placement[unit.ops[0]] is host else None)
                self.steps.append(step)
                fresh_slots |= fresh
                self.step_ops.append(unit.ops[-1])
            elif isinstance(unit, _Transfer):
                self.steps.append((unit.copy, (unit.src_slot,), unit.dst_slot, 1))
                self.step_ops.append(unit)
            else:
                op, ctx, ins, out_slots = unit
                if op.op_def.pooled_outputs and self.placement[op] is host:
                    ctx.allocator = alloc
                kernel = registry.kernel_factory(op.op_def, self.placement[op].device_type)(ctx)
                n_out = len(op.outputs)
                self.steps.append((kernel, tuple(ins), out_slots[0] if n_out == 1 else tuple(out_slots), n_out))
                self.step_ops.append(op)
        # A fetched Operation yields None (slot -1).
        self.fetch_is_fresh = [sl in fresh_slots for sl in self.fetch_slots]

    # -- running -----------------------------------------------------------
    def run(self, feed_values):
        """Run one step: prechecks, then the generated straight-line function."""
        for check in self.prechecks:
            check()
        try:
            return self._step(*feed_values)
        except errors.OpError:
            raise
        except Exception as e:
            raise _kernel_error(self._failing_op(e), e) from e

    def _compile_step(self):
        """Generate ``step(feed values...) -> fetched values`` as straight-line Python.

        One line per kernel call, arguments bound as locals: no loop, no
        per-step lists. The line of a failing call tells which op failed.
        """
        feed_names = {sl: "f%d" % i for i, sl in enumerate(self.feed_slots)}
        computed = set(feed_names)
        for _, _, out, n_out in self.steps:
            computed.update((out,) if n_out == 1 else (out if n_out else ()))

        def name(sl):
            if sl in feed_names:
                return feed_names[sl]
            return "v%d" % sl if sl in computed else "c%d" % sl

        consts = sorted({sl for _, ins, _, _ in self.steps for sl in ins if sl not in computed}
                        | {sl for sl in self.fetch_slots if sl >= 0 and sl not in computed})
        lines = ["def make(K, C):",
                 "    %s = K" % "".join("k%d, " % i for i in range(len(self.steps))) if self.steps else "    pass",
                 "    %s = C" % "".join("c%d, " % sl for sl in consts) if consts else "    pass",
                 "    def step(%s):" % ", ".join(feed_names[sl] for sl in self.feed_slots)]
        self._line_to_step = {}
        for i, (_, ins, out, n_out) in enumerate(self.steps):
            call = "k%d(%s)" % (i, ", ".join(name(sl) for sl in ins))
            if n_out == 0:
                lhs = ""
            elif n_out == 1:
                lhs = name(out) + " = "
            else:
                lhs = "".join(name(sl) + ", " for sl in out) + "= "
            self._line_to_step[len(lines) + 1] = i
            lines.append("        " + lhs + call)
        lines.append("        return [%s]" % ", ".join("None" if sl < 0 else name(sl) for sl in self.fetch_slots))
        lines.append("    return step")
        source = "\n".join(lines) + "\n"
        namespace = {}
        self._step_code_name = "<nbflow plan %x>" % id(self)
        exec(compile(source, self._step_code_name, "exec"), namespace)
        self.step_source = source
        self._step = namespace["make"]([k for k, _, _, _ in self.steps], [self.initial[sl] for sl in consts])

    def _failing_op(self, exc):
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._step_code_name:
                line = tb.tb_lineno
            tb = tb.tb_next
        i = self._line_to_step.get(line, 0)
        return self.step_ops[i] if self.step_ops else None

class _Transfer:
    """A copy of one value between devices (a run unit, not a graph op)."""

    type = "_Transfer"
    inputs = ()
    control_inputs = ()
    outputs = ()

    def __init__(self, src, dst, src_slot, dst_slot):
        self.src_slot, self.dst_slot = src_slot, dst_slot
        self.name = "transfer %s -> %s" % (src.name, dst.name)
        to_host, from_host = src.to_host, dst.from_host
        self.copy = lambda a: from_host(to_host(a))


def _order_units(pending, groups, alias_op):
    """Topological order of the run units: ops, transfers and fused groups.

    ``pending`` is already in topological order; a fused group (convex by
    construction) becomes one unit, placed as early as its inputs allow.
    Data edges follow slots (so transfers order correctly); control edges
    follow ops.
    """
    units, unit_ins = [], []
    unit_of_op = {}
    producer = {}
    for item in pending:
        if isinstance(item, _Transfer):
            producer[item.dst_slot] = len(units)
            unit_ins.append([item.src_slot])
            units.append(item)
            continue
        op, _, ins, outs = item
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
        if not isinstance(item, _Transfer):
            u = unit_of_op[item[0]]
            for c in item[0].control_inputs:
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


def _unit_io(unit, slot_of):
    """(input slots, output slots, outputs may alias inputs) of a run unit."""
    if isinstance(unit, _Transfer):
        return (unit.src_slot,), (unit.dst_slot,), True
    if isinstance(unit, fusion.Group):
        outs = [slot_of[op.outputs[0]] for op in unit.ops]
        produced = set(outs)
        ins = [slot_of[t] for op in unit.ops for t in op.inputs if slot_of[t] not in produced]
        return ins, outs, False
    op, _, ins, outs = unit
    return ins, outs, op.op_def.outputs_alias_inputs


def _cse_key(op, in_slots):
    """Two stateless ops with equal keys compute the same values."""
    try:
        attrs = tuple(sorted((k, _hashable(v)) for k, v in op.attrs.items()))
        key = (op.type, tuple(in_slots), attrs)
        hash(key)
        return key
    except TypeError:
        return None


def _hashable(v):
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, v.tobytes()) if v.dtype != object else ("obj", id(v))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def _as_tuple(result, n):
    if n == 1:
        return (result,)
    return tuple(result)


def _kernel_error(op, exc):
    return errors.InvalidArgumentError(
        None, op, "%s: %s\n\t [[node %s (defined as %s)]]" % (type(exc).__name__, exc, op.name, op.type))
