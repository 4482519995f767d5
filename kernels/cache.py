"""nbflow's on-disk kernel cache: one directory for everything nbflow caches.

Location (resolved once per process): ``$NBFLOW_CACHE_DIR``, else
``$XDG_CACHE_HOME/nbflow``, else ``~/.cache/nbflow``. Inside it:

- ``generated/``: the source of generated kernels (``nbflow_gen_*.py``, see
  codegen.py) and, in ``generated/__pycache__``, Numba's compiled code for them;
- ``numba/<dir>_<hash>/``: Numba's compiled code for the hand-written
  ``@njit(cache=True)`` kernels of one installed copy of nbflow.kernels (a
  Numba cache locator, ``KernelCacheLocator``, claims exactly the functions
  defined in nbflow.kernels and in ``generated/``; every other Numba function
  keeps Numba's own rules, ``NUMBA_CACHE_DIR`` included).

If the directory cannot be written (a read-only home or ``NBFLOW_CACHE_DIR``:
containers, HPC nodes, CI images), caching is off for the process: one
``CacheWarning`` says so and why, and kernels compile in memory
(``nbflow.kernels.jit.njit`` drops ``cache=True``, generated source is
compiled without a file).

Nothing here imports from the rest of nbflow.
"""
import os
import tempfile
import threading
import warnings

from numba.core import caching as _nb_caching

GENERATED_PREFIX = "nbflow_gen_"

_KERNELS_DIR = os.path.dirname(os.path.realpath(__file__))


class CacheWarning(UserWarning):
    """nbflow's kernel cache is off for this process (the message says why)."""


def location():
    """``(path, source)``: the cache directory the environment names now, and
    which setting named it ("NBFLOW_CACHE_DIR", "XDG_CACHE_HOME" or "default")."""
    d = os.environ.get("NBFLOW_CACHE_DIR")
    if d:
        return os.path.abspath(os.path.expanduser(d)), "NBFLOW_CACHE_DIR"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: relative paths are ignored
        return os.path.join(xdg, "nbflow"), "XDG_CACHE_HOME"
    return os.path.join(os.path.expanduser("~"), ".cache", "nbflow"), "default"


class _State:
    def __init__(self, root, source):
        self.root = root
        self.source = source
        self.generated_dir = os.path.join(root, "generated")
        self.numba_dir = os.path.join(root, "numba")
        self.enabled = False
        self.reason = None
        self._real_generated = None

    def is_generated_file(self, path):
        if not os.path.basename(path).startswith(GENERATED_PREFIX):
            return False
        if self._real_generated is None:
            self._real_generated = os.path.realpath(self.generated_dir)
        return os.path.dirname(os.path.realpath(path)) == self._real_generated


_lock = threading.RLock()
_state = None
_warned = False


def _warn(message):
    # Once per process, whatever the warnings filters say about repeats. It is
    # raised while nbflow's kernels are imported, deep in nbflow: no source
    # line of nbflow's is worth showing, so it is attributed to "nbflow".
    global _warned
    if not _warned:
        _warned = True
        warnings.warn_explicit(message, CacheWarning, "nbflow", 0, module="nbflow.kernels.cache")


def _resolve():
    root, source = location()
    s = _State(root, source)
    try:
        for d in (s.generated_dir, s.numba_dir):
            os.makedirs(d, exist_ok=True)
            tempfile.TemporaryFile(dir=d).close()
    except OSError as e:
        s.reason = "cannot write %s (%s: %s)" % (root, type(e).__name__, e.strerror or e)
        hint = "" if source == "NBFLOW_CACHE_DIR" else " (the %s location)" % source
        _warn("nbflow's kernel cache is off for this process: it %s%s. Kernels compile in memory "
              "on every run. Set NBFLOW_CACHE_DIR to a writable directory to cache them."
              % (s.reason, hint))
        return s
    s.enabled = True
    return s


def state():
    """This process's cache settings (resolved from the environment on first use)."""
    global _state
    s = _state
    if s is None:
        with _lock:
            if _state is None:
                _state = _resolve()
            s = _state
    return s


def enabled():
    """Whether kernels are cached on disk in this process."""
    return state().enabled


def disable(reason):
    """Turn caching off for the rest of the process (a write failed), warning once."""
    s = state()
    if s.enabled:
        s.enabled = False
        s.reason = reason
        _warn("nbflow's kernel cache is off for the rest of this process: %s. Generated kernels "
              "compile in memory from now on." % reason)


# -- Numba: nbflow's kernels cache under the cache directory -------------------------------

class KernelCacheLocator(_nb_caching._SourceFileBackedLocatorMixin, _nb_caching._CacheLocator):
    """Numba cache locator for the functions of nbflow.kernels and of generated
    kernels (nothing else): their compiled code goes under nbflow's cache
    directory, not next to the installed source nor to ``NUMBA_CACHE_DIR``."""

    _made = set()

    def __init__(self, py_func, py_file, cache_path):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = cache_path

    def get_cache_path(self):
        return self._cache_path

    def ensure_cache_path(self):
        # Numba calls this before saving compiled code (its own also writes a
        # probe file each time: the directory was probed once, in state()).
        os.makedirs(self._cache_path, exist_ok=True)

    @classmethod
    def cache_path_for(cls, py_file):
        """The directory for the compiled code of functions in ``py_file``, or
        None when nbflow does not claim the file (or caching is off)."""
        s = state()
        if not s.enabled:
            return None
        if s.is_generated_file(py_file):
            return os.path.join(s.generated_dir, "__pycache__")
        real = os.path.realpath(py_file)
        if real.startswith(_KERNELS_DIR + os.sep):
            return os.path.join(s.numba_dir, cls.get_suitable_cache_subpath(real))
        return None

    @classmethod
    def from_function(cls, py_func, py_file):
        path = cls.cache_path_for(py_file)
        if path is None:
            return None
        if path not in cls._made:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError:
                return None
            cls._made.add(path)
        return cls(py_func, py_file, path)


def _register_locator():
    impl = getattr(_nb_caching, "CacheImpl", None) or getattr(_nb_caching, "_CacheImpl")
    classes = impl._locator_classes
    # idempotent, also across a reload of this module
    classes[:] = [c for c in classes if c.__qualname__ != KernelCacheLocator.__qualname__
                  or c.__module__ != KernelCacheLocator.__module__]
    classes.insert(0, KernelCacheLocator)


_register_locator()
