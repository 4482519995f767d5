"""Whether GPU matrix products go through cuBLAS (nvmath-python), and its handles.

The optional extra ``nbflow[cuda-blas]`` installs ``nvmath-python`` (and NVIDIA's
cuBLAS wheel); its low-level ``nvmath.bindings.cublas`` takes raw device pointers,
which numba-cuda's device arrays give through ``__cuda_array_interface__``
(kernels/cuda/cublas.py maps a row-major product onto column-major cuBLAS).

The choice, made when a MatMul / BatchMatMulV2 GPU kernel is bound (so it applies
to plans and eager signatures bound after a change):

- ``set_enabled(True | False | None)`` -- the Python switch
  (``nbflow.backends.cuda.blas.set_enabled``); None (the default) defers to:
- ``NBFLOW_CUDA_BLAS=1`` / ``0`` in the environment; unset: automatic, i.e. cuBLAS
  when ``nvmath.bindings.cublas`` imports and the GPU is real (the CUDA simulator's
  arrays are host memory: cuBLAS cannot read them), the tiled kernel otherwise.

Asking for cuBLAS explicitly (switch or variable) where it cannot run -- nvmath not
installed, or the simulator -- is an error naming the reason, never a silent
tiled kernel.

Handles: one per (device, stream), created on first use in that device's context
and bound to the stream with ``set_stream`` (nbflow issues every kernel on one
stream per device, so in practice one handle per GPU). cuBLAS functions may be
called from several host threads with one handle as long as its configuration does
not change, and nothing changes it after ``set_stream``: Sessions running plans
from several threads need no lock around the calls.
"""
import importlib
import importlib.util
import os
import threading

ENV = "NBFLOW_CUDA_BLAS"
EXTRA_HINT = "pip install 'nbflow[cuda-blas]'"

_switch = [None]
_bindings = []      # [module] once imported
_handles = {}       # (device index, stream address) -> cuBLAS handle
_lock = threading.Lock()


def set_enabled(enabled):
    """True: GPU matmuls bound from now on use cuBLAS (an error if it cannot run); False: the
    tiled kernel; None: back to ``NBFLOW_CUDA_BLAS`` / automatic."""
    if enabled not in (True, False, None):
        raise ValueError("set_enabled takes True, False or None, not %r" % (enabled,))
    _switch[0] = enabled


def requested():
    """True / False when asked for explicitly (switch first, then ``NBFLOW_CUDA_BLAS``), None: automatic."""
    if _switch[0] is not None:
        return _switch[0]
    raw = os.environ.get(ENV, "").strip()
    if raw == "":
        return None
    if raw in ("0", "1"):
        return raw == "1"
    raise ValueError("%s must be 0 or 1, not %r" % (ENV, raw))


def available():
    """Whether ``nvmath.bindings.cublas`` can be imported (the ``cuda-blas`` extra is installed)."""
    if _bindings:
        return True
    try:
        return importlib.util.find_spec("nvmath") is not None and \
            importlib.util.find_spec("nvmath.bindings.cublas") is not None
    except (ImportError, ValueError):
        return False


def bindings():
    if not _bindings:
        _bindings.append(importlib.import_module("nvmath.bindings.cublas"))
    return _bindings[0]


def use_cublas(device):
    """Whether ``device``'s matmul kernels bound now go through cuBLAS."""
    want = requested()
    if want is False:
        return False
    why_not = None
    if getattr(device, "simulator", False):
        why_not = "the CUDA simulator's device arrays are host memory, which cuBLAS cannot read"
    elif not available():
        why_not = "nvmath-python is not installed (%s)" % EXTRA_HINT
    if why_not is None:
        return True
    if want:
        raise RuntimeError("cuBLAS was asked for (%s or nbflow.backends.cuda.blas.set_enabled(True)) but %s"
                           % (ENV, why_not))
    return False


def _stream_address(stream):
    handle = getattr(stream, "handle", None)
    if handle is None:
        return 0
    try:
        return int(handle)
    except TypeError:
        return int(getattr(handle, "value", 0) or 0)


class DeviceHandle:
    """``handle()`` for kernels/cuda/cublas.py's Gemm: this device's and stream's cuBLAS handle,
    created on first use (the creation under a lock: two threads must not both create one)."""

    def __init__(self, device, blas=None):
        self.device, self.blas = device, blas

    def __call__(self):
        stream = self.device.stream
        key = (self.device.index, _stream_address(stream))
        h = _handles.get(key)
        if h is None:
            blas = self.blas or bindings()
            with _lock:
                h = _handles.get(key)
                if h is None:
                    h = blas.create()
                    blas.set_stream(h, key[1])
                    _handles[key] = h
        return h
