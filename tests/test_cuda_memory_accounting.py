"""Host-side logic of GPU memory (no numba-cuda needed): the device memory accounting and cap
(backends/cuda/device_memory.py) and the memory planner's device pools (compiler/memory.py)."""
import gc

import numpy as np
import pytest

from nbflow.backends.cuda.device_memory import (SIMULATOR_DEFAULT_TOTAL, SIMULATOR_MEMORY_ENV, DeviceMemory,
                                                DeviceOutOfMemory, is_cuda_out_of_memory, simulator_total_bytes)
from nbflow.compiler.memory import BufferPlanner


class Options:
    def __init__(self, fraction, allow_growth=False):
        self.per_process_gpu_memory_fraction = fraction
        self.allow_growth = allow_growth


def test_allocations_are_counted_and_released_when_freed():
    mem = DeviceMemory("GPU:0", lambda: 10_000)
    a = mem.allocate(400, lambda: np.empty(100, np.float32))
    view = a.reshape(10, 10)  # a view keeps the memory alive
    assert (mem.allocations, mem.bytes_in_use, mem.peak_bytes) == (1, 400, 400)
    del a
    gc.collect()
    assert mem.bytes_in_use == 400
    del view
    gc.collect()
    assert (mem.allocations, mem.bytes_in_use, mem.peak_bytes) == (1, 0, 400)


@pytest.mark.parametrize("allow_growth", [False, True])
def test_fraction_caps_bytes_in_use(allow_growth):
    mem = DeviceMemory("GPU:0", lambda: 10_000)
    mem.configure(Options(0.1, allow_growth))
    assert mem.limit == 1000 and mem.allow_growth is allow_growth
    keep = mem.allocate(800, lambda: np.empty(800, np.uint8))
    made = []
    with pytest.raises(DeviceOutOfMemory, match="cap of 1000 bytes") as info:
        mem.allocate(400, lambda: made.append(1))
    assert isinstance(info.value, MemoryError) and made == []  # refused before allocating
    assert mem.bytes_in_use == 800
    del keep
    gc.collect()
    mem.allocate(400, lambda: np.empty(400, np.uint8))  # fits once the first is freed


def test_no_fraction_means_no_cap_and_the_total_is_not_asked():
    asked = []
    mem = DeviceMemory("GPU:0", lambda: asked.append(1) or 100)
    mem.configure(Options(0.0))
    mem.configure(None)
    assert mem.limit is None and asked == []
    mem.allocate(10_000, lambda: np.empty(10_000, np.uint8))


@pytest.mark.parametrize("bad", [1.5, -0.25, "half"])
def test_invalid_fraction_is_refused(bad):
    mem = DeviceMemory("GPU:0", lambda: 100)
    with pytest.raises(ValueError, match="per_process_gpu_memory_fraction"):
        mem.configure(Options(bad))


class FakeCudaAPIError(Exception):
    """numba-cuda's CudaAPIError carries the CUresult as ``code``."""

    def __init__(self, code):
        super().__init__(code, "cuMemAlloc failed")
        self.code = code


def test_cuda_out_of_memory_becomes_device_out_of_memory():
    mem = DeviceMemory("GPU:0", lambda: 100)

    def oom():
        raise FakeCudaAPIError(2)
    with pytest.raises(DeviceOutOfMemory, match="CUDA out of memory"):
        mem.allocate(64, oom)
    assert is_cuda_out_of_memory(FakeCudaAPIError(2)) and not is_cuda_out_of_memory(FakeCudaAPIError(1))
    assert not is_cuda_out_of_memory(ValueError("x"))

    def other():
        raise FakeCudaAPIError(700)
    with pytest.raises(FakeCudaAPIError):  # other CUDA errors are not out-of-memory
        mem.allocate(64, other)
    assert mem.allocations == 0 and mem.bytes_in_use == 0


def test_simulator_total(monkeypatch):
    monkeypatch.delenv(SIMULATOR_MEMORY_ENV, raising=False)
    assert simulator_total_bytes() == SIMULATOR_DEFAULT_TOTAL
    monkeypatch.setenv(SIMULATOR_MEMORY_ENV, "4096")
    assert simulator_total_bytes() == 4096
    monkeypatch.setenv(SIMULATOR_MEMORY_ENV, "lots")
    with pytest.raises(ValueError, match=SIMULATOR_MEMORY_ENV):
        simulator_total_bytes()


