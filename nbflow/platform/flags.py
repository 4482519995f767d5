"""``tf.flags`` / ``tf.app.flags`` (TF 1.15's tensorflow/python/platform/flags.py):
absl.flags, with two TF touches:

- the ``DEFINE_*`` functions also take the old keyword names ``flag_name``,
  ``default_value`` and ``docstring`` (for ``name``, ``default``, ``help``);
- ``FLAGS`` parses ``sys.argv`` (tolerating unknown flags) the first time a
  flag is read, so a program may read ``FLAGS.x`` without ``tf.app.run()``.
"""
import functools
import logging
import sys

from absl import flags as _absl_flags
from absl.flags import *  # noqa: F401,F403

_log = logging.getLogger("nbflow")

_RENAMED_ARGUMENTS = {"flag_name": "name", "default_value": "default", "docstring": "help"}


def _wrap_define_function(original_function):
    @functools.wraps(original_function)
    def wrapper(*args, **kwargs):
        has_old_names = False
        for old_name, new_name in _RENAMED_ARGUMENTS.items():
            if old_name in kwargs:
                has_old_names = True
                kwargs[new_name] = kwargs.pop(old_name)
        if has_old_names:
            _log.warning("Use of the keyword argument names (flag_name, default_value, docstring) is deprecated, "
                         "please use (name, default, help) instead.")
        return original_function(*args, **kwargs)
    return wrapper


for _name in dir(_absl_flags):
    if _name.startswith("DEFINE"):
        globals()[_name] = _wrap_define_function(getattr(_absl_flags, _name))


class _FlagValuesWrapper:
    """absl's FlagValues that parses sys.argv (known flags only) on the first read of a flag."""

    def __init__(self, flags_object):
        object.__setattr__(self, "_wrapped", flags_object)

    def __getattr__(self, name):
        wrapped = object.__getattribute__(self, "_wrapped")
        if hasattr(type(wrapped), name):  # a method or property of FlagValues, not a flag
            return getattr(wrapped, name)
        if not wrapped.is_parsed():
            wrapped(sys.argv, known_only=True)
        return getattr(wrapped, name)

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_wrapped"), name, value)

    def __delattr__(self, name):
        delattr(object.__getattribute__(self, "_wrapped"), name)

    def __dir__(self):
        return dir(object.__getattribute__(self, "_wrapped"))

    def __getitem__(self, name):
        return object.__getattribute__(self, "_wrapped")[name]

    def __setitem__(self, name, flag):
        object.__getattribute__(self, "_wrapped")[name] = flag

    def __contains__(self, name):
        return name in object.__getattribute__(self, "_wrapped")

    def __iter__(self):
        return iter(object.__getattribute__(self, "_wrapped"))

    def __len__(self):
        return len(object.__getattribute__(self, "_wrapped"))

    def __str__(self):
        return str(object.__getattribute__(self, "_wrapped"))

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_wrapped")(*args, **kwargs)


FLAGS = _FlagValuesWrapper(_absl_flags.FLAGS)
