"""CPU kernels of the array ops (nbflow/ops/array_ops.py), one module per op
family: importing this module registers them all."""
from nbflow.backends.cpu import (  # noqa: F401  (each registers its kernels when imported)
    array_fill, array_gather, array_layout, array_pad, array_reorder, array_shape,
)
