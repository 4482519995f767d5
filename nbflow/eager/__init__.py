"""TF 2's ``tf.function`` and ``tf.TensorSpec`` (the eager executor itself is
nbflow/runtime/eager.py): trace a Python function into a FuncGraph, compile it
once per input signature, run the compiled plan on eager tensors and variables."""
from nbflow.eager.function import ConcreteFunction, Function, function  # noqa: F401
from nbflow.eager.tensor_spec import TensorSpec  # noqa: F401
