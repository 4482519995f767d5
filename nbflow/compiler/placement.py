"""The placement pass: which device each op of a plan runs on.

Rules, as TensorFlow's: an explicit ``tf.device`` wins; an op without one that
reads or updates a variable is colocated with that variable; otherwise the
default device: the first GPU when one is present and has a kernel for the
op (as TF), else the CPU. With
``allow_soft_placement`` an impossible request (absent device, or no kernel of
that op for that device type) falls back to the CPU and is logged; without it
it is an InvalidArgumentError naming the op.

Variables (issue #12): ops that update a variable in place (its "ref"
consumers: Assign*, the optimizers' Apply*) must run where its value lives, so
a variable goes to the GPU only when every ref consumer in the graph has a
GPU kernel; an explicit GPU request that some updater cannot follow is an
error, or, with soft placement, puts the variable on the host (as TF moves a
colocation group). Ops that only read a variable follow it when they have a
kernel there, else take the default rule (a copy is inserted).
"""
import sys
from collections import ChainMap

from nbflow.backends import registry
from nbflow.framework import errors
from nbflow.framework.device import DeviceSpec


def place(ops, devices, config, outer=None):
    """Map each op to a Device. ``outer``: where the enclosing plans' ops run (a sub-plan's
    ops follow the variables outside it that they update or read, as in the main graph)."""
    host = devices[0]
    by_name = {(d.device_type, d.index): d for d in devices if d.job == host.job}
    remote = {(d.job, d.task): d for d in devices if d.job != host.job}  # ps tasks (tf.Session(server.target))
    soft = bool(getattr(config, "allow_soft_placement", False))
    default = _default_accelerator(devices)
    own = {}
    placed = ChainMap(own, outer) if outer else own
    for op in ops:
        # an update in place runs where the variable is, whatever local device it asks for
        request = op.device
        ref = _ref_request(op, placed)
        if ref and (not request or _is_local(request, host)):
            request = ref
        if not request:
            request = _colocated_request(op, placed)
        if not request:
            accel_ok = default is not None and registry.has_kernel(op.op_def, default.device_type, op) \
                and _updaters_follow(op, default.device_type) is None
            placed[op] = default if accel_ok else host
            continue
        spec = DeviceSpec.from_string(request) if isinstance(request, str) else request
        device, why = _resolve(op, spec, by_name, host, remote)
        if device is not None and device is not host:
            stuck = _updaters_follow(op, device.device_type)
            if stuck is not None:
                device, why = None, "%s (%s) updates it in place and has no %s kernel" % (
                    stuck.name, stuck.type, device.device_type)
        if device is None:
            if not soft:
                raise errors.InvalidArgumentError(
                    None, op, "Cannot assign a device for operation %s: Could not satisfy explicit device "
                    "specification '%s' because %s. Available devices: %s"
                    % (op.name, spec.to_string(), why, ", ".join(d.name for d in devices)))
            print("nbflow: soft placement: %s (%s) requested %s, %s; placed on %s"
                  % (op.name, op.type, spec.to_string(), why, host.name), file=sys.stderr)
            device = host
        placed[op] = device
        if remote:
            ref_device = _remote_ref_device(op, placed, remote)
            if ref_device is not None:
                placed[op] = ref_device
        _check_refs_colocated(op, placed)
    if getattr(config, "log_device_placement", False):
        for op in ops:
            print("%s: (%s): %s" % (op.name, op.type, placed[op].name), file=sys.stderr)
    return own


def _default_accelerator(devices):
    """The device ops without a request go to when it has their kernel: GPU:0 if present."""
    for d in devices:
        if d.device_type == "GPU" and d.index == 0:
            return d
    return None


def _ref_inputs(op):
    """Input indices an op updates in place or names a resource by: ``resource_inputs``,
    the optimizers' leading ``n_refs`` variables (training_ops._ApplyOp) and the variables
    an If / While passes to its branches or body (``variable_inputs``)."""
    op_def = op.op_def
    refs = set(op_def.resource_inputs) | set(range(getattr(op_def, "n_refs", 0)))
    if hasattr(op_def, "variable_inputs"):
        refs.update(op_def.variable_inputs(op))
    return refs


def _ref_consumers(op):
    """Graph ops taking ``op``'s output 0 (or an Identity chain of it) as a ref input."""
    out, todo = [], [op.outputs[0]] if op.outputs else []
    while todo:
        t = todo.pop()
        for c in t.consumers():
            if c.type == "Identity":
                todo.append(c.outputs[0])
            refs = _ref_inputs(c)
            if any(c.inputs[i] is t for i in refs if i < len(c.inputs)):
                out.append(c)
    return out


