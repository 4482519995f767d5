"""Write generated kernel source to the on-disk cache and import it.

A function created with ``exec`` cannot use Numba's ``cache=True`` (it has no
source file). So generated source is written to ``$NBFLOW_CACHE_DIR`` under a
name derived from a hash of its text, registered in ``sys.modules`` under that
name (without it a second process cannot load Numba's cache), and imported.
Numba then caches the compiled code beside the file: a kernel compiles once per
machine, not once per process.
"""
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading

_lock = threading.Lock()
_loaded = {}


def cache_dir():
    d = os.environ.get("NBFLOW_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "nbflow")
    d = os.path.join(d, "generated")
    os.makedirs(d, exist_ok=True)
    return d


def _read(path):
    with open(path) as f:
        return f.read()


def load_generated(source, prefix="kernel"):
    """Import generated ``source`` (cached on disk by its hash) and return the module."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:20]
    modname = "nbflow_gen_%s_%s" % (prefix, digest)
    mod = _loaded.get(modname)
    if mod is not None:
        return mod
    with _lock:
        mod = _loaded.get(modname)
        if mod is not None:
            return mod
        directory = cache_dir()
        path = os.path.join(directory, modname + ".py")
        if not os.path.exists(path) or _read(path) != source:
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(source)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        _loaded[modname] = mod
        return mod
