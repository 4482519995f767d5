"""Recurrent networks over cells (TF 1.15's ``tf.nn.static_rnn`` family).

``static_rnn`` unrolls the cell over a Python list of time steps: one copy of
the cell's ops per step, the variables created at step 0 and reused after
(under the variable scope ``rnn``, or ``scope``). With ``sequence_length``,
each batch entry's outputs are zero and its state is copied through once
its length is reached, as in TF (TF wraps each step in a ``cond``; here
every step runs and ``Select`` picks, with the same results).

An LSTM or GRU cell that BlockLSTM / BlockGRU computes exactly runs as that
one op over the stacked inputs instead of T copies of the cell (rnn_fused.py).
"""
from nbflow.framework import dtypes
from nbflow.framework import nest
from nbflow.framework.tensor_shape import Dimension, dimension_value
from nbflow.ops import array_ops, math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.rnn_cell_base import _concat, assert_like_rnncell
from nbflow.ops.rnn_fused import fused_rnn_config, fused_rnn_sequence
from nbflow.ops.variable_scope import variable_scope

__all__ = ["static_rnn", "static_bidirectional_rnn"]


def _infer_state_dtype(explicit_dtype, state):
    if explicit_dtype is not None:
        return dtypes.as_dtype(explicit_dtype)
    flat = nest.flatten(state)
    if not flat:
        raise ValueError("Unable to infer dtype from empty state.")
    inferred = [s.dtype for s in flat]
    if any(d != inferred[0] for d in inferred):
        raise ValueError("State has tensors of different inferred_dtypes. Unable to infer a single "
                         "representative dtype.")
    return inferred[0]


def _with_rank_at_least(tensor, rank):
    shape = tensor.shape
    if shape.ndims is not None and shape.ndims < rank:
        raise ValueError("Shape %s of input %s must have rank at least %d" % (shape, tensor.name, rank))
    return shape


