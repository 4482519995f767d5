"""An LSTM layer over a whole sequence in one call: the BlockLSTM op and its gradient.

Gate layout (TF's BasicLSTMCell / BlockLSTM): the columns of ``w`` [I + H, 4H]
and ``b`` [4H] are the blocks i, j (the candidate, ``ci``), f, o::

    i  = sigmoid(x W_i + h W_i' + b_i [+ wci * cs_prev])
    f  = sigmoid(x W_f + h W_f' + b_f + forget_bias [+ wcf * cs_prev])
    ci = tanh(x W_j + h W_j' + b_j)
    cs = clip(i * ci + f * cs_prev, cell_clip)            (no clip when cell_clip <= 0)
    o  = sigmoid(x W_o + h W_o' + b_o [+ wco * cs])
    co = tanh(cs);   h = o * co

Where the time goes, and why the loop looks like this: the input projection of
every step is ONE matrix product ([T*B, I] x [I, 4H]) before the loop; each
step is one product ``h_prev @ W_h`` plus one fused pass over [B, H] for the
gate non-linearities and the cell update. Backwards, each step is one fused
pass giving the four gate gradients (kept for all steps) plus one product for
dh; the weight gradients are one accumulating product per step, the bias and
input gradients single products over all steps (the last through W_x
transposed once, so that both operands are read in rows).

The products are kernels/cpu/microgemm.py's register-tiled GEMM (about twice
OpenBLAS's rate here, measured 225 vs 110 GF/s on the 128x128x512 step
product), and the threads split the batch: rows of the batch are
independent through the recurrence, so each thread runs every step for its
block of rows (one parallel region per pass, not one per step); the weight
gradients split their rows. Peephole gradients sum over the batch, so a
peephole layer's backward pass runs as one block.

float32 uses the vectorizable ``exp32``/``tanh32`` (kernels/cpu/fastmath.py),
as the generated element-wise kernels do; float64 uses libm.
"""
import numpy as np
from numba import prange, types
from numba.extending import overload

from nbflow.kernels.cpu.fastmath import exp32, tanh32
from nbflow.kernels.cpu.microgemm import gemm, matmul_parallel, transpose_into
from nbflow.kernels.jit import njit


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


@overload(_sigmoid)
def _sigmoid_overload(v):
    if v == types.float32:
        return lambda v: np.float32(1.0) / (np.float32(1.0) + exp32(-v))
    return lambda v: 1.0 / (1.0 + np.exp(-v))


def _tanh(v):
    return np.tanh(v)


@overload(_tanh)
def _tanh_overload(v):
    if v == types.float32:
        return lambda v: tanh32(v)
    return lambda v: np.tanh(v)


def _one(v):
    return 1.0


@overload(_one)
def _one_overload(v):
    if v == types.float32:
        return lambda v: np.float32(1.0)
    return lambda v: 1.0


# -- forward ------------------------------------------------------------------------------
#
# ``acts`` [7, T, B, H] holds the op's seven outputs (i, cs, f, o, ci, co, h) in
# one buffer, each ``acts[k]`` a C-contiguous [T, B, H] output. One array
# instead of seven matters for speed: LLVM vectorizes a loop only when its
# runtime checks that the arrays do not overlap stay few (about eight pairs),
# and a gate loop over eleven separate arrays ran 13x slower than over four.

_I, _CS, _F, _O, _CI, _CO, _H = range(7)


@njit(cache=True, error_model="numpy")
def _add_bias(xw, b, forget_bias):
    """xw[r] += b, with ``forget_bias`` added to the f block (columns 2H..3H)."""
    rows, n4 = xw.shape
    n = n4 // 4
    for r in range(rows):
        for k in range(n4):
            xw[r, k] += b[k]
        for k in range(2 * n, 3 * n):
            xw[r, k] += forget_bias


