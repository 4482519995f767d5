"""CUDA kernels of the fused recurrent layers: BlockLSTM, BlockGRU and their gradients.

The same structure as the CPU's (kernels/cpu/rnn.py, gru.py): the products are
the tiled matmul (kernels/cuda/linalg.py) launched by the backend
(nbflow/backends/cuda/rnn.py); these are the element-wise passes between them.
Every kernel is a grid-stride loop over one step's [B, H] elements (or, for
the column sums after the loop, one thread per column), over flat C-contiguous
device arrays indexed with offsets passed from the host:

- ``lstm_gates``: a step's gate non-linearities and cell update (peepholes by
  a flag), writing the seven outputs at step ``t`` of ``acts`` [7, T, B, H];
- ``lstm_gates_grad``: a step backwards -- its whole dh (h_grad + the carried
  dh), the carried dcs updated in place, the four pre-activation gate
  gradients into ``dgates`` [T, B, 4H] (kept for the products after the loop);
  it reads the forward outputs as six [T, B, H] arrays (the op's inputs, as
  given: no copy into one buffer);
- ``lstm_peephole_grads``: the peephole weights' gradients after the loop,
  one thread per cell column summing over steps and rows (no atomics: the
  sums are deterministic);
- GRU: ``gru_gates`` (r, u, r * h_prev), ``gru_candidate`` (c, h),
  ``gru_candidate_grad`` and ``gru_gates_grad`` -- two passes per step each
  way, as the candidate's recurrent product needs r first;
- ``column_sums`` (bias gradients); zero fills and sums are kernels/cuda/fill_add.py's.

Biases are added in the gate kernels in the CPU's order ((x W + b) + h W), so
the two devices round alike. Sources are generated per dtype (float32 stays
float32: ``T(1)`` constants) and cached on disk by hash, as the other CUDA
kernels are.
"""
import numpy as np

from nbflow.kernels.cpu.codegen import load_generated

_kernels = {}

