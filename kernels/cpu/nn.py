"""Neural-network kernels: softmax, log-softmax, fused softmax cross-entropy,
bias gradients, L2 loss, in-top-k, categorical sampling.

Destination-passing like every kernel here.

Softmax-like kernels come in two layouts. The ``*_rows`` kernels (and the
cross-entropies) take a C-contiguous ``(rows, n)`` array whose rows are the
class axis -- the usual last-axis case. ``softmax_mid`` takes an
``(outer, n, inner)`` view whose middle axis is the class axis (any other
axis of a C-contiguous array is a reshape away from this form) with
``inner > 1``, and works on whole contiguous ``inner`` lines at a time.

Rows of at least ``WIDE`` (64) classes run row by row, in passes that keep
the row in the L1 cache: the row maximum (``reduce.max_nonan``: vmaxps; a
NaN in the row makes it NaN through exp and the sum anyway), ``exp(x - max)``
from the input straight into the output, the sum, one scale pass
(``(x - max) - log(sum)`` for log-softmax). Shorter rows run in blocks of
whole rows (``BLOCK`` elements, at least one row), with the 2-D row helpers
(``_shift_row``, ``_row_sum64``: slicing a 10-element row per call cost more
than its work): each row shifted by its maximum into the output, then
``exp`` of the whole block in one flat loop (so a 10-class row still runs
vector code), then per row the sum and the scale pass. Subtracting the
maximum first (log-sum-exp) keeps any logits finite; a row containing NaN
gives NaN, a row of -inf gives NaN (as TF and numpy do).

Precision: float32 uses ``fastmath.exp_nonpos32`` (exp32 for arguments <= 0:
branch-free, vectorizes; relative error < 2.5e-7, see docs/ARCHITECTURE.md)
instead of scalar libm ``expf``; float64 keeps libm ``exp``. Wide rows are
summed blocked (``reduce.sum_run``): chunks of 1024 elements summed in the
input's dtype by a loop compiled with ``fastmath={'reassoc'}`` (it vectorizes
into 64 float32 partial sums), the chunk sums added in float64 -- the error
does not grow with the row's length, and float32 rows are summed at float32
vector width (accumulating in float64 halved it). Short rows are summed in
float64 (``_row_sum64``). The exp loops may fuse multiply-adds
(``contract``), which only removes roundings. Results are stored in the
output's dtype.

Large inputs (``rows * n >= PARALLEL_MIN_ELEMENTS``) run the ``*_parallel``
twin of a kernel, which splits the blocks across Numba's threads and calls
the serial kernel on each block's rows (the same code: results are
bit-identical); see ``run_rows``.

Compile time counts (a first run compiles every kernel it meets): each serial
kernel is one function with its blocks written out, calling only the small
helpers whose ``fastmath`` flags must stay confined to one loop
(``reduce.sum_run``, ``_row_sum64``, ``_exp_inplace``, ...),
``reduce.max_nonan`` and ``_shift_row``; a separate block function or
``inline='always'`` each measured slower to compile. The two
paths (wide and short rows) are separate kernels (``softmax_rows`` and
``softmax_rows_wide``, ...; ``run_rows`` picks one by the row length), so a
first run compiles only the path it takes: sparse_softmax_xent with both paths
cost 1.05 s of CPU cold against 0.7 s for the block path alone. As with a
multi-threaded BLAS call, a thread that waits for a busy core stalls the
call on a loaded machine; ``numba.set_num_threads(1)`` (or
``NUMBA_NUM_THREADS=1``) keeps every call serial.
"""
import numpy as np
from numba import prange, types
from numba.extending import intrinsic, overload

from nbflow.kernels.cpu.fastmath import exp32, exp_nonpos32
from nbflow.kernels.cpu.reduce import max_nonan, sum_run
from nbflow.kernels.cpu.threads import threads_for
from nbflow.kernels.cpu.views import flat as _flat
from nbflow.kernels.jit import njit


# -- helpers shared by the softmax-like kernels ------------------------------------------

@intrinsic
def _larger(typingctx, v, m):
    """``v if v > m else m`` (m when either is NaN) as one select instruction."""
    if not isinstance(v, types.Float) or v != m:
        return None

    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(builder.fcmp_ordered(">", a, b), a, b)
    return v(v, m), codegen


