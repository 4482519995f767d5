"""GPU BlockLSTM, BlockGRU and their gradients (float32/float64): the CPU kernels' structure
(nbflow/backends/cpu/rnn.py) with device kernels.

Forward: the input products of all steps are one tiled matmul before the
loop (kernels/cuda/linalg.py); a step is the recurrent matmul plus one fused
gate kernel (kernels/cuda/rnn.py) -- the GRU two of each, its candidate's
product needing r first. Backward: a step is one fused gate-gradient kernel
plus the matmul giving the carried dh (GRU: two of each); the weight and
input gradients are matmuls over all steps after the loop, the bias (and
peephole) gradients column sums. The time loop runs on the host, launching
kernels in order on the one stream: no copy back inside it.

``seq_len_max`` sizes the loop: taken from the plan when it is a constant
(the usual case: T from a static shape), otherwise copied to the host once
per run (a sync: ``max(sequence_length)`` computed on the device).
Workspaces and outputs are device arrays allocated once per shape (new
outputs per call in eager mode).
"""
import numpy as np

from nbflow.backends.cpu.rnn import _check_gru_inputs, _check_inputs, _workspace
from nbflow.backends.cuda.device import is_device_array
from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cuda import fill_add
from nbflow.kernels.cuda import linalg as L
from nbflow.kernels.cuda import rnn as K
from nbflow.kernels.cuda.launch import flat, grid_1d
from nbflow.ops import block_rnn_ops


def _accepts(op):
    return op.inputs[1].dtype.as_numpy_dtype in (np.float32, np.float64)


class _Launcher:
    """The kernels of one dtype, launched with grid-stride grids (configured per launch:
    the simulator's ``kernel[grid]`` mutates the kernel)."""

    def __init__(self, dtype):
        self.mod = K.get_module(dtype)
        self.mm_kernel = L.get_kernel(dtype)
        self.dtype = np.dtype(dtype)

    def __call__(self, name, n, *args):
        if n > 0:
            blocks, threads = grid_1d(n)
            getattr(self.mod, name)[blocks, threads](*args)

    def add_into(self, dst, src):
        if dst.size:
            blocks, threads = grid_1d(dst.size)
            fill_add.add_into[blocks, threads](dst, src, dst.size)

    def matmul(self, a, b, c, m, n, k, ta=False, tb=False, a_cols=None, b_cols=None):
        """c[m, n] = op(a) @ op(b) over flat arrays; ``a_cols``/``b_cols``: the stored row
        lengths (a stored [m, k] or, transposed, [k, m])."""
        if not m or not n:
            return
        sam, sak = (1, a_cols) if ta else (a_cols, 1)
        sbk, sbn = (1, b_cols) if tb else (b_cols, 1)
        blocks, threads = L.grid(m, n)
        self.mm_kernel[blocks, threads](a, b, c, m, n, k, sam, sak, sbk, sbn)

    def zero(self, a):
        if a.size:
            blocks, threads = grid_1d(a.size)
            fill_add.fill[blocks, threads](a, self.dtype.type(0), a.size)


def _steps_source(ctx):
    """get(seq_len_max value) -> int: the plan's constant, else the value copied to the host."""
    known = ctx.value(0)
    if known is not None:
        fixed = np.asarray(known)

        def from_plan(_):
            return fixed
        return from_plan

    def from_device(v):
        return v.copy_to_host() if is_device_array(v) else np.asarray(v)
    return from_device


def _outputs(device, fresh, shapes, dtype):
    """get() -> output device arrays of ``shapes``: kept per shape, new ones in eager mode."""
    if fresh:
        return lambda: [device.empty(s, dtype) for s in shapes]
    keep = _workspace(lambda key: [device.empty(s, dtype) for s in key])
    return lambda: keep(tuple(shapes))


def _check_forward(ctx, first, arrays, shape):
    for k, v in enumerate(arrays):
        if tuple(v.shape) != shape:
            raise ctx.op_error(errors.InvalidArgumentError, "input %d of %s must have the shape %s of the forward "
                               "outputs, got %s" % (first + k, ctx.op_def.type, shape, tuple(v.shape)))


def _acts_source(ctx, dtype):
    if ctx.fresh_outputs:
        return lambda shape: ctx.device.empty(shape, dtype)
    return _workspace(lambda shape: ctx.device.empty(shape, dtype))


