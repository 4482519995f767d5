"""A register-tiled matrix product for the convolutions, in Numba.

``gemm(a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate)``:

    C[m, n] (+)= A[m, kk] @ B[kk, n]
    A[r, t] = a[ia + r*sam + t*sak]      (any strides: A's elements are broadcast one by one)
    B[t, q] = b[ib + t*ldb + q]          (rows contiguous: B is read in vectors)
    C[r, q] = c[ic + r*ldc + q]

with ``a``, ``b``, ``c`` flat C-contiguous float arrays of one dtype
(``views.flat`` of the real operands). C is cut into tiles of 6 rows by 4, 2
or 1 vectors of 64 bytes (16 float32): a tile's 24 accumulators stay in
registers for the whole sum over ``kk`` (``_tile``, LLVM IR: per step, 4
vector loads of B, 6 broadcasts of A, 24 fused multiply-adds); rows past the
last whole tile go through 1-row tiles, and the columns that do not fill a
vector through masked vector loads and stores (AVX-512 masks).

Why not BLAS (``np.dot``, which the convolutions used): on this machine
(AVX-512 with full-width units) the environment pins OpenBLAS to its
Haswell (AVX2) kernels (``OPENBLAS_CORETYPE=Haswell``), which reach about
half of what 512-bit FMAs do; the convolution's operand shapes are fixed
and cache-sized here (im2col chunks), so no packing is needed; and the
product runs in Numba's threads (the convolutions split their chunks over
them) instead of BLAS's own pool, whose spinning threads fought Numba's
(kernels/cpu/threads.py). Results differ from BLAS's by rounding only (both
sum with fused multiply-adds, in a different order).
"""
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from nbflow.kernels.cpu.views import flat
from nbflow.kernels.jit import njit

#: bytes per vector (one AVX-512 register; LLVM splits it on narrower machines)
VECTOR_BYTES = 64
#: rows of C per tile
MR = 6


def _flat_float(t):
    return isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" and isinstance(t.dtype, types.Float)


