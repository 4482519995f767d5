"""A register-tiled matrix product for the convolutions, MatMul and the LSTM, in Numba.

``gemm(fn, a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate)``, with ``fn``
the dtype's ``gemm_address`` (one compiled C function per dtype, called through its
address: see ``gemm_address``):

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
import threading
from contextlib import contextmanager

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from nbflow.kernels.cpu.views import flat
from nbflow.kernels.jit import cfunc, njit

#: bytes per vector (one AVX-512 register; LLVM splits it on narrower machines)
VECTOR_BYTES = 64
#: rows of C per tile
MR = 6


def _flat_float(t):
    return isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" and isinstance(t.dtype, types.Float)


def _float_data(t):
    """A flat C-contiguous float array, or a raw pointer to floats (inside the compiled gemm)."""
    return _flat_float(t) or (isinstance(t, types.CPointer) and isinstance(t.dtype, types.Float))


def _data_pointer(context, builder, t, value):
    return value if isinstance(t, types.CPointer) else context.make_array(t)(context, builder, value).data


@contextmanager
def _counted_loop(builder, count):
    """``for t in range(count)`` in IR, marked ``llvm.loop.unroll.disable``: the body is
    already a tile's worth of unrolled work, and LLVM's 4x unrolling of it quadrupled
    the code every caller of ``gemm`` links and compiles (cold-start time)."""
    intp = count.type
    cond = builder.append_basic_block("tile.cond")
    body = builder.append_basic_block("tile.body")
    end = builder.append_basic_block("tile.end")
    start = builder.basic_block
    builder.branch(cond)
    with builder.goto_block(cond):
        index = builder.phi(intp)
        builder.cbranch(builder.icmp_signed("<", index, count), body, end)
    with builder.goto_block(body):
        yield index
        nxt = builder.add(index, ir.Constant(intp, 1))
        back = builder.branch(cond)
        body_end = builder.basic_block
    index.add_incoming(ir.Constant(intp, 0), start)
    index.add_incoming(nxt, body_end)
    module = builder.module
    loop_id = module.add_metadata([ir.MetaDataString(module, "nbflow.tile.loop")])
    loop_id.operands = (loop_id, module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]))
    back.set_metadata("llvm.loop", loop_id)
    builder.position_at_end(end)


def _make_tile(mr, nv, masked=False):
    """The intrinsic computing one mr x (nv vectors) tile of C (see the module); ``masked``
    (nv = 1): a tile ``width`` < one vector wide, through masked loads and stores."""

    @intrinsic
    def tile(typingctx, a, ia, sam, sak, b, ib, ldb, c, ic, ldc, kk, accumulate, width):
        ints = (ia, sam, sak, ib, ldb, ic, ldc, kk, width)
        if not (_float_data(a) and _float_data(b) and _float_data(c) and a.dtype == b.dtype == c.dtype
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
            pa = _data_pointer(context, builder, st[0], av)
            pb = _data_pointer(context, builder, st[4], bv)
            pc = _data_pointer(context, builder, st[7], cv)
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
            with _counted_loop(builder, kk_) as t:
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
                    store(builder.select(accv, builder.fadd(load(p), total), total), p)
            return cgutils.get_null_value(context.get_value_type(types.none))
        return types.none(a, ia, sam, sak, b, ib, ldb, c, ic, ldc, kk, accumulate, width), codegen
    return tile


_tile6x4, _tile6x2, _tile6x1 = _make_tile(MR, 4), _make_tile(MR, 2), _make_tile(MR, 1)
_tile1x4, _tile1x2, _tile1x1 = _make_tile(1, 4), _make_tile(1, 2), _make_tile(1, 1)
_tile6xm, _tile1xm = _make_tile(MR, 1, masked=True), _make_tile(1, 1, masked=True)


@intrinsic
def _lanes(typingctx, a):
    """VECTOR_BYTES // a.itemsize as a compile-time constant."""
    if not _float_data(a):
        return None
    lanes = VECTOR_BYTES // (a.dtype.bitwidth // 8)

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, lanes)
    return types.intp(a), codegen


def _gemm_body(a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate):
    """C[m, n] (+)= A[m, kk] @ B[kk, n] (see the module); ``a``, ``b``, ``c`` are raw pointers.
    Compiled once per dtype as a C function (``gemm_address``), never inlined into callers."""
    lanes = _lanes(a)
    acc = accumulate != 0
    q0 = 0
    while q0 < n:
        width = n - q0
        nv = 4 if width >= 4 * lanes else (2 if width >= 2 * lanes else (1 if width >= lanes else 0))
        r0 = 0
        while r0 + MR <= m:
            ao, co = ia + r0 * sam, ic + r0 * ldc + q0
            if nv == 4:
                _tile6x4(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, 0)
            elif nv == 2:
                _tile6x2(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, 0)
            elif nv == 1:
                _tile6x1(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, 0)
            else:  # the last columns, less than a vector: masked loads and stores
                _tile6xm(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, width)
            r0 += MR
        while r0 < m:
            ao, co = ia + r0 * sam, ic + r0 * ldc + q0
            if nv == 4:
                _tile1x4(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, 0)
            elif nv == 2:
                _tile1x2(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, 0)
            elif nv == 1:
                _tile1x1(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, 0)
            else:
                _tile1xm(a, ao, sam, sak, b, ib + q0, ldb, c, co, ldc, kk, acc, width)
            r0 += 1
        q0 += nv * lanes if nv > 0 else width


