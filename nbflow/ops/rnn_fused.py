"""An LSTM or GRU cell over a whole sequence as one BlockLSTM / BlockGRU op
(block_rnn_ops.py).

``dynamic_rnn`` and ``static_rnn`` call :func:`fused_rnn_config` first: a cell
whose step BlockLSTM computes exactly (``BasicLSTMCell``; ``LSTMCell`` without
projection, with or without peepholes and cell clipping; ``LSTMBlockCell``;
tanh activation, a Python-number forget bias, float32/float64), or BlockGRU
(``GRUCell`` with tanh), runs as one op instead of a While loop (or T
unrolled copies) of the cell's ops. The
variables are the cell's own, created in the cell's scope as its first call
would (same names, shapes, [input + hidden, 4 hidden] kernel, gates i, j, f,
o), and the results -- outputs, final state, ``sequence_length`` semantics,
gradients -- equal the step-by-step path's (tests/test_rnn_fused.py).

``sequence_length`` as TF's LSTMBlockFusedCell handles it: the op runs up to
the longest length, the outputs past each entry's length are multiplied by
zero, and the final state is gathered at each entry's last step (the initial
state for length 0).

:func:`unfused_rnn` turns the dispatch off (the reference path in tests).
"""
import contextlib

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops, math_ops
from nbflow.ops.block_rnn_ops import block_gru, block_lstm
from nbflow.ops.reduction_ops import reduce_max
from nbflow.ops.rnn_cell_base import LSTMStateTuple, StepSpec
from nbflow.ops.variable_scope import variable_scope

__all__ = ["unfused_rnn", "fused_rnn_config", "fused_rnn_sequence", "lstm_sequence", "fusion_enabled"]

_ENABLED = [True]


@contextlib.contextmanager
def unfused_rnn():
    """Within this block, dynamic_rnn and static_rnn build every cell step by step."""
    _ENABLED.append(False)
    try:
        yield
    finally:
        _ENABLED.pop()


def fused_rnn_config(cell, dtype, flat_state):
    """``(kind, attrs)`` -- "lstm" with BlockLSTM's attrs, "gru", or "multi" with
    the layers' plans -- for ``cell`` on inputs of ``dtype`` from the state
    tensors ``flat_state``; None when the cell cannot run as fused ops (then
    the caller builds it step by step, and reports any error the cell raises)."""
    if not _ENABLED[-1] or dtype not in (dtypes.float32, dtypes.float64):
        return None
    if any(s.dtype != dtype or s.shape.ndims not in (None, 2) for s in flat_state):
        return None
    if getattr(cell, "_dtype", None) not in (None, dtype):
        return None
    layers = getattr(cell, "_fused_layers", None)
    layers = layers() if layers is not None else None
    if layers is not None:  # MultiRNNCell: one fused op per layer, each layer's outputs the next one's inputs
        plans = [fused_rnn_config(layer, dtype, ()) for layer in layers]
        return None if any(p is None for p in plans) else ("multi", plans)
    for kind in ("lstm", "gru"):
        config = getattr(cell, "_block_%s_config" % kind, None)
        config = config() if config is not None else None
        if config is not None:
            return kind, config
    return None


def _split_state(cell, state):
    if cell._state_is_tuple:
        c, h = state
        return c, h
    return array_ops.split(state, 2, axis=1)


def _final(seq, first, index, batch_range):
    """seq [T, B, H] with ``first`` [B, H] prepended, at time ``index`` [B] (or a scalar) per entry."""
    full = array_ops.concat([array_ops.expand_dims(first, 0), seq], 0)
    if batch_range is None:
        return full[index]
    return array_ops.gather_nd(full, array_ops.stack([index, batch_range], axis=1))


def _steps(x, lengths):
    """(T as a tensor, seq_len_max int64, lengths clipped to [0, T] or None)."""
    time_steps = array_ops.shape(x)[0]
    if lengths is None:
        return time_steps, math_ops.cast(time_steps, dtypes.int64), None
    lengths = math_ops.minimum(math_ops.maximum(lengths, 0), time_steps)
    return time_steps, math_ops.cast(math_ops.maximum(reduce_max(lengths), 0), dtypes.int64), lengths


