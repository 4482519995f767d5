"""Graph model: Graph, Operation, Tensor, TensorShape, dtypes, scopes, collections.

No numerics live here: this layer knows no kernel and never imports numba.
"""
