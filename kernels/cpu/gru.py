"""A GRU layer over a whole sequence in one call: nbflow's BlockGRU op and its gradient.

The math of TF's GRUCell (kernels ``w_ru`` [I + H, 2H], blocks r, u, and
``w_c`` [I + H, H])::

    r, u = sigmoid([x, h_prev] W_ru + b_ru)
    c    = tanh([x, r * h_prev] W_c + b_c)
    h    = u * h_prev + (1 - u) * c

As for the LSTM (kernels/cpu/rnn.py): the input products of every step are
one matrix product each before the loop; a step is two products (``h_prev``
by the recurrent gate rows, ``r * h_prev`` by the recurrent candidate rows)
and two fused passes; the weight, bias and input gradients are single
products over all steps after the backward loop. ``acts`` [4, T, B, H]
holds the outputs r, u, c, h in one buffer (few arrays per loop keep it
vectorized).

A pass is three calls from the backend (backends/cpu/rnn.py): the work before
the loop (``gru_input_products``, ``gru_backward_start``), the loop on one
thread here (``forward_steps``, ``backward_steps``) or by blocks of rows on
every thread (kernels/cpu/gru_parallel.py), the work after it
(``gru_weight_grads``). Not one driver calling them: a compiled function
that calls another compiles the callee's code again into its own, and the
one-thread GRU's first step took 0.3 s (forward) and 0.9 s (gradient) longer
to compile that way.
"""
import numpy as np

from nbflow.kernels.cpu.rnn import _column_sums, _one, _sigmoid, _tanh
from nbflow.kernels.jit import njit

_R, _U, _C, _H = range(4)


@njit(cache=True, error_model="numpy")
def _add_bias(rows, b):
    for r in range(rows.shape[0]):
        for k in range(rows.shape[1]):
            rows[r, k] += b[k]


@njit(cache=True, error_model="numpy")
def gru_gates(xg, hg, h_prev, acts, t, rh, r0, r1):
    """r, u of step t into ``acts``; ``rh`` = r * h_prev (the candidate's recurrent input);
    rows r0..r1-1."""
    n = h_prev.shape[1]
    for r in range(r0, r1):
        for k in range(n):
            rg = _sigmoid(xg[r, k] + hg[r, k])
            acts[_R, t, r, k] = rg
            acts[_U, t, r, k] = _sigmoid(xg[r, n + k] + hg[r, n + k])
            rh[r, k] = rg * h_prev[r, k]


@njit(cache=True, error_model="numpy")
def gru_candidate(xc, hc, h_prev, acts, t, r0, r1):
    """c and h of step t into ``acts`` (u read from there); rows r0..r1-1."""
    n = h_prev.shape[1]
    for r in range(r0, r1):
        for k in range(n):
            c = _tanh(xc[r, k] + hc[r, k])
            u = acts[_U, t, r, k]
            acts[_C, t, r, k] = c
            acts[_H, t, r, k] = u * h_prev[r, k] + (_one(u) - u) * c


@njit(cache=True)
def gru_input_products(x, w_ru_x, w_c_x, b_ru, b_c, steps, xg, xc, acts):
    """Before the recurrence: steps from ``steps`` on zeroed in ``acts``, the input
    products of every step plus the biases into ``xg`` and ``xc``. False when there
    is nothing to run (no steps or no rows)."""
    nt, nb, ni = x.shape
    acts[:, steps:] = 0
    if steps == 0 or nb == 0:
        return False
    rows = steps * nb
    xg2 = xg[:steps].reshape(rows, xg.shape[2])
    xc2 = xc[:steps].reshape(rows, xc.shape[2])
    if ni > 0:
        x2 = x[:steps].reshape(rows, ni)
        np.dot(x2, w_ru_x, xg2)
        np.dot(x2, w_c_x, xc2)
    else:
        xg2[:] = 0
        xc2[:] = 0
    _add_bias(xg2, b_ru)
    _add_bias(xc2, b_c)
    return True


@njit(cache=True)
def forward_steps(h_prev, w_ru_h, w_c_h, steps, xg, xc, hg, hc, rh, acts):
    """The recurrence after ``gru_input_products``, on one thread (its step products
    BLAS's). Workspaces: ``xg`` [T, B, 2H], ``xc`` [T, B, H] (input products plus
    biases), ``hg`` [B, 2H], ``hc`` and ``rh`` [B, H]; ``acts`` [4, T, B, H]."""
    nb = h_prev.shape[0]
    for t in range(steps):
        hp = h_prev if t == 0 else acts[_H, t - 1]
        np.dot(hp, w_ru_h, hg)
        gru_gates(xg[t], hg, hp, acts, t, rh, 0, nb)
        np.dot(rh, w_c_h, hc)
        gru_candidate(xc[t], hc, hp, acts, t, 0, nb)


