"""``GPUDevice``: values are numba-cuda device arrays; copies go through the host.

One stream (the default stream) orders every kernel and copy, so a step's
kernels and copies run in issue order and a device-to-host copy waits for the
kernels before it (synchronous ``copy_to_host``). Host-to-device copies of a
plan's transfer units write into one preallocated device array per transfer.
"""
import numpy as np

from nbflow.backends.devices import Device
from nbflow.backends.cuda.support import import_cuda


def is_device_array(a):
    """A numba-cuda device array (or the simulator's stand-in for one)."""
    return getattr(type(a), "__cuda_ndarray__", False) is True


class GPUDevice(Device):
    def __init__(self, index=0, simulator=False):
        super().__init__("GPU", index)
        self.cuda = import_cuda()
        #: kernels run in Numba's CUDA simulator (a testing mode)
        self.simulator = simulator

    def empty(self, shape, dtype):
        """An uninitialized device array."""
        return self.cuda.device_array(tuple(shape), dtype=np.dtype(dtype))

    def to_host(self, array):
        if is_device_array(array):
            return array.copy_to_host()
        return np.asarray(array)

    def from_host(self, array):
        if is_device_array(array):
            return array
        return self.cuda.to_device(np.require(np.asarray(array), requirements="C"))

    def copier_from(self, src, shape, dtype):
        """Host -> this GPU into one device buffer reused every step (when shape and dtype are known)."""
        if not src.is_host:
            return super().copier_from(src, shape, dtype)
        if shape is None or dtype is None or np.dtype(dtype).kind not in "biuf":
            return self.from_host
        buf = self.empty(shape, dtype)
        dtype = np.dtype(dtype)

        def copy(a):
            a = np.asarray(a)
            if a.dtype != dtype or not a.flags.c_contiguous:
                a = np.require(a, dtype=dtype, requirements="C")
            if a.shape != buf.shape:  # a shape the plan did not know: a new buffer
                return self.cuda.to_device(a)
            buf.copy_to_device(a)
            return buf
        return copy

    def copier_to_host(self, shape, dtype):
        """This GPU -> host: a new numpy array each step (fetched values are handed out as is)."""
        def copy(a):
            return a.copy_to_host() if is_device_array(a) else np.asarray(a)
        copy.fresh = True
        return copy
