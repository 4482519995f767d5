"""CPU kernels of BlockLSTM, BlockGRU and their gradients (nbflow/ops/block_rnn_ops.py).

The run-time checks repeat the graph-time ones for dimensions that were
unknown then; the loops are kernels/cpu/rnn.py. Workspaces (the input
products [T, B, 4H], the gate gradients [T, B, 4H], ...) are allocated once
per shape and kept, so a steady-state step allocates nothing.
"""
import numba
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cpu import gru as G
from nbflow.kernels.cpu import gru_parallel as GP
from nbflow.kernels.cpu import microgemm
from nbflow.kernels.cpu import rnn as K
from nbflow.kernels.cpu.threads import parallel_threads
from nbflow.ops import block_rnn_ops


def _workspace(make):
    """get(key) -> make(key), kept while the key stays the same."""
    cache = {}

    def get(key):
        ws = cache.get(key)
        if ws is None:
            cache.clear()
            ws = cache[key] = make(key)
        return ws
    return get


def _outputs(sources, shapes, dtype):
    """Output arrays: the planner's buffers where their shape is known, else new ones."""
    outs = []
    for src, shape in zip(sources, shapes):
        buf = src() if src is not None else None
        outs.append(buf if buf is not None and buf.shape == shape else np.empty(shape, dtype))
    return outs


def _check_inputs(ctx, seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b):
    """(T, B, I, H, steps) after checking the shapes the graph could not."""
    fail = ctx.run_error
    if np.ndim(seq_len_max) != 0:
        raise fail("seq_len_max must be a scalar, got shape %s" % (np.shape(seq_len_max),))
    if x.ndim != 3:
        raise fail("x must be 3D, got shape %s" % (x.shape,))
    nt, nb, ni = x.shape
    if cs_prev.ndim != 2 or cs_prev.shape[0] != nb:
        raise fail("cs_prev must be [batch_size %d, cell_size], got shape %s" % (nb, cs_prev.shape))
    n = cs_prev.shape[1]
    if h_prev.shape != (nb, n):
        raise fail("h_prev must have the shape %s of cs_prev, got %s" % ((nb, n), h_prev.shape))
    if w.shape != (ni + n, 4 * n):
        raise fail("w must be [input_size + cell_size, 4 * cell_size] = %s, got %s" % ((ni + n, 4 * n), w.shape))
    for what, v in (("wci", wci), ("wcf", wcf), ("wco", wco)):
        if v.shape != (n,):
            raise fail("%s must be [cell_size] = [%d], got %s" % (what, n, v.shape))
    if b.shape != (4 * n,):
        raise fail("b must be [4 * cell_size] = [%d], got %s" % (4 * n, b.shape))
    steps = int(seq_len_max)
    if not 0 <= steps <= nt:
        raise fail("seq_len_max must be in [0, %d] (the time steps of x), got %d" % (nt, steps))
    return nt, nb, ni, n, steps


def _scalars(ctx, np_t):
    a = ctx.attrs
    return np_t(a["forget_bias"]), np_t(a["cell_clip"]), bool(a["use_peephole"])


def _contiguous(arrays):
    return [np.ascontiguousarray(a) for a in arrays]


def _acts_source(ctx, np_t):
    """get(shape) -> the [7, T, B, H] buffer of the seven outputs: kept from step to
    step in a plan, a new one per call where outputs must be fresh (eager)."""
    if ctx.fresh_outputs:
        return lambda shape: np.empty(shape, np_t)
    return _workspace(lambda shape: np.empty(shape, np_t))


def _as_acts(outputs, shape, copy_into):
    """The forward outputs as one [7, T, B, H] array: the buffer they are views of
    (what the BlockLSTM kernel returns), else a copy into ``copy_into(shape)``."""
    base = outputs[0].base
    if (isinstance(base, np.ndarray) and base.shape == shape and base.flags.c_contiguous
            and all(a.base is base and a.__array_interface__["data"][0] == base[k].__array_interface__["data"][0]
                    for k, a in enumerate(outputs))):
        return base
    acts = copy_into(shape)
    for k, a in enumerate(outputs):
        acts[k] = a
    return acts


@register_kernel(block_rnn_ops.BlockLSTM)
def _block_lstm(ctx):
    np_t = ctx.out_np_dtype(0)
    gemm_fn = microgemm.gemm_address(np_t)
    forget_bias, cell_clip, use_peephole = _scalars(ctx, np_t)
    acts_for = _acts_source(ctx, np_t)
    workspace = _workspace(lambda key: (np.empty((key[0], key[1], 4 * key[2]), np_t),
                                        np.empty((key[1], 4 * key[2]), np_t)))

    def run(seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b):
        nt, nb, ni, n, steps = _check_inputs(ctx, seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b)
        acts = acts_for((7, nt, nb, n))
        xw, hw = workspace((nt, nb, n))
        x, cs_prev, h_prev, w, wci, wcf, wco, b = _contiguous((x, cs_prev, h_prev, w, wci, wcf, wco, b))
        K.block_lstm_forward(gemm_fn, x, cs_prev, h_prev, w[:ni], w[ni:], wci, wcf, wco, b, forget_bias, cell_clip,
                             use_peephole, steps, xw, hw, acts, numba.get_num_threads())
        return tuple(acts)
    return run