@njit(cache=True, error_model="numpy")
def lstm_gates(xw, hw, cs_prev, cell_clip, acts, t, r0, r1):
    """One step's gates and cell update, fused (no peepholes), for batch rows r0..r1-1:
    ``xw`` [B, 4H] the input product plus biases, ``hw`` [B, 4H] the recurrent
    product, into ``acts[:, t]``."""
    n = cs_prev.shape[1]
    clip = cell_clip > 0
    for r in range(r0, r1):
        for k in range(n):
            ig = _sigmoid(xw[r, k] + hw[r, k])
            jg = _tanh(xw[r, n + k] + hw[r, n + k])
            fg = _sigmoid(xw[r, 2 * n + k] + hw[r, 2 * n + k])
            c = ig * jg + fg * cs_prev[r, k]
            if clip:
                c = min(max(c, -cell_clip), cell_clip)
            og = _sigmoid(xw[r, 3 * n + k] + hw[r, 3 * n + k])
            cc = _tanh(c)
            acts[_I, t, r, k] = ig
            acts[_CS, t, r, k] = c
            acts[_F, t, r, k] = fg
            acts[_O, t, r, k] = og
            acts[_CI, t, r, k] = jg
            acts[_CO, t, r, k] = cc
            acts[_H, t, r, k] = og * cc


@njit(cache=True, error_model="numpy")
def lstm_gates_peephole(xw, hw, cs_prev, wci, wcf, wco, cell_clip, acts, t, r0, r1):
    """``lstm_gates`` with peephole connections (i and f see cs_prev, o sees cs)."""
    n = cs_prev.shape[1]
    clip = cell_clip > 0
    for r in range(r0, r1):
        for k in range(n):
            c_prev = cs_prev[r, k]
            ig = _sigmoid(xw[r, k] + hw[r, k] + c_prev * wci[k])
            jg = _tanh(xw[r, n + k] + hw[r, n + k])
            fg = _sigmoid(xw[r, 2 * n + k] + hw[r, 2 * n + k] + c_prev * wcf[k])
            c = ig * jg + fg * c_prev
            if clip:
                c = min(max(c, -cell_clip), cell_clip)
            og = _sigmoid(xw[r, 3 * n + k] + hw[r, 3 * n + k] + c * wco[k])
            cc = _tanh(c)
            acts[_I, t, r, k] = ig
            acts[_CS, t, r, k] = c
            acts[_F, t, r, k] = fg
            acts[_O, t, r, k] = og
            acts[_CI, t, r, k] = jg
            acts[_CO, t, r, k] = cc
            acts[_H, t, r, k] = og * cc


@njit(cache=True)
def recurrent_product(fn, hf, af, h_index, nt, nb, n, t, r0, r1, wf, width, outf):
    """Rows r0..r1-1 of the recurrent input of step t times the flat [n, width] weights
    ``wf`` into rows of the flat [nb, width] ``outf``: the input is ``hf`` (h_prev, flat)
    at t = 0, else the previous step's h in the flat acts ``af`` (output ``h_index`` of
    acts [outputs, nt, nb, n]). A thread's step product in the row-block recurrences
    (this module's LSTM, kernels/cpu/gru_parallel.py)."""
    if t == 0:
        gemm(fn, hf, r0 * n, n, 1, r1 - r0, wf, 0, width, width, outf, r0 * width, width, n, False)
    else:
        gemm(fn, af, ((h_index * nt + t - 1) * nb + r0) * n, n, 1, r1 - r0, wf, 0, width, width, outf, r0 * width,
             width, n, False)


@njit(cache=True, parallel=True)
def _forward_steps(fn, h_prev, w_h, cs_prev, wci, wcf, wco, cell_clip, use_peephole, steps, xw, hw, acts, bounds):
    """The recurrence. Batch rows are independent, so each thread runs every step for
    its block of rows (``bounds``): the row block's recurrent product, then its gates."""
    nb, n = cs_prev.shape
    nt = acts.shape[1]
    n4 = 4 * n
    hf, wf, hwf, af = h_prev.reshape(-1), w_h.reshape(-1), hw.reshape(-1), acts.reshape(-1)
    for c in prange(bounds.shape[0] - 1):
        r0, r1 = bounds[c], bounds[c + 1]
        for t in range(steps):
            recurrent_product(fn, hf, af, _H, nt, nb, n, t, r0, r1, wf, n4, hwf)
            c_prev = cs_prev if t == 0 else acts[_CS, t - 1]
            if use_peephole:
                lstm_gates_peephole(xw[t], hw, c_prev, wci, wcf, wco, cell_clip, acts, t, r0, r1)
            else:
                lstm_gates(xw[t], hw, c_prev, cell_clip, acts, t, r0, r1)


