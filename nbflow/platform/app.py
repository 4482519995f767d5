"""``tf.app`` (TF 1.15): ``run`` and ``flags``.

``tf.app.run(main=None, argv=None)`` parses the command line into
``tf.app.flags.FLAGS`` (unknown flags are left for ``main``), calls
``main(argv)`` with what remains, and exits with its return value -- absl's
``app.run``, as in TF.
"""
import sys

from absl import app as _absl_app

from nbflow.platform import flags

__all__ = ["run", "flags"]


def _parse_flags_tolerate_undef(argv):
    """The arguments flags did not consume (the program name first)."""
    return flags.FLAGS(sys.argv if argv is None else argv, known_only=True)


def run(main=None, argv=None):
    """Runs the program with an optional ``main`` function (default: ``__main__.main``) and ``argv`` list."""
    main = main or sys.modules["__main__"].main
    _absl_app.run(main=main, argv=argv, flags_parser=_parse_flags_tolerate_undef)
