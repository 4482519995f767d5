"""Array ops: shapes, reshapes, fills, broadcasting, slicing, gathering.

This module gathers the public names (``tf.reshape``, ``tf.concat``, ...) of
the array op families, each in its own module with its ops' gradients:

* array_shape_ops   -- identity, shape queries, reshape, expand_dims, squeeze, check_numerics
* array_fill_ops    -- fill, zeros/ones(_like)
* array_range_ops   -- range, linspace
* broadcast_ops     -- broadcast_to and the broadcast of shapes (with Sum: each is the other's gradient)
* array_stack_ops   -- stack, unstack (and auto-packing of lists holding tensors)
* array_concat_ops  -- concat, split, gather, unsorted_segment_sum (their gradients are built from one another)
* array_reorder_ops -- transpose, invert_permutation, reverse, tile
* array_pad_ops     -- pad (constant, reflect, symmetric) and slice (each other's gradients)
* array_gather_ops  -- gather_nd, scatter_nd, boolean_mask, one_hot
  (where_indices: its op, Where, is defined in math_select_ops.py beside tf.where)
* array_slice_ops   -- strided_slice, ``tensor[...]``

Ops that only move elements are layout ops (array_layout.py): strided copies
described here and run by the backend (nbflow/backends/cpu/array_*.py binds
the kernels of every array op). Shared argument helpers: array_common.py.
tf.eye is in linalg_ops.py, as TF's.
"""
from nbflow.ops.array_concat_ops import (  # noqa: F401
    ConcatV2, GatherV2, Split, SplitV, UnsortedSegmentSum, concat, gather, split, unsorted_segment_sum,
)
from nbflow.ops.array_fill_ops import Fill, OnesLike, ZerosLike, fill, ones, ones_like, zeros, zeros_like  # noqa: F401
from nbflow.ops.array_gather_ops import (  # noqa: F401
    GatherNd, OneHot, ScatterNd, boolean_mask, gather_nd, one_hot, scatter_nd,
)
from nbflow.ops.array_pad_ops import MirrorPad, MirrorPadGrad, Pad, PadV2, Slice, pad, slice_  # noqa: F401
from nbflow.ops.array_range_ops import LinSpace, Range, lin_space, linspace, range_  # noqa: F401
from nbflow.ops.array_reorder_ops import (  # noqa: F401
    InvertPermutation, ReverseV2, Tile, Transpose, invert_permutation, reverse, reverse_v2, tile, transpose,
)
from nbflow.ops.array_shape_ops import (  # noqa: F401
    CheckNumerics, ExpandDims, Identity, Rank, Reshape, Shape, ShapeN, Size, Squeeze, StopGradient, check_numerics,
    expand_dims, identity, rank, reshape, shape, shape_n, size, squeeze, stop_gradient,
)
from nbflow.ops.array_slice_ops import StridedSlice, StridedSliceGrad, _slice_helper, strided_slice  # noqa: F401
from nbflow.ops.array_stack_ops import Pack, Unpack, _autopack, stack, unstack  # noqa: F401
from nbflow.ops.base import Op  # noqa: F401  (array_ops.Op was importable before the split)
from nbflow.ops.broadcast_ops import (  # noqa: F401
    BroadcastArgs, BroadcastGradientArgs, BroadcastTo, broadcast_dynamic_shape, broadcast_gradient_axes,
    broadcast_static_shape, broadcast_to,
)
from nbflow.ops.linalg_ops import eye  # noqa: F401  (tf.eye: in linalg_ops, as TF's)
from nbflow.ops.math_select_ops import Where, where_indices  # noqa: F401

__all__ = [
    "identity", "stop_gradient", "shape", "shape_n", "size", "rank", "reshape", "zeros_like", "ones_like", "fill",
    "zeros", "ones", "broadcast_to", "range", "transpose", "invert_permutation", "expand_dims", "squeeze",
    "concat", "stack", "unstack", "split", "slice", "strided_slice", "gather", "gather_nd", "scatter_nd",
    "unsorted_segment_sum", "boolean_mask", "reverse", "reverse_v2", "one_hot", "tile", "pad", "eye",
    "linspace", "lin_space", "where_indices", "check_numerics", "broadcast_dynamic_shape",
    "broadcast_static_shape", "newaxis",
]

newaxis = None

# tf.range and tf.slice are served by __getattr__ (PEP 562) rather than bound
# here, so no code in nbflow/ops ever sees them in place of the builtins;
# ``from nbflow.ops.array_ops import *`` and ``array_ops.range`` reach them
# all the same.
_BUILTIN_NAMED = {"range": range_, "slice": slice_}


def __getattr__(name):
    try:
        return _BUILTIN_NAMED[name]
    except KeyError:
        raise AttributeError("module %r has no attribute %r" % (__name__, name)) from None


def __dir__():
    return sorted(list(globals()) + list(_BUILTIN_NAMED))
