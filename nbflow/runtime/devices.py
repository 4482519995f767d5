"""The devices of this process (defined in nbflow/backends/devices.py, where
each backend's device lives beside its kernels)."""
from nbflow.backends.devices import (  # noqa: F401
    CPUDevice, Device, local_devices, register_device_type, unregister_device_type,
)
