"""Where an eager op runs when this process has a GPU (TF 2's eager placement).

Without a GPU every eager op runs on the host and nothing here costs anything
after the first bind. With one, as TF 2: an op runs on ``GPU:0`` unless a
``tf.device`` scope names the CPU (or another GPU), provided its GPU kernel
accepts it; otherwise it runs on the host (TF 2's soft device placement, on by
default: a ``/gpu:N`` that does not exist runs on the host too). Tensors made
on the GPU hold device arrays; an op on the other side copies its inputs over
(host -> device for a GPU op, device -> host for a host op), as TF's eager
runtime copies tensors between devices.

Decisions: ops with ref (variable) inputs stay on the host -- eager variables
live in host memory, and a GPU op reading one gets a copy (a GPU-resident
eager variable is future work). The device scope is the innermost
``tf.device`` only (no merging of nested partial names, as before).
"""
import numpy as np

from nbflow.backends import devices as local
from nbflow.backends import registry
from nbflow.framework.device import DeviceSpec
from nbflow.framework.tensor_shape import TensorShape

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
        self.type = eager_op.op_def.type
        self.inputs = [_Port(d, s) for d, s in zip(in_dtypes, in_shapes)]
        self.outputs = [_Port(d, TensorShape(s)) for d, s in zip(out_dtypes, out_shapes)]

    def get_attr(self, name):
        return self.attrs[name]


def gpu_for(op_cls, spec, view, has_variables):
    """The GPU Device to run this eager op on, or None for the host."""
    gpu = requested_gpu(spec)
    if gpu is None or has_variables or not registry.has_kernel(op_cls, "GPU", view):
        return None
    return gpu


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
