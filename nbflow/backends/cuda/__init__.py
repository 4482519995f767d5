"""The GPU backend: a ``GPUDevice`` (numba-cuda device arrays) and its CUDA kernels.

Importing this package costs nothing and needs no numba-cuda: it registers a
device probe (backends/devices.py). The first time a session asks for the
local devices, the probe detects numba-cuda and a GPU (support.py); only then
does it import ``numba.cuda``, register ``GPU:0..n-1`` and the GPU kernels
(the modules of this folder). Without numba-cuda (CI installs only
``.[test,lint]``) or without a GPU, no GPU device exists: ``/gpu:0`` soft-places
on the CPU, and a hard placement raises InvalidArgumentError.
"""
from nbflow.backends import devices
from nbflow.backends.cuda import support

_registered = [False]


def probe():
    """Register the GPU devices and kernels if CUDA is usable here (idempotent)."""
    st = support.status()
    if not st.gpu_count or _registered[0]:
        return st
    from nbflow.backends.cuda.device import GPUDevice
    register_kernels()
    simulator = st.simulator
    devices.register_device_type("GPU", lambda i: GPUDevice(i, simulator=simulator), count=st.gpu_count)
    _registered[0] = True
    return st


def register_kernels():
    """Import the GPU kernel modules (each registers its factories); needs numba-cuda."""
    from nbflow.backends.cuda import (array, array_fill, array_gather, array_layout, elementwise,  # noqa: F401
                                      conv, fused, host_memory, linalg, nn, random, reduction, state,
                                      training)
    from nbflow.backends.cuda import control_flow, rnn  # noqa: F401,E402
    from nbflow.backends.cuda import array_gather_nd, array_mirror, matrix, select, sort  # noqa: F401,E402
    from nbflow.backends.cuda import batch_norm, checks, sequence  # noqa: F401,E402


def is_built_with_cuda():
    """numba-cuda (the ``nbflow[cuda]`` extra) is installed."""
    return support.numba_cuda_installed()[0]


def gpu_count():
    return probe().gpu_count


devices.register_device_probe(probe)
