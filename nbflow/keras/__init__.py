"""``tf.keras``: ``optimizers`` (with ``schedules``), ``losses``, ``layers`` with
``activations``, ``initializers``, ``regularizers`` and ``backend``, ``metrics``,
``callbacks``, ``utils`` and ``datasets``. Each part is a subpackage or module of
its own, so the package grows by adding them."""
from nbflow.keras import losses, optimizers
from nbflow.keras import callbacks, compile_utils, metrics, utils  # kmetrics: training pieces without layers

# -- layers and their helpers (keras layers work) --
from nbflow.keras import activations, backend, initializers, layers, regularizers
from nbflow.keras import datasets  # tf.keras.datasets: mnist, fashion_mnist; no downloads

__all__ = ["losses", "optimizers", "activations", "backend", "initializers", "layers", "regularizers",
           "callbacks", "compile_utils", "metrics", "utils", "datasets"]

# -- models (keras models work): the functional API, Sequential, Model.fit --
from nbflow.keras import engine, models  # noqa: E402
from nbflow.keras.engine import Input, Model, Sequential  # noqa: E402
__all__ += ["engine", "models", "Input", "Model", "Sequential"]
