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

@njit(cache=True)
def lstm_cell_step(xw, hw, b, cs_prev, wci, wcf, wco, forget_bias, cell_clip, use_peephole,
                   i, cs, f, o, ci, co, h):
    """One step's gates and cell update, fused: ``xw``/``hw`` [B, 4H] are the input
    and recurrent products, the rest [B, H] (``b`` [4H], ``w*`` [H])."""
    nb, n = cs_prev.shape
    clip = cell_clip > 0
    for r in range(nb):
        for k in range(n):
            c_prev = cs_prev[r, k]
            gi = xw[r, k] + hw[r, k] + b[k]
            gj = xw[r, n + k] + hw[r, n + k] + b[n + k]
            gf = xw[r, 2 * n + k] + hw[r, 2 * n + k] + b[2 * n + k] + forget_bias
            go = xw[r, 3 * n + k] + hw[r, 3 * n + k] + b[3 * n + k]
            if use_peephole:
                gi += c_prev * wci[k]
                gf += c_prev * wcf[k]
            ig = _sigmoid(gi)
            fg = _sigmoid(gf)
            jg = _tanh(gj)
            c = ig * jg + fg * c_prev
            if clip:
                c = min(max(c, -cell_clip), cell_clip)
            if use_peephole:
                go += c * wco[k]
            og = _sigmoid(go)
            cc = _tanh(c)
            i[r, k] = ig
            f[r, k] = fg
            ci[r, k] = jg
            o[r, k] = og
            cs[r, k] = c
            co[r, k] = cc
            h[r, k] = og * cc


@njit(cache=True)
def block_lstm_forward(x, cs_prev, h_prev, w, wci, wcf, wco, b, forget_bias, cell_clip, use_peephole, steps,
                       xw, hw, i, cs, f, o, ci, co, h):
    """The first ``steps`` time steps of ``x`` [T, B, I] into the [T, B, H] outputs
    (i, cs, f, o, ci, co, h); the steps after are zero (TF's BlockLSTM).
    Workspaces: ``xw`` [T, B, 4H] (the input products), ``hw`` [B, 4H]."""
    nt, nb, ni = x.shape
    n4 = w.shape[1]
    for out in (i, cs, f, o, ci, co, h):
        out[steps:] = 0
    if steps == 0 or nb == 0:
        return
    if ni > 0:
        np.dot(x[:steps].reshape(steps * nb, ni), w[:ni], xw[:steps].reshape(steps * nb, n4))
    else:
        xw[:steps] = 0
    w_h = w[ni:]
    for t in range(steps):
        c_prev = cs_prev if t == 0 else cs[t - 1]
        h_before = h_prev if t == 0 else h[t - 1]
        np.dot(h_before, w_h, hw)
        lstm_cell_step(xw[t], hw, b, c_prev, wci, wcf, wco, forget_bias, cell_clip, use_peephole,
                       i[t], cs[t], f[t], o[t], ci[t], co[t], h[t])


# -- backward -----------------------------------------------------------------------------