def _outputs_and_finals(x, h, pairs, time_steps, lengths):
    """The outputs (``h``, zero past each entry's length) and the final value of
    each (sequence [T, B, H], initial [B, H]) in ``pairs``: at the last step, or
    each entry's last step, or the initial value where no step ran."""
    steps_static, batch_static = x.shape.as_tuple()[:2]
    if lengths is None:
        outputs = h
        if steps_static:  # the last step's values
            finals = [seq[steps_static - 1] for seq, _ in pairs]
        else:  # possibly no step at all: the initial values
            finals = [_final(seq, first, time_steps, None) for seq, first in pairs]
    else:
        keep = math_ops.less(array_ops.expand_dims(array_ops.range(time_steps), 1),
                             array_ops.expand_dims(lengths, 0))
        outputs = h * array_ops.expand_dims(math_ops.cast(keep, x.dtype), 2)
        batch_range = array_ops.range(array_ops.shape(x)[1])
        finals = [_final(seq, first, lengths, batch_range) for seq, first in pairs]
    n = h.shape.as_tuple()[2]
    for t in finals:
        t.set_shape(TensorShape([batch_static, n]))
    outputs.set_shape(TensorShape([steps_static, batch_static, n]))
    return outputs, finals


def lstm_sequence(x, c0, h0, kernel, bias, config, peepholes=None, lengths=None):
    """One BlockLSTM over the time-major ``x`` [T, B, I] from (c0, h0) with a
    [I + H, 4H] ``kernel`` (blocks i, j, f, o) and BlockLSTM's ``config``:
    (outputs [T, B, H], final c, final h), with ``lengths`` semantics as above."""
    if peepholes is None:
        zeros = array_ops.zeros([kernel.shape.as_tuple()[1] // 4], dtype=x.dtype)
        peepholes = (zeros, zeros, zeros)
    time_steps, steps, lengths = _steps(x, lengths)
    _, cs, _, _, _, _, h = block_lstm(steps, x, c0, h0, kernel, *peepholes, bias, **config)
    outputs, (c_final, h_final) = _outputs_and_finals(x, h, [(cs, c0), (h, h0)], time_steps, lengths)
    return outputs, c_final, h_final


def fusion_enabled():
    """False inside :func:`unfused_rnn` (for other layers that fuse, e.g. Keras' LSTM)."""
    return _ENABLED[-1]


def _lstm(cell, config, x, state, lengths):
    kernel, bias, peepholes = cell._block_lstm_weights()
    c0, h0 = _split_state(cell, state)
    outputs, c_final, h_final = lstm_sequence(x, c0, h0, kernel, bias, config, peepholes, lengths)
    if cell._state_is_tuple:
        return outputs, LSTMStateTuple(c_final, h_final)
    return outputs, array_ops.concat([c_final, h_final], 1)


def _gru(cell, config, x, state, lengths):
    gate_kernel, gate_bias, candidate_kernel, candidate_bias = cell._block_gru_weights()
    time_steps, steps, lengths = _steps(x, lengths)
    _, _, _, h = block_gru(steps, x, state, gate_kernel, candidate_kernel, gate_bias, candidate_bias)
    outputs, (h_final,) = _outputs_and_finals(x, h, [(h, state)], time_steps, lengths)
    return outputs, h_final


def _multi(cell, plans, x, state, lengths):
    outputs, finals = x, []
    for k, (layer, plan) in enumerate(zip(cell._fused_layers(), plans)):
        with variable_scope("cell_%d" % k):  # as MultiRNNCell.call names its layers
            outputs, final = _sequence(layer, plan, outputs, state[k], lengths, None)
        finals.append(final)
    return outputs, tuple(finals)


_KINDS = {"lstm": _lstm, "gru": _gru, "multi": _multi}


def _sequence(cell, plan, x, state, lengths, scope, step_list=False):
    """Inside the cell's scopes (entered once, as one call of the cell): stack a
    list of steps, run the fused op(s), unstack the outputs again."""
    first = x[0] if step_list else x
    shape = first.shape if step_list else TensorShape(first.shape.as_tuple()[1:])
    with cell._call_scope(StepSpec(shape, first.dtype), scope):
        if step_list:
            x = array_ops.stack(x)
        kind, config = plan
        outputs, final = _KINDS[kind](cell, config, x, state, lengths)
        if step_list:
            outputs = array_ops.unstack(outputs, num=x.shape.as_tuple()[0])
        return outputs, final


def fused_rnn_sequence(cell, plan, x, state, lengths=None, scope=None):
    """``cell`` over the time-major ``x`` [T, B, I] from ``state``, as one BlockLSTM
    or BlockGRU (one per layer of a MultiRNNCell; ``plan`` from
    :func:`fused_rnn_config`).

    ``lengths``: int32 [B] or None. Returns (outputs [T, B, H], final state in
    the cell's state structure). ``x`` may be a list of T [B, I] tensors
    (static_rnn): the outputs are then a list too, both built in the cell's
    name scope, as the cell's own ops would be."""
    return _sequence(cell, plan, x, state, lengths, scope, step_list=isinstance(x, (list, tuple)))
