"""TF's fused LSTM layer op: ``BlockLSTM`` (a whole sequence in one op) and its
gradient op ``BlockLSTMGrad`` (tf.contrib.rnn's ``gen_lstm_ops.block_lstm``).

Inputs: ``seq_len_max`` (int64 scalar: the steps actually run; later outputs
are zero), ``x`` [T, B, I], ``cs_prev`` and ``h_prev`` [B, H], ``w``
[I + H, 4H] (gate blocks i, j, f, o, as BasicLSTMCell's kernel), the peephole
weights ``wci``, ``wcf``, ``wco`` [H] (read only with ``use_peephole``) and
``b`` [4H]. Outputs, each [T, B, H]: i, cs, f, o, ci, co, h (the gates after
their non-linearities, the cell state, tanh(cs) and the output). The math is
in kernels/cpu/rnn.py; ``dynamic_rnn`` and ``static_rnn`` build this op for
LSTM cells they can express with it (nbflow/ops/rnn_fused.py).

float32 and float64 (TF has float16 and float32). The gradient through
``cell_clip`` is exact (zero where the cell state was clipped); TF's kernel
lets it through unchanged.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op, apply_op, constant_value, convert_to_tensor
from nbflow.ops.gradient_registry import GradientNotImplemented, RegisterGradient

__all__ = ["block_lstm", "block_gru"]

_FLOATS = (dtypes.float32, dtypes.float64)
_INPUTS = ("seq_len_max", "x", "cs_prev", "h_prev", "w", "wci", "wcf", "wco", "b")
BLOCK_LSTM_OUTPUTS = ("i", "cs", "f", "o", "ci", "co", "h")


def _merge(ctx, known, d, what):
    if d is None:
        return known
    if known is not None and known != d:
        raise ctx.error("%s is %d, but another input says %d" % (what, d, known))
    return d


def _check_rank(ctx, i, rank, what):
    d = ctx.dims(i)
    if d is not None and len(d) != rank:
        raise ctx.error("%s must be %dD, got shape %s" % (what, rank, ctx.input_shapes[i]))
    return d if d is not None else (None,) * rank


def _lstm_dims(ctx):
    """(T, B, I, H) from the inputs of a BlockLSTM (or the first nine of its
    gradient), checking ranks, dtypes and the sizes that must agree."""
    if ctx.input_dtypes[0] is not dtypes.int64:
        raise TypeError("seq_len_max of '%s' must be int64, got %s" % (ctx.name, ctx.input_dtypes[0].name))
    _check_rank(ctx, 0, 0, "seq_len_max")
    t = ctx.input_dtypes[1]
    if t not in _FLOATS:
        raise TypeError("x of '%s' must be float32 or float64, got %s" % (ctx.name, t.name))
    for k in range(2, 9):
        if ctx.input_dtypes[k] is not t:
            raise TypeError("%s of '%s' has dtype %s, x has %s" % (_INPUTS[k], ctx.name, ctx.input_dtypes[k].name,
                                                                   t.name))
    steps, batch, depth = _check_rank(ctx, 1, 3, "x")
    hidden = None
    for k in (2, 3):
        b, h = _check_rank(ctx, k, 2, _INPUTS[k])
        batch = _merge(ctx, batch, b, "batch size (%s.dims(0))" % _INPUTS[k])
        hidden = _merge(ctx, hidden, h, "cell size (%s.dims(1))" % _INPUTS[k])
    rows, cols = _check_rank(ctx, 4, 2, "w")
    hidden = _merge(ctx, hidden, None if cols is None else _quarter(ctx, cols, "w.dims(1)"), "cell size (w)")
    for k in (5, 6, 7):
        (n,) = _check_rank(ctx, k, 1, _INPUTS[k])
        hidden = _merge(ctx, hidden, n, "cell size (%s)" % _INPUTS[k])
    (nb,) = _check_rank(ctx, 8, 1, "b")
    hidden = _merge(ctx, hidden, None if nb is None else _quarter(ctx, nb, "b.dims(0)"), "cell size (b)")
    if rows is not None and depth is not None and hidden is not None and rows != depth + hidden:
        raise ctx.error("w.dims(0) must be input size + cell size = %d + %d, got %d" % (depth, hidden, rows))
    return steps, batch, depth, hidden


def _quarter(ctx, n, what):
    if n % 4:
        raise ctx.error("%s must be 4 * cell size (gates i, j, f, o), got %d" % (what, n))
    return n // 4



def _check_forward_outputs(ctx, indices, seq):
    """A gradient op's forward-output inputs must have x's dtype and the [T, B, H] shape; returns that dtype."""
    t = ctx.input_dtypes[1]
    for k in indices:
        if ctx.input_dtypes[k] is not t:
            raise TypeError("input %d of '%s' has dtype %s, x has %s" % (k, ctx.name, ctx.input_dtypes[k].name, t.name))
        if not ctx.input_shapes[k].is_compatible_with(seq):
            raise ctx.error("input %d must have the shape %s of the forward outputs, got %s"
                            % (k, seq, ctx.input_shapes[k]))
    return t

class BlockLSTM(Op):
    type = "BlockLSTM"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        steps, batch, _, hidden = _lstm_dims(ctx)
        return [(ctx.input_dtypes[1], TensorShape([steps, batch, hidden]))] * 7


class BlockLSTMGrad(Op):
    """Inputs: BlockLSTM's nine, its seven outputs, then cs_grad and h_grad.
    Outputs: the gradients of x, cs_prev, h_prev, w, wci, wcf, wco, b."""

    type = "BlockLSTMGrad"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        steps, batch, depth, hidden = _lstm_dims(ctx)
        t = _check_forward_outputs(ctx, range(9, 18), TensorShape([steps, batch, hidden]))
        vec = TensorShape([hidden])
        state = TensorShape([batch, hidden])
        four = None if hidden is None else 4 * hidden
        rows = None if depth is None or hidden is None else depth + hidden
        return [(t, TensorShape([steps, batch, depth])), (t, state), (t, state), (t, TensorShape([rows, four])),
                (t, vec), (t, vec), (t, vec), (t, TensorShape([four]))]


def _attrs(op):
    return {k: op.attrs[k] for k in ("forget_bias", "cell_clip", "use_peephole", "T")}


def _is_zero(g):
    """A gradient known to be zero: ZerosLike (what tf.gradients gives unused outputs) or a zero constant."""
    if getattr(getattr(g, "op", None), "type", None) == "ZerosLike":
        return True
    v = constant_value(g)
    return v is not None and not np.any(v)


@RegisterGradient("BlockLSTM")
def _block_lstm_grad(op, *grads):
    cs_grad, h_grad = grads[1], grads[6]
    # the gradients of i, f, o, ci, co are not taken (as TF's): those outputs
    # are the saved activations the backward pass reads
    for name, g in zip(BLOCK_LSTM_OUTPUTS, grads):
        if name not in ("cs", "h") and g is not None and not _is_zero(g):
            raise NotImplementedError("BlockLSTM '%s': a gradient through its output '%s' is not supported "
                                      "(only cs and h are differentiable, as in TF)" % (op.name, name))
    outs = apply_op(BlockLSTMGrad, list(op.inputs) + list(op.outputs) + [cs_grad, h_grad], _attrs(op),
                    name="BlockLSTMGrad")
    x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad = outs
    peep = bool(op.attrs["use_peephole"])
    return [None, x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad if peep else None,
            wcf_grad if peep else None, wco_grad if peep else None, b_grad]


GradientNotImplemented("BlockLSTMGrad", "second derivatives through the fused LSTM (BlockLSTM) are not "
                                        "implemented; build the cell unfused for them")


def block_lstm(seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b, forget_bias=1.0, cell_clip=3.0,
               use_peephole=False, name=None):
    """TF's ``block_lstm`` (the raw op; defaults as TF's op: ``cell_clip`` 3.0, a
    value <= 0 means no clipping). Returns ``(i, cs, f, o, ci, co, h)``."""
    x = convert_to_tensor(x, name="x")
    tensors = [convert_to_tensor(seq_len_max, dtype=dtypes.int64, name="seq_len_max"), x]
    for what, v in zip(_INPUTS[2:], (cs_prev, h_prev, w, wci, wcf, wco, b)):
        tensors.append(convert_to_tensor(v, dtype=x.dtype if not hasattr(v, "dtype") else None, name=what))
    attrs = {"forget_bias": float(forget_bias), "cell_clip": float(cell_clip), "use_peephole": bool(use_peephole),
             "T": x.dtype}
    return tuple(apply_op(BlockLSTM, tensors, attrs, name=name or "BlockLSTM"))


# -- BlockGRU (nbflow's: TF has a one-step GRUBlockCell op, no sequence op) -------------------

_GRU_INPUTS = ("seq_len_max", "x", "h_prev", "w_ru", "w_c", "b_ru", "b_c")
BLOCK_GRU_OUTPUTS = ("r", "u", "c", "h")


def _gru_dims(ctx):
    """(T, B, I, H) from the inputs of a BlockGRU (or the first seven of its gradient)."""
    if ctx.input_dtypes[0] is not dtypes.int64:
        raise TypeError("seq_len_max of '%s' must be int64, got %s" % (ctx.name, ctx.input_dtypes[0].name))
    _check_rank(ctx, 0, 0, "seq_len_max")
    t = ctx.input_dtypes[1]
    if t not in _FLOATS:
        raise TypeError("x of '%s' must be float32 or float64, got %s" % (ctx.name, t.name))
    for k in range(2, 7):
        if ctx.input_dtypes[k] is not t:
            raise TypeError("%s of '%s' has dtype %s, x has %s" % (_GRU_INPUTS[k], ctx.name,
                                                                   ctx.input_dtypes[k].name, t.name))
    steps, batch, depth = _check_rank(ctx, 1, 3, "x")
    b, hidden = _check_rank(ctx, 2, 2, "h_prev")
    batch = _merge(ctx, batch, b, "batch size (h_prev.dims(0))")
    rows_ru, cols_ru = _check_rank(ctx, 3, 2, "w_ru")
    rows_c, cols_c = _check_rank(ctx, 4, 2, "w_c")
    (n_bru,) = _check_rank(ctx, 5, 1, "b_ru")
    (n_bc,) = _check_rank(ctx, 6, 1, "b_c")
    for d, div, what in ((cols_ru, 2, "w_ru.dims(1)"), (cols_c, 1, "w_c.dims(1)"), (n_bru, 2, "b_ru.dims(0)"),
                         (n_bc, 1, "b_c.dims(0)")):
        if d is not None and d % div:
            raise ctx.error("%s must be %d * cell size, got %d" % (what, div, d))
        hidden = _merge(ctx, hidden, None if d is None else d // div, "cell size (%s)" % what)
    for rows, what in ((rows_ru, "w_ru"), (rows_c, "w_c")):
        if rows is not None and depth is not None and hidden is not None and rows != depth + hidden:
            raise ctx.error("%s.dims(0) must be input size + cell size = %d + %d, got %d"
                            % (what, depth, hidden, rows))
    return steps, batch, depth, hidden


class BlockGRU(Op):
    """(seq_len_max, x [T, B, I], h_prev [B, H], w_ru [I + H, 2H], w_c [I + H, H],
    b_ru [2H], b_c [H]) -> r, u, c, h, each [T, B, H]: TF's GRUCell over the
    first seq_len_max steps (later outputs zero). Kernels: kernels/cpu/gru.py."""

    type = "BlockGRU"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        steps, batch, _, hidden = _gru_dims(ctx)
        return [(ctx.input_dtypes[1], TensorShape([steps, batch, hidden]))] * 4


class BlockGRUGrad(Op):
    """Inputs: BlockGRU's seven, its four outputs, then h_grad. Outputs: the
    gradients of x, h_prev, w_ru, w_c, b_ru, b_c."""

    type = "BlockGRUGrad"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        steps, batch, depth, hidden = _gru_dims(ctx)
        t = _check_forward_outputs(ctx, range(7, 12), TensorShape([steps, batch, hidden]))
        rows = None if depth is None or hidden is None else depth + hidden
        two = None if hidden is None else 2 * hidden
        return [(t, TensorShape([steps, batch, depth])), (t, TensorShape([batch, hidden])),
                (t, TensorShape([rows, two])), (t, TensorShape([rows, hidden])), (t, TensorShape([two])),
                (t, TensorShape([hidden]))]


@RegisterGradient("BlockGRU")
def _block_gru_grad(op, *grads):
    for name, g in zip(BLOCK_GRU_OUTPUTS, grads):
        if name != "h" and g is not None and not _is_zero(g):
            raise NotImplementedError("BlockGRU '%s': a gradient through its output '%s' is not supported "
                                      "(only h is differentiable)" % (op.name, name))
    outs = apply_op(BlockGRUGrad, list(op.inputs) + list(op.outputs) + [grads[3]], {"T": op.attrs["T"]},
                    name="BlockGRUGrad")
    return [None] + list(outs)


GradientNotImplemented("BlockGRUGrad", "second derivatives through the fused GRU (BlockGRU) are not "
                                       "implemented; build the cell unfused for them")


def block_gru(seq_len_max, x, h_prev, w_ru, w_c, b_ru, b_c, name=None):
    """nbflow's fused GRU layer op; returns ``(r, u, c, h)``, each [T, B, H]."""
    x = convert_to_tensor(x, name="x")
    tensors = [convert_to_tensor(seq_len_max, dtype=dtypes.int64, name="seq_len_max"), x]
    for what, v in zip(_GRU_INPUTS[2:], (h_prev, w_ru, w_c, b_ru, b_c)):
        tensors.append(convert_to_tensor(v, dtype=x.dtype if not hasattr(v, "dtype") else None, name=what))
    return tuple(apply_op(BlockGRU, tensors, {"T": x.dtype}, name=name or "BlockGRU"))
