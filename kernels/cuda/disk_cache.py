"""On-disk caching of compiled CUDA kernels (opt-in: ``NBFLOW_CUDA_CACHE=1``).

numba-cuda caches a kernel compiled for a signature (its PTX and cubin, keyed
by the signature and the device's compute capability) when the kernel's
dispatcher has caching enabled -- what ``@cuda.jit(cache=True)`` does at
decoration, and ``dispatcher.enable_caching()`` does later. With the switch on,
:func:`sweep` enables it for every ``@cuda.jit`` kernel of nbflow's
``kernels/cuda`` modules and of the generated CUDA kernels (element-wise and
fused groups, optimizer updates: ``nbflow_gen_cuda*`` modules), and a cache
locator puts their files where the CPU's go (kernels/cache.py): the static
kernels' under ``numba/<dir>_<hash>/``, the generated ones' in
``generated/__pycache__`` beside their source. The cache's size cap, its
eviction and ``python -m nbflow.cache --clear`` cover them as the CPU's.

Why a switch, off by default: numba-cuda writes a cache entry only after
loading the compiled kernel into a CUDA context (it binds the kernel to get a
cubin), so no part of the write or the read can run without a GPU; the
simulator runs kernels as Python and caches nothing. What runs without a GPU
(tests/test_cuda_memory_kernel_cache.py, in a process without the simulator)
is this wiring: which kernels get a cache and where its files go. A real GPU
run of ``benchmarks/gpu_check.sh`` with ``NBFLOW_CUDA_CACHE=1`` is the check
still to do before it becomes the default.
"""
import os
import sys

from numba import config

from nbflow.kernels import cache as _cache

CACHE_ENV = "NBFLOW_CUDA_CACHE"
_CUDA_DIR = os.path.dirname(os.path.realpath(__file__))
_GENERATED_CUDA_PREFIX = _cache.GENERATED_PREFIX + "cuda"

_swept = set()  # modules already swept
_seen_modules = [0]  # len(sys.modules) at the last sweep: nothing new, nothing to do
_locator = []


def requested():
    """The switch is on, caching is on, and kernels compile for a GPU (not the simulator)."""
    return os.environ.get(CACHE_ENV, "") == "1" and not config.ENABLE_CUDASIM and _cache.enabled()


def _owned(module):
    if module is None:
        return False
    name = getattr(module, "__name__", "")
    if name.startswith(_GENERATED_CUDA_PREFIX):
        return True
    path = getattr(module, "__file__", None)
    return bool(path) and os.path.dirname(os.path.realpath(path)) == _CUDA_DIR


def _register_locator():
    if _locator:
        return
    from numba.cuda.core import caching

    class CudaKernelCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """numba-cuda's locator for nbflow's CUDA kernels: the directories of kernels/cache.py."""

        def __init__(self, py_func, py_file, cache_path):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = cache_path

        def get_cache_path(self):
            return self._cache_path

        def get_source_stamp(self):
            # as the CPU's locator: CUDA kernels call helpers of other files (the CPU's
            # sort order, generated code), so any kernel source edit invalidates them all
            return super().get_source_stamp(), _cache.package_stamp()

        def ensure_cache_path(self):
            os.makedirs(self._cache_path, exist_ok=True)
            _cache.before_write()

        @classmethod
        def from_function(cls, py_func, py_file):
            path = _cache.KernelCacheLocator.cache_path_for(py_file)
            return None if path is None else cls(py_func, py_file, path)

    caching.CacheImpl._locator_classes.insert(0, CudaKernelCacheLocator)
    _locator.append(CudaKernelCacheLocator)


def enable_module(module):
    """Enable disk caching of the module's own ``@cuda.jit`` kernels; the number enabled."""
    from numba.cuda.core.caching import NullCache
    from numba.cuda.dispatcher import CUDADispatcher
    _register_locator()
    n = 0
    for value in list(vars(module).values()):
        if isinstance(value, CUDADispatcher) and value.py_func.__module__ == module.__name__ \
                and isinstance(value._cache, NullCache):
            value.enable_caching()
            n += 1
    return n


def sweep():
    """Enable caching for kernels of modules loaded since the last sweep (cheap when none is)."""
    if not requested() or len(sys.modules) == _seen_modules[0]:
        return 0
    _seen_modules[0] = len(sys.modules)
    n = 0
    for name, module in list(sys.modules.items()):
        if name not in _swept and _owned(module):
            _swept.add(name)
            n += enable_module(module)
    return n