@njit(cache=True)
def block_lstm_forward(fn, x, cs_prev, h_prev, w_x, w_h, wci, wcf, wco, b, forget_bias, cell_clip, use_peephole,
                       steps, xw, hw, acts, chunks):
    """The first ``steps`` time steps of ``x`` [T, B, I] into ``acts`` [7, T, B, H];
    the steps after are zero (TF's BlockLSTM). ``w_x``/``w_h``: the kernel's
    input and recurrent rows. Workspaces: ``xw`` [T, B, 4H] (the input
    products), ``hw`` [B, 4H]. ``chunks``: how many threads share the work."""
    nt, nb, ni = x.shape
    n4 = w_h.shape[1]
    acts[:, steps:] = 0
    if steps == 0 or nb == 0:
        return
    rows = steps * nb
    xw2 = xw[:steps].reshape(rows, n4)
    if ni > 0:
        matmul_parallel(fn, x[:steps].reshape(rows, ni), w_x, xw2, np.bool_(False), np.bool_(False), xw2.reshape(-1),
               np.int64(chunks))  # (no B^T: its scratch is not read)
    else:
        xw2[:] = 0
    _add_bias(xw2, b, forget_bias)
    _forward_steps(fn, h_prev, w_h, cs_prev, wci, wcf, wco, cell_clip, use_peephole, steps, xw, hw, acts,
                   row_blocks(nb, chunks))