@register_kernel(block_rnn_ops.BlockLSTM, device="GPU", accepts=_accepts)
def block_lstm_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    T = np.dtype(dtype).type
    a = ctx.attrs
    forget_bias, cell_clip, peephole = T(a["forget_bias"]), T(a["cell_clip"]), int(bool(a["use_peephole"]))
    launch, device, steps_of = _Launcher(dtype), ctx.device, _steps_source(ctx)
    acts_for = _acts_source(ctx, dtype)
    workspace = _workspace(lambda key: (device.empty((key[0] * key[1] * 4 * key[2],), dtype),
                                        device.empty((key[1] * 4 * key[2],), dtype)))

    def run(seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b):
        nt, nb, ni, n, steps = _check_inputs(ctx, steps_of(seq_len_max), x, cs_prev, h_prev, w, wci, wcf, wco, b)
        acts = acts_for((7, nt, nb, n))
        A = flat(acts)
        xw, hw = workspace((nt, nb, n))
        launch.zero(A)  # the steps past seq_len_max are zero
        if steps and nb:
            wf, size = flat(w), nb * n
            rows = steps * nb
            launch.matmul(flat(x)[:rows * ni], wf[:ni * 4 * n], xw, rows, 4 * n, ni, a_cols=ni, b_cols=4 * n)
            w_h = wf[ni * 4 * n:]
            plane = nt * size
            for t in range(steps):
                c_prev = flat(cs_prev) if t == 0 else A[plane + (t - 1) * size:plane + t * size]
                hp = flat(h_prev) if t == 0 else A[6 * plane + (t - 1) * size:6 * plane + t * size]
                launch.matmul(hp, w_h, hw, nb, 4 * n, n, a_cols=n, b_cols=4 * n)
                launch("lstm_gates", size, xw, hw, flat(b), c_prev, flat(wci), flat(wcf), flat(wco), A, t, nt, nb,
                       n, forget_bias, cell_clip, peephole)
        return tuple(acts[k] for k in range(7))
    return run


@register_kernel(block_rnn_ops.BlockLSTMGrad, device="GPU", accepts=_accepts)
def block_lstm_grad_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    T = np.dtype(dtype).type
    cell_clip, peephole = T(ctx.attrs["cell_clip"]), int(bool(ctx.attrs["use_peephole"]))
    launch, device, steps_of = _Launcher(dtype), ctx.device, _steps_source(ctx)
    want_x_grad = 0 in ctx.used_outputs
    # dgates [T, B, 4H]; hs [T, B, H] (h_prev, then h of the steps but the last: the
    # recurrent rows' gradient is one product)
    workspace = _workspace(lambda key: (device.empty((key[0] * key[1] * 4 * key[2],), dtype),
                                        device.empty((key[0] * key[1] * key[2],), dtype)))
    outputs = {}

    def run(seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b, i, cs, f, o, ci, co, h, cs_grad, h_grad):
        nt, nb, ni, n, steps = _check_inputs(ctx, steps_of(seq_len_max), x, cs_prev, h_prev, w, wci, wcf, wco, b)
        forward = (i, cs, f, o, ci, co, h)
        _check_forward(ctx, 9, forward + (cs_grad, h_grad), (nt, nb, n))
        shapes = [(nt, nb, ni), (nb, n), (nb, n), (ni + n, 4 * n), (n,), (n,), (n,), (4 * n,)]
        key = tuple(shapes)
        if key not in outputs:
            outputs.clear()
            outputs[key] = _outputs(device, ctx.fresh_outputs, shapes, dtype)
        outs = outputs[key]()
        x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad = [flat(v) for v in outs]
        dgates, hs = workspace((nt, nb, n))
        size = nb * n
        fi, fcs, ff, fo, fci, fco, fh = [flat(v) for v in forward]
        for v in (cs_prev_grad, h_prev_grad, wci_grad, wcf_grad, wco_grad, w_grad, b_grad):
            launch.zero(v)
        if want_x_grad:
            launch.zero(x_grad)
        if steps == 0 or nb == 0:
            return tuple(outs)
        wf = flat(w)
        w_x, w_h = wf[:ni * 4 * n], wf[ni * 4 * n:]
        hg, csg = flat(h_grad), flat(cs_grad)
        for t in range(steps - 1, -1, -1):
            c_prev = flat(cs_prev) if t == 0 else fcs[(t - 1) * size:t * size]
            launch("lstm_gates_grad", size, fi, fcs, ff, fo, fci, fco, c_prev, hg, csg, h_prev_grad, cs_prev_grad,
                   dgates, flat(wci), flat(wcf), flat(wco), t, nb, n, cell_clip, peephole)
            # the carried dh: dgates[t] @ w_h.T
            launch.matmul(dgates[t * nb * 4 * n:(t + 1) * nb * 4 * n], w_h, h_prev_grad, nb, n, 4 * n,
                          a_cols=4 * n, tb=True, b_cols=4 * n)
        rows = steps * nb
        dg = dgates[:rows * 4 * n]
        if ni:
            launch.matmul(flat(x)[:rows * ni], dg, w_grad[:ni * 4 * n], ni, 4 * n, rows, ta=True, a_cols=ni,
                          b_cols=4 * n)
        hs[:size].copy_to_device(flat(h_prev))
        if steps > 1:
            hs[size:rows * n].copy_to_device(fh[:(steps - 1) * size])
        launch.matmul(hs[:rows * n], dg, w_grad[ni * 4 * n:], n, 4 * n, rows, ta=True, a_cols=n, b_cols=4 * n)
        launch("column_sums", 4 * n, dg, b_grad, rows, 4 * n)
        if peephole:
            launch("lstm_peephole_grads", n, dgates, fcs, flat(cs_prev), steps, nb, n, wci_grad, wcf_grad, wco_grad)
        if want_x_grad and ni:
            launch.matmul(dg, w_x, x_grad[:rows * ni], rows, ni, 4 * n, a_cols=4 * n, tb=True, b_cols=4 * n)
        return tuple(outs)
    return run


