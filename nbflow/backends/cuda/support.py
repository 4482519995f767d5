"""Is CUDA usable here? Detects numba-cuda (the ``nbflow[cuda]`` extra) and a GPU.

Nothing here imports ``numba.cuda`` until asked: ``import nbflow`` stays free
of CUDA. nbflow runs CUDA kernels only through the ``numba-cuda`` package
(NVIDIA's CUDA target for Numba). Numba's built-in ``numba.cuda`` (deprecated,
shipped inside numba itself) is refused: when numba-cuda is installed,
``import numba.cuda`` resolves to ``numba_cuda/numba/cuda``; when it is not,
to ``numba/cuda`` -- which nbflow never uses.

Devices:

- a real GPU: ``numba.cuda.is_available()`` (a driver and a device);
- the simulator, a testing mode: ``NUMBA_ENABLE_CUDASIM=1`` (read by numba at
  its import) together with ``NBFLOW_CUDA_SIMULATOR=1`` registers one GPU
  device whose kernels run in Numba's CUDA simulator (Python, slow: tiny
  shapes only). Either variable alone registers no GPU.
"""
import importlib.util
import os

#: the pinned version of the ``cuda`` extra (pyproject.toml)
NUMBA_CUDA_VERSION = "0.30.4"

_status = None


class CudaStatus:
    """What detection found: ``built`` (numba-cuda importable), ``simulator``,
    ``gpu_count`` (devices nbflow registers), ``reason`` (why none, if none)."""

    __slots__ = ("built", "simulator", "gpu_count", "reason", "version")

    def __init__(self, built=False, simulator=False, gpu_count=0, reason="", version=None):
        self.built, self.simulator, self.gpu_count, self.reason, self.version = \
            built, simulator, gpu_count, reason, version

    def __repr__(self):
        return "CudaStatus(built=%r, simulator=%r, gpu_count=%r, reason=%r)" % (
            self.built, self.simulator, self.gpu_count, self.reason)


def numba_cuda_installed():
    """(installed?, version or reason) -- without importing numba.cuda."""
    if importlib.util.find_spec("numba_cuda") is None:
        return False, ("numba-cuda is not installed (pip install 'nbflow[cuda]'); numba's built-in, "
                       "deprecated numba.cuda target is not used")
    try:
        from importlib.metadata import version
        return True, version("numba-cuda")
    except Exception:  # a source checkout without metadata
        return True, "unknown"


def simulator_requested():
    return os.environ.get("NBFLOW_CUDA_SIMULATOR", "") == "1" and os.environ.get("NUMBA_ENABLE_CUDASIM", "") == "1"


def import_cuda():
    """``numba.cuda`` from numba-cuda; raises ImportError for numba's built-in target."""
    ok, why = numba_cuda_installed()
    if not ok:
        raise ImportError(why)
    from numba import cuda
    here = os.path.dirname(os.path.abspath(cuda.__file__))
    pkg = os.path.dirname(os.path.abspath(importlib.util.find_spec("numba_cuda").origin))
    if not here.startswith(pkg + os.sep):
        raise ImportError("numba.cuda resolves to %s, numba's built-in (deprecated) CUDA target, not numba-cuda's "
                          "(%s): nbflow needs numba-cuda (pip install 'nbflow[cuda]')" % (here, pkg))
    return cuda


def status():
    """Detect once per process (the first call initializes the CUDA driver, if any)."""
    global _status
    if _status is not None:
        return _status
    ok, info = numba_cuda_installed()
    if not ok:
        _status = CudaStatus(reason=info)
        return _status
    try:
        cuda = import_cuda()
    except ImportError as e:
        _status = CudaStatus(reason=str(e))
        return _status
    from numba import config
    if config.ENABLE_CUDASIM:
        if simulator_requested():
            _status = CudaStatus(True, True, 1, "", info)
        else:
            _status = CudaStatus(True, False, 0, "NUMBA_ENABLE_CUDASIM=1 without NBFLOW_CUDA_SIMULATOR=1: "
                                 "the simulator is a testing mode that must be asked for", info)
        return _status
    try:
        available = bool(cuda.is_available())
        count = len(cuda.gpus) if available else 0
    except Exception as e:  # a broken driver is "no GPU", not a crash at Session()
        available, count, err = False, 0, "%s: %s" % (type(e).__name__, e)
    else:
        err = "no CUDA driver or GPU found (numba.cuda.is_available() is False)"
    _status = CudaStatus(True, False, count, "" if count else err, info)
    return _status


def reset_for_tests():
    global _status
    _status = None
