"""``njit`` (and ``cfunc``) for nbflow's kernels: ``numba.njit``, where ``cache=True`` means
nbflow's kernel cache (kernels/cache.py) -- and is dropped when that cache is
off for the process (an unwritable cache directory), so kernels then compile
in memory instead of failing. Every kernel module (and generated kernel) takes
``njit`` from here, never from numba directly.
"""
import numba

from nbflow.kernels import cache as _cache


def njit(*args, **kwargs):
    if kwargs.get("cache") and not _cache.enabled():
        kwargs["cache"] = False
    return numba.njit(*args, **kwargs)


def cfunc(signature, cache=False, **kwargs):
    """``numba.cfunc`` with ``cache`` handled as ``njit``'s (compiled on decoration)."""
    return numba.cfunc(signature, cache=bool(cache) and _cache.enabled(), **kwargs)
