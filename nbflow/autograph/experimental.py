"""``tf.autograph.experimental``."""
from nbflow.autograph.api import do_not_convert  # noqa: F401

__all__ = ["do_not_convert"]