@njit(cache=True)
def lstm_cell_step_grad(cs_prev, i, cs, f, o, ci, co, cs_grad, h_grad, wci, wcf, wco, cell_clip, use_peephole,
                        dcs, dgates, wci_grad, wcf_grad, wco_grad):
    """One step backwards, fused. In: the step's saved gates, ``cs_grad``/``h_grad``
    (the gradients of this step's outputs) and ``dcs``, the gradient reaching cs
    from the next step; ``h_grad`` already includes the next step's dh. Out:
    ``dgates`` [B, 4H] (pre-activation gradients, blocks i, j, f, o), ``dcs``
    overwritten with the gradient of cs_prev; the peephole gradients accumulate.

    The clip's gradient is exact (zero where cs was clipped); TF's kernel
    passes the gradient through the clip unchanged."""
    nb, n = cs_prev.shape
    clip = cell_clip > 0
    for r in range(nb):
        for k in range(n):
            one = _one(cs[r, k])
            c_prev = cs_prev[r, k]
            ig = i[r, k]
            fg = f[r, k]
            og = o[r, k]
            jg = ci[r, k]
            c = cs[r, k]
            cc = co[r, k]
            dh = h_grad[r, k]
            d_o = dh * cc * og * (one - og)
            dc = dh * og * (one - cc * cc) + cs_grad[r, k] + dcs[r, k]
            if use_peephole:
                dc += d_o * wco[k]
            if clip and not abs(c) < cell_clip:
                dc = dc - dc  # zero, keeping NaN
            d_j = dc * ig * (one - jg * jg)
            d_f = dc * c_prev * fg * (one - fg)
            d_i = dc * jg * ig * (one - ig)
            dgates[r, k] = d_i
            dgates[r, n + k] = d_j
            dgates[r, 2 * n + k] = d_f
            dgates[r, 3 * n + k] = d_o
            d_prev = dc * fg
            if use_peephole:
                d_prev += d_i * wci[k] + d_f * wcf[k]
                wci_grad[k] += d_i * c_prev
                wcf_grad[k] += d_f * c_prev
                wco_grad[k] += d_o * c
            dcs[r, k] = d_prev


@njit(cache=True)
def _add_into(dst, src):
    """dst += src for 2-D arrays of one shape."""
    for r in range(dst.shape[0]):
        for k in range(dst.shape[1]):
            dst[r, k] += src[r, k]


@njit(cache=True)
def block_lstm_backward(x, cs_prev, h_prev, w, wci, wcf, wco, i, cs, f, o, ci, co, h, cs_grad, h_grad,
                        cell_clip, use_peephole, steps, want_x_grad, dgates, dh_step, w_tmp,
                        x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad):
    """Backpropagation through the first ``steps`` steps (the later outputs are
    constant zeros: no gradient). Workspaces: ``dgates`` [T, B, 4H],
    ``dh_step`` [B, H] (the step's total dh), ``w_tmp`` [H, 4H]. ``x_grad`` is
    filled only when ``want_x_grad`` (an unused output costs one product)."""
    nt, nb, ni = x.shape
    n = cs_prev.shape[1]
    n4 = w.shape[1]
    cs_prev_grad[:] = 0  # dcs carried from step to step
    h_prev_grad[:] = 0   # dh carried from step to step (h_prev's gradient at the end)
    wci_grad[:] = 0
    wcf_grad[:] = 0
    wco_grad[:] = 0
    w_grad[:] = 0
    b_grad[:] = 0
    if want_x_grad:
        x_grad[:] = 0
    if steps == 0 or nb == 0:
        return
    w_h_t = w[ni:].T
    for t in range(steps - 1, -1, -1):
        c_prev = cs_prev if t == 0 else cs[t - 1]
        for r in range(nb):
            for k in range(n):
                dh_step[r, k] = h_grad[t, r, k] + h_prev_grad[r, k]
        lstm_cell_step_grad(c_prev, i[t], cs[t], f[t], o[t], ci[t], co[t], cs_grad[t], dh_step, wci, wcf, wco,
                            cell_clip, use_peephole, cs_prev_grad, dgates[t], wci_grad, wcf_grad, wco_grad)
        np.dot(dgates[t], w_h_t, h_prev_grad)
    # the weight, bias and input gradients: one product each over all steps
    rows = steps * nb
    dg = dgates[:steps].reshape(rows, n4)
    if ni > 0:
        np.dot(x[:steps].reshape(rows, ni).T, dg, w_grad[:ni])
    np.dot(h_prev.T, dgates[0], w_grad[ni:])
    if steps > 1:
        np.dot(h[:steps - 1].reshape(rows - nb, n).T, dgates[1:steps].reshape(rows - nb, n4), w_tmp)
        _add_into(w_grad[ni:], w_tmp)
    for r in range(rows):
        for k in range(n4):
            b_grad[k] += dg[r, k]
    if want_x_grad and ni > 0:
        np.dot(dg, w[:ni].T, x_grad[:steps].reshape(rows, ni))
