"""tf.config (minimal): the physical and logical devices of this process.

``list_physical_devices('GPU')`` is empty unless numba-cuda (``nbflow[cuda]``)
and a GPU are present (or the simulator testing mode is on:
nbflow/backends/cuda/support.py).
"""
import collections
import types

from nbflow.backends.devices import local_devices

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])


def list_physical_devices(device_type=None):
    """``[PhysicalDevice('/physical_device:GPU:0', 'GPU'), ...]``, as TF."""
    out = []
    for d in local_devices():
        if device_type is None or d.device_type == device_type.upper():
            out.append(PhysicalDevice("/physical_device:%s:%d" % (d.device_type, d.index), d.device_type))
    return out


def list_logical_devices(device_type=None):
    out = []
    for d in local_devices():
        if device_type is None or d.device_type == device_type.upper():
            out.append(LogicalDevice("/device:%s:%d" % (d.device_type, d.index), d.device_type))
    return out


def get_visible_devices(device_type=None):
    return list_physical_devices(device_type)


def _set_memory_growth(device, enable):
    """Accepted for compatibility: numba-cuda allocates on demand."""


experimental = types.SimpleNamespace(
    list_physical_devices=list_physical_devices, list_logical_devices=list_logical_devices,
    get_visible_devices=get_visible_devices, set_memory_growth=_set_memory_growth,
)
