"""CPU kernel of the layout ops (nbflow/ops/array_layout.py): Transpose, Slice,
StridedSlice(Grad), ReverseV2, Tile, Pad(V2), ConcatV2, Pack, Unpack, Split, SplitV.

Each strided copy of a layout is one call of ``kernels/cpu/array.strided_copy``
on the raw buffers. When the layout is known at plan time (constants are
folded by the planner), the copies and the output buffers are prepared once;
otherwise the layout is worked out every step and the outputs allocated then.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.kernels.cpu import array as K
from nbflow.ops.array_layout import _fill_outputs, _LayoutOp

#: unsigned ints by item size: copies and gathers move bits, whatever the element type
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _raw(a):
    """A C-contiguous array's buffer, flat, as unsigned ints of its item size
    (copies ignore the element type). Object (string) arrays stay objects."""
    flat = a.reshape(-1)
    if flat.dtype.kind == "O":
        return flat
    return flat.view(_UINT[flat.dtype.itemsize])


def _strided_copy(copy, src, dst):
    """Run one ``_Copy`` from ``src`` into ``dst``."""
    if copy.empty:
        return
    s, d = _raw(src), _raw(dst)
    if s.dtype.kind == "O":
        copy.copy_numpy(s, d)  # strings: no kernel moves Python objects
    else:
        K.strided_copy(s, copy.src_off, copy.src_strides, d, copy.dst_off, copy.dst_strides, copy.shape)


def _execute(args, outs, moves, fills):
    _fill_outputs(args, outs, fills)
    for i, o, copy in moves:
        _strided_copy(copy, args[i], outs[o])


def _bind_layout(outs, moves, fills):
    """``run(*args)`` for a layout fixed at plan time, writing into ``outs``."""
    if len(outs) == 1 and len(moves) == 1 and not fills:
        (i, _, copy), = moves
        out = outs[0]

        if i == 0:
            def run(x, *rest):
                _strided_copy(copy, x, out)
                return out
        else:
            def run(*args):
                _strided_copy(copy, args[i], out)
                return out
        return run
    result = outs[0] if len(outs) == 1 else tuple(outs)

    def run_all(*args):
        _execute(args, outs, moves, fills)
        return result
    return run_all


@register_kernel(_LayoutOp)
def _layout_op(ctx):
    cls = ctx.op_def
    static = cls.static_layout(ctx)
    out_np = [d.as_numpy_dtype for d in ctx.output_dtypes]
    if static is not None:
        out_shapes, moves, fills = static
        if ctx.fresh_outputs:  # eager: new arrays at every call
            shapes = [tuple(s) for s in out_shapes]

            def run_fresh(*args):
                outs = [np.empty(s, dtype=npd) for s, npd in zip(shapes, out_np)]
                _execute(args, outs, moves, fills)
                return outs[0] if len(outs) == 1 else tuple(outs)
            return run_fresh
        outs = []
        for i, (s, npd) in enumerate(zip(out_shapes, out_np)):
            buf = ctx.static_buffer(i)
            outs.append(buf if buf is not None and buf.shape == tuple(s) else np.empty(s, dtype=npd))
        return _bind_layout(outs, moves, fills)
    which = cls.layout_indices(len(ctx.input_shapes))
    fail = ctx.run_error_factory()
    attrs = ctx.attrs

    def run(*args):
        out_shapes, moves, fills = cls.layout(attrs, [a.shape for a in args], {i: args[i] for i in which}, fail)
        outs = [np.empty(s, dtype=npd) for s, npd in zip(out_shapes, out_np)]
        _execute(args, outs, moves, fills)
        return outs[0] if len(outs) == 1 else tuple(outs)
    return run