def _gemm_signature(dtype):
    p, i = types.CPointer(dtype), types.intp
    return types.void(p, i, i, i, i, p, i, i, i, p, i, i, i, i)


_compiled = {}
_compile_lock = threading.Lock()


def gemm_address(dtype):
    """The address of the compiled gemm for ``dtype`` (float32 or float64): the first
    argument of ``gemm`` and of every kernel that calls it. Compiled (or loaded from the
    kernel cache) on first use.

    Why a C function called through its address: a Numba function calling another links
    the callee's code into its own and optimizes and compiles all of it again, so every
    kernel calling gemm (conv2d and its gradients, MatMul, the LSTM's passes, and each
    parallel loop body among them) paid gemm's compile time once more -- most of a cold
    start's compile time. Called through a pointer, gemm compiles once per dtype. (A
    symbol bound by name instead would crash a process that loads a cached caller before
    binding it; an argument cannot be forgotten.)"""
    key = np.dtype(dtype)
    got = _compiled.get(key)
    if got is None:
        if key not in (np.float32, np.float64):
            raise TypeError("microgemm: no gemm for dtype %s (float32 and float64 only)" % key)
        with _compile_lock:
            got = _compiled.get(key)
            if got is None:
                compiled = cfunc(_gemm_signature(numba.from_dtype(key)), cache=True)(_gemm_body)
                got = _compiled[key] = compiled.address
    return got


