"""Which Numba threading layer nbflow's parallel kernels run on: TBB when it can be loaded,
else ``workqueue``.

Both are fork-safe (a forked child -- a data loader, a test runner -- runs parallel
kernels; OpenMP's GNU runtime is not). They differ in what a parallel call costs. On the
2-core development machine (session 12, a 20K-element transcendental loop, serial 200
us): ``workqueue`` 294 us on two threads, TBB 105 us, OpenMP 104 us; a 128x784x512
product 440 us serial, 540 us in ``workqueue`` and 230 us in TBB or OpenMP. A
``workqueue`` worker naps between polls of its queue, so a call shorter than a few
hundred microseconds spends most of its time waking threads -- which is why MatMul,
the convolutions and pooling gained little or lost from a second thread there. TBB is
also thread-safe: two Python threads may launch parallel kernels at once.

The ``tbb`` package (a dependency where wheels exist) puts ``libtbb.so.12`` in
``<prefix>/lib``, which the dynamic loader does not search in a virtual environment;
``choose()`` loads it from there first (``RTLD_GLOBAL``, so Numba's ``tbbpool`` finds it
by name). Where TBB cannot be loaded (no wheel for the platform, an incompatible
version), the layer is ``workqueue``, as before. A layer the user names in
``NUMBA_THREADING_LAYER`` (or ``numba.config.THREADING_LAYER``) is left alone.
"""
import ctypes
import itertools
import os
import sys

_LIBTBB = {"linux": "libtbb.so.12", "darwin": "libtbb.12.dylib", "win32": "tbb12.dll"}


def _candidates(name):
    """Paths where the ``tbb`` wheel may have put ``name``, most likely first; the package's
    file list (importlib.metadata: 8 ms to import) only when those are absent."""
    found = False
    for path in (os.path.join(sys.prefix, "lib", name), os.path.join(sys.prefix, "Library", "bin", name)):
        if os.path.exists(path):
            found = True
            yield path
    if found:
        return
    from importlib import metadata

    try:
        files = metadata.files("tbb") or ()
    except metadata.PackageNotFoundError:  # tbb is not installed: nothing more to try
        return
    for f in files:
        if os.path.basename(str(f)) == name:
            yield str(f.locate())


def tbb_loadable():
    """Whether Numba's TBB layer can be used, loading ``libtbb`` from the environment's
    ``lib`` directory first when the loader would not find it."""
    from numba.np.ufunc import parallel

    name = _LIBTBB.get(sys.platform, _LIBTBB["linux"])
    for path in itertools.chain([None], _candidates(name)):
        try:
            if path is not None:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            from numba.np.ufunc import tbbpool  # noqa: F401  the layer's extension links libtbb
            parallel._check_tbb_version_compatible()
            return True
        except (ImportError, OSError):
            continue
    return False


def choose():
    """Set Numba's threading layer for this process (see the module); returns its name,
    or None when the user chose one or Numba already started its threads."""
    import numba
    from numba.np.ufunc import parallel

    if os.environ.get("NUMBA_THREADING_LAYER") or str(numba.config.THREADING_LAYER).lower() != "default" \
            or parallel._is_initialized:
        return None
    numba.config.THREADING_LAYER = "tbb" if tbb_loadable() else "workqueue"
    return numba.config.THREADING_LAYER