@register_kernel(block_rnn_ops.BlockLSTMGrad)
def _block_lstm_grad(ctx):
    np_t = ctx.out_np_dtype(0)
    gemm_fn = microgemm.gemm_address(np_t)
    _, cell_clip, use_peephole = _scalars(ctx, np_t)
    sources = [ctx.buffer_source(k) for k in range(8)]
    want_x_grad = 0 in ctx.used_outputs
    workspace = _workspace(lambda key: (np.empty((key[0], key[1], 4 * key[2]), np_t),
                                        np.empty((key[1], key[2]), np_t), np.empty((key[2], 4 * key[2]), np_t),
                                        np.empty((4 * key[2], key[3]), np_t)))
    acts_copy = _workspace(lambda shape: np.empty(shape, np_t))

    def run(seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b, i, cs, f, o, ci, co, h, cs_grad, h_grad):
        nt, nb, ni, n, steps = _check_inputs(ctx, seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b)
        forward = (i, cs, f, o, ci, co, h)
        for k, v in enumerate(forward + (cs_grad, h_grad)):
            if v.shape != (nt, nb, n):
                raise ctx.op_error(errors.InvalidArgumentError, "input %d of BlockLSTMGrad must have the shape %s "
                                   "of the forward outputs, got %s" % (9 + k, (nt, nb, n), v.shape))
        outs = _outputs(sources, [(nt, nb, ni), (nb, n), (nb, n), (ni + n, 4 * n), (n,), (n,), (n,), (4 * n,)],
                        np_t)
        dgates, dh, w_tmp, w_x_t = workspace((nt, nb, n, ni))
        acts = _as_acts(forward, (7, nt, nb, n), acts_copy)
        x, cs_prev, h_prev, w, wci, wcf, wco, cs_grad, h_grad = _contiguous(
            (x, cs_prev, h_prev, w, wci, wcf, wco, cs_grad, h_grad))
        K.block_lstm_backward(gemm_fn, x, cs_prev, h_prev, w[:ni], w[ni:], wci, wcf, wco, acts, cs_grad, h_grad, cell_clip,
                              use_peephole, steps, want_x_grad, dgates, dh, w_tmp, w_x_t, *outs,
                              numba.get_num_threads())
        return tuple(outs)
    return run


# -- BlockGRU ---------------------------------------------------------------------------------

def _check_gru_inputs(ctx, seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c):
    """(T, B, I, H, steps) after checking the shapes the graph could not."""
    fail = ctx.run_error
    if np.ndim(seq_len_max) != 0:
        raise fail("seq_len_max must be a scalar, got shape %s" % (np.shape(seq_len_max),))
    if x.ndim != 3:
        raise fail("x must be 3D, got shape %s" % (x.shape,))
    nt, nb, ni = x.shape
    if h_prev.ndim != 2 or h_prev.shape[0] != nb:
        raise fail("h_prev must be [batch_size %d, cell_size], got shape %s" % (nb, h_prev.shape))
    n = h_prev.shape[1]
    for what, v, shape in (("w_ru", w_ru, (ni + n, 2 * n)), ("w_c", w_c, (ni + n, n)), ("b_ru", b_ru, (2 * n,)),
                           ("b_c", b_c, (n,))):
        if v.shape != shape:
            raise fail("%s must have the shape %s (input size %d, cell size %d), got %s"
                       % (what, shape, ni, n, v.shape))
    steps = int(seq_len_max)
    if not 0 <= steps <= nt:
        raise fail("seq_len_max must be in [0, %d] (the time steps of x), got %d" % (nt, steps))
    return nt, nb, ni, n, steps


#: batch rows x units from which a BlockGRU (and its gradient) splits its recurrence
#: by rows across Numba's threads (kernels/cpu/gru_parallel.py), with at least two
#: blocks of 6 rows. Measured (session 14, 2 threads, T40 B128 I64 H128 float32):
#: forward 4.6-4.8 -> 4.0-4.3 ms, forward + gradient 12.5-13.0 -> 11.6-12.2 ms; the
#: parallel loops cost ~1 s more to compile each (forward, gradient), once per machine,
#: so small GRUs (tests, toy models: below 128x128) keep the one-thread kernels and
#: never compile them.
GRU_PARALLEL_MIN_ELEMENTS = 128 * 128


