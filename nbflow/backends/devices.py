"""Devices a session can place ops on, and moving arrays between them.

The CPU (the host) is always present. Other device types plug in here:
``register_device_type`` (tests register a fake device to exercise placement
and copies) or, for a backend whose devices must be detected (the GPU:
nbflow/backends/cuda/), ``register_device_probe``: the probe runs once, the
first time a session asks for the devices, so ``import nbflow`` never
initializes a driver.
"""
import abc

_extra_device_types = {}
_probes = []  # callables run once, at the first local_devices(), that may register device types


class Device(abc.ABC):
    """One device of this process: ``/job:localhost/replica:0/task:0/device:TYPE:N``."""

    is_host = False
    #: the cluster task this device belongs to (tf.Session(server.target)); None: localhost
    job = None
    task = 0

    def __init__(self, device_type, index=0):
        self.device_type = device_type
        self.index = index

    @property
    def name(self):
        return "/job:%s/replica:0/task:%d/device:%s:%d" % (self.job or "localhost", self.task, self.device_type,
                                                          self.index)

    @abc.abstractmethod
    def to_host(self, array):
        """A host (numpy) copy of an array living on this device."""

    @abc.abstractmethod
    def from_host(self, array):
        """This device's copy of a host (numpy) array."""

    def copier_from(self, src, shape, dtype):
        """``copy(array on src) -> this device's copy``, bound once per transfer
        (a device may preallocate the destination, or use pinned host buffers)."""
        to_host, from_host = src.to_host, self.from_host
        return lambda a: from_host(to_host(a))

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


def register_device_probe(probe):
    """``probe()`` runs once, at the next ``local_devices()``, and may call
    ``register_device_type`` (the GPU backend detects its devices this way)."""
    _probes.append(probe)


def _run_probes():
    while _probes:
        _probes.pop(0)()


def local_devices():
    """The devices of this process, host first."""
    _run_probes()
    devices = [CPUDevice(0)]
    for dtype, (factory, count) in _extra_device_types.items():
        devices.extend(factory(i) for i in range(count))
    return devices


class RemoteTaskDevice(Device):
    """The CPU of another task of the cluster (a ps task, MPI rank ``rank``): ops placed on it
    run there (compiler/remote.py sends them as segments; runtime/ps_server.py runs them)."""

    def __init__(self, job, task, rank):
        super().__init__("CPU", 0)
        self.job, self.task, self.rank = job, task, rank

    def to_host(self, array):
        raise RuntimeError("%s: values of a remote task reach this process only through its ps segments" % self.name)

    from_host = to_host
