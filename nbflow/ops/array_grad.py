"""Gradients of the array ops live with their ops, in nbflow/ops/array_*_ops.py
(BroadcastTo's beside Sum, in broadcast_ops.py); importing array_ops
registers them. This module stays for ``from nbflow.ops import array_grad``.
"""
from nbflow.ops import array_ops  # noqa: F401  (registers the array ops' gradients)

__all__ = []
