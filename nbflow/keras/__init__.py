"""``tf.keras``: so far ``tf.keras.optimizers`` (with ``schedules``) and the
``tf.keras.losses`` functions. Layers, models and ``fit`` come later; each part
is a subpackage or module of its own, so the package grows by adding them."""
from nbflow.keras import losses, optimizers
from nbflow.keras import callbacks, compile_utils, metrics, utils  # kmetrics: training pieces without layers

__all__ = ["losses", "optimizers"] + ["callbacks", "compile_utils", "metrics", "utils"]  # kmetrics
