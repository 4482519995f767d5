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
dh; the weight, bias and input gradients are then single large products over
all steps. Big products keep BLAS efficient; the fused passes read and write
each value once.

float32 uses the vectorizable ``exp32``/``tanh32`` (kernels/cpu/fastmath.py),
as the generated element-wise kernels do; float64 uses libm.
"""
import numpy as np
from numba import types
from numba.extending import overload

from nbflow.kernels.cpu.fastmath import exp32, tanh32
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
def lstm_gates(xw, hw, cs_prev, cell_clip, acts, t):
    """One step's gates and cell update, fused (no peepholes): ``xw`` [B, 4H] the
    input product plus biases, ``hw`` [B, 4H] the recurrent product, into ``acts[:, t]``."""
    nb, n = cs_prev.shape
    clip = cell_clip > 0
    for r in range(nb):
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
def lstm_gates_peephole(xw, hw, cs_prev, wci, wcf, wco, cell_clip, acts, t):
    """``lstm_gates`` with peephole connections (i and f see cs_prev, o sees cs)."""
    nb, n = cs_prev.shape
    clip = cell_clip > 0
    for r in range(nb):
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
def block_lstm_forward(x, cs_prev, h_prev, w_x, w_h, wci, wcf, wco, b, forget_bias, cell_clip, use_peephole,
                       steps, xw, hw, acts):
    """The first ``steps`` time steps of ``x`` [T, B, I] into ``acts`` [7, T, B, H];
    the steps after are zero (TF's BlockLSTM). ``w_x``/``w_h``: the kernel's
    input and recurrent rows. Workspaces: ``xw`` [T, B, 4H] (the input
    products), ``hw`` [B, 4H]."""
    nt, nb, ni = x.shape
    n4 = w_h.shape[1]
    acts[:, steps:] = 0
    if steps == 0 or nb == 0:
        return
    rows = steps * nb
    xw2 = xw[:steps].reshape(rows, n4)
    if ni > 0:
        np.dot(x[:steps].reshape(rows, ni), w_x, xw2)
    else:
        xw2[:] = 0
    _add_bias(xw2, b, forget_bias)
    for t in range(steps):
        c_prev = cs_prev if t == 0 else acts[_CS, t - 1]
        np.dot(h_prev if t == 0 else acts[_H, t - 1], w_h, hw)
        if use_peephole:
            lstm_gates_peephole(xw[t], hw, c_prev, wci, wcf, wco, cell_clip, acts, t)
        else:
            lstm_gates(xw[t], hw, c_prev, cell_clip, acts, t)


# -- backward -----------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def _step_input_grads(h_grad, dh_carry, cs_grad, dh, dcs):
    """dh = h_grad + dh_carry (this step's whole dh); dcs += cs_grad."""
    nb, n = dh.shape
    for r in range(nb):
        for k in range(n):
            dh[r, k] = h_grad[r, k] + dh_carry[r, k]
    for r in range(nb):
        for k in range(n):
            dcs[r, k] += cs_grad[r, k]


@njit(cache=True, error_model="numpy")
def lstm_gates_grad(acts, t, cs_prev, dh, cell_clip, dcs, dgates):
    """One step backwards, fused (no peepholes). ``dh``: the gradient of h[t];
    ``dcs``: the gradient of cs[t] on entry, of cs[t - 1] on exit; ``dgates``
    [B, 4H]: the pre-activation gradients (blocks i, j, f, o).

    The clip's gradient is exact (zero where cs was clipped); TF's kernel
    passes the gradient through the clip unchanged."""
    nb, n = cs_prev.shape
    clip = cell_clip > 0
    for r in range(nb):
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
                             wco_grad):
    """``lstm_gates_grad`` with peephole connections; their gradients accumulate."""
    nb, n = cs_prev.shape
    clip = cell_clip > 0
    for r in range(nb):
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
def _add_into(dst, src):
    """dst += src for 2-D arrays of one shape."""
    for r in range(dst.shape[0]):
        for k in range(dst.shape[1]):
            dst[r, k] += src[r, k]


@njit(cache=True, error_model="numpy")
def _column_sums(a, out):
    """out[k] = sum over rows of a[:, k] (accumulated in out's dtype, row by row: vectorizes over k)."""
    out[:] = 0
    for r in range(a.shape[0]):
        for k in range(a.shape[1]):
            out[k] += a[r, k]


@njit(cache=True)
def block_lstm_backward(x, cs_prev, h_prev, w_x, w_h, wci, wcf, wco, acts, cs_grad, h_grad, cell_clip,
                        use_peephole, steps, want_x_grad, dgates, dh, w_tmp,
                        x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad):
    """Backpropagation through the first ``steps`` steps (the later outputs are
    constant zeros: no gradient). Workspaces: ``dgates`` [T, B, 4H], ``dh``
    [B, H] (a step's whole dh), ``w_tmp`` [H, 4H]. ``x_grad`` is written only
    when ``want_x_grad`` (an unused output costs one product less)."""
    nt, nb, ni = x.shape
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
    for t in range(steps - 1, -1, -1):
        c_prev = cs_prev if t == 0 else acts[_CS, t - 1]
        _step_input_grads(h_grad[t], h_prev_grad, cs_grad[t], dh, cs_prev_grad)
        if use_peephole:
            lstm_gates_grad_peephole(acts, t, c_prev, dh, wci, wcf, wco, cell_clip, cs_prev_grad, dgates[t],
                                     wci_grad, wcf_grad, wco_grad)
        else:
            lstm_gates_grad(acts, t, c_prev, dh, cell_clip, cs_prev_grad, dgates[t])
        np.dot(dgates[t], w_h.T, h_prev_grad)
    # the weight, bias and input gradients: one product each over all steps
    rows = steps * nb
    dg = dgates[:steps].reshape(rows, n4)
    if ni > 0:
        np.dot(x[:steps].reshape(rows, ni).T, dg, w_grad[:ni])
    np.dot(h_prev.T, dgates[0], w_grad[ni:])
    if steps > 1:
        np.dot(acts[_H, :steps - 1].reshape(rows - nb, w_h.shape[0]).T, dgates[1:steps].reshape(rows - nb, n4),
               w_tmp)
        _add_into(w_grad[ni:], w_tmp)
    _column_sums(dg, b_grad)
    if want_x_grad and ni > 0:
        np.dot(dg, w_x.T, x_grad[:steps].reshape(rows, ni))
