"""What one ``GPUDevice`` hands out: device memory counted, capped, and out-of-memory named.

Every device buffer nbflow makes (plan buffers, copies' destinations, constants,
variables) goes through :meth:`DeviceMemory.allocate`, which

- counts it (``allocations``, ``bytes_in_use``, ``peak_bytes``; a buffer's bytes
  are given back when its memory is freed);
- enforces the cap of ``ConfigProto.gpu_options``: at most
  ``per_process_gpu_memory_fraction`` x the device's total memory in use at
  once (0: no cap of nbflow's own, as TF's unset field);
- turns CUDA's own out-of-memory into :class:`DeviceOutOfMemory`.

``DeviceOutOfMemory`` is a MemoryError: the compiler (bind) and the runtime
(Plan.run) turn it into ``tf.errors.ResourceExhaustedError`` naming the op whose
buffer could not be had.

``allow_growth``: with an explicit fraction and ``allow_growth=False`` the
capped amount is reserved when the Session is created (``reserves_up_front``;
GPUDevice.configure attaches a ``DeviceArena``, device_arena.py) and every buffer
is carved out of it -- TF's behaviour. TF's *default* (no fraction,
``allow_growth=False``) reserves almost the whole card; nbflow does not: it
shares the card with PyTorch and other processes, so without an explicit
fraction memory grows as plans are built (once per plan; the steady-state step
allocates nothing). ``allow_growth=True`` never reserves.

The simulator has no device memory of its own (numba's simulator reports an
infinite total): its stand-in total is ``NBFLOW_CUDA_SIMULATOR_MEMORY`` bytes
(default 1 GiB), so a fraction caps it as it would a card.
"""
import os
import threading
import weakref

SIMULATOR_MEMORY_ENV = "NBFLOW_CUDA_SIMULATOR_MEMORY"
SIMULATOR_DEFAULT_TOTAL = 1 << 30
_CUDA_ERROR_OUT_OF_MEMORY = 2


class DeviceOutOfMemory(MemoryError):
    """No device buffer: over nbflow's cap (gpu_options) or CUDA out of memory."""


def is_cuda_out_of_memory(exc):
    """numba-cuda's ``CudaAPIError`` for CUDA_ERROR_OUT_OF_MEMORY."""
    code = getattr(exc, "code", None)
    if code is None:
        return False
    try:
        return int(code) == _CUDA_ERROR_OUT_OF_MEMORY
    except (TypeError, ValueError):
        return "OUT_OF_MEMORY" in str(code)


def simulator_total_bytes():
    raw = os.environ.get(SIMULATOR_MEMORY_ENV, "")
    if not raw:
        return SIMULATOR_DEFAULT_TOTAL
    try:
        total = int(raw)
    except ValueError:
        total = 0
    if total <= 0:
        raise ValueError("%s must be a positive number of bytes, not %r" % (SIMULATOR_MEMORY_ENV, raw))
    return total


