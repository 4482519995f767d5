"""Host <-> device copies of a plan's transfers, through pinned (page-locked) staging buffers.

One transfer of a known shape and numeric dtype gets, when the plan is bound
(``prepare``, inside the device's planning scope):

- host -> device: its device buffer from the memory plan, one pinned host
  buffer and a CUDA event. Each run waits for the event (the previous run's
  copy out of the pinned buffer is done -- usually long since), writes the fed
  value into the pinned buffer, starts an asynchronous copy on the stream and
  records the event: the host goes on issuing kernels while the copy runs.
- device -> host: one pinned buffer; the copy goes on the stream, which is
  then synchronized (the host is about to read the value), and the value is
  handed out as a new numpy array (a fetch or a host op may keep it).

The stream is the default stream, the one every kernel is launched on: copies
and kernels run in issue order, so a copy into a plan buffer cannot overtake
the kernel still reading that buffer's previous contents. Numba's simulator
supports pinned arrays, events and streams (it runs everything synchronously),
so this exact path is what the simulator cases exercise; on a GPU the pinned
buffers are page-locked memory from ``cuda.pinned_array``.

A value whose shape differs from the plan's (an unknown dimension) is copied
without staging, into a new device array (an allocation per run, counted).
"""
import numpy as np


class HostToDevice:
    """``copy(host array) -> device array`` into the transfer's planned buffer."""

    def __init__(self, device, shape, dtype):
        self.device, self.shape, self.dtype = device, tuple(shape), np.dtype(dtype)
        self.buffer = self.pinned = self.done = None

    def prepare(self):
        """Allocate (bind time): the device buffer (the memory plan's when planning), the pinned one."""
        if self.buffer is None:
            self.buffer = self.device.empty(self.shape, self.dtype)
            self.pinned = self.device.pinned_empty(self.shape, self.dtype)
            self.done = self.device.new_event()

    def __call__(self, a):
        a = np.asarray(a)
        if a.shape != self.shape:  # a shape the plan did not know: a new buffer
            return self.device.from_host(np.require(a, dtype=self.dtype, requirements="C"))
        if self.buffer is None:
            self.prepare()
        if not a.size:
            return self.buffer
        self.done.synchronize()  # the previous run's copy has left the pinned buffer
        np.copyto(self.pinned, a, casting="unsafe")
        self.buffer.copy_to_device(self.pinned, stream=self.device.stream)
        self.done.record(self.device.stream)
        return self.buffer


class DeviceToHost:
    """``copy(device array) -> new host array`` through the transfer's pinned buffer."""

    fresh = True  # each run hands out a new array: a fetch needs no further copy

    def __init__(self, device, shape, dtype):
        self.device, self.shape, self.dtype = device, tuple(shape), np.dtype(dtype)
        self.pinned = None

    def prepare(self):
        if self.pinned is None:
            self.pinned = self.device.pinned_empty(self.shape, self.dtype)

    def __call__(self, a):
        if not getattr(type(a), "__cuda_ndarray__", False):
            return np.asarray(a)
        if tuple(a.shape) != self.shape or a.dtype != self.dtype:
            return a.copy_to_host()
        if self.pinned is None:
            self.prepare()
        if a.size:
            stream = self.device.stream
            a.copy_to_host(self.pinned, stream=stream)
            stream.synchronize()
        return self.pinned.copy()