@njit(cache=True)
def row_blocks(rows, chunks):
    """Bounds of ``chunks`` (at most) blocks of rows, cut at multiples of the product's
    6-row tiles where possible: [0, ..., rows]."""
    per = (rows + chunks - 1) // chunks
    per = max(6, (per + 5) // 6 * 6)
    n = (rows + per - 1) // per if rows else 1
    out = np.empty(n + 1, np.int64)
    for c in range(n):
        out[c] = c * per
    out[n] = rows
    return out


# -- backward -----------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def _step_input_grads(h_grad, dh_carry, cs_grad, dh, dcs, r0, r1):
    """dh = h_grad + dh_carry (this step's whole dh); dcs += cs_grad (rows r0..r1-1)."""
    n = dh.shape[1]
    for r in range(r0, r1):
        for k in range(n):
            dh[r, k] = h_grad[r, k] + dh_carry[r, k]
    for r in range(r0, r1):
        for k in range(n):
            dcs[r, k] += cs_grad[r, k]


@njit(cache=True, error_model="numpy")
def lstm_gates_grad(acts, t, cs_prev, dh, cell_clip, dcs, dgates, r0, r1):
    """One step backwards, fused (no peepholes). ``dh``: the gradient of h[t];
    ``dcs``: the gradient of cs[t] on entry, of cs[t - 1] on exit; ``dgates``
    [B, 4H]: the pre-activation gradients (blocks i, j, f, o).

    The clip's gradient is exact (zero where cs was clipped); TF's kernel
    passes the gradient through the clip unchanged. Batch rows r0..r1-1."""
    n = cs_prev.shape[1]
    clip = cell_clip > 0
    for r in range(r0, r1):
        for k in range(n):
            ig = acts[_I, t, r, k]
            fg = acts[_F, t, r, k]
            og = acts[_O, t, r, k]
            jg = acts[_CI, t, r, k]
            cc = acts[_CO, t, r, k]
            one = _one(ig)
            d = dh[r, k]
            d_o = d * cc * og * (one - og)
            dc = d * og * (one - cc * cc) + dcs[r, k]
            if clip and not abs(acts[_CS, t, r, k]) < cell_clip:
                dc = dc - dc  # zero (NaN stays NaN)
            dgates[r, k] = dc * jg * ig * (one - ig)
            dgates[r, n + k] = dc * ig * (one - jg * jg)
            dgates[r, 2 * n + k] = dc * cs_prev[r, k] * fg * (one - fg)
            dgates[r, 3 * n + k] = d_o
            dcs[r, k] = dc * fg


@njit(cache=True, error_model="numpy")
def lstm_gates_grad_peephole(acts, t, cs_prev, dh, wci, wcf, wco, cell_clip, dcs, dgates, wci_grad, wcf_grad,
                             wco_grad, r0, r1):
    """``lstm_gates_grad`` with peephole connections; their gradients accumulate."""
    n = cs_prev.shape[1]
    clip = cell_clip > 0
    for r in range(r0, r1):
        for k in range(n):
            ig = acts[_I, t, r, k]
            fg = acts[_F, t, r, k]
            og = acts[_O, t, r, k]
            jg = acts[_CI, t, r, k]
            c = acts[_CS, t, r, k]
            cc = acts[_CO, t, r, k]
            c_prev = cs_prev[r, k]
            one = _one(ig)
            d = dh[r, k]
            d_o = d * cc * og * (one - og)
            dc = d * og * (one - cc * cc) + dcs[r, k] + d_o * wco[k]
            if clip and not abs(c) < cell_clip:
                dc = dc - dc
            d_i = dc * jg * ig * (one - ig)
            d_f = dc * c_prev * fg * (one - fg)
            dgates[r, k] = d_i
            dgates[r, n + k] = dc * ig * (one - jg * jg)
            dgates[r, 2 * n + k] = d_f
            dgates[r, 3 * n + k] = d_o
            dcs[r, k] = dc * fg + d_i * wci[k] + d_f * wcf[k]
            wci_grad[k] += d_i * c_prev
            wcf_grad[k] += d_f * c_prev
            wco_grad[k] += d_o * c


@njit(cache=True, error_model="numpy")
def _column_sums(a, out):
    """out[k] = sum over rows of a[:, k] (accumulated in out's dtype, row by row: vectorizes over k)."""
    out[:] = 0
    for r in range(a.shape[0]):
        for k in range(a.shape[1]):
            out[k] += a[r, k]


@njit(cache=True, parallel=True)
def _backward_steps(fn, acts, cs_prev, h_grad, cs_grad, w_h_t, wci, wcf, wco, cell_clip, use_peephole, steps,
                    dgates, dh, cs_prev_grad, h_prev_grad, wci_grad, wcf_grad, wco_grad, bounds):
    """Backwards through the steps, each thread for its block of batch rows: the fused
    gate gradients, then dh of h[t - 1] = dgates[t] @ W_h^T (``w_h_t`` [4H, H]).
    The peephole gradients sum over rows: one block when there are peepholes."""
    nb, n = cs_prev.shape
    n4 = 4 * n
    dgf, wtf, hgf = dgates.reshape(-1), w_h_t.reshape(-1), h_prev_grad.reshape(-1)
    for c in prange(bounds.shape[0] - 1):
        r0, r1 = bounds[c], bounds[c + 1]
        for t in range(steps - 1, -1, -1):
            c_prev = cs_prev if t == 0 else acts[_CS, t - 1]
            _step_input_grads(h_grad[t], h_prev_grad, cs_grad[t], dh, cs_prev_grad, r0, r1)
            if use_peephole:
                lstm_gates_grad_peephole(acts, t, c_prev, dh, wci, wcf, wco, cell_clip, cs_prev_grad, dgates[t],
                                         wci_grad, wcf_grad, wco_grad, r0, r1)
            else:
                lstm_gates_grad(acts, t, c_prev, dh, cell_clip, cs_prev_grad, dgates[t], r0, r1)
            gemm(fn, dgf, (t * nb + r0) * n4, n4, 1, r1 - r0, wtf, 0, n, n, hgf, r0 * n, n, n4, False)


@njit(cache=True, parallel=True)
def _weight_grads(fn, x, h_prev, acts, dgates, steps, w_grad, bounds):
    """w_grad = [x; h]^T @ dgates summed over the steps, h being h_prev at step 0 and
    h[t - 1] after: per step one accumulating product per block of w_grad's rows
    (``bounds``, split across threads): rows < I from x, the rest from h."""
    nt, nb, ni = x.shape
    n = h_prev.shape[1]
    n4 = 4 * n
    xf, hf, af, dgf, wgf = x.reshape(-1), h_prev.reshape(-1), acts.reshape(-1), dgates.reshape(-1), w_grad.reshape(-1)
    for c in prange(bounds.shape[0] - 1):
        q0, q1 = bounds[c], bounds[c + 1]
        for s in range(steps):
            x0, x1 = q0, min(q1, ni)
            if x1 > x0:  # A[r, k] = x[s, k, r]
                gemm(fn, xf, s * nb * ni + x0, 1, ni, x1 - x0, dgf, s * nb * n4, n4, n4, wgf, x0 * n4, n4, nb, s > 0)
            h0, h1 = max(q0, ni), q1
            if h1 > h0:  # A[r, k] = h[k, r - I]
                if s == 0:
                    gemm(fn, hf, h0 - ni, 1, n, h1 - h0, dgf, 0, n4, n4, wgf, h0 * n4, n4, nb, False)
                else:
                    gemm(fn, af, (_H * nt + s - 1) * nb * n + h0 - ni, 1, n, h1 - h0, dgf, s * nb * n4, n4, n4, wgf,
                         h0 * n4, n4, nb, True)


@njit(cache=True)
def block_lstm_backward(fn, x, cs_prev, h_prev, w_x, w_h, wci, wcf, wco, acts, cs_grad, h_grad, cell_clip,
                        use_peephole, steps, want_x_grad, dgates, dh, w_tmp, w_x_t,
                        x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad, chunks):
    """Backpropagation through the first ``steps`` steps (the later outputs are
    constant zeros: no gradient). Workspaces: ``dgates`` [T, B, 4H], ``dh``
    [B, H] (a step's whole dh), ``w_tmp`` [H, 4H] (W_h transposed), ``w_x_t``
    [4H, I] (scratch for W_x transposed, when ``want_x_grad``). ``x_grad`` is
    written only when ``want_x_grad`` (an unused output costs one product less).
    ``chunks``: how many threads share the work."""
    nt, nb, ni = x.shape
    n = w_h.shape[0]
    n4 = w_h.shape[1]
    cs_prev_grad[:] = 0  # the dcs carried from step to step
    h_prev_grad[:] = 0   # the dh carried from step to step (h_prev's gradient at the end)
    wci_grad[:] = 0
    wcf_grad[:] = 0
    wco_grad[:] = 0
    w_grad[:] = 0
    b_grad[:] = 0
    if want_x_grad:
        x_grad[:] = 0
    if steps == 0 or nb == 0:
        return
    transpose_into(w_h, w_tmp.reshape(-1))  # rows of W_h^T are read as vectors by the products
    w_h_t = w_tmp.reshape(n4, n)
    _backward_steps(fn, acts, cs_prev, h_grad, cs_grad, w_h_t, wci, wcf, wco, cell_clip, use_peephole, steps,
                    dgates, dh, cs_prev_grad, h_prev_grad, wci_grad, wcf_grad, wco_grad,
                    row_blocks(nb, 1 if use_peephole else chunks))
    _weight_grads(fn, x, h_prev, acts, dgates, steps, w_grad, row_blocks(ni + n, chunks))
    rows = steps * nb
    dg = dgates[:steps].reshape(rows, n4)
    _column_sums(dg, b_grad)
    if want_x_grad and ni > 0:
        matmul_parallel(fn, dg, w_x, x_grad[:steps].reshape(rows, ni), np.bool_(False), np.bool_(True), w_x_t.reshape(-1),
               np.int64(chunks))