def _input_shapes(inputs):
    """(fixed batch Dimension, first input) after TF's checks of every input's shape."""
    first_input = inputs
    while nest.is_nested(first_input):
        first_input = first_input[0]
    first_input = convert_to_tensor(first_input)
    if first_input.shape.ndims != 1:
        shape = _with_rank_at_least(first_input, 2)
        fixed_batch_size = Dimension(dimension_value(shape[0]) if shape.ndims is not None else None)
        for flat_input in nest.flatten(inputs):
            s = _with_rank_at_least(convert_to_tensor(flat_input), 2)
            if s.ndims is None:
                raise ValueError("Input size (dimension 1 of inputs) must be accessible via shape inference, "
                                 "but saw an input of unknown rank: %s" % flat_input)
            fixed_batch_size = fixed_batch_size.merge_with(s[0])
            for i, size in enumerate(s.as_tuple()[1:]):
                if size is None:
                    raise ValueError("Input size (dimension %d of inputs) must be accessible via shape inference, "
                                     "but saw value None." % i)
    else:
        fixed_batch_size = Dimension(dimension_value(_with_rank_at_least(first_input, 1)[0]))
    return fixed_batch_size, first_input


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Unrolled RNN over ``inputs``, a list of ``T`` tensors ``[batch, input_size]``
    (or nested structures of them). Returns ``(outputs, state)``: the list of
    ``T`` outputs and the final state.

    ``initial_state`` defaults to ``cell.zero_state(batch, dtype)`` (``dtype``
    then required). ``sequence_length`` (int32/int64 ``[batch]``): past an
    entry's length its outputs are zero and its state is the state at its last
    step. Variables live under ``scope`` (default ``"rnn"``).
    """
    assert_like_rnncell("cell", cell)
    if not nest.is_nested(inputs):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")

    outputs = []
    with variable_scope(scope or "rnn") as varscope:
        fixed_batch_size, first_input = _input_shapes(inputs)
        if dimension_value(fixed_batch_size):
            batch_size = dimension_value(fixed_batch_size)
        else:
            batch_size = array_ops.shape(first_input)[0]
        if initial_state is not None:
            state = initial_state
        else:
            if not dtype:
                raise ValueError("If no initial_state is provided, dtype must be specified")
            if getattr(cell, "get_initial_state", None) is not None:
                state = cell.get_initial_state(inputs=None, batch_size=batch_size, dtype=dtype)
            else:
                state = cell.zero_state(batch_size, dtype)

        if sequence_length is not None:
            sequence_length = convert_to_tensor(sequence_length, name="sequence_length")
            if sequence_length.shape.ndims not in (None, 1):
                raise ValueError("sequence_length must be a vector of length batch_size")
            if not sequence_length.dtype.is_integer:
                raise TypeError("sequence_length must be an integer vector, got %s" % sequence_length.dtype.name)
            state_dtype = _infer_state_dtype(dtype, state)

            def _create_zero_output(output_size):
                output = array_ops.zeros(_concat(batch_size, output_size), state_dtype)
                output.set_shape(_concat(dimension_value(fixed_batch_size), output_size, static=True))
                return output

            output_size = cell.output_size
            zero_output = nest.map_structure(_create_zero_output, output_size)
            sequence_length = math_ops.cast(sequence_length, dtypes.int32)

        fused = _fused_static_rnn(cell, inputs, state, sequence_length)
        if fused is not None:
            return fused
        for time, input_ in enumerate(inputs):
            if time > 0:
                varscope.reuse_variables()
            if sequence_length is not None:
                output, state = _rnn_step(time, sequence_length, zero_output, state, cell(input_, state))
            else:
                output, state = cell(input_, state)
            outputs.append(output)
        return outputs, state


def _fused_static_rnn(cell, inputs, state, sequence_length):
    """(outputs, state) of an LSTM cell BlockLSTM computes exactly, as one op over
    the stacked inputs (rnn_fused.py); None when the cell or inputs do not allow it."""
    if any(nest.is_nested(x) for x in inputs):
        return None
    inputs = [convert_to_tensor(x) for x in inputs]
    if any(x.dtype != inputs[0].dtype or x.shape.ndims != 2 for x in inputs):
        return None
    plan = fused_rnn_config(cell, inputs[0].dtype, nest.flatten(state))
    if plan is None:
        return None
    return fused_rnn_sequence(cell, plan, inputs, state, sequence_length)


def _rnn_step(time, sequence_length, zero_output, state, new_output_and_state):
    """One step with lengths: where ``time >= sequence_length`` the output is zero and
    the old state is carried, elsewhere the new values."""
    new_output, new_state = new_output_and_state
    copy_cond = math_ops.less_equal(sequence_length, time)

    def pick(old, new):
        new = convert_to_tensor(new)
        r = math_ops.where(copy_cond, old, new)
        r.set_shape(new.shape)
        return r

    nest.assert_same_structure(zero_output, new_output, check_types=False)
    nest.assert_same_structure(state, new_state, check_types=False)
    flat_out = [pick(z, o) for z, o in zip(nest.flatten(zero_output), nest.flatten(new_output))]
    flat_state = [pick(s, n) for s, n in zip(nest.flatten(state), nest.flatten(new_state))]
    return (nest.pack_sequence_as(new_output, flat_out), nest.pack_sequence_as(new_state, flat_state))


def _reverse_seq(input_seq, lengths):
    """Reverse a list of ``T`` tensors ``[batch, ...]`` in time; with ``lengths``, only each
    entry's first ``lengths[b]`` steps are reversed (TF's reverse_sequence), the
    rest stay in place."""
    if lengths is None:
        return list(reversed(input_seq))
    flat_input_seq = [nest.flatten(x) for x in input_seq]
    n_time = len(input_seq)
    lengths = math_ops.cast(convert_to_tensor(lengths), dtypes.int32)
    flat_results = [[] for _ in input_seq]
    for k in range(len(flat_input_seq[0])):
        seq = [flat[k] for flat in flat_input_seq]
        stacked = array_ops.stack(seq)  # [T, batch, ...]
        t = array_ops.reshape(array_ops.range(n_time), [-1, 1])  # [T, 1]
        l = array_ops.reshape(lengths, [1, -1])  # [1, batch]
        src_t = math_ops.where_v2(t < l, l - 1 - t, t)  # [T, batch]
        batch = array_ops.shape(stacked)[1]
        b = array_ops.broadcast_to(array_ops.reshape(array_ops.range(batch), [1, -1]), array_ops.shape(src_t))
        picked = array_ops.gather_nd(stacked, array_ops.stack([src_t, b], axis=-1))
        for t_i, r in enumerate(array_ops.unstack(picked, num=n_time)):
            r.set_shape(seq[t_i].shape)
            flat_results[t_i].append(r)
    return [nest.pack_sequence_as(x, flat) for x, flat in zip(input_seq, flat_results)]


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None, dtype=None,
                             sequence_length=None, scope=None):
    """A forward and a backward static_rnn over ``inputs`` (variables under
    ``bidirectional_rnn/fw`` and ``bidirectional_rnn/bw``). Returns ``(outputs,
    output_state_fw, output_state_bw)``, each output the depth concatenation
    ``[fw, bw]``; the backward pass reverses each entry's first
    ``sequence_length`` steps."""
    assert_like_rnncell("cell_fw", cell_fw)
    assert_like_rnncell("cell_bw", cell_bw)
    if not nest.is_nested(inputs):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, output_state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, sequence_length,
                                                    scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_seq(inputs, sequence_length)
            tmp, output_state_bw = static_rnn(cell_bw, reversed_inputs, initial_state_bw, dtype, sequence_length,
                                              scope=bw_scope)
    output_bw = _reverse_seq(tmp, sequence_length)
    flat_fw, flat_bw = nest.flatten(output_fw), nest.flatten(output_bw)
    flat_outputs = [array_ops.concat([fw, bw], 1) for fw, bw in zip(flat_fw, flat_bw)]
    outputs = nest.pack_sequence_as(output_fw, flat_outputs)
    return outputs, output_state_fw, output_state_bw


# dynamic_rnn and bidirectional_dynamic_rnn (one While op over the cell) live in dynamic_rnn.py;
# this module offers them too, as TF's rnn module does.
from nbflow.ops.dynamic_rnn import bidirectional_dynamic_rnn, dynamic_rnn  # noqa: E402,F401

# The pre-1.0 name of static_rnn (``rnn.rnn(cell, inputs)``).
rnn = static_rnn