def _exp(v):
    """exp of one scalar: ``exp32`` for float32, libm for float64 (see the overload)."""
    return np.exp(v)


@overload(_exp)
def _exp_overload(v):
    if v == types.float32:
        return lambda v: exp32(v)
    return lambda v: np.exp(v)


def _exp_shifted(src, m, dst):
    """dst = exp(src - m) over 1-D arrays of one size, m >= max(src)."""
    dst[:] = np.exp(src - m)


@overload(_exp_shifted, jit_options={"fastmath": {"contract"}})
def _exp_shifted_overload(src, m, dst):
    # one function per dtype, the exp written into the loop (a separate _exp
    # overload would be one more function to compile)
    if src.dtype == types.float32:
        def impl32(src, m, dst):
            for i in range(src.shape[0]):
                dst[i] = exp_nonpos32(src[i] - m)
        return impl32

    def impl(src, m, dst):
        for i in range(src.shape[0]):
            dst[i] = np.exp(src[i] - m)
    return impl


@njit(cache=True, fastmath={"reassoc"})
def _row_sum64(x, r):
    """Sum of row r of a (rows, n) array, accumulated in float64. Reassociation
    is allowed in this loop only: it vectorizes with several partial sums."""
    s = 0.0
    for j in range(x.shape[1]):
        s += x[r, j]
    return s


@njit(cache=True)
def _shift_row(x, r, out):
    """out[r] = x[r] - max(x[r]) (a row of non-positive numbers, or NaN), n >= 1.

    The maximum is taken with eight independent running maxima, so the
    compares vectorize (a single running maximum is a serial dependency
    chain). NaN entries are skipped there; they still make the row NaN
    through exp and the sum."""
    n = x.shape[1]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = x[r, 0]
    j = 0
    while j + 8 <= n:
        v = x[r, j]
        m0 = _larger(v, m0)
        v = x[r, j + 1]
        m1 = _larger(v, m1)
        v = x[r, j + 2]
        m2 = _larger(v, m2)
        v = x[r, j + 3]
        m3 = _larger(v, m3)
        v = x[r, j + 4]
        m4 = _larger(v, m4)
        v = x[r, j + 5]
        m5 = _larger(v, m5)
        v = x[r, j + 6]
        m6 = _larger(v, m6)
        v = x[r, j + 7]
        m7 = _larger(v, m7)
        j += 8
    while j < n:
        v = x[r, j]
        m0 = _larger(v, m0)
        j += 1
    m0 = _larger(m1, m0)
    m2 = _larger(m3, m2)
    m4 = _larger(m5, m4)
    m6 = _larger(m7, m6)
    m0 = _larger(m2, m0)
    m4 = _larger(m6, m4)
    mx = _larger(m4, m0)
    for j in range(n):
        out[r, j] = x[r, j] - mx


def _exp_inplace(a):
    """a = exp(a) over a flat array of non-positive numbers (a block of shifted
    rows: one loop, however short the rows are, so it vectorizes -- a 10-class
    row is shorter than one vector iteration)."""
    a[:] = np.exp(a)


@overload(_exp_inplace, jit_options={"fastmath": {"contract"}})
def _exp_inplace_overload(a):
    if a.dtype == types.float32:
        def impl32(a):
            for i in range(a.shape[0]):
                a[i] = exp_nonpos32(a[i])
        return impl32

    def impl(a):
        for i in range(a.shape[0]):
            a[i] = np.exp(a[i])
    return impl


@njit(cache=True, fastmath={"reassoc"})
def _label_sums(x, m, lab):
    """(sum of lab, sum of lab * (x - m)) of one row in float64; zero labels are
    skipped (they contribute nothing, even where a logit is -inf)."""
    sl = 0.0
    sd = 0.0
    for j in range(x.shape[0]):
        lb = lab[j]
        t = lb * (x[j] - m)
        # a select, not a branch: the loop vectorizes
        sd += t if lb != 0 else x.dtype.type(0)
        sl += lb
    return sl, sd


