"""nbflow's kernel cache: where it is, what it holds, and clearing it.

    python -m nbflow.cache --info     location, size, entries, cap
    python -m nbflow.cache --clear    delete every cached kernel

Everything nbflow caches lives in one directory: ``$NBFLOW_CACHE_DIR``, else
``$XDG_CACHE_HOME/nbflow``, else ``~/.cache/nbflow`` -- generated kernels and
Numba's compiled code of nbflow's own kernels (user functions decorated with
Numba's ``cache=True`` keep Numba's locations). ``NBFLOW_CACHE_MAX_MB``
(default 512; 0 turns caching off) caps its size: least recently used entries
are deleted. An unwritable directory turns caching off for the process with
one ``CacheWarning``; kernels then compile in memory. The implementation is
nbflow/kernels/cache.py.
"""
import argparse
import sys

from nbflow.kernels.cache import DEFAULT_MAX_MB, CacheWarning, clear, info, location

__all__ = ["DEFAULT_MAX_MB", "CacheWarning", "clear", "info", "location", "format_info", "main"]


def _mb(n):
    if n < 1 << 20:
        return "%.0f kB" % (n / 1024.0) if n else "0 bytes"
    return "%.1f MB" % (n / float(1 << 20))


def format_info(d):
    source = {"NBFLOW_CACHE_DIR": "from NBFLOW_CACHE_DIR",
              "XDG_CACHE_HOME": "from XDG_CACHE_HOME; set NBFLOW_CACHE_DIR to move it",
              "default": "the default; set NBFLOW_CACHE_DIR to move it"}.get(d["source"], d["source"])
    cap = "off (NBFLOW_CACHE_MAX_MB=0)" if d["max_bytes"] == 0 else _mb(d["max_bytes"]) + " (NBFLOW_CACHE_MAX_MB)"
    lines = [
        "location:  %s  (%s)" % (d["location"], source),
        "writable:  %s" % ("yes" if d["writable"] else "no, kernels compile in memory: " + d["problem"]),
        "size:      %s" % _mb(d["size"]),
        "cap:       %s" % cap,
        "entries:   %d generated kernels (%s), %d compiled nbflow kernel functions (%s), %d other files (%s)"
        % (d["entries"]["generated"], _mb(d["bytes"]["generated"]), d["entries"]["kernel"],
           _mb(d["bytes"]["kernel"]), d["entries"]["other"], _mb(d["bytes"]["other"])),
    ]
    if d["legacy_files"]:
        lines.append("also:      %d Numba files of an older nbflow next to the installed kernels "
                     "(--clear deletes them)" % d["legacy_files"])
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m nbflow.cache", description=__doc__.split("\n\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--info", action="store_true", help="location, size, entry counts and size cap")
    group.add_argument("--clear", action="store_true", help="delete every cached kernel")
    args = ap.parse_args(argv)
    if args.info:
        print(format_info(info()))
    else:
        root, _ = location()
        files, size = clear()
        print("cleared %s: %d files, %s" % (root, files, _mb(size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
