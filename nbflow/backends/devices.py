"""Devices a session can place ops on, and moving arrays between them.

The CPU (the host) is always present. A GPU device plugs in here (device
arrays, host<->device copies); CUDA kernels come with the GPU milestone.
Tests register a fake device type to exercise placement and copies.
"""
import abc

_extra_device_types = {}


class Device(abc.ABC):
    """One device of this process: ``/job:localhost/replica:0/task:0/device:TYPE:N``."""

    is_host = False

    def __init__(self, device_type, index=0):
        self.device_type = device_type
        self.index = index

    @property
    def name(self):
        return "/job:localhost/replica:0/task:0/device:%s:%d" % (self.device_type, self.index)

    @abc.abstractmethod
    def to_host(self, array):
        """A host (numpy) copy of an array living on this device."""

    @abc.abstractmethod
    def from_host(self, array):
        """This device's copy of a host (numpy) array."""

    def __repr__(self):
        return "<Device %s>" % self.name


class CPUDevice(Device):
    is_host = True

    def __init__(self, index=0):
        super().__init__("CPU", index)

    def to_host(self, array):
        return array

    def from_host(self, array):
        return array


def register_device_type(device_type, factory, count=1):
    """Make ``count`` devices of ``device_type`` (built by ``factory(index)``) available
    to sessions created afterwards. Used for tests and plug-in devices."""
    _extra_device_types[device_type.upper()] = (factory, count)


def unregister_device_type(device_type):
    _extra_device_types.pop(device_type.upper(), None)


def local_devices():
    """The devices of this process, host first."""
    devices = [CPUDevice(0)]
    for dtype, (factory, count) in _extra_device_types.items():
        devices.extend(factory(i) for i in range(count))
    return devices