def gemm_address_for(*arrays):
    """``gemm_address`` of the arrays' common dtype; a TypeError when they differ."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1:
        raise TypeError("microgemm: operands of different dtypes %s" % sorted(str(d) for d in dtypes))
    return gemm_address(dtypes.pop())


@intrinsic
def gemm(typingctx, fn, a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate):
    """C[m, n] (+)= A[m, kk] @ B[kk, n] on flat arrays with offsets and strides (see the
    module), through ``fn``, the ``gemm_address`` of their dtype."""
    ints = (ia, sam, sak, m, ib, ldb, n, ic, ldc, kk)
    if not (isinstance(fn, types.Integer) and _flat_float(a) and _flat_float(b) and _flat_float(c)
            and a.dtype == b.dtype == c.dtype and all(isinstance(x, types.Integer) for x in ints)
            and isinstance(accumulate, types.Boolean)):
        return None
    sig = types.none(fn, a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate)
    callee = _gemm_signature(a.dtype)

    def codegen(context, builder, sig, args):
        values = []
        for value, t, want in zip(args[1:], sig.args[1:], callee.args):
            if isinstance(t, types.Array):
                values.append(_data_pointer(context, builder, t, value))
            else:
                values.append(context.cast(builder, value, t, want))
        fnty = ir.FunctionType(context.get_value_type(callee.return_type),
                               [context.get_value_type(t) for t in callee.args])
        address = context.cast(builder, args[0], sig.args[0], types.intp)
        builder.call(builder.inttoptr(address, fnty.as_pointer()), values)
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True)
def _gemm_entry(fn, a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate):
    gemm(fn, a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate)


def gemm_flat(a, ia, sam, sak, m, b, ib, ldb, n, c, ic, ldc, kk, accumulate):
    """``gemm`` called from Python (tests, benchmarks)."""
    _gemm_entry(gemm_address_for(a, b, c), a, np.int64(ia), np.int64(sam), np.int64(sak), np.int64(m), b,
                np.int64(ib), np.int64(ldb), np.int64(n), c, np.int64(ic), np.int64(ldc), np.int64(kk),
                np.bool_(accumulate))


# -- MatMul: out = op(a) @ op(b) on C-contiguous matrices ---------------------------------

#: side of the blocks the transposition copies: a block's rows and columns stay in cache lines
_TBLOCK = 16


@njit(cache=True)
def _transpose_flat(s, rows, cols, dst):
    """dst[:cols*rows] = the flat [rows, cols] matrix ``s`` transposed, in 16x16 blocks (a
    plain column-by-column copy writes a new cache line per element: 1.4 ms for
    512x512; blocks of constant length, fully unrolled, were 30% faster but cost 0.1 s
    more to compile, and MatMul no longer transposes big weights: see _operands)."""
    for i0 in range(0, rows, _TBLOCK):
        i1 = min(i0 + _TBLOCK, rows)
        for j0 in range(0, cols, _TBLOCK):
            j1 = min(j0 + _TBLOCK, cols)
            for j in range(j0, j1):
                base = j * rows
                for i in range(i0, i1):
                    dst[base + i] = s[i * cols + j]


@njit(cache=True)
def transpose_into(src, dst):
    """dst[:cols*rows] = src.T (a C-contiguous 2-D array) as a flat [cols, rows] matrix;
    returns that part of dst."""
    rows, cols = src.shape
    _transpose_flat(flat(src), rows, cols, dst)
    return dst[:src.size]


@njit(cache=True)
def _product_part(fn, af, sam, sak, rows, bf, cols, cf, k, p, nt, by_rows):
    """Block p of nt of C[rows, cols] = A @ B: A[r, t] = af[r*sam + t*sak], B's and C's rows
    contiguous in ``bf`` and ``cf``; C's rows in whole tiles (``by_rows``) or its columns
    in whole vectors."""
    if by_rows:
        tiles = (rows + MR - 1) // MR
        r0, r1 = min(tiles * p // nt * MR, rows), min(tiles * (p + 1) // nt * MR, rows)
        gemm(fn, af, r0 * sam, sam, sak, r1 - r0, bf, np.int64(0), cols, cols, cf, r0 * cols, cols, k,
             np.bool_(False))
    else:
        lanes = _lanes(af)
        vecs = (cols + lanes - 1) // lanes
        q0, q1 = min(vecs * p // nt * lanes, cols), min(vecs * (p + 1) // nt * lanes, cols)
        gemm(fn, af, np.int64(0), sam, sak, rows, bf, q0, cols, q1 - q0, cf, q0, cols, k, np.bool_(False))


@njit(cache=True)
def _operands(a, b, out, ta, tb, bt):
    """The product to compute for out = op(a) @ op(b), as (A, sam, sak, rows, B, cols, C,
    k, transposed). Both operands as stored when not ``tb``. With ``tb``, B's rows are
    b's columns, so either b.T is copied into the scratch ``bt`` (n*k elements) or,
    when that is more -- a small batch times a big weight matrix, the backward
    product of a dense layer -- the transposed product is computed instead: out.T =
    b @ op(a).T into ``bt``, with op(a).T copied (a itself when ``ta``) and the result
    transposed back (m*k + m*n elements; 512x512 weights took 190 us to transpose
    against 10 us for a 32-row batch)."""
    m, n = out.shape
    k = a.shape[0] if ta else a.shape[1]
    sam, sak = (1, m) if ta else (k, 1)
    if not tb:
        return flat(a), sam, sak, m, flat(b), n, flat(out), k, False
    if m * (k + n) >= n * k:
        _transpose_flat(flat(b), n, k, bt)
        return flat(a), sam, sak, m, bt[:b.size], n, flat(out), k, False
    used = 0 if ta else k * m
    if not ta:
        _transpose_flat(flat(a), m, k, bt)  # op(a).T: [k, m]
    at = flat(a) if ta else bt[:used]
    return flat(b), k, 1, n, at, m, bt[used:used + n * m], k, True


@njit(cache=True)
def matmul(fn, a, b, out, ta, tb, bt):
    """out = op(a) @ op(b) on one thread, op(x) = x.T where ``ta``/``tb`` (a, b, out
    C-contiguous); ``bt`` is scratch (at least b.size elements when ``tb``)."""
    m, n = out.shape
    if m == 0 or n == 0:
        return
    af, sam, sak, rows, bf, cols, cf, k, transposed = _operands(a, b, out, ta, tb, bt)
    _product_part(fn, af, sam, sak, rows, bf, cols, cf, k, np.int64(0), np.int64(1), np.bool_(True))
    if transposed:
        _transpose_flat(cf, n, m, flat(out))


@njit(cache=True, parallel=True)
def matmul_parallel(fn, a, b, out, ta, tb, bt, nt):
    """``matmul`` with the product's rows (or, when it has fewer rows than columns, its
    columns) split into ``nt`` blocks across Numba's threads. A function apart from
    ``matmul``: a parallel loop costs about 0.3 s more to compile, which a program whose
    products all stay on one thread should not pay."""
    m, n = out.shape
    if m == 0 or n == 0:
        return
    af, sam, sak, rows, bf, cols, cf, k, transposed = _operands(a, b, out, ta, tb, bt)
    by_rows = rows >= cols
    for p in prange(nt):
        _product_part(fn, af, sam, sak, rows, bf, cols, cf, k, np.int64(p), nt, by_rows)
    if transposed:
        _transpose_flat(cf, n, m, flat(out))
