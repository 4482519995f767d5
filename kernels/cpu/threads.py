"""One set of threads: an opt-in limit on the BLAS threads once nbflow runs parallel Numba kernels.

numpy's and SciPy's OpenBLAS each keep a pool of one thread per core, and
Numba's parallel kernels have their own. An OpenBLAS worker does not sleep
when its call returns: it spins, waiting for the next call, for a long while
(OpenBLAS's thread timeout). A parallel Numba kernel that starts then gets a
core shared with a spinning BLAS thread, and finishes when its slowest block
does -- step times that depend on where the threads happened to land, the
bimodal 20 vs 35 ms LeNet steps of issue 16. Measured on the 2-core machine
(LeNet b64 SGD, fresh processes alternated; docs/BENCHMARKS.md): with BLAS
limited to one thread while Numba keeps two, steps were as fast as the best
default processes and stayed there under load, where two BLAS threads made
some processes 4-7x slower; Numba single-threaded with BLAS on two threads
was the worst of the four combinations under load.

So, when ``NBFLOW_BLAS_THREADS=N`` (N >= 1) is set, the first time a parallel
Numba kernel is bound or chosen (``cooperate``) every BLAS pool loaded in the
process is limited to N threads with threadpoolctl, for the rest of the
process -- numpy calls outside nbflow included. It is opt-in, not the default:
the loaded-machine measurements above favoured one BLAS thread, but on the
quiet 2-core machine (fresh processes alternated, docs/BENCHMARKS.md) one BLAS
thread made nbflow's own MLP b128 step 25-35% slower (3.5-3.8 vs 2.7-2.8 ms)
and LeNet 10-15% slower (21.3-21.7 vs 18.5-20.0 ms), while the PyTorch
baseline in the same process got faster (no spinning numpy threads beside it).
Unset or ``0`` leaves BLAS alone, and so does a BLAS thread count the user
chose (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``).
"""
import os
import threading

import numba

_lock = threading.Lock()
_state = {"done": False, "limit": None}


def blas_limit():
    """The BLAS thread count ``cooperate`` applies (None: BLAS is left alone)."""
    setting = os.environ.get("NBFLOW_BLAS_THREADS", "").strip()
    if not setting:
        return None
    n = int(setting)
    if n < 0:
        raise ValueError("NBFLOW_BLAS_THREADS must be >= 0, got %r" % setting)
    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return None
    return n or None


def cooperate():
    """Limit BLAS's threads (see the module) once per process; later calls cost one dict lookup."""
    if _state["done"]:
        return _state["limit"]
    with _lock:
        if not _state["done"]:
            limit = blas_limit()
            if limit is not None:
                import scipy.linalg.cython_blas  # noqa: F401  Numba's np.dot runs SciPy's BLAS: load its pool too
                from threadpoolctl import threadpool_limits

                threadpool_limits(limits=limit, user_api="blas")
            _state["limit"] = limit
            _state["done"] = True
    return _state["limit"]


def threads_for(work, min_work, blocks=None):
    """Threads for a kernel with a parallel twin: 1 when ``work`` (elements or
    multiply-adds) is below ``min_work``, the kernel's measured threshold; else Numba's
    thread count (ConfigProto's for the run, or all cores), at most ``blocks`` (the
    pieces the work splits into), with the BLAS limit applied (``cooperate``)."""
    return 1 if work < min_work else parallel_threads(blocks)


def parallel_threads(blocks=None):
    """Numba's thread count (ConfigProto's for the run, or all cores), at most ``blocks``
    and at least 1, with the BLAS limit applied (``cooperate``) when it is above 1: for a
    kernel the caller has already found large enough to split."""
    nt = numba.get_num_threads()
    if blocks is not None:
        nt = min(nt, blocks)
    if nt > 1:
        cooperate()
    return max(1, nt)