def _gru_chunks(nb, n):
    """Row blocks for the parallel recurrence, or 0 to run the one-thread kernel."""
    if nb * n < GRU_PARALLEL_MIN_ELEMENTS or nb < 12:
        return 0
    nt = parallel_threads()
    return nt if nt > 1 else 0


@register_kernel(block_rnn_ops.BlockGRU)
def _block_gru(ctx):
    np_t = ctx.out_np_dtype(0)
    acts_for = _acts_source(ctx, np_t)
    workspace = _workspace(lambda key: (
        np.empty((key[0], key[1], 2 * key[2]), np_t), np.empty((key[0], key[1], key[2]), np_t),
        np.empty((key[1], 2 * key[2]), np_t), np.empty((key[1], key[2]), np_t), np.empty((key[1], key[2]), np_t)))

    def run(seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c):
        nt, nb, ni, n, steps = _check_gru_inputs(ctx, seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c)
        acts = acts_for((4, nt, nb, n))
        x, h_prev, w_ru, w_c, b_ru, b_c = _contiguous((x, h_prev, w_ru, w_c, b_ru, b_c))
        xg, xc, hg, hc, rh = workspace((nt, nb, n))
        if G.gru_input_products(x, w_ru[:ni], w_c[:ni], b_ru, b_c, steps, xg, xc, acts):
            chunks = _gru_chunks(nb, n)
            if chunks:
                GP.forward_steps(microgemm.gemm_address(np_t), h_prev, w_ru[ni:], w_c[ni:], steps, xg, xc, hg, hc,
                                 rh, acts, K.row_blocks(nb, chunks))
            else:
                G.forward_steps(h_prev, w_ru[ni:], w_c[ni:], steps, xg, xc, hg, hc, rh, acts)
        return tuple(acts)
    return run


@register_kernel(block_rnn_ops.BlockGRUGrad)
def _block_gru_grad(ctx):
    np_t = ctx.out_np_dtype(0)
    sources = [ctx.buffer_source(k) for k in range(6)]
    want_x_grad = 0 in ctx.used_outputs
    workspace = _workspace(lambda key: (
        np.empty((key[0], key[1], 2 * key[2]), np_t), np.empty((key[0], key[1], key[2]), np_t),
        np.empty((key[0], key[1], key[2]), np_t), np.empty((key[1], key[2]), np_t),
        np.empty((key[1], key[2]), np_t), np.empty((key[1], key[2]), np_t), np.empty((key[2], 2 * key[2]), np_t),
        np.empty((key[0], key[1], key[3]) if want_x_grad else (0, 0, 0), np_t)))
    acts_copy = _workspace(lambda shape: np.empty(shape, np_t))
    transposed = _workspace(lambda n: (np.empty((2 * n, n), np_t), np.empty((n, n), np_t)))

    def run(seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c, r, u, c, h, h_grad):
        nt, nb, ni, n, steps = _check_gru_inputs(ctx, seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c)
        forward = (r, u, c, h)
        for k, v in enumerate(forward + (h_grad,)):
            if v.shape != (nt, nb, n):
                raise ctx.op_error(errors.InvalidArgumentError, "input %d of BlockGRUGrad must have the shape %s "
                                   "of the forward outputs, got %s" % (7 + k, (nt, nb, n), v.shape))
        outs = _outputs(sources, [(nt, nb, ni), (nb, n), (ni + n, 2 * n), (ni + n, n), (2 * n,), (n,)], np_t)
        acts = _as_acts(forward, (4, nt, nb, n), acts_copy)
        x, h_prev, w_ru, w_c, h_grad = _contiguous((x, h_prev, w_ru, w_c, h_grad))
        dru, dc, rh, du, dhp, d_rh, w_tmp_ru, x_tmp = workspace((nt, nb, n, ni))
        x_grad, h_prev_grad, w_ru_grad, w_c_grad, b_ru_grad, b_c_grad = outs
        if G.gru_backward_start(x, want_x_grad, steps, x_grad, h_prev_grad, w_ru_grad, w_c_grad, b_ru_grad,
                                b_c_grad):
            chunks = _gru_chunks(nb, n)
            if chunks:
                GP.backward_steps(microgemm.gemm_address(np_t), h_prev, w_ru[ni:], w_c[ni:], acts, h_grad, steps,
                                  *transposed(n), dru, dc, rh, du, dhp, d_rh, h_prev_grad, K.row_blocks(nb, chunks))
            else:
                G.backward_steps(h_prev, w_ru[ni:], w_c[ni:], acts, h_grad, steps, dru, dc, rh, du, dhp, d_rh,
                                 h_prev_grad)
            G.gru_weight_grads(x, h_prev, w_ru[:ni], w_c[:ni], acts, steps, want_x_grad, dru, dc, rh, w_tmp_ru, x_tmp,
                               x_grad, w_ru_grad, w_c_grad, b_ru_grad, b_c_grad)
        return tuple(outs)
    return run
