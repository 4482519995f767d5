"""``tf.keras``: so far ``tf.keras.optimizers`` (with ``schedules``) and the
``tf.keras.losses`` functions. Layers, models and ``fit`` come later; each part
is a subpackage or module of its own, so the package grows by adding them."""
from nbflow.keras import losses, optimizers

__all__ = ["losses", "optimizers"]

from nbflow.keras import datasets  # noqa: E402  (tf.keras.datasets: mnist, fashion_mnist; no downloads)
__all__ += ["datasets"]
