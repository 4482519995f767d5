"""The CUDA strided copy behind every layout op (Transpose, Slice, StridedSlice(Grad),
ReverseV2, Tile, Pad, ConcatV2, Pack, Unpack, Split, SplitV).

The CPU's ``strided_copy`` (kernels/cpu/array.py) as a grid-stride kernel:
thread ``i`` takes the ``i``-th index of ``shape`` (row-major), and
``dst[dst_off + i . dst_strides] = src[src_off + i . src_strides]``. The
copy's description (nbflow/ops/array_layout.py ``_Copy``: merged dims,
element strides) arrives as small int64 device arrays bound once per plan.
One kernel, compiled per element type on first use (no dtype constants).
"""
from numba import cuda


@cuda.jit
def strided_copy(src, src_off, src_strides, dst, dst_off, dst_strides, shape, n):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    nd = shape.shape[0]
    while i < n:
        r = i
        s = src_off
        d = dst_off
        for k in range(nd - 1, -1, -1):
            c = r % shape[k]
            r = r // shape[k]
            s += c * src_strides[k]
            d += c * dst_strides[k]
        dst[d] = src[s]
        i += step