# -- BlockGRU ---------------------------------------------------------------------------------

@register_kernel(block_rnn_ops.BlockGRU, device="GPU", accepts=_accepts)
def block_gru_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    launch, device, steps_of = _Launcher(dtype), ctx.device, _steps_source(ctx)
    acts_for = _acts_source(ctx, dtype)
    # xg [T, B, 2H], xc [T, B, H] (input products), hg [B, 2H], hc and rh [B, H]
    workspace = _workspace(lambda key: tuple(device.empty((s,), dtype) for s in (
        key[0] * key[1] * 2 * key[2], key[0] * key[1] * key[2], key[1] * 2 * key[2], key[1] * key[2],
        key[1] * key[2])))

    def run(seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c):
        nt, nb, ni, n, steps = _check_gru_inputs(ctx, steps_of(seq_len_max), x, h_prev, w_ru, w_c, b_ru, b_c)
        acts = acts_for((4, nt, nb, n))
        A = flat(acts)
        xg, xc, hg, hc, rh = workspace((nt, nb, n))
        launch.zero(A)
        if steps and nb:
            size, plane, rows = nb * n, nt * nb * n, steps * nb
            wru, wc, x2 = flat(w_ru), flat(w_c), flat(x)[:rows * ni]
            launch.matmul(x2, wru[:ni * 2 * n], xg, rows, 2 * n, ni, a_cols=ni, b_cols=2 * n)
            launch.matmul(x2, wc[:ni * n], xc, rows, n, ni, a_cols=ni, b_cols=n)
            wru_h, wc_h = wru[ni * 2 * n:], wc[ni * n:]
            for t in range(steps):
                hp = flat(h_prev) if t == 0 else A[3 * plane + (t - 1) * size:3 * plane + t * size]
                launch.matmul(hp, wru_h, hg, nb, 2 * n, n, a_cols=n, b_cols=2 * n)
                launch("gru_gates", size, xg, hg, flat(b_ru), hp, A, rh, t, nt, nb, n)
                launch.matmul(rh, wc_h, hc, nb, n, n, a_cols=n, b_cols=n)
                launch("gru_candidate", size, xc, hc, flat(b_c), hp, A, t, nt, nb, n)
        return tuple(acts[k] for k in range(4))
    return run


