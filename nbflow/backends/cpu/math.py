"""CPU kernels of the math ops that are not element-wise (element-wise ones,
AddN included, share the generated kernels of nbflow/backends/cpu/elementwise.py):
ReducedShape, the helper op of the reduction gradients (nbflow/ops/broadcast_ops.py).
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.ops import broadcast_ops
from nbflow.ops.broadcast_ops import normalize_axes


@register_kernel(broadcast_ops._KeptShape)
def _kept_shape(ctx):
    def run(shape, axes):
        out = np.array(shape, copy=True)
        out[normalize_axes(axes, len(shape))] = 1
        return out
    return run
