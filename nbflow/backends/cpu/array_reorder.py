"""CPU kernel of InvertPermutation (nbflow/ops/array_reorder_ops.py); Transpose,
ReverseV2 and Tile are layout ops (array_layout.py)."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.ops import array_reorder_ops as T
from nbflow.ops.array_reorder_ops import _check_perm


@register_kernel(T.InvertPermutation)
def _invert_permutation(ctx):
    fail = ctx.run_error_factory()

    def run(x):
        n = x.shape[0]
        _check_perm(x, n, fail)
        out = np.empty(n, dtype=x.dtype)
        out[x] = np.arange(n, dtype=x.dtype)
        return out
    return run