@njit(cache=True, fastmath={"reassoc"})
def _label_sums_shifted(shifted, lab, r):
    """(sum of lab[r], sum of lab[r] * shifted[r]) in float64; zero labels are
    skipped (they contribute nothing, even where a logit is -inf)."""
    sl = 0.0
    sd = 0.0
    for j in range(shifted.shape[1]):
        lb = lab[r, j]
        if lb != 0:
            sl += lb
            sd += lb * shifted[r, j]
    return sl, sd


#: elements per block of whole short rows (16 KB of float32): a block's input,
#: output and scratch stay in the L1 cache between the passes.
BLOCK = 4096

#: rows at least this long run row by row: the maximum, then exp(x - max) from
#: the input straight into the output (the row is still in L1), the sum and one
#: scale pass -- a pass fewer than shifting first. Shorter rows are shifted a
#: block of rows at a time so that exp runs as one long vector loop.
WIDE = 64


# -- softmax ---------------------------------------------------------------------------------

@njit(cache=True)
def softmax_rows_wide(x, out, log):
    """``softmax_rows`` for wide rows (n >= WIDE), row by row: max, exp(x - max) into the
    output (into ``exps`` for log-softmax, which then writes (x - max) - log(sum)), sum,
    scale."""
    rows, n = x.shape
    exps = np.empty(n if log else 0, dtype=out.dtype)
    for r in range(rows):
        xr = x[r]
        orow = out[r]
        mx = max_nonan(xr)
        if log:
            _exp_shifted(xr, mx, exps)
            ls = out.dtype.type(np.log(sum_run(exps)))
            for j in range(n):
                orow[j] = (xr[j] - mx) - ls
        else:
            _exp_shifted(xr, mx, orow)
            inv = out.dtype.type(1.0 / sum_run(orow))
            for j in range(n):
                orow[j] = orow[j] * inv


@njit(cache=True)
def softmax_rows(x, out, log):
    """out[r] = softmax(x[r]) (log_softmax when ``log``) for each row of (rows, n), n >= 1,
    a block of rows at a time: shift by the row maxima, exp of the whole block in one
    loop, then per row sum and scale (wide rows are faster in ``softmax_rows_wide``)."""
    rows, n = x.shape
    per = BLOCK // n if n <= BLOCK else 1
    exps = np.empty((per if log else 0, n), dtype=out.dtype)
    flat = _flat(out)
    for r0 in range(0, rows, per):
        r1 = min(rows, r0 + per)
        for r in range(r0, r1):
            _shift_row(x, r, out)
        if log:
            _exp_into(flat[r0 * n:r1 * n], _flat(exps))
            for r in range(r0, r1):
                ls = out.dtype.type(np.log(_row_sum64(exps, r - r0)))
                for j in range(n):
                    out[r, j] = out[r, j] - ls
        else:
            _exp_inplace(flat[r0 * n:r1 * n])
            for r in range(r0, r1):
                inv = out.dtype.type(1.0 / _row_sum64(out, r))
                for j in range(n):
                    out[r, j] = out[r, j] * inv


def _exp_into(src, dst):
    """dst = exp(src) over flat arrays of one size, src <= 0."""
    dst[:] = np.exp(src)


@overload(_exp_into, jit_options={"fastmath": {"contract"}})
def _exp_into_overload(src, dst):
    if src.dtype == types.float32:
        def impl32(src, dst):
            for i in range(src.shape[0]):
                dst[i] = exp_nonpos32(src[i])
        return impl32

    def impl(src, dst):
        for i in range(src.shape[0]):
            dst[i] = np.exp(src[i])
    return impl