@register_kernel(block_rnn_ops.BlockGRUGrad, device="GPU", accepts=_accepts)
def block_gru_grad_kernel(ctx):
    dtype = ctx.out_np_dtype(0)
    launch, device, steps_of = _Launcher(dtype), ctx.device, _steps_source(ctx)
    want_x_grad = 0 in ctx.used_outputs

    def make(key):
        nt, nb, n, ni = key
        seq, step = nt * nb * n, nb * n
        # dru [T, B, 2H]; dc, rh, hs [T, B, H]; du, dhp, d_rh [B, H]; x_tmp [T, B, I]
        return tuple(device.empty((s,), dtype) for s in (2 * seq, seq, seq, seq, step, step, step,
                                                          nt * nb * ni if want_x_grad else 0))
    workspace = _workspace(make)
    outputs = {}

    def run(seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c, r, u, c, h, h_grad):
        nt, nb, ni, n, steps = _check_gru_inputs(ctx, steps_of(seq_len_max), x, h_prev, w_ru, w_c, b_ru, b_c)
        forward = (r, u, c, h)
        _check_forward(ctx, 7, forward + (h_grad,), (nt, nb, n))
        shapes = [(nt, nb, ni), (nb, n), (ni + n, 2 * n), (ni + n, n), (2 * n,), (n,)]
        key = tuple(shapes)
        if key not in outputs:
            outputs.clear()
            outputs[key] = _outputs(device, ctx.fresh_outputs, shapes, dtype)
        outs = outputs[key]()
        x_grad, h_prev_grad, w_ru_grad, w_c_grad, b_ru_grad, b_c_grad = [flat(v) for v in outs]
        dru, dc, rh, hs, du, dhp, d_rh, x_tmp = workspace((nt, nb, n, ni))
        size = nb * n
        fr, fu, fc, fh = [flat(v) for v in forward]
        for v in (h_prev_grad, w_ru_grad, w_c_grad, b_ru_grad, b_c_grad):
            launch.zero(v)
        if want_x_grad:
            launch.zero(x_grad)
        if steps == 0 or nb == 0:
            return tuple(outs)
        wru, wc = flat(w_ru), flat(w_c)
        wru_x, wru_h, wc_x, wc_h = wru[:ni * 2 * n], wru[ni * 2 * n:], wc[:ni * n], wc[ni * n:]
        hgr = flat(h_grad)
        for t in range(steps - 1, -1, -1):
            hp = flat(h_prev) if t == 0 else fh[(t - 1) * size:t * size]
            launch("gru_candidate_grad", size, fu, fc, hp, hgr, h_prev_grad, dc, du, dhp, t, nb, n)
            launch.matmul(dc[t * size:(t + 1) * size], wc_h, d_rh, nb, n, n, a_cols=n, tb=True, b_cols=n)
            launch("gru_gates_grad", size, fr, fu, hp, d_rh, du, dhp, dru, rh, t, nb, n)
            # the carried dh: dru[t] @ wru_h.T + dhp
            launch.matmul(dru[t * 2 * size:(t + 1) * 2 * size], wru_h, h_prev_grad, nb, n, 2 * n, a_cols=2 * n,
                          tb=True, b_cols=2 * n)
            launch.add_into(h_prev_grad, dhp)
        rows = steps * nb
        dru2, dc2 = dru[:rows * 2 * n], dc[:rows * n]
        if ni:
            x2 = flat(x)[:rows * ni]
            launch.matmul(x2, dru2, w_ru_grad[:ni * 2 * n], ni, 2 * n, rows, ta=True, a_cols=ni, b_cols=2 * n)
            launch.matmul(x2, dc2, w_c_grad[:ni * n], ni, n, rows, ta=True, a_cols=ni, b_cols=n)
        launch.matmul(rh[:rows * n], dc2, w_c_grad[ni * n:], n, n, rows, ta=True, a_cols=n, b_cols=n)
        hs[:size].copy_to_device(flat(h_prev))
        if steps > 1:
            hs[size:rows * n].copy_to_device(fh[:(steps - 1) * size])
        launch.matmul(hs[:rows * n], dru2, w_ru_grad[ni * 2 * n:], n, 2 * n, rows, ta=True, a_cols=n,
                      b_cols=2 * n)
        launch("column_sums", 2 * n, dru2, b_ru_grad, rows, 2 * n)
        launch("column_sums", n, dc2, b_c_grad, rows, n)
        if want_x_grad and ni:
            xg2, xt2 = x_grad[:rows * ni], x_tmp[:rows * ni]
            launch.matmul(dru2, wru_x, xg2, rows, ni, 2 * n, a_cols=2 * n, tb=True, b_cols=2 * n)
            launch.matmul(dc2, wc_x, xt2, rows, ni, n, a_cols=n, tb=True, b_cols=n)
            launch.add_into(xg2, xt2)
        return tuple(outs)
    return run
