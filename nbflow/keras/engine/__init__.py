"""Keras models: ``KerasTensor``/``Input`` (keras_tensor.py), nodes and the Layer base's
symbolic hook (node.py), ``Model`` with compile/fit/evaluate/predict (training.py),
``Functional`` (functional.py), ``Sequential`` (sequential.py), the batches of fit
(data_adapter.py), ``summary`` (summary.py) and weight files (saving.py).

Importing this package installs ``Layer._call_symbolic`` and the node properties
(``output_shape``, ``input``, ``output``, ...) on the Layer base.
"""
from nbflow.keras.engine import node as _node

_node.install()

from nbflow.keras.engine.keras_tensor import Input, KerasTensor  # noqa: E402
from nbflow.keras.engine.training import Model  # noqa: E402
from nbflow.keras.engine.functional import Functional  # noqa: E402
from nbflow.keras.engine.sequential import Sequential  # noqa: E402

__all__ = ["Input", "KerasTensor", "Model", "Functional", "Sequential"]
