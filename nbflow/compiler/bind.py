"""The bind pass: each scheduled unit becomes a step bound to its kernel.

A step is ``(kernel, input slots, output slot(s), number of outputs)``. A
KernelUnit's kernel comes from its device's registered factory (given the
memory planner's allocator when the op pools its outputs on the host); a fused
group's from its device's fused binder; a transfer is its copy.

A unit on a device that plans its buffers (``Device.planning``: the GPU)
binds inside ``device.planning(alloc)``: every buffer its factory (or copy,
``copy.prepare()``) asks the device for comes from the memory plan.
"""
from nbflow.backends import registry
from nbflow.compiler.fusion import Group
from nbflow.compiler.program import TransferUnit
from nbflow.compiler.resolve import kernel_error


def bind_pass(program):
    readers = {}  # slot -> ops (or transfers) that read it each step
    for u in program.units:
        for sl in u.io()[0]:
            readers.setdefault(sl, []).append(u if isinstance(u, TransferUnit) else u.op)
    fetched = set(program.fetch_slots)
    fresh_slots = set()  # fetched values that are new arrays each run (no copy needed)

    def used_outside(tensor, group):
        sl = program.slot_of[tensor]
        return sl in fetched or any(r not in group.members for r in readers.get(sl, ()))

    steps, step_ops = [], []
    for position, unit in enumerate(program.schedule):
        try:
            step, fresh = _bind_unit(program, position, unit, used_outside, fetched)
        except MemoryError as e:  # output buffers are allocated here, once
            raise kernel_error(_unit_op(unit), e) from e
        steps.append(step)
        step_ops.append(_unit_op(unit))
        fresh_slots |= fresh
    program.steps, program.step_ops = steps, step_ops
    program.note("bind", "%d steps bound to kernels" % len(steps))
    # A fetched Operation yields None (slot -1).
    # A slot fetched twice (a tensor and its identity, which shares its slot) is handed out
    # once; the other fetches copy it.
    seen = set()
    program.fetch_is_fresh = []
    for sl in program.fetch_slots:
        program.fetch_is_fresh.append(sl in fresh_slots and sl not in seen)
        seen.add(sl)


def _unit_op(unit):
    """The op a step is reported as (errors, explain): a group's last op, a transfer itself."""
    if isinstance(unit, Group):
        return unit.ops[-1]
    return unit if isinstance(unit, TransferUnit) else unit.op


def _bind_unit(program, position, unit, used_outside, fetched):
    """(step, slots of fetched values the step makes fresh each run) of one unit."""
    device = _unit_device(program, unit)
    planning = getattr(device, "planning", None)
    if planning is None:
        return _bind_on(program, position, unit, used_outside, fetched)
    memory = program.memory
    with planning(memory.allocator(position, device) if memory is not None else None):
        return _bind_on(program, position, unit, used_outside, fetched)


def _unit_device(program, unit):
    """The device a unit's buffers live on: a transfer's non-host end."""
    if isinstance(unit, Group):
        return program.placement[unit.ops[0]]
    if isinstance(unit, TransferUnit):
        return unit.src if unit.dst.is_host else unit.dst
    return program.placement[unit.op]


def _bind_on(program, position, unit, used_outside, fetched):
    host, memory = program.host, program.memory
    alloc = memory.allocator(position) if memory is not None else None
    if isinstance(unit, Group):
        device = program.placement[unit.ops[0]]
        binder = registry.fused_binder(device.device_type)
        unit.device = device
        unit.threads = program.options.threads  # intra_op_parallelism_threads (0: all)
        return binder(unit, program.slots_on(device), program.slot_shapes, program.initial, used_outside, fetched,
                      alloc if device is host else None)
    if isinstance(unit, TransferUnit):
        prepare = getattr(unit.copy, "prepare", None)
        if prepare is not None:  # the copy's buffers, from the plan
            prepare()
        # a copy that makes a new host array each run (device -> host) needs no copy when fetched
        fresh = {unit.dst_slot} if getattr(unit.copy, "fresh", False) and unit.dst_slot in fetched else set()
        return (unit.copy, (unit.src_slot,), unit.dst_slot, 1), fresh
    op, ctx = unit.op, unit.ctx
    device = program.placement[op]
    fresh = set()
    if device is host and fetched.intersection(unit.outs) and registry.makes_fresh_outputs(op.op_def, device.device_type):
        # a new output array each run costs an allocation, as the fetch's copy
        # did, and saves that copy (4 MB: ~70 us); the planned buffer goes unused
        ctx.fresh_outputs = True
        fresh = fetched.intersection(unit.outs)
    elif op.op_def.pooled_outputs and device is host:
        ctx.allocator = alloc
    kernel = registry.kernel_factory(op.op_def, device.device_type)(ctx)
    n_out = len(op.outputs)
    return (kernel, tuple(unit.ins), unit.outs[0] if n_out == 1 else tuple(unit.outs), n_out), fresh