def _make_tile(mr, nv, masked=False):
    """The intrinsic computing one mr x (nv vectors) tile of C (see the module); ``masked``
    (nv = 1): a tile ``width`` < one vector wide, through masked loads and stores."""

    @intrinsic
    def tile(typingctx, a, ia, sam, sak, b, ib, ldb, c, ic, ldc, kk, accumulate, width):
        ints = (ia, sam, sak, ib, ldb, ic, ldc, kk, width)
        if not (_flat_float(a) and _flat_float(b) and _flat_float(c) and a.dtype == b.dtype == c.dtype
                and all(isinstance(x, types.Integer) for x in ints) and isinstance(accumulate, types.Boolean)):
            return None
        lanes = VECTOR_BYTES // (a.dtype.bitwidth // 8)
        align = a.dtype.bitwidth // 8

        def codegen(context, builder, sig, args):
            av, iav, samv, sakv, bv, ibv, ldbv, cv, icv, ldcv, kkv, accv, widthv = args
            st = sig.args
            ia_, sam_, sak_, ib_, ldb_, ic_, ldc_, kk_ = [
                context.cast(builder, v, t, types.intp)
                for v, t in zip((iav, samv, sakv, ibv, ldbv, icv, ldcv, kkv),
                                (st[1], st[2], st[3], st[5], st[6], st[8], st[9], st[10]))]
            elt = context.get_data_type(st[0].dtype)
            vec = ir.VectorType(elt, lanes)
            pa = context.make_array(st[0])(context, builder, av).data
            pb = context.make_array(st[4])(context, builder, bv).data
            pc = context.make_array(st[7])(context, builder, cv).data
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                                 "llvm.fma.v%df%d" % (lanes, st[0].dtype.bitwidth))
            i32 = ir.IntType(32)
            mask = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
            undef = ir.Constant(vec, ir.Undefined)
            intp = context.get_value_type(types.intp)

            def const(x):
                return ir.Constant(intp, x)

            def vptr(base, index):
                return builder.bitcast(builder.gep(base, [index]), vec.as_pointer())

            if masked:
                bits = st[0].dtype.bitwidth
                i1v = ir.VectorType(ir.IntType(1), lanes)
                mload = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(vec, [vec.as_pointer(), i32, i1v, vec]),
                    "llvm.masked.load.v%df%d.p0" % (lanes, bits))
                mstore = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), i32, i1v]),
                    "llvm.masked.store.v%df%d.p0" % (lanes, bits))
                wv = context.cast(builder, widthv, st[12], types.intp)
                wsplat = builder.shuffle_vector(
                    builder.insert_element(ir.Constant(ir.VectorType(intp, lanes), ir.Undefined), wv,
                                           ir.Constant(i32, 0)),
                    ir.Constant(ir.VectorType(intp, lanes), ir.Undefined), mask)
                lane_mask = builder.icmp_signed("<", ir.Constant(ir.VectorType(intp, lanes), list(range(lanes))),
                                                wsplat)
                zero_vec = ir.Constant(vec, None)

                def load(ptr):
                    return builder.call(mload, [ptr, ir.Constant(i32, align), lane_mask, zero_vec])

                def store(value, ptr):
                    builder.call(mstore, [value, ptr, ir.Constant(i32, align), lane_mask])
            else:
                def load(ptr):
                    return builder.load(ptr, align=align)

                def store(value, ptr):
                    builder.store(value, ptr, align=align)

            accs = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(nv)]
                    for _ in range(mr)]
            with cgutils.for_range(builder, kk_) as loop:
                t = loop.index
                brow = builder.add(ib_, builder.mul(t, ldb_))
                bvecs = [load(vptr(pb, builder.add(brow, const(v * lanes)))) for v in range(nv)]
                acol = builder.add(ia_, builder.mul(t, sak_))
                for r in range(mr):
                    s = builder.load(builder.gep(pa, [builder.add(acol, builder.mul(const(r), sam_))]))
                    splat = builder.shuffle_vector(builder.insert_element(undef, s, ir.Constant(i32, 0)),
                                                   undef, mask)
                    for v in range(nv):
                        builder.store(builder.call(fma, [splat, bvecs[v], builder.load(accs[r][v])]), accs[r][v])
            for r in range(mr):
                crow = builder.add(ic_, builder.mul(const(r), ldc_))
                for v in range(nv):
                    p = vptr(pc, builder.add(crow, const(v * lanes)))
                    total = builder.load(accs[r][v])
                    with builder.if_then(accv):
                        builder.store(builder.fadd(load(p), total), accs[r][v])
                    store(builder.load(accs[r][v]), p)
            return cgutils.get_null_value(context.get_value_type(types.none))
        return types.none(a, ia, sam, sak, b, ib, ldb, c, ic, ldc, kk, accumulate, width), codegen
    return tile


_tile6x4, _tile6x2, _tile6x1 = _make_tile(MR, 4), _make_tile(MR, 2), _make_tile(MR, 1)
_tile1x4, _tile1x2, _tile1x1 = _make_tile(1, 4), _make_tile(1, 2), _make_tile(1, 1)
_tile6xm, _tile1xm = _make_tile(MR, 1, masked=True), _make_tile(1, 1, masked=True)


@intrinsic
def _lanes(typingctx, a):
    """VECTOR_BYTES // a.itemsize as a compile-time constant."""
    if not _flat_float(a):
        return None
    lanes = VECTOR_BYTES // (a.dtype.bitwidth // 8)

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, lanes)
    return types.intp(a), codegen


@njit(cache=True)
def gemm(a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate):
    """C[m, n] (+)= A[m, kk] @ B[kk, n] on flat arrays with offsets and strides (see the module)."""
    lanes = _lanes(a)
    q0 = 0
    while q0 < n:
        width = n - q0
        nv = 4 if width >= 4 * lanes else (2 if width >= 2 * lanes else (1 if width >= lanes else 0))
        r0 = 0
        while r0 + MR <= m:
            ao, co = ia + r0 * sam, ic + r0 * ldc + q0
            if nv == 4:
                _tile6x4(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, 0)
            elif nv == 2:
                _tile6x2(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, 0)
            elif nv == 1:
                _tile6x1(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, 0)
            else:  # the last columns, less than a vector: masked loads and stores
                _tile6xm(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, width)
            r0 += MR
        while r0 < m:
            ao, co = ia + r0 * sam, ic + r0 * ldc + q0
            if nv == 4:
                _tile1x4(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, 0)
            elif nv == 2:
                _tile1x2(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, 0)
            elif nv == 1:
                _tile1x1(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, 0)
            else:
                _tile1xm(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, accumulate, width)
            r0 += 1
        q0 += nv * lanes if nv > 0 else width