@njit(cache=True, parallel=True)
def softmax_rows_parallel(x, out, log):
    """softmax_rows with the blocks of rows split across threads (each block
    one softmax_rows call on its rows: the same code, the same results)."""
    rows, n = x.shape
    per = max(1, BLOCK // n)
    for k in prange((rows + per - 1) // per):
        r0 = k * per
        r1 = min(rows, r0 + per)
        softmax_rows(x[r0:r1], out[r0:r1], log)


@njit(cache=True, parallel=True)
def softmax_rows_wide_parallel(x, out, log):
    """softmax_rows_wide with the blocks of rows split across threads."""
    rows, n = x.shape
    per = max(1, BLOCK // n)
    for k in prange((rows + per - 1) // per):
        r0 = k * per
        r1 = min(rows, r0 + per)
        softmax_rows_wide(x[r0:r1], out[r0:r1], log)


@njit(cache=True, fastmath={"contract"})
def softmax_mid(x, out, log):
    """out = softmax(x) (or log_softmax when ``log``) along axis 1 of (o, n, i), n >= 1.

    Works on contiguous lines of the inner axis: the maxima, sums and scales
    of the i independent softmaxes of a block are kept in scratch rows, so
    every loop runs along the inner axis and vectorizes."""
    o, n, m = x.shape
    mx = np.empty(m, dtype=x.dtype)
    acc = np.empty(m, dtype=np.float64)
    scale = np.empty(m, dtype=x.dtype)
    for a in range(o):
        for c in range(m):
            mx[c] = x[a, 0, c]
        for b in range(1, n):
            for c in range(m):
                v = x[a, b, c]
                mx[c] = v if v > mx[c] else mx[c]
        for c in range(m):
            acc[c] = 0.0
        for b in range(n):
            for c in range(m):
                e = _exp(x[a, b, c] - mx[c])
                out[a, b, c] = e
                acc[c] += e
        if log:
            for c in range(m):
                scale[c] = np.log(acc[c])
            for b in range(n):
                for c in range(m):
                    out[a, b, c] = (x[a, b, c] - mx[c]) - scale[c]
        else:
            for c in range(m):
                scale[c] = 1.0 / acc[c]
            for b in range(n):
                for c in range(m):
                    out[a, b, c] = out[a, b, c] * scale[c]


# -- fused cross-entropies ---------------------------------------------------------------------

@njit(cache=True)
def _xent_finish(back, s):
    """back = back / s (the softmax of the row), returns log(s)."""
    inv = back.dtype.type(1.0 / s)
    for j in range(back.shape[0]):
        back[j] = back[j] * inv
    return np.log(s)


@njit(cache=True)
def softmax_xent_wide(logits, labels, loss, backprop):
    """``softmax_xent`` for wide rows (n >= WIDE), row by row (as softmax_rows_wide)."""
    rows, n = logits.shape
    for r in range(rows):
        xr = logits[r]
        lr = labels[r]
        br = backprop[r]
        mx = max_nonan(xr)
        sl, sd = _label_sums(xr, mx, lr)
        _exp_shifted(xr, mx, br)
        ls = _xent_finish(br, sum_run(br))
        for j in range(n):
            br[j] = br[j] - lr[j]
        loss[r] = ls * sl - sd


@njit(cache=True)
def softmax_xent(logits, labels, loss, backprop):
    """Fused softmax cross-entropy over rows of (batch, classes), classes >= 1.

    loss[r] = sum_j labels[r, j] * (logsumexp(logits[r]) - logits[r, j]);
    backprop[r] = softmax(logits[r]) - labels[r] (the gradient w.r.t. logits).
    The loss is computed as log(s) * sum(lab) - sum(lab * (x - max)), the
    label sums taken from the logits before exp. A block of rows at a time, as
    softmax_rows (wide rows: ``softmax_xent_wide``)."""
    rows, n = logits.shape
    per = BLOCK // n if n <= BLOCK else 1
    sums = np.empty((per, 2), dtype=np.float64)
    flat = _flat(backprop)
    for r0 in range(0, rows, per):
        r1 = min(rows, r0 + per)
        for r in range(r0, r1):
            _shift_row(logits, r, backprop)
            sl, sd = _label_sums_shifted(backprop, labels, r)
            sums[r - r0, 0] = sl
            sums[r - r0, 1] = sd
        _exp_inplace(flat[r0 * n:r1 * n])
        for r in range(r0, r1):
            s = _row_sum64(backprop, r)
            inv = backprop.dtype.type(1.0 / s)
            for j in range(n):
                backprop[r, j] = backprop[r, j] * inv - labels[r, j]
            loss[r] = np.log(s) * sums[r - r0, 0] - sums[r - r0, 1]


@njit(cache=True, parallel=True)
def softmax_xent_parallel(logits, labels, loss, backprop):
    """softmax_xent with the blocks of rows split across threads."""
    rows, n = logits.shape
    per = max(1, BLOCK // n)
    for k in prange((rows + per - 1) // per):
        r0 = k * per
        r1 = min(rows, r0 + per)
        softmax_xent(logits[r0:r1], labels[r0:r1], loss[r0:r1], backprop[r0:r1])


@njit(cache=True, parallel=True)
def softmax_xent_wide_parallel(logits, labels, loss, backprop):
    """softmax_xent_wide with the blocks of rows split across threads."""
    rows, n = logits.shape
    per = max(1, BLOCK // n)
    for k in prange((rows + per - 1) // per):
        r0 = k * per
        r1 = min(rows, r0 + per)
        softmax_xent_wide(logits[r0:r1], labels[r0:r1], loss[r0:r1], backprop[r0:r1])


@njit(cache=True)
def _first_bad_label(labels, n):
    """-1, or the first row whose label is outside [0, n)."""
    for r in range(labels.shape[0]):
        if labels[r] < 0 or labels[r] >= n:
            return r
    return -1


@njit(cache=True)
def sparse_softmax_xent_wide(logits, labels, loss, backprop):
    """``sparse_softmax_xent`` for wide rows (n >= WIDE), row by row (as softmax_rows_wide)."""
    rows, n = logits.shape
    bad = _first_bad_label(labels, n)
    if bad >= 0:
        return bad
    for r in range(rows):
        xr = logits[r]
        br = backprop[r]
        t = labels[r]
        mx = max_nonan(xr)
        _exp_shifted(xr, mx, br)
        ls = _xent_finish(br, sum_run(br))
        br[t] -= 1
        loss[r] = ls - (xr[t] - mx)
    return -1


@njit(cache=True)
def _xent_loss_rows(logits, labels, loss, scratch, r0, r1):
    """Rows r0..r1-1 of ``sparse_xent_loss_wide``."""
    for r in range(r0, r1):
        xr = logits[r]
        mx = max_nonan(xr)
        _exp_shifted(xr, mx, scratch)
        loss[r] = np.log(sum_run(scratch)) - (xr[labels[r]] - mx)


@njit(cache=True)
def sparse_xent_loss_wide(logits, labels, loss, scratch):
    """The losses alone of ``sparse_softmax_xent_wide``, for a graph that does not use the
    gradient output (evaluation, a fetched loss): exp(x - max) goes into the one-row
    ``scratch`` [1, n] instead of the gradient and is summed, not scaled -- the same
    operations up to the loss, so the same losses. Returns -1 or the first row with a
    label outside [0, classes)."""
    bad = _first_bad_label(labels, logits.shape[1])
    if bad < 0:
        _xent_loss_rows(logits, labels, loss, scratch[0], 0, logits.shape[0])
    return bad


@njit(cache=True, parallel=True)
def sparse_xent_loss_wide_parallel(logits, labels, loss, scratch):
    """sparse_xent_loss_wide over one block of rows per row of ``scratch`` [nt, n], across threads."""
    bad = _first_bad_label(labels, logits.shape[1])
    if bad >= 0:
        return bad
    rows, nt = logits.shape[0], scratch.shape[0]
    for p in prange(nt):
        _xent_loss_rows(logits, labels, loss, scratch[p], rows * p // nt, rows * (p + 1) // nt)
    return -1


@njit(cache=True)
def sparse_softmax_xent(logits, labels, loss, backprop):
    """Softmax cross-entropy with integer class labels, rows of (batch, classes).

    Returns -1, or the index of the first label outside [0, classes) (nothing
    is meaningful in the outputs then: the caller raises). A block of rows at a
    time, as softmax_rows (wide rows: ``sparse_softmax_xent_wide``); ``loss[r]``
    holds the shifted target logit until the row's sum is known."""
    rows, n = logits.shape
    bad = _first_bad_label(labels, n)
    if bad >= 0:
        return bad
    per = BLOCK // n if n <= BLOCK else 1
    flat = _flat(backprop)
    for r0 in range(0, rows, per):
        r1 = min(rows, r0 + per)
        for r in range(r0, r1):
            _shift_row(logits, r, backprop)
            loss[r] = backprop[r, labels[r]]
        _exp_inplace(flat[r0 * n:r1 * n])
        for r in range(r0, r1):
            s = _row_sum64(backprop, r)
            inv = backprop.dtype.type(1.0 / s)
            for j in range(n):
                backprop[r, j] = backprop[r, j] * inv
            backprop[r, labels[r]] -= 1
            loss[r] = np.log(s) - loss[r]
    return -1


@njit(cache=True, parallel=True)
def sparse_softmax_xent_parallel(logits, labels, loss, backprop):
    """sparse_softmax_xent with the blocks of rows split across threads."""
    rows, n = logits.shape
    bad = _first_bad_label(labels, n)
    if bad >= 0:
        return bad
    per = max(1, BLOCK // n)
    for k in prange((rows + per - 1) // per):
        r0 = k * per
        r1 = min(rows, r0 + per)
        sparse_softmax_xent(logits[r0:r1], labels[r0:r1], loss[r0:r1], backprop[r0:r1])
    return -1


@njit(cache=True, parallel=True)
def sparse_softmax_xent_wide_parallel(logits, labels, loss, backprop):
    """sparse_softmax_xent_wide with the blocks of rows split across threads."""
    rows, n = logits.shape
    bad = _first_bad_label(labels, n)
    if bad >= 0:
        return bad
    per = max(1, BLOCK // n)
    for k in prange((rows + per - 1) // per):
        r0 = k * per
        r1 = min(rows, r0 + per)
        sparse_softmax_xent_wide(logits[r0:r1], labels[r0:r1], loss[r0:r1], backprop[r0:r1])
    return -1



# -- choosing the serial or the parallel kernel ---------------------------------------------

#: rows * n from which the softmax and cross-entropy ``*_parallel`` kernels are used.
#: Measured with the TBB threading layer (session 12, kernels alone, n = 1000, 2 cores):
#: softmax 128 rows 32 us serial vs 20 us on two threads, 256 rows 66 vs 37 us, 512
#: rows 135 vs 72 us. (Under the workqueue layer, before, a parallel call cost ~100 us:
#: the threshold was 512K elements, and 3M, then 1M, for softmax.)
PARALLEL_MIN_ELEMENTS = 1 << 17


#: the row-kernel families ``run_rows`` chooses from: (name of the kernel for short rows,
#: name of the one for wide rows); each has a ``<name>_parallel`` twin. Two kernels, not
#: one with both paths: a first run compiles only the path its rows take (the MNIST
#: script's 10-class cross-entropy compiled 0.3 s of wide-row code it never ran).
SOFTMAX = ("softmax_rows", "softmax_rows_wide")
SOFTMAX_XENT = ("softmax_xent", "softmax_xent_wide")
SPARSE_SOFTMAX_XENT = ("sparse_softmax_xent", "sparse_softmax_xent_wide")


def run_rows(family, rows, n, *args):
    """Run the ``family``'s kernel for (rows, n) rows on ``args``: the wide-row one when
    n >= WIDE, its ``_parallel`` twin when the input is large enough and Numba may use
    more than one thread. Returns the kernel's result. (Kernels are looked up by name
    when called, so tests can watch them.)

    The kernels hold the GIL (no ``nogil``), so two Python threads never launch
    a parallel kernel at the same time -- which Numba's default "workqueue"
    threading layer does not support."""
    name = family[1] if n >= WIDE else family[0]
    if threads_for(rows * n, PARALLEL_MIN_ELEMENTS, blocks=rows) > 1:
        name += "_parallel"
    return globals()[name](*args)


def run_sparse_xent_loss(logits, labels, loss, scratches):
    """``sparse_xent_loss_wide`` (or its parallel twin, by ``run_rows``'s rule) on (rows, n)
    ``logits``, n >= WIDE; ``scratches``: the caller's dict of scratch rows, reused
    across calls. Returns the kernel's result."""
    rows, n = logits.shape
    nt = threads_for(rows * n, PARALLEL_MIN_ELEMENTS, blocks=rows)
    key = (nt, n, logits.dtype)
    scratch = scratches.get(key)
    if scratch is None:
        scratch = scratches[key] = np.empty((nt, n), logits.dtype)
    if nt > 1:
        return sparse_xent_loss_wide_parallel(logits, labels, loss, scratch)
    return sparse_xent_loss_wide(logits, labels, loss, scratch)


#: rows summed in the output's dtype before the partial sums go into the float64 ones
BIAS_GRAD_ROWS = 256


@njit(cache=True)
def bias_add_grad(g, out, acc):
    """out[c] = sum of g[a, c, i] over a and i: the bias gradient of a (outer, channels,
    inner) view (NHWC: inner == 1; NCHW: outer == batch). Blocked: every
    ``BIAS_GRAD_ROWS`` rows are summed in ``out``'s dtype, then added into ``acc``, a
    float64 scratch of one value per channel (a float32 running sum over LeNet's 50K
    rows erred by 3e-3, this by 2e-4)."""
    o, nc, m = g.shape
    for c in range(nc):
        acc[c] = 0.0
    for a0 in range(0, o, BIAS_GRAD_ROWS):
        for c in range(nc):
            out[c] = 0
        if m == 1:
            # channels last (the usual case): whole rows, a loop over c that vectorizes
            # (the general loop's inner length-1 loop runs one element at a time: ~20x slower)
            for a in range(a0, min(a0 + BIAS_GRAD_ROWS, o)):
                for c in range(nc):
                    out[c] += g[a, c, 0]
        else:
            for a in range(a0, min(a0 + BIAS_GRAD_ROWS, o)):
                for c in range(nc):
                    part = out[c]
                    for i in range(m):
                        part += g[a, c, i]
                    out[c] = part
        for c in range(nc):
            acc[c] += out[c]
    for c in range(nc):
        out[c] = acc[c]


@njit(cache=True, parallel=True)
def bias_add_grad_parallel(g, out, parts, acc):
    """bias_add_grad over ``acc.shape[0]`` contiguous blocks of the outer rows, one per
    thread (``parts`` and ``acc``: a (threads, channels + padding) scratch in ``out``'s
    dtype and in float64; the padding keeps the threads off each other's cache lines),
    the threads' float64 sums added last."""
    nt = acc.shape[0]
    o, nc = g.shape[0], g.shape[1]
    for t in prange(nt):
        bias_add_grad(g[o * t // nt:o * (t + 1) // nt], parts[t, :nc], acc[t, :nc])
    for c in range(nc):
        s = 0.0
        for t in range(nt):
            s += acc[t, c]
        out[c] = s


@njit(cache=True)
def l2_loss(x, out):
    """out[0] = sum(x ** 2) / 2 over a flat array (accumulated in float64)."""
    s = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        s += v * v
    out[0] = s * 0.5


@njit(cache=True)
def in_top_k(pred, targets, k, out):
    """out[r] = whether pred[r, targets[r]] is among the k largest of row r.

    As TF: ties count in the target's favour (only strictly larger entries
    are counted); an out-of-range target or a non-finite value in the row
    gives False."""
    nb, n = pred.shape
    for r in range(nb):
        t = targets[r]
        ok = t >= 0 and t < n
        more = 0
        if ok:
            tv = pred[r, t]
            ok = np.isfinite(tv)
            if ok:
                for j in range(n):
                    v = pred[r, j]
                    if not np.isfinite(v):
                        ok = False
                        break
                    if v > tv:
                        more += 1
            ok = ok and more < k
        out[r] = ok


@njit(cache=True)
def categorical_sample(logits, u, out):
    """Draw out[r, s] ~ Categorical(softmax(logits[r])) by inverting the CDF
    at the uniform numbers u[r, s] in [0, 1). -inf logits have probability 0."""
    nb, n = logits.shape
    ns = u.shape[1]
    cdf = np.empty(n, dtype=np.float64)
    for r in range(nb):
        mx = -np.inf
        for j in range(n):
            if logits[r, j] > mx:
                mx = logits[r, j]
        acc = 0.0
        last = 0
        for j in range(n):
            p = np.exp(logits[r, j] - mx) if logits[r, j] > -np.inf else 0.0
            acc += p
            cdf[j] = acc
            if p > 0.0:
                last = j
        for s in range(ns):
            target = u[r, s] * acc
            lo, hi = 0, n - 1
            while lo < hi:  # first j with cdf[j] > target
                mid = (lo + hi) // 2
                if cdf[mid] > target:
                    hi = mid
                else:
                    lo = mid + 1
            out[r, s] = lo if lo <= last else last