class FakeDevice:
    """A non-host device whose plan buffers are numpy arrays (counted)."""

    is_host = False

    def __init__(self, name):
        self.name = name
        self.made = []

    def new_plan_buffer(self, size, dtype):
        buf = np.empty(size, dtype)
        self.made.append(buf)
        return buf


def test_planner_keeps_device_and_host_pools_apart_and_reuses_dead_device_buffers():
    # slots: 0 -> unit0 -> 1 -> unit1 -> 2 -> unit2 -> 3 -> unit3 (host) -> 4; nothing aliases
    units = [((0,), (1,), False), ((1,), (2,), False), ((2,), (3,), False), ((3,), (4,), False)]
    planner = BufferPlanner(units, fetched_slots={4})
    gpu = FakeDevice("GPU:0")
    a = planner.allocator(0, gpu)((4, 4), np.float32)
    b = planner.allocator(1, gpu)((4, 4), np.float32)
    c = planner.allocator(2, gpu)((16,), np.float32)  # unit0's buffer is dead at 2: reused
    host = planner.allocator(3)((4, 4), np.float32)  # a host buffer never comes from the device pool
    assert a.shape == b.shape == (4, 4) and c.shape == (16,)
    assert len(gpu.made) == 2 and np.shares_memory(a, c) and not np.shares_memory(a, b)
    assert not any(np.shares_memory(host, m) for m in gpu.made)
    assert planner.device_bytes["GPU:0"] == [128, 64]
    assert (planner.bytes_allocated, planner.bytes_reused) == (64, 0)


def test_planner_device_pools_are_per_device():
    units = [((0,), (1,), False), ((1,), (2,), False), ((2,), (3,), False)]
    planner = BufferPlanner(units, fetched_slots={3})
    g0, g1 = FakeDevice("GPU:0"), FakeDevice("GPU:1")
    planner.allocator(0, g0)((8,), np.float64)
    planner.allocator(1, g0)((8,), np.float64)
    planner.allocator(2, g1)((8,), np.float64)  # g0's dead buffer is not g1's memory
    assert len(g0.made) == 2 and len(g1.made) == 1


class FakeCuda:
    """Stands in for numba.cuda: host arrays as device arrays; pinning fails with CUDA's out-of-memory."""

    def device_array(self, shape, dtype):
        return np.empty(shape, dtype)

    def to_device(self, a):
        return np.array(a)

    def pinned_array(self, shape, dtype):
        raise FakeCudaAPIError(2)


@pytest.fixture
def gpu():
    pytest.importorskip("numba_cuda")
    from nbflow.backends.cuda.device import GPUDevice
    dev = GPUDevice(0, simulator=True)
    dev.cuda = FakeCuda()
    return dev


def test_empty_hands_out_plan_buffers_only_while_a_unit_binds(gpu):
    import threading
    asked = []

    def plan_alloc(shape, dtype):
        asked.append(tuple(shape))
        return np.zeros(shape, dtype)
    own = gpu.empty((2, 3), np.float32)
    assert own.shape == (2, 3) and gpu.memory.allocations == 1 and asked == []
    elsewhere = []
    with gpu.planning(plan_alloc):
        gpu.empty((4,), np.float64)
        with gpu.planning(None):  # a sub-plan bound with the memory pass off: buffers of its own
            gpu.empty((5,), np.float64)
        gpu.empty((6,), np.float64)
        t = threading.Thread(target=lambda: elsewhere.append(gpu.empty((7,), np.float32)))
        t.start()
        t.join()  # another thread (a kernel running) never gets this plan's buffers
        gpu.persistent_empty((8,), np.float32)  # state kept across runs: never from the plan
    gpu.empty((9,), np.float32)
    assert asked == [(4,), (6,)]
    assert gpu.memory.allocations == 1 + 4 and elsewhere[0].shape == (7,)


def test_pinning_out_of_memory_is_device_out_of_memory(gpu):
    with pytest.raises(DeviceOutOfMemory, match="pinning"):
        gpu.pinned_empty((4, 4), np.float32)