# -- MatMul: out = op(a) @ op(b) on C-contiguous matrices ---------------------------------

#: side of the blocks ``transpose_into`` copies: a block's rows and columns stay in cache lines
_TBLOCK = 16


@njit(cache=True)
def _transpose_rows(src, dst, r0, r1):
    """Rows r0..r1-1 of src into dst (flat src.T), in 16x16 blocks (a plain column-by-column
    copy writes a new cache line per element: 1.4 ms for 512x512)."""
    rows, cols = src.shape
    for i0 in range(r0, r1, _TBLOCK):
        i1 = min(i0 + _TBLOCK, r1)
        for j0 in range(0, cols, _TBLOCK):
            j1 = min(j0 + _TBLOCK, cols)
            for j in range(j0, j1):
                base = j * rows
                for i in range(i0, i1):
                    dst[base + i] = src[i, j]


@njit(cache=True)
def transpose_into(src, dst):
    """dst[:cols*rows] = src.T as a flat [cols, rows] matrix; returns that part of dst."""
    _transpose_rows(src, dst, 0, src.shape[0])
    return dst[:src.size]


@njit(cache=True)
def _operands(a, b, ta, tb, bt, copied):
    """(A's strides sam, sak; m, k, n; B as a flat row-major [k, n] matrix). A transposed
    is only a change of strides; B transposed is copied into ``bt`` (its rows are read in
    vectors), unless the caller did (``copied``)."""
    m, k = (a.shape[1], a.shape[0]) if ta else (a.shape[0], a.shape[1])
    n = b.shape[0] if tb else b.shape[1]
    sam, sak = (1, m) if ta else (k, 1)
    if tb:
        if not copied:
            _transpose_rows(b, bt, 0, b.shape[0])
        return sam, sak, m, k, n, bt[:b.size]
    return sam, sak, m, k, n, flat(b)


@njit(cache=True)
def matmul(a, b, out, ta, tb, bt):
    """out = op(a) @ op(b), op(x) = x.T where ``ta``/``tb``; ``bt`` is scratch for b.T
    (at least b.size elements when ``tb``)."""
    sam, sak, m, k, n, bf = _operands(a, b, ta, tb, bt, False)
    if m == 0 or n == 0:
        return
    gemm(flat(a), 0, sam, sak, m, bf, 0, n, n, flat(out), 0, n, k, False)


@njit(cache=True, parallel=True)
def matmul_parallel(a, b, out, ta, tb, bt, nt):
    """``matmul`` with out's rows (or, when it has fewer rows than columns, its columns, in
    whole vectors) split into ``nt`` blocks across Numba's threads."""
    if tb:  # B^T copied by row blocks of b, across the threads too
        nb = b.shape[0]
        for p in prange(nt):
            _transpose_rows(b, bt, nb * p // nt, nb * (p + 1) // nt)
    sam, sak, m, k, n, bf = _operands(a, b, ta, tb, bt, True)
    if m == 0 or n == 0:
        return
    af, of = flat(a), flat(out)
    if m >= n:
        tiles = (m + MR - 1) // MR
        for p in prange(nt):
            r0, r1 = min(tiles * p // nt * MR, m), min(tiles * (p + 1) // nt * MR, m)
            gemm(af, r0 * sam, sam, sak, r1 - r0, bf, 0, n, n, of, r0 * n, n, k, False)
    else:
        lanes = _lanes(af)
        vecs = (n + lanes - 1) // lanes
        for p in prange(nt):
            q0, q1 = min(vecs * p // nt * lanes, n), min(vecs * (p + 1) // nt * lanes, n)
            gemm(af, 0, sam, sak, m, bf, q0, n, q1 - q0, of, q0, n, k, False)