@njit(cache=True, error_model="numpy")
def gru_candidate_grad(acts, t, h_prev, h_grad, dh_carry, dc_pre, du, dhp, r0, r1):
    """From dh = h_grad + dh_carry: ``dc_pre`` (the candidate's pre-activation
    gradient), ``du`` (u's), ``dhp`` = dh * u (h_prev's direct share), and
    ``dh_carry`` left as is (read only); rows r0..r1-1."""
    n = h_prev.shape[1]
    for r in range(r0, r1):
        for k in range(n):
            d = h_grad[r, k] + dh_carry[r, k]
            u = acts[_U, t, r, k]
            c = acts[_C, t, r, k]
            one = _one(u)
            dc_pre[r, k] = d * (one - u) * (one - c * c)
            du[r, k] = d * (h_prev[r, k] - c)
            dhp[r, k] = d * u


@njit(cache=True, error_model="numpy")
def gru_gates_grad(acts, t, h_prev, d_rh, du, dhp, dru, rh, r0, r1):
    """From d_rh (the gradient of r * h_prev): ``dru`` [B, 2H] (r's and u's
    pre-activation gradients), ``dhp`` += d_rh * r, and ``rh`` = r * h_prev
    (for the candidate kernel's gradient); rows r0..r1-1."""
    n = h_prev.shape[1]
    for r in range(r0, r1):
        for k in range(n):
            rg = acts[_R, t, r, k]
            u = acts[_U, t, r, k]
            hp = h_prev[r, k]
            one = _one(u)
            g = d_rh[r, k]
            dru[r, k] = g * hp * rg * (one - rg)
            dru[r, n + k] = du[r, k] * u * (one - u)
            dhp[r, k] += g * rg
            rh[r, k] = rg * hp


@njit(cache=True, error_model="numpy")
def add_rows(a, b, out, r0, r1):
    """out = a + b on rows r0..r1-1."""
    for r in range(r0, r1):
        for k in range(out.shape[1]):
            out[r, k] = a[r, k] + b[r, k]


@njit(cache=True)
def backward_steps(h_prev, w_ru_h, w_c_h, acts, h_grad, steps, dru, dc, rh, du, dhp, d_rh, h_prev_grad):
    """The recurrence backwards after ``gru_backward_start``, on one thread. Workspaces:
    ``dru`` [T, B, 2H], ``dc`` and ``rh`` [T, B, H] (kept for ``gru_weight_grads``),
    ``du``, ``dhp``, ``d_rh`` [B, H]."""
    nb = h_prev.shape[0]
    for t in range(steps - 1, -1, -1):
        hp = h_prev if t == 0 else acts[_H, t - 1]
        gru_candidate_grad(acts, t, hp, h_grad[t], h_prev_grad, dc[t], du, dhp, 0, nb)
        np.dot(dc[t], w_c_h.T, d_rh)
        gru_gates_grad(acts, t, hp, d_rh, du, dhp, dru[t], rh[t], 0, nb)
        np.dot(dru[t], w_ru_h.T, d_rh)
        add_rows(d_rh, dhp, h_prev_grad, 0, nb)


@njit(cache=True)
def gru_backward_start(x, want_x_grad, steps, x_grad, h_prev_grad, w_ru_grad, w_c_grad, b_ru_grad, b_c_grad):
    """Zero the gradients (``h_prev_grad`` is the dh carried from step to step). False
    when there is nothing to run (no steps or no rows)."""
    h_prev_grad[:] = 0
    w_ru_grad[:] = 0
    w_c_grad[:] = 0
    b_ru_grad[:] = 0
    b_c_grad[:] = 0
    if want_x_grad:
        x_grad[:] = 0
    return steps > 0 and x.shape[1] > 0


@njit(cache=True)
def gru_weight_grads(x, h_prev, w_ru_x, w_c_x, acts, steps, want_x_grad, dru, dc, rh, w_tmp_ru, x_tmp,
                     x_grad, w_ru_grad, w_c_grad, b_ru_grad, b_c_grad):
    """After the recurrence: the weight, bias and input gradients, single products over
    all steps (``w_tmp_ru`` [H, 2H] and ``x_tmp`` [T, B, I], the latter used when
    ``want_x_grad``, are workspaces)."""
    nt, nb, ni = x.shape
    n = h_prev.shape[1]
    rows = steps * nb
    dru2 = dru[:steps].reshape(rows, 2 * n)
    dc2 = dc[:steps].reshape(rows, n)
    if ni > 0:
        x2 = x[:steps].reshape(rows, ni)
        np.dot(x2.T, dru2, w_ru_grad[:ni])
        np.dot(x2.T, dc2, w_c_grad[:ni])
    np.dot(rh[:steps].reshape(rows, n).T, dc2, w_c_grad[ni:])
    np.dot(h_prev.T, dru[0], w_ru_grad[ni:])
    if steps > 1:
        np.dot(acts[_H, :steps - 1].reshape(rows - nb, n).T, dru[1:steps].reshape(rows - nb, 2 * n), w_tmp_ru)
        w_ru_grad[ni:] += w_tmp_ru
    _column_sums(dru2, b_ru_grad)
    _column_sums(dc2, b_c_grad)
    if want_x_grad and ni > 0:
        xg2 = x_grad[:steps].reshape(rows, ni)
        xt2 = x_tmp[:steps].reshape(rows, ni)
        np.dot(dru2, w_ru_x.T, xg2)
        np.dot(dc2, w_c_x.T, xt2)
        xg2 += xt2
