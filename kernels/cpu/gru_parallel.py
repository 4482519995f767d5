"""BlockGRU's recurrences on several threads, as the LSTM's (kernels/cpu/rnn.py).

Batch rows are independent through time, so each thread runs every step for
its block of rows (``bounds`` from ``rnn.row_blocks``: one parallel region per
pass, not one per step), the step products through the register-tiled
``gemm`` (kernels/cpu/microgemm.py) on its rows and the gate passes of
kernels/cpu/gru.py on the same rows. The backward pass multiplies by the
recurrent weights transposed once before the loop. What comes before and
after the loops (the input products, the weight gradients) is gru.py's.

A module apart from gru.py, called only above a size threshold
(backends/cpu/rnn.py): these parallel loops cost about 1.4 s (forward) and
2 s (gradient) more to compile than the one-thread kernels, which a small
GRU would never repay (docs/ARCHITECTURE.md, "Fused recurrent layers").
"""
from numba import prange

from nbflow.kernels.cpu.gru import _H, add_rows, gru_candidate, gru_candidate_grad, gru_gates, gru_gates_grad
from nbflow.kernels.cpu.microgemm import gemm, transpose_into
from nbflow.kernels.cpu.rnn import recurrent_product
from nbflow.kernels.jit import njit


@njit(cache=True, parallel=True)
def forward_steps(fn, h_prev, w_ru_h, w_c_h, steps, xg, xc, hg, hc, rh, acts, bounds):
    """The recurrence after ``gru.gru_input_products``, each thread every step for its
    block of rows; ``fn``: the gemm for the dtype. Workspaces as ``gru.forward_steps``."""
    nb, n = h_prev.shape
    nt = acts.shape[1]
    n2 = 2 * n
    hf, af, wruf, wcf = h_prev.reshape(-1), acts.reshape(-1), w_ru_h.reshape(-1), w_c_h.reshape(-1)
    hgf, hcf, rhf = hg.reshape(-1), hc.reshape(-1), rh.reshape(-1)
    for c in prange(bounds.shape[0] - 1):
        r0, r1 = bounds[c], bounds[c + 1]
        for t in range(steps):
            recurrent_product(fn, hf, af, _H, nt, nb, n, t, r0, r1, wruf, n2, hgf)
            hp = h_prev if t == 0 else acts[_H, t - 1]
            gru_gates(xg[t], hg, hp, acts, t, rh, r0, r1)
            gemm(fn, rhf, r0 * n, n, 1, r1 - r0, wcf, 0, n, n, hcf, r0 * n, n, n, False)
            gru_candidate(xc[t], hc, hp, acts, t, r0, r1)


def backward_steps(fn, h_prev, w_ru_h, w_c_h, acts, h_grad, steps, w_ru_h_t, w_c_h_t, dru, dc, rh, du, dhp, d_rh,
                   h_prev_grad, bounds):
    """The recurrence backwards after ``gru.gru_backward_start``; ``w_ru_h_t`` [2H, H] and
    ``w_c_h_t`` [H, H] receive the recurrent weights transposed. Plain Python: three
    compiled calls (a compiled caller would compile the parallel loop a second time)."""
    transpose_into(w_ru_h, w_ru_h_t.reshape(-1))
    transpose_into(w_c_h, w_c_h_t.reshape(-1))
    _backward_rows(fn, h_prev, acts, h_grad, steps, w_ru_h_t, w_c_h_t, dru, dc, rh, du, dhp, d_rh, h_prev_grad,
                   bounds)


@njit(cache=True, parallel=True)
def _backward_rows(fn, h_prev, acts, h_grad, steps, w_ru_h_t, w_c_h_t, dru, dc, rh, du, dhp, d_rh, h_prev_grad,
                   bounds):
    """Each thread every step, backwards, for its block of rows."""
    nb, n = h_prev.shape
    n2 = 2 * n
    dcf, druf, drhf = dc.reshape(-1), dru.reshape(-1), d_rh.reshape(-1)
    wruf, wcf = w_ru_h_t.reshape(-1), w_c_h_t.reshape(-1)
    for c in prange(bounds.shape[0] - 1):
        r0, r1 = bounds[c], bounds[c + 1]
        for t in range(steps - 1, -1, -1):
            hp = h_prev if t == 0 else acts[_H, t - 1]
            gru_candidate_grad(acts, t, hp, h_grad[t], h_prev_grad, dc[t], du, dhp, r0, r1)
            gemm(fn, dcf, (t * nb + r0) * n, n, 1, r1 - r0, wcf, 0, n, n, drhf, r0 * n, n, n, False)
            gru_gates_grad(acts, t, hp, d_rh, du, dhp, dru[t], rh[t], r0, r1)
            gemm(fn, druf, (t * nb + r0) * n2, n2, 1, r1 - r0, wruf, 0, n, n, drhf, r0 * n, n, n2, False)
            add_rows(d_rh, dhp, h_prev_grad, r0, r1)