def _updaters_follow(op, device_type):
    """For a resource op: the first op updating it in place with no ``device_type`` kernel, or None."""
    if op.op_def.resource_handle(op) is None or device_type == "CPU":
        return None
    for c in _ref_consumers(op):
        if not registry.has_kernel(c.op_def, device_type, c):
            return c
    return None


def _updated_resources(op, placed):
    """The placed resource ops (variables) ``op`` updates in place, through Identity reads."""
    out = []
    for i in _ref_inputs(op):
        if i < len(op.inputs):
            src = op.inputs[i].op
            while src.type == "Identity" and src.inputs:
                src = src.inputs[0].op
            if src in placed and src.op_def.resource_handle(src) is not None:
                out.append(src)
    return out


def _ref_request(op, placed):
    """Updaters of a resource (a variable) go where the resource is."""
    srcs = _updated_resources(op, placed)
    return placed[srcs[0]].name if srcs else ""


def _check_refs_colocated(op, placed):
    """Every variable an op updates in place is on the op's device (an update of a copy is lost)."""
    for src in _updated_resources(op, placed):
        if placed[src] is not placed[op]:
            raise errors.InvalidArgumentError(
                None, op, "Cannot colocate %s (%s) with %s, which it updates in place: %s is on %s, the op on %s"
                % (op.name, op.type, src.name, src.name, placed[src].name, placed[op].name))


def _colocated_request(op, placed):
    """Readers of a resource go where it is when they have a kernel there."""
    for t in op.inputs:
        if t.op in placed and t.op.op_def.resource_handle(t.op) is not None:
            dev = placed[t.op]
            if registry.has_kernel(op.op_def, dev.device_type, op):
                return dev.name
    return ""


def _is_local(request, host):
    """The request names this process's own job and task (not a ps task, not another worker)."""
    spec = DeviceSpec.from_string(request) if isinstance(request, str) else request
    own_job = (None, "localhost") if host.job is None else (None, host.job)
    return spec.job in own_job and spec.replica in (None, 0) and spec.task in (None, host.task)


def _remote_ref_device(op, placed, remote):
    """The ps task holding a variable ``op`` updates through a ref input (an ApplyX's var and
    slots, Assign's ref): the op runs there whatever its device request, as TF colocates
    ref edges -- an update elsewhere would change a copy."""
    for src in _updated_resources(op, placed):
        if placed[src] in remote.values():
            return placed[src]
    return None


def _resolve(op, spec, by_name, host, remote):
    own_job = (None, "localhost") if host.job is None else (None, host.job)
    own_task = (None, host.task)
    if spec.job not in own_job or spec.replica not in (None, 0) or spec.task not in own_task:
        if host.job is None:
            return None, "no devices matching that specification are registered in this process " \
                         "(distributed jobs are not available in a local session: they run in a " \
                         "tf.Session(server.target); docs/DISTRIBUTED.md)"
        return _resolve_remote(op, spec, remote, host)
    dtype = spec.device_type or "CPU"
    index = spec.device_index if spec.device_index is not None else 0
    device = by_name.get((dtype, index))
    if device is None:
        return None, "no devices matching that specification are registered in this process"
    if not registry.has_kernel(op.op_def, dtype, op):
        return None, "no supported kernel for %s devices is available" % dtype
    return device, None


def _resolve_remote(op, spec, remote, host):
    """A device of another task: the CPU of a ps task (its rank runs the op)."""
    device = remote.get((spec.job, spec.task if spec.task is not None else 0))
    if device is None or spec.replica not in (None, 0):
        return None, "this process is /job:%s/task:%d, and ops run only on its own devices or on the tasks of " \
                     "the ps job (docs/DISTRIBUTED.md)" % (host.job, host.task)
    if spec.device_type not in (None, "CPU") or spec.device_index not in (None, 0):
        return None, "a ps task has one device, its CPU:0"
    if not registry.has_kernel(op.op_def, "CPU", op):
        return None, "no supported kernel for CPU devices is available"
    return device, None


def place_pass(program):
    program.placement = place(program.ops, program.env.devices, program.env.config, program.env.outer_placement)
    off_host = sum(1 for d in program.placement.values() if d is not program.host)
    program.note("place", "%d ops on %s, %d elsewhere" % (len(program.ops) - off_host, program.host.name, off_host))