class DeviceMemory:
    """The accounting and cap of one device. ``total_bytes`` is a callable (asked once, when
    a cap needs it: on a GPU it reads the driver's memory info)."""

    def __init__(self, device_name, total_bytes):
        self.device_name = device_name
        self._total = total_bytes
        self._total_value = None
        #: bytes nbflow may have in use at once on this device (None: no cap of nbflow's own)
        self.limit = None
        self.fraction = 0.0
        self.allow_growth = False
        #: the reservation every buffer is carved from (allow_growth=False with a fraction), or None
        self.arena = None
        self.allocations = 0
        self.bytes_in_use = 0
        self.peak_bytes = 0
        # sessions run plans from several threads; finalizers run anywhere, even inside a locked block (GC)
        self._lock = threading.RLock()

    @property
    def total_bytes(self):
        if self._total_value is None:
            self._total_value = int(self._total())
        return self._total_value

    def configure(self, gpu_options):
        """Apply ``ConfigProto.gpu_options`` (None: TF's defaults, no cap)."""
        fraction = getattr(gpu_options, "per_process_gpu_memory_fraction", 0.0) if gpu_options is not None else 0.0
        try:
            fraction = float(fraction or 0.0)
        except (TypeError, ValueError):
            raise ValueError("gpu_options.per_process_gpu_memory_fraction must be a number, not %r"
                             % (fraction,)) from None
        if not 0.0 <= fraction <= 1.0:
            # TF takes > 1 as unified-memory oversubscription, which nbflow does not do
            raise ValueError("gpu_options.per_process_gpu_memory_fraction must be in [0, 1], not %r "
                             "(oversubscription through unified memory is not supported)" % fraction)
        self.fraction = fraction
        self.allow_growth = bool(getattr(gpu_options, "allow_growth", False)) if gpu_options is not None else False
        self.limit = int(fraction * self.total_bytes) if fraction else None

    @property
    def reserves_up_front(self):
        """TF's ``allow_growth=False`` with an explicit fraction: the capped amount is reserved at
        Session creation (without a fraction nbflow grows: it does not take the whole card)."""
        return self.limit is not None and not self.allow_growth

    def use_arena(self, make_arena):
        """Serve every later allocation from ``make_arena(size, on_release)`` (a DeviceArena of
        ``limit`` bytes: the reservation), counted here as ever."""
        try:
            self.arena = make_arena(self.limit, self._release)
        except Exception as e:
            if is_cuda_out_of_memory(e):
                raise DeviceOutOfMemory("%s: CUDA out of memory reserving %d bytes (gpu_options.per_process_gpu_"
                                        "memory_fraction=%g, allow_growth=False): %s"
                                        % (self.device_name, self.limit, self.fraction, e)) from e
            raise

    def allocate(self, nbytes, make, shape=None, dtype=None):
        """``make()`` (which allocates ``nbytes`` of device memory), counted and capped; with a
        reservation (``use_arena``), a ``shape``/``dtype`` array carved out of it instead."""
        nbytes = int(nbytes)
        if self.arena is not None:
            return self._carve(nbytes, shape, dtype)
        with self._lock:  # counted before allocating, so two threads cannot both pass the cap
            if self.limit is not None and self.bytes_in_use + nbytes > self.limit:
                raise DeviceOutOfMemory(
                    "%s: %d more bytes would exceed the cap of %d bytes (gpu_options.per_process_gpu_memory_"
                    "fraction=%g of %d bytes); %d bytes in use" % (self.device_name, nbytes, self.limit,
                                                                   self.fraction, self.total_bytes, self.bytes_in_use))
            self.bytes_in_use += nbytes
        try:
            array = make()
        except Exception as e:
            self._release(nbytes)
            if is_cuda_out_of_memory(e):
                raise DeviceOutOfMemory("%s: CUDA out of memory allocating %d bytes (%d bytes in use by nbflow): %s"
                                        % (self.device_name, nbytes, self.bytes_in_use, e)) from e
            raise
        with self._lock:
            self.allocations += 1
            self.peak_bytes = max(self.peak_bytes, self.bytes_in_use)
        if nbytes:
            weakref.finalize(memory_owner(array), self._release, nbytes)
        return array

    def _carve(self, nbytes, shape, dtype):
        array = self.arena.carve(shape, dtype)
        if array is None:
            raise DeviceOutOfMemory(
                "%s: no free range of %d bytes in the %d bytes reserved up front (gpu_options.per_process_gpu_"
                "memory_fraction=%g of %d bytes, allow_growth=False); %d bytes in use"
                % (self.device_name, nbytes, self.arena.size, self.fraction, self.total_bytes, self.bytes_in_use))
        with self._lock:  # given back by the arena's on_release (self._release) when the array is gone
            self.bytes_in_use += nbytes
            self.allocations += 1
            self.peak_bytes = max(self.peak_bytes, self.bytes_in_use)
        return array

    def _release(self, nbytes):
        with self._lock:
            self.bytes_in_use -= nbytes

    def summary(self):
        cap = "no cap" if self.limit is None else "cap %d bytes (fraction %g)" % (self.limit, self.fraction)
        if self.arena is not None:
            cap += ", reserved up front"
        return "%d device allocations, %d bytes in use (peak %d), %s, allow_growth=%s" % (
            self.allocations, self.bytes_in_use, self.peak_bytes, cap, self.allow_growth)


def memory_owner(array):
    """The object whose life is the memory's: views and reshapes share it. numba-cuda's
    device arrays share ``gpu_data``; the simulator's wrap a numpy array (views keep its base)."""
    owner = getattr(array, "gpu_data", None)
    if owner is not None:
        return owner
    host = getattr(array, "_ary", array)
    while getattr(host, "base", None) is not None:
        host = host.base
    return host
