"""nbflow's on-disk kernel cache: one directory for everything nbflow caches.

Location (resolved once per process): ``$NBFLOW_CACHE_DIR``, else
``$XDG_CACHE_HOME/nbflow``, else ``~/.cache/nbflow``. Inside it:

- ``generated/``: the source of generated kernels (``nbflow_gen_*.py``, see
  codegen.py) and, in ``generated/__pycache__``, Numba's compiled code for them;
- ``numba/<dir>_<hash>/``: Numba's compiled code for the hand-written
  ``@njit(cache=True)`` kernels of one installed copy of nbflow.kernels (a
  Numba cache locator, ``KernelCacheLocator``, claims exactly the functions
  defined in nbflow.kernels and in ``generated/``; every other Numba function
  keeps Numba's own rules, ``NUMBA_CACHE_DIR`` included). An entry is valid
  only while no ``.py`` file of nbflow.kernels has changed (``package_stamp``):
  kernels inline helpers from other files, which Numba's own per-file check
  would miss.

If the directory cannot be written (a read-only home or ``NBFLOW_CACHE_DIR``:
containers, HPC nodes, CI images), caching is off for the process: one
``CacheWarning`` says so and why, and kernels compile in memory
(``nbflow.kernels.jit.njit`` drops ``cache=True``, generated source is
compiled without a file). ``NBFLOW_CACHE_MAX_MB=0`` turns caching off without
a warning.

Size cap: ``NBFLOW_CACHE_MAX_MB`` (default 512). At its first write to the
cache a process checks the total once; when it is over the cap, it deletes the
least recently used entries (a generated kernel with its compiled code, or
one hand-written kernel function's compiled code) until the total is at most
3/4 of the cap. Entries used since the process started are kept.

Nothing here imports from the rest of nbflow (``nbflow.cache`` is the
command line: ``python -m nbflow.cache --info`` / ``--clear``).
"""
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
import warnings

from numba.core import caching as _nb_caching

DEFAULT_MAX_MB = 512
GENERATED_PREFIX = "nbflow_gen_"
EVICT_TO = 0.75  # after an eviction the cache holds at most this fraction of the cap

_KERNELS_DIR = os.path.dirname(os.path.realpath(__file__))
_PROCESS_START = time.time()


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


