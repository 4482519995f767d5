"""Write generated kernel source to the on-disk cache and import it.

A function created with ``exec`` cannot use Numba's ``cache=True`` (it has no
source file). So generated source is written to the cache directory's
``generated/`` folder (kernels/cache.py) under a name derived from a hash of
its text, registered in ``sys.modules`` under that name (without it a second
process cannot load Numba's cache), and imported. Numba then caches the
compiled code in ``generated/__pycache__``: a kernel compiles once per
machine, not once per process.

When the cache is off (an unwritable cache directory), the source is compiled
in memory instead, and its ``@njit(cache=True)`` compiles without caching
(nbflow.kernels.jit).
"""
import hashlib
import importlib.util
import linecache
import os
import sys
import tempfile
import threading
import time
import types

from nbflow.kernels import cache

_lock = threading.Lock()
_loaded = {}


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _load_from_file(source, modname, directory):
    path = os.path.join(directory, modname + ".py")
    if _read(path) != source:
        cache.before_write()
        os.makedirs(directory, exist_ok=True)  # `python -m nbflow.cache --clear` may have removed it
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(source)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise
    else:
        # Mark it used for the cache's least-recently-used eviction: the access
        # time only (the modification time is the source's stamp for bytecode).
        try:
            os.utime(path, (time.time(), os.stat(path).st_mtime))
        except OSError:
            pass
    spec = importlib.util.spec_from_file_location(modname, path)
    return spec, importlib.util.module_from_spec(spec)


def _load_in_memory(source, modname):
    filename = "<nbflow generated kernel %s (in memory: kernel cache off)>" % modname
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    mod = types.ModuleType(modname)
    mod.__file__ = filename
    return compile(source, filename, "exec"), mod


def load_generated(source, prefix="kernel"):
    """Import generated ``source`` (cached on disk by its hash) and return the module."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:20]
    modname = "%s%s_%s" % (cache.GENERATED_PREFIX, prefix, digest)
    mod = _loaded.get(modname)
    if mod is not None:
        return mod
    with _lock:
        mod = _loaded.get(modname)
        if mod is not None:
            return mod
        state = cache.state()
        spec = code = None
        if state.enabled:
            try:
                spec, mod = _load_from_file(source, modname, state.generated_dir)
            except OSError as e:
                cache.disable("cannot write a generated kernel to %s (%s: %s)"
                              % (state.generated_dir, type(e).__name__, e.strerror or e))
        if spec is None:
            code, mod = _load_in_memory(source, modname)
        sys.modules[modname] = mod
        try:
            if spec is not None:
                spec.loader.exec_module(mod)
            else:
                exec(code, mod.__dict__)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
        _loaded[modname] = mod
        return mod