_SOURCE = '''import math
import numpy as np
from numba import cuda

T = np.{dtype}
I, CS, F, O, CI, CO, H = 0, 1, 2, 3, 4, 5, 6
R, U, C, GH = 0, 1, 2, 3  # the GRU's planes r, u, c, h


@cuda.jit(device=True, inline=True)
def sigmoid(v):
    return T(1) / (T(1) + math.exp(-v))


@cuda.jit
def lstm_gates(xw, hw, b, cs_prev, wci, wcf, wco, acts, t, nt, nb, n, forget_bias, cell_clip, peephole):
    """Step ``t``: xw [T, B, 4H] the input products (no bias), hw [B, 4H] the recurrent one."""
    size = nb * n
    plane = nt * size
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < size:
        r = i // n
        k = i - r * n
        xo = (t * nb + r) * 4 * n
        ho = r * 4 * n
        c_prev = cs_prev[i]
        pi = (xw[xo + k] + b[k]) + hw[ho + k]
        pj = (xw[xo + n + k] + b[n + k]) + hw[ho + n + k]
        pf = ((xw[xo + 2 * n + k] + b[2 * n + k]) + forget_bias) + hw[ho + 2 * n + k]
        po = (xw[xo + 3 * n + k] + b[3 * n + k]) + hw[ho + 3 * n + k]
        if peephole:
            pi = pi + c_prev * wci[k]
            pf = pf + c_prev * wcf[k]
        ig = sigmoid(pi)
        jg = math.tanh(pj)
        fg = sigmoid(pf)
        c = ig * jg + fg * c_prev
        if cell_clip > 0:
            c = min(max(c, -cell_clip), cell_clip)
        if peephole:
            po = po + c * wco[k]
        og = sigmoid(po)
        cc = math.tanh(c)
        o = t * size + i
        acts[I * plane + o] = ig
        acts[CS * plane + o] = c
        acts[F * plane + o] = fg
        acts[O * plane + o] = og
        acts[CI * plane + o] = jg
        acts[CO * plane + o] = cc
        acts[H * plane + o] = og * cc
        i += stride


@cuda.jit
def lstm_gates_grad(ia, csa, fa, oa, cia, coa, cs_prev, h_grad, cs_grad, dh_carry, dcs, dgates, wci, wcf, wco, t,
                    nb, n, cell_clip, peephole):
    """Step ``t`` backwards: dh = h_grad[t] + dh_carry; ``dcs`` (cs[t]'s gradient carried from
    step t + 1) becomes cs[t - 1]'s; ``dgates[t]`` the pre-activation gradients (i, j, f, o).
    The clip's gradient is exact (zero where cs was clipped), as on the CPU."""
    size = nb * n
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < size:
        r = i // n
        k = i - r * n
        o = t * size + i
        ig = ia[o]
        fg = fa[o]
        og = oa[o]
        jg = cia[o]
        cc = coa[o]
        c = csa[o]
        c_prev = cs_prev[i]
        d = h_grad[o] + dh_carry[i]
        d_o = d * cc * og * (T(1) - og)
        dc = d * og * (T(1) - cc * cc) + (dcs[i] + cs_grad[o])
        if peephole:
            dc = dc + d_o * wco[k]
        if cell_clip > 0 and not abs(c) < cell_clip:
            dc = dc - dc  # zero (NaN stays NaN)
        d_i = dc * jg * ig * (T(1) - ig)
        d_f = dc * c_prev * fg * (T(1) - fg)
        g = (t * nb + r) * 4 * n
        dgates[g + k] = d_i
        dgates[g + n + k] = dc * ig * (T(1) - jg * jg)
        dgates[g + 2 * n + k] = d_f
        dgates[g + 3 * n + k] = d_o
        if peephole:
            dcs[i] = dc * fg + d_i * wci[k] + d_f * wcf[k]
        else:
            dcs[i] = dc * fg
        i += stride


@cuda.jit
def lstm_peephole_grads(dgates, csa, cs_prev, steps, nb, n, wci_grad, wcf_grad, wco_grad):
    """wci/wcf: sum of d_i/d_f * cs[t - 1] (cs_prev at t = 0); wco: sum of d_o * cs[t]."""
    k = cuda.grid(1)
    stride = cuda.gridsize(1)
    size = nb * n
    while k < n:
        si = T(0)
        sf = T(0)
        so = T(0)
        for t in range(steps - 1, -1, -1):
            for r in range(nb):
                g = (t * nb + r) * 4 * n
                e = r * n + k
                if t == 0:
                    c_prev = cs_prev[e]
                else:
                    c_prev = csa[(t - 1) * size + e]
                si += dgates[g + k] * c_prev
                sf += dgates[g + 2 * n + k] * c_prev
                so += dgates[g + 3 * n + k] * csa[t * size + e]
        wci_grad[k] = si
        wcf_grad[k] = sf
        wco_grad[k] = so
        k += stride


@cuda.jit
def gru_gates(xg, hg, b_ru, h_prev, acts, rh, t, nt, nb, n):
    """r and u of step ``t`` into ``acts`` [4, T, B, H]; rh = r * h_prev. xg [T, B, 2H]."""
    size = nb * n
    plane = nt * size
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < size:
        r = i // n
        k = i - r * n
        xo = (t * nb + r) * 2 * n
        ho = r * 2 * n
        rg = sigmoid((xg[xo + k] + b_ru[k]) + hg[ho + k])
        ug = sigmoid((xg[xo + n + k] + b_ru[n + k]) + hg[ho + n + k])
        o = t * size + i
        acts[R * plane + o] = rg
        acts[U * plane + o] = ug
        rh[i] = rg * h_prev[i]
        i += stride


@cuda.jit
def gru_candidate(xc, hc, b_c, h_prev, acts, t, nt, nb, n):
    """c and h of step ``t`` (u read from ``acts``). xc [T, B, H], hc [B, H]."""
    size = nb * n
    plane = nt * size
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < size:
        k = i - (i // n) * n
        o = t * size + i
        c = math.tanh((xc[o] + b_c[k]) + hc[i])
        u = acts[U * plane + o]
        acts[C * plane + o] = c
        acts[GH * plane + o] = u * h_prev[i] + (T(1) - u) * c
        i += stride


@cuda.jit
def gru_candidate_grad(ua, ca, h_prev, h_grad, dh_carry, dc, du, dhp, t, nb, n):
    """From dh = h_grad[t] + dh_carry: dc[t] (the candidate's pre-activation gradient),
    du (u's), dhp = dh * u (h_prev's direct share)."""
    size = nb * n
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < size:
        o = t * size + i
        d = h_grad[o] + dh_carry[i]
        u = ua[o]
        c = ca[o]
        dc[o] = d * (T(1) - u) * (T(1) - c * c)
        du[i] = d * (h_prev[i] - c)
        dhp[i] = d * u
        i += stride


@cuda.jit
def gru_gates_grad(ra, ua, h_prev, d_rh, du, dhp, dru, rh, t, nb, n):
    """From d_rh (the gradient of r * h_prev): dru[t] [B, 2H] (r's and u's pre-activation
    gradients), dhp += d_rh * r, rh[t] = r * h_prev (for the weight products)."""
    size = nb * n
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < size:
        r = i // n
        k = i - r * n
        o = t * size + i
        rg = ra[o]
        u = ua[o]
        hp = h_prev[i]
        g = d_rh[i]
        q = (t * nb + r) * 2 * n
        dru[q + k] = g * hp * rg * (T(1) - rg)
        dru[q + n + k] = du[i] * u * (T(1) - u)
        dhp[i] += g * rg
        rh[o] = rg * hp
        i += stride


@cuda.jit
def column_sums(a, out, rows, cols):
    """out[k] = sum over the rows of a [rows, cols] (one thread per column, rows in order)."""
    k = cuda.grid(1)
    stride = cuda.gridsize(1)
    while k < cols:
        s = T(0)
        for r in range(rows):
            s += a[r * cols + k]
        out[k] = s
        k += stride
'''

#: kernel name -> its argument kinds, for the PTX check: "a" a flat array of the dtype,
#: "s" a scalar of the dtype, "i" an int64
SIGNATURES = {
    "lstm_gates": "aaaaaaaaiiiissi",
    "lstm_gates_grad": "aaaaaaaaaaaaaaaiiisi",
    "lstm_peephole_grads": "aaaiiiaaa",
    "gru_gates": "aaaaaaiiii",
    "gru_candidate": "aaaaaiiii",
    "gru_candidate_grad": "aaaaaaaaiii",
    "gru_gates_grad": "aaaaaaaaiii",
    "column_sums": "aaii",
}


def generate_source(dtype):
    return _SOURCE.format(dtype=np.dtype(dtype).name)


def get_module(dtype):
    """The module of the recurrent kernels for ``dtype`` (float32 or float64)."""
    key = np.dtype(dtype).str
    mod = _kernels.get(key)
    if mod is None:
        mod = _kernels[key] = load_generated(generate_source(dtype), "cuda_rnn")
    return mod