def max_bytes_setting():
    """``(bytes, problem)``: the cap ``NBFLOW_CACHE_MAX_MB`` sets (0: caching
    off), and a message when the setting is not a number >= 0."""
    raw = os.environ.get("NBFLOW_CACHE_MAX_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_MB << 20, None
    try:
        mb = float(raw)
        if not mb >= 0:
            raise ValueError
    except ValueError:
        return DEFAULT_MAX_MB << 20, ("NBFLOW_CACHE_MAX_MB=%r is not a number of megabytes >= 0; using %d"
                                      % (raw, DEFAULT_MAX_MB))
    return int(mb * (1 << 20)), None


class _State:
    def __init__(self, root, source, max_bytes):
        self.root = root
        self.source = source
        self.max_bytes = max_bytes
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
_evicted = False


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
    max_bytes, problem = max_bytes_setting()
    if problem:
        warnings.warn_explicit(problem, CacheWarning, "nbflow", 0, module="nbflow.kernels.cache")
    s = _State(root, source, max_bytes)
    if max_bytes == 0:
        s.reason = "NBFLOW_CACHE_MAX_MB=0"
        return s
    try:
        for d in (s.generated_dir, s.numba_dir):
            os.makedirs(d, exist_ok=True)
            tempfile.TemporaryFile(dir=d).close()
    except OSError as e:
        s.reason = "cannot write %s (%s: %s)" % (root, type(e).__name__, e.strerror or e)
        hint = "" if source == "NBFLOW_CACHE_DIR" else " (the %s location)" % source
        _warn("nbflow's kernel cache is off for this process: it %s%s. Kernels compile in memory "
              "on every run. Set NBFLOW_CACHE_DIR to a writable directory to cache them, or "
              "NBFLOW_CACHE_MAX_MB=0 to run without the cache and without this warning."
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


def before_write():
    """Called before each write to the cache: the first call of the process
    enforces the size cap (cheap afterwards: one flag test)."""
    global _evicted
    if _evicted:
        return
    with _lock:
        if _evicted:
            return
        _evicted = True
    s = state()
    if s.enabled:
        try:
            evict(s.root, s.max_bytes, keep_used_since=_PROCESS_START)
        except OSError:
            pass  # best effort: another process may be evicting too


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

    def get_source_stamp(self):
        # Numba checks only the function's own file; a kernel inlines helpers from other
        # files (microgemm's products, fastmath's exp32), so an edit of any kernel source
        # must invalidate every cached kernel: the stamp includes the whole package's.
        return super().get_source_stamp(), package_stamp()

    def ensure_cache_path(self):
        # Numba calls this before saving compiled code (its own also writes a
        # probe file each time: the directory was probed once, in state()).
        os.makedirs(self._cache_path, exist_ok=True)
        before_write()

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


_package_stamps = {}


def package_stamp(directory=_KERNELS_DIR):
    """A digest of the names, sizes and modification times of the ``.py`` files under
    ``directory`` (nbflow.kernels), computed once per process."""
    got = _package_stamps.get(directory)
    if got is None:
        parts = []
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    st = os.stat(path)
                    parts.append("%s:%d:%d" % (os.path.relpath(path, directory), st.st_mtime_ns, st.st_size))
        got = _package_stamps[directory] = hashlib.sha1("\n".join(parts).encode()).hexdigest()
    return got


def _register_locator():
    impl = getattr(_nb_caching, "CacheImpl", None) or getattr(_nb_caching, "_CacheImpl")
    classes = impl._locator_classes
    # idempotent, also across a reload of this module
    classes[:] = [c for c in classes if c.__qualname__ != KernelCacheLocator.__qualname__
                  or c.__module__ != KernelCacheLocator.__module__]
    classes.insert(0, KernelCacheLocator)


_register_locator()


# -- entries, eviction, info, clear ---------------------------------------------------------

_NUMBA_FILE = re.compile(r"^(?P<base>.+?)(?:\.nbi|\.\d+\.nbc)$")


class Entry:
    """One unit of eviction: ``kind`` is "generated" (a generated kernel: its
    source, bytecode and compiled code), "kernel" (one hand-written kernel
    function's compiled code: index and data files) or "other" (a stray file,
    e.g. a temporary file left by a killed process)."""

    def __init__(self, kind, key):
        self.kind = kind
        self.key = key
        self.files = []
        self.size = 0
        self.last_used = 0.0

    def add(self, path, st):
        self.files.append(path)
        self.size += st.st_size
        self.last_used = max(self.last_used, st.st_mtime, st.st_atime)

    def __repr__(self):
        return "Entry(%s, %s, %d files, %d bytes)" % (self.kind, self.key, len(self.files), self.size)


def _files(directory):
    try:
        with os.scandir(directory) as it:
            for e in it:
                yield e
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return


def entries(root):
    """The cache entries under ``root`` (only ``generated/`` and ``numba/`` are nbflow's)."""
    found = {}

    def add(kind, key, e):
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            return
        entry = found.get((kind, key))
        if entry is None:
            entry = found[(kind, key)] = Entry(kind, key)
        entry.add(e.path, st)

    generated = os.path.join(root, "generated")
    for d in (generated, os.path.join(generated, "__pycache__")):
        for e in _files(d):
            if not e.is_file(follow_symlinks=False):
                continue
            stem = e.name.split(".", 1)[0]
            if stem.startswith(GENERATED_PREFIX):
                add("generated", stem, e)
            else:
                add("other", e.path, e)
    for sub in _files(os.path.join(root, "numba")):
        if not sub.is_dir(follow_symlinks=False):
            if sub.is_file(follow_symlinks=False):
                add("other", sub.path, sub)
            continue
        for e in _files(sub.path):
            if not e.is_file(follow_symlinks=False):
                continue
            m = _NUMBA_FILE.match(e.name)
            if m:
                add("kernel", sub.name + "/" + m.group("base"), e)
            else:
                add("other", e.path, e)
    return list(found.values())


def _remove(entry):
    # index files first (a reader then finds no entry rather than a dangling one), source last
    order = sorted(entry.files, key=lambda p: (0 if p.endswith(".nbi") else 2 if p.endswith(".py") else 1))
    removed = 0
    for path in order:
        try:
            os.remove(path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def evict(root, max_bytes, keep_used_since=None):
    """When the entries under ``root`` total more than ``max_bytes``, delete the
    least recently used ones until they total at most ``EVICT_TO * max_bytes``;
    entries used at or after ``keep_used_since`` are kept. Returns the entries deleted."""
    found = entries(root)
    total = sum(e.size for e in found)
    if total <= max_bytes:
        return []
    target = EVICT_TO * max_bytes
    deleted = []
    for e in sorted(found, key=lambda e: e.last_used):
        if total <= target:
            break
        if keep_used_since is not None and e.last_used >= keep_used_since:
            continue
        _remove(e)
        total -= e.size
        deleted.append(e)
    return deleted


def _legacy_files():
    """Numba cache files of nbflow's kernels next to the installed source,
    written by nbflow versions that cached there."""
    out = []
    for dirpath, dirnames, filenames in os.walk(_KERNELS_DIR):
        if os.path.basename(dirpath) == "__pycache__":
            out += [os.path.join(dirpath, f) for f in filenames if _NUMBA_FILE.match(f)]
    return out


def info(root=None):
    """A dict describing the cache at ``root`` (default: the location the
    environment names now)."""
    source = "argument"
    if root is None:
        root, source = location()
    max_bytes, _ = max_bytes_setting()
    found = entries(root)
    out = {
        "location": root,
        "source": source,
        "max_bytes": max_bytes,
        "size": sum(e.size for e in found),
        "entries": {},
        "bytes": {},
        "legacy_files": len(_legacy_files()),
    }
    for kind in ("generated", "kernel", "other"):
        mine = [e for e in found if e.kind == kind]
        out["entries"][kind] = len(mine)
        out["bytes"][kind] = sum(e.size for e in mine)
    # Writable? Probe the directory, or the nearest existing one above it
    # (without creating anything: --info only looks).
    probe = root
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        tempfile.TemporaryFile(dir=probe).close()
        out["writable"], out["problem"] = True, None
    except OSError as e:
        out["writable"], out["problem"] = False, "%s: %s" % (type(e).__name__, e.strerror or e)
    return out


def clear(root=None):
    """Delete nbflow's cache at ``root`` (default: the location the environment
    names now) and Numba files of nbflow's kernels left next to the installed
    source by older versions. Returns ``(files, bytes)`` deleted."""
    if root is None:
        root, _ = location()
    files = size = 0
    for e in entries(root):
        files += _remove(e)
        size += e.size
    for path in _legacy_files():
        try:
            size += os.path.getsize(path)
            os.remove(path)
            files += 1
        except OSError:
            pass
    for d in (os.path.join(root, "generated"), os.path.join(root, "numba")):
        shutil.rmtree(d, ignore_errors=True)  # empty directories (and anything unlisted) left
    return files, size
