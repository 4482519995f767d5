"""A reservation of device memory made up front, carved into arrays (``allow_growth=False``).

``ConfigProto(gpu_options=GPUOptions(per_process_gpu_memory_fraction=f))`` with
``allow_growth=False`` (TF's default) reserves ``f`` x the card's memory when the
Session is created, as TF's BFC allocator does; every device buffer the Session's
GPU then makes (plan buffers, copies' destinations, constants, variables) is carved
out of that one allocation, so a step never asks CUDA for memory and the Session
cannot be starved by another process (PyTorch, another Session) after it started.
Running out of the reservation is the cap: ``DeviceOutOfMemory``.

Carving: first fit over a sorted free list, offsets aligned to 64 bytes (more than
the 16 that vector loads and cuBLAS want, two of the GPU's 32-byte memory sectors;
``cudaMalloc``'s 256 would waste most of a small buffer's slot), neighbours
coalesced on release. A carved array's region returns to the free list when the array and every
view of it are gone:

- on a GPU, the region is a numba-cuda ``AutoFreePointer`` at the reservation's
  address + offset -- the pointer class numba's own allocator returns, freed
  (here: released to the free list) when its reference count drops to zero, which
  views of the array hold -- and the array a ``DeviceNDArray`` over it;
- under the simulator (numpy-backed device arrays), the region is a small holder
  object exposing the reservation's bytes through ``__array_interface__``; numpy
  views keep it alive, and its finalizer releases the region.
"""
import ctypes
import threading
import weakref

import numpy as np

ALIGNMENT = 64


def _aligned(n):
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


class FreeList:
    """Free byte ranges of a reservation of ``size`` bytes: first-fit allocation, coalescing release."""

    def __init__(self, size):
        self.size = size
        self._free = [(0, size)] if size else []  # sorted, disjoint, never adjacent (coalesced)

    @property
    def free_bytes(self):
        return sum(length for _, length in self._free)

    @property
    def largest_free(self):
        return max((length for _, length in self._free), default=0)

    def take(self, nbytes):
        """The offset of ``nbytes`` (rounded up to the alignment) of free space, or None."""
        need = _aligned(max(int(nbytes), 1))
        for i, (offset, length) in enumerate(self._free):
            if length >= need:
                if length == need:
                    del self._free[i]
                else:
                    self._free[i] = (offset + need, length - need)
                return offset
        return None

    def give_back(self, offset, nbytes):
        need = _aligned(max(int(nbytes), 1))
        end = offset + need
        i = 0
        while i < len(self._free) and self._free[i][0] < offset:
            i += 1
        if (i > 0 and self._free[i - 1][0] + self._free[i - 1][1] > offset) or \
                (i < len(self._free) and self._free[i][0] < end):
            raise RuntimeError("device arena: region [%d, %d) released twice" % (offset, end))
        if i < len(self._free) and self._free[i][0] == end:  # merge with the next range
            end += self._free[i][1]
            del self._free[i]
        if i > 0 and self._free[i - 1][0] + self._free[i - 1][1] == offset:  # and with the previous one
            offset = self._free[i - 1][0]
            del self._free[i - 1]
            i -= 1
        self._free.insert(i, (offset, end - offset))


def _c_strides(shape, itemsize):
    strides, step = [], itemsize
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


class _SimulatorRegion:
    """Bytes [offset, offset + nbytes) of the simulator's reservation, as a numpy array's base."""

    def __init__(self, block, offset, nbytes):
        self._block = block  # the reservation stays alive while a region of it does
        address = block.__array_interface__["data"][0] + offset
        self.__array_interface__ = {"shape": (nbytes,), "typestr": "|u1", "data": (address, False), "version": 3}


class DeviceArena:
    """``size`` bytes of device memory allocated once; ``carve(shape, dtype)`` -> a device array
    inside it, or None when no free range is large enough. ``on_release(nbytes)`` is called
    when a carved array's region is given back."""

    def __init__(self, cuda, size, simulator, on_release):
        self.cuda, self.simulator = cuda, simulator
        self.size = int(size)
        self._free = FreeList(self.size)
        self._lock = threading.Lock()  # finalizers run in any thread
        self._on_release = on_release
        #: the reservation itself: one allocation of the whole size
        self.block = cuda.device_array(self.size, dtype=np.uint8)
        #: region offset -> its numba pointer (a GPU): kept alive as numba keeps its allocations
        self._live = {}

    @property
    def free_bytes(self):
        return self._free.free_bytes

    def carve(self, shape, dtype):
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if not nbytes:
            return self.cuda.device_array(shape, dtype=dtype)  # no memory: a null pointer, nothing to carve
        with self._lock:
            offset = self._free.take(nbytes)
        if offset is None:
            return None
        if self.simulator:
            return self._simulator_array(offset, nbytes, shape, dtype)
        return self._device_array(offset, nbytes, shape, dtype)

    def _release(self, offset, nbytes):
        with self._lock:
            self._live.pop(offset, None)
            self._free.give_back(offset, nbytes)
        self._on_release(nbytes)

    def _simulator_array(self, offset, nbytes, shape, dtype):
        region = _SimulatorRegion(self.block._ary, offset, nbytes)
        weakref.finalize(region, self._release, offset, nbytes)
        host = np.asarray(region)[:nbytes].view(dtype).reshape(shape)
        return type(self.block)(host)

    def _device_array(self, offset, nbytes, shape, dtype):
        from numba.cuda.cudadrv import devicearray, driver
        context = weakref.proxy(self.cuda.current_context())
        address = int(self.block.device_ctypes_pointer.value) + offset
        # the region's owner: freed (released here) when the array and its views are gone
        memory = driver.AutoFreePointer(context, ctypes.c_void_p(address), nbytes,
                                        finalizer=lambda: self._release(offset, nbytes))
        self._live[offset] = memory
        return devicearray.DeviceNDArray(shape, _c_strides(shape, dtype.itemsize), dtype, gpu_data=memory.own())
