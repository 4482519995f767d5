"""Where an eager op runs when this process has a GPU (TF 2's eager placement).

Without a GPU every eager op runs on the host and nothing here costs anything
after the first bind. With one, as TF 2: an op runs on ``GPU:0`` unless a
``tf.device`` scope names the CPU (or another GPU), provided its GPU kernel
accepts it; otherwise it runs on the host (TF 2's soft device placement, on by
default: a ``/gpu:N`` that does not exist runs on the host too). Tensors made
on the GPU hold device arrays; an op on the other side copies its inputs over
(host -> device for a GPU op, device -> host for a host op), as TF's eager
runtime copies tensors between devices.

Variables (``tf.Variable`` eagerly) are placed here too, once, at creation
(``variable_value``): as TF 2, on ``GPU:0`` (the innermost ``tf.device``'s
GPU) when the GPU's VariableV2 kernel takes their dtype and the scope does not
name the CPU; their value is then a device array, and every op updating them
in place -- Assign*, the optimizers' Apply* -- runs where they live
(``gpu_for``), whatever device scope it is called under (graph mode's rule:
compiler/placement.py): an update of a copy would be lost. Such an op without a
kernel on the variable's device is an InvalidArgumentError, never a silent
round trip through the host. The device scope is the innermost ``tf.device``
only (no merging of nested partial names, as before).
"""
import numpy as np

from nbflow.backends import devices as local
from nbflow.backends import registry
from nbflow.framework import context, errors
from nbflow.framework.device import DeviceSpec
from nbflow.framework.eager_tensor import HOST_DEVICE
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import eager_variables
from nbflow.ops.state_ops import VariableV2

#: the GPU devices of this process, found at the first eager bind (None: not looked yet)
_gpus = [None]
#: innermost device scope (a string, or None outside any) -> its GPU Device, or None for the host
_targets = {}


def gpus():
    found = _gpus[0]
    if found is None:
        found = _gpus[0] = [d for d in local.local_devices() if d.device_type == "GPU"]
    return found


def forget_devices():
    """Look for GPUs again at the next bind (tests that register a device)."""
    _gpus[0] = None
    _targets.clear()


def requested_gpu(spec):
    """The GPU an eager op under device scope ``spec`` goes to when it has a kernel there, or None."""
    if spec in _targets:
        return _targets[spec]
    found = gpus()
    gpu = None
    if found:
        want = DeviceSpec.from_string(spec) if spec else DeviceSpec()
        index = want.device_index or 0
        if want.device_type in (None, "GPU") and index < len(found):
            gpu = found[index]
    _targets[spec] = gpu
    return gpu


class _Port:
    """What a kernel's ``accepts`` reads of an op's input or output: dtype and shape."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype, self.shape = dtype, shape


class OpView:
    """An eager op seen as a graph op by the GPU kernels' ``accepts(op)``."""

    def __init__(self, eager_op, in_dtypes, in_shapes, out_dtypes, out_shapes):
        self.op_def, self.name, self.attrs = eager_op.op_def, eager_op.name, eager_op.attrs
        self.graph = None  # no graph: an eager op (the VariableV2 kernel's accepts asks)
        self.type = eager_op.op_def.type
        self.inputs = [_Port(d, s) for d, s in zip(in_dtypes, in_shapes)]
        self.outputs = [_Port(d, TensorShape(s)) for d, s in zip(out_dtypes, out_shapes)]

    def get_attr(self, name):
        return self.attrs[name]


def gpu_for(op_cls, spec, view, variables):
    """The GPU Device to run this eager op on, or None for the host. ``variables``: the
    eager variables it updates in place, by input index: it runs where they live."""
    if variables:
        return _where_variables_live(op_cls, view, variables)
    gpu = requested_gpu(spec)
    if gpu is None or not registry.has_kernel(op_cls, "GPU", view):
        return None
    return gpu


def _where_variables_live(op_cls, view, variables):
    homes = {v.device for v in variables.values()}
    if len(homes) > 1:
        raise errors.InvalidArgumentError(None, view, "%s updates variables that live on different devices (%s) "
                                          "[Op:%s]" % (view.name, ", ".join(
                                              "%s on %s" % (v.name, v.device) for v in variables.values()),
                                              op_cls.type))
    home = homes.pop()
    if home == HOST_DEVICE:
        return None
    gpu = gpu_named(home)
    if not registry.has_kernel(op_cls, "GPU", view):
        var = next(iter(variables.values()))
        raise errors.InvalidArgumentError(
            None, view, "Cannot update variable %s, which lives on %s: %s has no GPU kernel for these inputs "
            "(create the variable under tf.device('/cpu:0') to keep it in host memory) [Op:%s]"
            % (var.name, home, op_cls.type, op_cls.type))
    return gpu


def gpu_named(name):
    """This process's GPU Device called ``name`` (an eager variable's home)."""
    for gpu in gpus():
        if gpu.name == name:
            return gpu
    raise errors.InternalError(None, None, "eager variable on %s, which this process no longer has" % name)


# -- eager variables' values -----------------------------------------------------------------

class _VariableView:
    """A new variable seen as the VariableV2 op the GPU kernel's ``accepts`` reads."""

    graph = None
    device = ""

    def __init__(self, dtype):
        self.outputs = [_Port(dtype, None)]


def variable_value(value, dtype):
    """Where a variable created now lives, and its value there: ``(a private copy of value
    -- a numpy array, or a device array on a GPU --, TF's device string)``."""
    stack = context.eager_device_stack()
    gpu = requested_gpu(stack[-1] if stack else None) if gpus() else None
    if gpu is not None and registry.has_kernel(VariableV2, "GPU", _VariableView(dtype)):
        return private_copy(value, gpu), gpu.name
    return np.array(to_host(value), copy=True, order="C"), HOST_DEVICE


def private_copy(a, gpu):
    """A copy of ``a`` of its own on ``gpu`` (a Device, or a device name; the host when None or
    HOST_DEVICE): an eager update's copy-on-write, device to device for a device array."""
    if isinstance(gpu, str):
        gpu = None if gpu == HOST_DEVICE else gpu_named(gpu)
    if gpu is None:
        return np.array(to_host(a), copy=True, order="C")
    if not is_device_array(a):
        return gpu.from_host(a)  # to_device copies: the variable never shares the caller's array
    new = gpu.persistent_empty(a.shape, a.dtype)
    if new.size:
        new.copy_to_device(a)
    return new


def is_device_array(a):
    return type(a) is not np.ndarray and getattr(type(a), "__cuda_ndarray__", False) is True


def to_host(a):
    return a.copy_to_host() if is_device_array(a) else a


def moving_inputs(run, gpu):
    """``run`` with its inputs copied to the side it runs on (``gpu``, or the host when None)."""
    if gpu is None:
        def on_host(*arrays):
            return run(*[a.copy_to_host() if is_device_array(a) else a for a in arrays])
        return on_host
    from_host = gpu.from_host

    def on_gpu(*arrays):
        return run(*[a if is_device_array(a) else from_host(a) for a in arrays])
    return on_gpu


eager_variables.set_variable_placer(variable_value)
