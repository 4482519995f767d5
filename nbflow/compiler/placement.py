"""The placement pass: which device each op of a plan runs on.

Rules, as TensorFlow's: an explicit ``tf.device`` wins; an op without one that
reads or updates a variable is colocated with that variable; otherwise the
default device: the first GPU when one is present and has a kernel for the
op (as TF), else the CPU. With
``allow_soft_placement`` an impossible request (absent device, or no kernel of
that op for that device type) falls back to the CPU and is logged; without it
it is an InvalidArgumentError naming the op.
"""
import sys

from nbflow.backends import registry
from nbflow.framework import errors
from nbflow.framework.device import DeviceSpec


def place(ops, devices, config):
    """Map each op to a Device."""
    host = devices[0]
    by_name = {(d.device_type, d.index): d for d in devices if d.job == host.job}
    remote = {(d.job, d.task): d for d in devices if d.job != host.job}  # ps tasks (tf.Session(server.target))
    soft = bool(getattr(config, "allow_soft_placement", False))
    default = _default_accelerator(devices)
    placed = {}
    for op in ops:
        request = op.device
        if not request:
            request = _colocated_request(op, placed)
        if not request:
            accel_ok = default is not None and registry.has_kernel(op.op_def, default.device_type, op)
            placed[op] = default if accel_ok else host
            continue
        spec = DeviceSpec.from_string(request) if isinstance(request, str) else request
        device, why = _resolve(op, spec, by_name, host, remote)
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
    if getattr(config, "log_device_placement", False):
        for op in ops:
            print("%s: (%s): %s" % (op.name, op.type, placed[op].name), file=sys.stderr)
    return placed


def _default_accelerator(devices):
    """The device ops without a request go to when it has their kernel: GPU:0 if present."""
    for d in devices:
        if d.device_type == "GPU" and d.index == 0:
            return d
    return None


def _colocated_request(op, placed):
    """Readers and updaters of a resource (a variable) go where the resource is."""
    for t in op.inputs:
        if t.op in placed and t.op.op_def.resource_handle(t.op) is not None:
            return placed[t.op].name
    return ""


def _remote_ref_device(op, placed, remote):
    """The ps task holding a variable ``op`` updates through a ref input (an ApplyX's var and
    slots, Assign's ref): the op runs there whatever its device request, as TF colocates
    ref edges -- an update elsewhere would change a copy."""
    refs = set(op.op_def.resource_inputs) | set(range(getattr(op.op_def, "n_refs", 0)))
    for i in sorted(refs):
        if i >= len(op.inputs):
            continue
        src = op.inputs[i].op
        while src.type == "Identity" and src.inputs:
            src = src.inputs[0].op
        device = placed.get(src)
        if device is not None and device in remote.values():
            return device
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
    program.placement = place(program.ops, program.env.devices, program.env.config)
    off_host = sum(1 for d in program.placement.values() if d is not program.host)
    program.note("place", "%d ops on %s, %d elsewhere" % (len(program.ops) - off_host, program.host.name, off_host))
