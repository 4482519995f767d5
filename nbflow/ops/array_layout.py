"""Layout ops: ops that only move elements, described as strided copies.

Transpose, Slice, StridedSlice(Grad), ReverseV2, Tile, Pad(V2), ConcatV2,
Pack, Unpack, Split and SplitV subclass :class:`_LayoutOp`. Their ``layout``
turns concrete input shapes and the values of the "layout inputs" (perm,
begin, multiples, paddings, axis, ...) into strided copies (:class:`_Copy`)
and fills. The copies are descriptions: a backend runs them (the CPU one with
one ``strided_copy`` kernel call each, nbflow/backends/cpu/array_layout.py);
graph-time folding of small constants runs them with numpy here.
"""
import numpy as np

from nbflow.ops.array_common import _known, _prod
from nbflow.ops.base import Op


def _row_strides(shape):
    strides = [1] * len(shape)
    acc = 1
    for k in range(len(shape) - 1, -1, -1):
        strides[k] = acc
        acc *= shape[k]
    return strides


class _Copy:
    """One strided copy between flat buffers, described once.

    For every index i of ``shape``: dst[dst_off + i . dst_strides] =
    src[src_off + i . src_strides] (strides in elements; default dst: the
    row-major layout of ``shape``). Size-1 dimensions are dropped and
    dimensions contiguous in both buffers merged, so a plain block copy is
    one inner loop."""

    __slots__ = ("shape", "src_off", "src_strides", "dst_off", "dst_strides", "empty")

    def __init__(self, shape, src_off, src_strides, dst_off=0, dst_strides=None):
        shape = [int(n) for n in shape]
        if dst_strides is None:
            dst_strides = _row_strides(shape)
        self.empty = any(n == 0 for n in shape)
        merged = []
        for n, s, d in zip(shape, src_strides, dst_strides):
            if n == 1:
                continue
            if merged and merged[-1][1] == s * n and merged[-1][2] == d * n:
                merged[-1] = (merged[-1][0] * n, s, d)
            else:
                merged.append((n, s, d))
        self.shape = np.array([m[0] for m in merged], dtype=np.int64)
        self.src_strides = np.array([m[1] for m in merged], dtype=np.int64)
        self.dst_strides = np.array([m[2] for m in merged], dtype=np.int64)
        self.src_off = int(src_off)
        self.dst_off = int(dst_off)

    def copy_numpy(self, src, dst):
        """Run the copy with numpy fancy indexing over the same index arithmetic
        (no kernel): for graph-time folding, and for element types no kernel
        copies (strings). ``src`` and ``dst`` are C-contiguous."""
        if self.empty:
            return
        s, d = src.reshape(-1), dst.reshape(-1)
        si = np.array(self.src_off, dtype=np.int64)
        di = np.array(self.dst_off, dtype=np.int64)
        for n, ss, ds in zip(self.shape, self.src_strides, self.dst_strides):
            r = np.arange(n, dtype=np.int64)
            si = si[..., None] + r * ss
            di = di[..., None] + r * ds
        d[di.reshape(-1)] = s[si.reshape(-1)]


def _zero_of(np_dtype):
    return b"" if np.dtype(np_dtype).kind == "O" else 0


def _fill_outputs(args, outs, fills):
    """Apply a layout's fills: a whole output set to an input's scalar value (or zero)."""
    for o, k in fills:
        outs[o][...] = args[k] if k is not None else _zero_of(outs[o].dtype)


class _LayoutOp(Op):
    """An op that only moves elements (see the module docstring).

    ``layout(attrs, shapes, values, fail)`` receives the concrete input shapes
    (tuples), the values of the layout inputs ({input index: array}) and
    ``fail(message) -> exception``; it returns (output shapes, moves, fills):
    a move ``(input, output, _Copy)`` copies elements of an input into an
    output; a fill ``(output, input or None)`` first sets a whole output to an
    input's scalar value (or zero)."""

    pooled_outputs = True
    outputs_alias_inputs = False
    #: inputs whose values (not only shapes) decide the layout
    layout_inputs = ()

    @classmethod
    def layout_indices(cls, n_inputs):
        return cls.layout_inputs

    @classmethod
    def layout(cls, attrs, shapes, values, fail):
        # abstract: every concrete layout op (Transpose, Slice, ...) defines it
        raise TypeError("%s is a layout op without a layout() method" % cls.__name__)

    @classmethod
    def static_layout(cls, ctx):
        """The layout when shapes and layout values are all known now, else None."""
        shapes = [s.as_tuple() for s in ctx.input_shapes]
        if not all(_known(s) for s in shapes):
            return None
        values = {i: ctx.value(i) for i in cls.layout_indices(len(shapes))}
        if any(v is None for v in values.values()):
            return None
        return cls.layout(ctx.attrs, shapes, values, ctx.error)

    @classmethod
    def fold_constant(cls, op, vals):
        """Graph-time value for small constant inputs (shape arithmetic)."""
        if any(np.asarray(v).dtype.kind == "O" or np.size(v) > 1000 for v in vals):
            return None
        try:
            out_shapes, moves, fills = cls.layout(op.attrs, [np.shape(v) for v in vals],
                                                  {i: vals[i] for i in cls.layout_indices(len(vals))}, ValueError)
        except ValueError:
            return None
        if sum(_prod(s) for s in out_shapes) > 1000:
            return None
        args = [np.ascontiguousarray(v) for v in vals]
        outs = [np.empty(s, dtype=t.dtype.as_numpy_dtype) for s, t in zip(out_shapes, op.outputs)]
        _fill_outputs(args, outs, fills)
        for i, o, copy in moves:
            copy.copy_numpy(args[i], outs[o])
        return outs[0] if len(outs) == 1 else None
