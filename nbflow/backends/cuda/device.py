"""``GPUDevice``: values are numba-cuda device arrays; copies go through pinned host buffers.

One stream (the default stream) orders every kernel and copy, so a step's
kernels and copies run in issue order (staging.py: the copies of a plan's
transfers, through pinned host buffers, host -> device asynchronous).

Memory (device_memory.py counts, caps and names out-of-memory):

- ``empty(shape, dtype)`` -- what kernel factories ask for. While a unit of a
  plan binds (``planning(alloc)``, entered by the compiler's bind pass), it
  hands out a buffer of the plan's memory plan: allocated once, when the plan
  is built, and shared with other units whose values are dead by then. Such a
  buffer's contents are *not* kept between runs (another op may write it in
  between): a factory that keeps state or constants across runs asks for
  ``persistent_empty`` (or ``from_host``). Outside binding (inside a kernel's
  run: shape-keyed caches, eager mode), ``empty`` allocates a buffer of its own.
- ``from_host`` / ``persistent_empty`` -- never from the plan (constants,
  variables, random states, descriptors uploaded once).
"""
import contextlib
import threading

import numpy as np

from nbflow.backends.cuda.device_arena import DeviceArena
from nbflow.backends.cuda.device_memory import (DeviceMemory, DeviceOutOfMemory, is_cuda_out_of_memory,
                                                simulator_total_bytes)
from nbflow.backends.cuda.staging import DeviceToHost, HostToDevice
from nbflow.backends.cuda.support import import_cuda
from nbflow.backends.devices import Device
from nbflow.kernels.cuda import disk_cache


def is_device_array(a):
    """A numba-cuda device array (or the simulator's stand-in for one)."""
    return getattr(type(a), "__cuda_ndarray__", False) is True


def _stageable(shape, dtype):
    return shape is not None and dtype is not None and np.dtype(dtype).kind in "biuf"


class GPUDevice(Device):
    def __init__(self, index=0, simulator=False):
        super().__init__("GPU", index)
        self.cuda = import_cuda()
        #: kernels run in Numba's CUDA simulator (a testing mode)
        self.simulator = simulator
        #: the device memory nbflow handed out on this device (counts, cap)
        self.memory = DeviceMemory(self.name, self._total_memory)
        self._stream = None
        self.pinned_bytes = 0
        self._binding = threading.local()  # .alloc: the memory plan's allocator of the unit binding now

    @property
    def stream(self):
        """The one stream kernels and copies are issued on: the default stream (asked for
        when first needed: on a GPU that creates the CUDA context)."""
        if self._stream is None:
            self._stream = self.cuda.default_stream()
        return self._stream

    def new_event(self):
        """A CUDA event marking a point of the stream (no timing: cheaper)."""
        return self.cuda.event() if self.simulator else self.cuda.event(timing=False)

    def _total_memory(self):
        if self.simulator:
            return simulator_total_bytes()
        with self.cuda.gpus[self.index]:
            return self.cuda.current_context().get_memory_info().total

    def configure(self, config):
        """A Session's ConfigProto: ``gpu_options`` (the memory cap; with ``allow_growth=False``
        and a fraction, the capped amount reserved now and every buffer carved from it)."""
        self.memory.configure(getattr(config, "gpu_options", None))
        if self.memory.reserves_up_front:
            with self.cuda.gpus[self.index] if not self.simulator else contextlib.nullcontext():
                self.memory.use_arena(lambda size, on_release: DeviceArena(self.cuda, size, self.simulator, on_release))

    # -- buffers --------------------------------------------------------------
    @contextlib.contextmanager
    def planning(self, alloc):
        """While a unit binds: ``empty`` hands out ``alloc``'s plan buffers (None: buffers of its own)."""
        previous = getattr(self._binding, "alloc", None)
        self._binding.alloc = alloc
        try:
            yield
        finally:
            self._binding.alloc = previous
            disk_cache.sweep()  # NBFLOW_CUDA_CACHE=1: the kernels bound so far cache their compiled code

    def empty(self, shape, dtype):
        """An uninitialized device array: a plan buffer while a unit binds, else one of its own."""
        alloc = getattr(self._binding, "alloc", None)
        if alloc is not None:
            return alloc(shape, dtype)
        return self.persistent_empty(shape, dtype)

    def persistent_empty(self, shape, dtype):
        """An uninitialized device array of its own (never shared through the memory plan)."""
        shape, dtype = tuple(int(d) for d in shape), np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        return self.memory.allocate(nbytes, lambda: self.cuda.device_array(shape, dtype=dtype), shape, dtype)

    def new_plan_buffer(self, size, dtype):
        """A flat buffer for the memory planner (compiler/memory.py)."""
        return self.persistent_empty((size,), dtype)

    def kernel_writes_new_buffers(self, op):
        """The memory plan may reuse ``op``'s inputs' buffers once dead (buffer_reuse.py)."""
        from nbflow.backends.cuda.buffer_reuse import writes_new_buffers
        return writes_new_buffers(op)

    def pinned_empty(self, shape, dtype):
        """A page-locked host array (staging buffers of copies)."""
        try:
            a = self.cuda.pinned_array(tuple(shape), dtype=np.dtype(dtype))
        except Exception as e:
            if is_cuda_out_of_memory(e):  # page-locked memory is scarcer than pageable memory
                raise DeviceOutOfMemory("%s: CUDA out of memory pinning a %s %s host buffer: %s"
                                        % (self.name, tuple(shape), np.dtype(dtype), e)) from e
            raise
        self.pinned_bytes += a.nbytes
        return a

    # -- copies ---------------------------------------------------------------
    def to_host(self, array):
        if is_device_array(array):
            return array.copy_to_host()
        return np.asarray(array)

    def from_host(self, array):
        if is_device_array(array):
            return array
        a = np.require(np.asarray(array), requirements="C")
        if self.memory.arena is not None:  # carved from the reservation, then filled
            out = self.persistent_empty(a.shape, a.dtype)
            if out.size:
                out.copy_to_device(a)
            return out
        return self.memory.allocate(a.nbytes, lambda: self.cuda.to_device(a))

    def copier_from(self, src, shape, dtype):
        """Host -> this GPU: a staged copy into a planned buffer (when shape and dtype are known)."""
        if not src.is_host:
            return super().copier_from(src, shape, dtype)
        if not _stageable(shape, dtype):
            return self.from_host
        return HostToDevice(self, shape, dtype)

    def copier_to_host(self, shape, dtype):
        """This GPU -> host: a new numpy array each step (fetched values are handed out as is)."""
        if _stageable(shape, dtype):
            return DeviceToHost(self, shape, dtype)

        def copy(a):
            return a.copy_to_host() if is_device_array(a) else np.asarray(a)
        copy.fresh = True
        return copy
