"""``tf.logging`` (TF 1.15's ``tf.compat.v1.logging``) on Python's ``logging`` module.

Everything goes through the logger named ``"nbflow"`` -- the logger nbflow's
own modules (Saver, FileWriter, ...) already warn on -- so
``tf.logging.set_verbosity(tf.logging.ERROR)`` quiets nbflow as it quiets
TensorFlow (whose logger is ``"tensorflow"``). Configure it like any logger:
``logging.getLogger("nbflow")``.

As TF: the level is unset at first (Python's default makes that WARN), and on
first use the logger gets a stderr handler in Python's basic format
(``INFO:nbflow:message``) unless the root logger already has handlers (then
records just propagate there); in an interactive session the handler writes
to stdout and the level starts at INFO. Records carry the caller's file and
line, not this module's.

One difference: TF's ``flush()`` raises NotImplementedError; here it flushes
the logger's handlers.
"""
import logging as _logging
import sys as _sys
import threading as _threading
from logging import DEBUG, ERROR, FATAL, INFO, WARN  # noqa: F401  (tf.logging.DEBUG, ...)

__all__ = ["DEBUG", "ERROR", "FATAL", "INFO", "WARN", "TaskLevelStatusMessage", "debug", "error", "fatal",
           "flush", "get_verbosity", "info", "log", "log_every_n", "log_first_n", "log_if", "set_verbosity",
           "vlog", "warn", "warning"]

LOGGER_NAME = "nbflow"
_logger = None
_lock = _threading.Lock()
_counts = {}  # (file, line) of a log_every_n / log_first_n call -> calls so far


def _interactive():
    return hasattr(_sys, "ps1") or bool(_sys.flags.interactive)


def _get_logger():
    global _logger
    if _logger is not None:
        return _logger
    with _lock:
        if _logger is None:
            logger = _logging.getLogger(LOGGER_NAME)
            # Configured only where nothing else is: a configured root logger gets the records instead
            # (a handler here too would print each one twice).
            if not _logging.getLogger().handlers:
                target = _sys.stderr
                if _interactive():
                    logger.setLevel(INFO)
                    target = _sys.stdout
                handler = _logging.StreamHandler(target)
                handler.setFormatter(_logging.Formatter(_logging.BASIC_FORMAT, None))
                logger.addHandler(handler)
            _logger = logger
    return _logger


def _emit(level, msg, args, kwargs):
    # ``stacklevel`` skips this module's two frames (the public function and this one):
    # the record names the user's file and line. Every public function calls _emit directly.
    kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 2
    _get_logger().log(level, msg, *args, **kwargs)


def log(level, msg, *args, **kwargs):
    _emit(level, msg, args, kwargs)


def debug(msg, *args, **kwargs):
    _emit(DEBUG, msg, args, kwargs)


def info(msg, *args, **kwargs):
    _emit(INFO, msg, args, kwargs)


def warn(msg, *args, **kwargs):
    _emit(WARN, msg, args, kwargs)


def warning(msg, *args, **kwargs):
    _emit(WARN, msg, args, kwargs)


def error(msg, *args, **kwargs):
    _emit(ERROR, msg, args, kwargs)


def fatal(msg, *args, **kwargs):
    """Logs at FATAL (CRITICAL) level; as TF, it does not exit."""
    _emit(FATAL, msg, args, kwargs)


def vlog(level, msg, *args, **kwargs):
    _emit(level, msg, args, kwargs)


def TaskLevelStatusMessage(msg):  # noqa: N802 (TF's name)
    _emit(ERROR, msg, (), {})


def log_if(level, msg, condition, *args):
    """Log ``msg % args`` at ``level`` only if ``condition`` is true."""
    if condition:
        _emit(level, msg, args, {})


def _call_site():
    """(file, line) of the nearest caller outside this module."""
    f = _sys._getframe(1)
    while f is not None and f.f_code.co_filename == __file__:
        f = f.f_back
    return ("<unknown>", 0) if f is None else (f.f_code.co_filename, f.f_lineno)


def _next_count(site):
    with _lock:
        n = _counts.get(site, -1) + 1
        _counts[site] = n
    return n


def log_every_n(level, msg, n, *args):
    """Log ``msg % args`` on the 1st, (n+1)th, (2n+1)th ... call from one line."""
    if n < 1:
        raise ValueError("log_every_n needs n >= 1, got %r" % (n,))
    if _next_count(_call_site()) % n == 0:
        _emit(level, msg, args, {})


def log_first_n(level, msg, n, *args):
    """Log ``msg % args`` on the first ``n`` calls from one line."""
    if _next_count(_call_site()) < n:
        _emit(level, msg, args, {})


def get_verbosity():
    """The effective level of the nbflow logger (WARN until set)."""
    return _get_logger().getEffectiveLevel()


def set_verbosity(v):
    """Log only records at level ``v`` (DEBUG, INFO, WARN, ERROR, FATAL) or above."""
    _get_logger().setLevel(v)


def flush():
    """Flush the nbflow logger's handlers."""
    for h in _get_logger().handlers:
        h.flush()
