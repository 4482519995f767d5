"""GPU kernel of the layout ops (nbflow/ops/array_layout.py): Transpose, Slice,
StridedSlice(Grad), ReverseV2, Tile, Pad(V2), ConcatV2, Pack, Unpack, Split, SplitV.

The ops describe themselves as strided copies and fills (``layout()``); the
GPU runs each copy with one launch of the CUDA strided copy
(nbflow/kernels/cuda/layout.py) and each fill with the generated element-wise
kernel. With the layout known at plan time (the usual case: constants fold),
copies, their index arrays and the outputs are bound once; otherwise the
layout inputs (perm, begin, paddings, ...: small) are copied to the host at
each run, as TF keeps them in host memory.
"""
import numpy as np

from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.kernels.cuda import elementwise as ew
from nbflow.kernels.cuda import layout as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops.array_layout import _LayoutOp


def _numeric(op):
    try:
        return all(np.dtype(t.dtype.as_numpy_dtype).kind in "biuf" for t in op.outputs)
    except (AttributeError, TypeError):
        return False


def _bind_copy(device, copy):
    """``run(src, dst)`` for one ``_Copy``."""
    if copy.empty:
        return lambda src, dst: None
    args = [device.from_host(a) for a in (copy.src_strides, copy.dst_strides, copy.shape)]
    n = int(np.prod(copy.shape, dtype=np.int64))
    blocks, threads = grid_1d(n)
    so, do = copy.src_off, copy.dst_off

    def run(src, dst):
        K.strided_copy[blocks, threads](flat(src), so, args[0], flat(dst), do, args[1], args[2], n)
    return run


def _bind_fill(shape, dtype, from_input):
    """``run(value, dst)``: the whole output set to an input's scalar (or zero)."""
    shape = tuple(int(d) for d in shape)
    if from_input:
        kernel, patterns = ew.get_kernel([], ["x0"], [dtype], [()], [dtype], shape)
        launch = ew.launcher(kernel, [()], patterns, shape)
        return lambda value, dst: launch((value,), (dst,))
    kernel, patterns = ew.get_kernel([], ["0"], [], [], [dtype], shape)
    launch = ew.launcher(kernel, [], patterns, shape)
    return lambda value, dst: launch((), (dst,))


def _bind(device, layout, out_np):
    """``execute(args, outs)`` running a layout's fills, then its copies."""
    out_shapes, moves, fills = layout
    steps = [(k, o, _bind_fill(out_shapes[o], out_np[o], k is not None)) for o, k in fills]
    copies = [(i, o, _bind_copy(device, c)) for i, o, c in moves]

    def execute(args, outs):
        for k, o, fill in steps:
            fill(args[k] if k is not None else None, outs[o])
        for i, o, copy in copies:
            copy(args[i], outs[o])
    return execute


@register_kernel(_LayoutOp, device="GPU", accepts=_numeric)
def layout_kernel(ctx):
    cls, device = ctx.op_def, ctx.device
    out_np = [d.as_numpy_dtype for d in ctx.output_dtypes]
    static = cls.static_layout(ctx)
    if static is not None:
        shapes = [tuple(int(d) for d in s) for s in static[0]]
        execute = _bind(device, static, out_np)
        fixed = None if ctx.fresh_outputs else [device.empty(s, d) for s, d in zip(shapes, out_np)]

        def run(*args):
            outs = fixed or [device.empty(s, d) for s, d in zip(shapes, out_np)]
            execute(args, outs)
            return outs[0] if len(outs) == 1 else tuple(outs)
        return run
    which = cls.layout_indices(len(ctx.input_shapes))
    fail = ctx.run_error_factory()
    attrs = ctx.attrs

    def run_dynamic(*args):
        values = {i: args[i].copy_to_host() if is_device_array(args[i]) else np.asarray(args[i]) for i in which}
        layout = cls.layout(attrs, [tuple(a.shape) for a in args], values, fail)
        outs = [device.empty(tuple(int(d) for d in s), d) for s, d in zip(layout[0], out_np)]
        _bind(device, layout, out_np)(args, outs)
        return outs[0] if len(outs) == 1 else tuple(outs)
    return run_dynamic
