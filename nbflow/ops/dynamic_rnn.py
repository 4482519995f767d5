"""``tf.nn.dynamic_rnn`` and ``bidirectional_dynamic_rnn`` over one While op.

The cell is built once, inside a while body; the While op slices the
time-major input at each step and stacks the cell's outputs (its *sequences*
and *emits*, see while_op.py), so the run-time loop is the executor calling one
compiled sub-plan per step -- no Python graph code per step and no copy of the
whole sequence per step. The gradient runs the steps backwards over the same
body (WhileGrad).

An LSTM or GRU cell that BlockLSTM / BlockGRU computes exactly runs as that
one op instead (rnn_fused.py): the same variables, results and gradients, without a
sub-plan per step.
"""
from nbflow.framework import context, dtypes, nest
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import array_ops, math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.rnn_fused import fused_rnn_config, fused_rnn_sequence
from nbflow.ops.sequence_ops import reverse_sequence
from nbflow.ops.variable_scope import variable_scope
from nbflow.ops.while_op import build_while

__all__ = ["dynamic_rnn", "bidirectional_dynamic_rnn"]


def _transpose_batch_time(x):
    """[B, T, ...] <-> [T, B, ...]."""
    rank = x.shape.ndims
    if rank is None or rank < 2:
        raise ValueError("Expected input tensor %s to have rank at least 2, but saw shape %s" % (x.name, x.shape))
    return array_ops.transpose(x, [1, 0] + list(range(2, rank)))


def _state_dtype(dtype, state):
    if dtype is not None:
        return dtypes.as_dtype(dtype)
    flat = nest.flatten(state)
    kinds = {s.dtype for s in flat}
    if len(kinds) != 1:
        raise ValueError("State has tensors of different inferred_dtypes. Unable to infer a single "
                         "representative dtype.")
    return flat[0].dtype


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory=False, time_major=False, scope=None):
    """Run ``cell`` over ``inputs`` ([batch, time, depth], or [time, batch, depth] with ``time_major``).

    Returns ``(outputs, final_state)`` as TF does: outputs in the input's
    major order; with ``sequence_length``, outputs past an entry's length are
    zero and its state stops changing there.
    """
    if not callable(cell) or not hasattr(cell, "state_size"):
        raise TypeError("cell must be an instance of RNNCell, got %r" % (cell,))
    flat_inputs = [convert_to_tensor(x) for x in nest.flatten(inputs)]
    if len(flat_inputs) != 1:
        raise NotImplementedError("nbflow's dynamic_rnn takes a single input tensor, got %d" % len(flat_inputs))
    with variable_scope(scope or "rnn"):
        x = flat_inputs[0]
        if not time_major:
            x = _transpose_batch_time(x)
        if x.shape.ndims is not None and x.shape.ndims != 3:
            raise ValueError("dynamic_rnn expects inputs of rank 3, got shape %s for %s" % (x.shape, x.name))
        batch_static = x.shape.as_tuple()[1] if x.shape.ndims is not None else None
        if initial_state is not None:
            state = initial_state
        else:
            if dtype is None:
                raise ValueError("If there is no initial_state, you must give a dtype.")
            batch = batch_static if batch_static is not None else array_ops.shape(x)[1]
            state = cell.zero_state(batch, dtypes.as_dtype(dtype))
        _state_dtype(dtype, state)  # a state of mixed dtypes is an error, as in TF
        flat_state = [convert_to_tensor(s) for s in nest.flatten(state)]
        n_state = len(flat_state)
        time_steps = array_ops.shape(x)[0]
        lengths = None
        if sequence_length is not None:
            lengths = math_ops.cast(convert_to_tensor(sequence_length), dtypes.int32, name="sequence_length")
            if lengths.shape.ndims not in (None, 1):
                raise ValueError("sequence_length must be a vector of length batch_size, but saw shape: %s"
                                 % lengths.shape)

        plan = fused_rnn_config(cell, x.dtype, flat_state)
        if plan is not None:
            outputs, final = fused_rnn_sequence(cell, plan, x, state, lengths)
            if not time_major:
                outputs = _transpose_batch_time(outputs)
            return outputs, nest.pack_sequence_as(state, nest.flatten(final))

        def cond(args):
            return math_ops.less(args[0], time_steps)

        def body(args, slices):
            time, old_state = args[0], nest.pack_sequence_as(state, args[1:])
            output, new_state = cell(slices[0], old_state)
            new_flat = [convert_to_tensor(s) for s in nest.flatten(new_state)]
            if len(new_flat) != n_state:
                raise ValueError("The cell returned a state with %d tensors; its initial state has %d"
                                 % (len(new_flat), n_state))
            if lengths is not None:
                # keep[b] = 1 while step `time` is inside entry b's sequence, else 0.
                keep = array_ops.expand_dims(math_ops.cast(math_ops.less(time, lengths), output.dtype), 1)
                output = output * keep
                new_flat = [old + (new - old) * math_ops.cast(keep, new.dtype)
                            for old, new in zip(args[1:], new_flat)]
            return [time + 1] + new_flat, [output]

        invariants = [TensorShape([])] + [_state_invariant(s) for s in flat_state]
        time0 = convert_to_tensor(0, name="time")
        if context.executing_eagerly():
            finals, outputs = _eager_steps(body, [time0] + flat_state, x)
        else:
            with name_scope("while") as while_scope:
                finals, (outputs,), _ = build_while(
                    cond, body, [time0] + flat_state, invariants,
                    maximum_iterations=time_steps, scope=while_scope, sequences=[x])
        outputs.set_shape(TensorShape([x.shape.as_tuple()[0] if x.shape.ndims else None]).concatenate(
            outputs.shape[1:]))
        if not time_major:
            outputs = _transpose_batch_time(outputs)
        final_state = nest.pack_sequence_as(state, finals[1:])
        return outputs, final_state


def _eager_steps(body, args, x):
    """Eager (TF 2): the time loop in Python; a GradientTape records every step."""
    outputs = []
    for t in range(x.shape.as_tuple()[0]):
        args, (out,) = body(args, [x[t]])
        outputs.append(out)
    if not outputs:
        raise ValueError("dynamic_rnn: the input has no time steps (shape %s)" % (x.shape,))
    return args, array_ops.stack(outputs)


def _state_invariant(s):
    shape = s.shape
    if shape.ndims is None:
        return shape
    # the batch dimension may be unknown when the state came from a fed placeholder
    return TensorShape([None] + list(shape.as_tuple()[1:])) if shape.ndims >= 1 else shape


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, dtype=None, parallel_iterations=None, swap_memory=False,
                              time_major=False, scope=None):
    """Forward and backward ``dynamic_rnn``: ``((out_fw, out_bw), (state_fw, state_bw))``."""
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            out_fw, state_fw = dynamic_rnn(cell_fw, inputs, sequence_length=sequence_length,
                                           initial_state=initial_state_fw, dtype=dtype, time_major=time_major,
                                           scope=fw_scope)
        time_axis, batch_axis = (0, 1) if time_major else (1, 0)

        def reverse(t):
            if sequence_length is None:
                return array_ops.reverse(t, [time_axis])
            return reverse_sequence(t, sequence_length, seq_axis=time_axis, batch_axis=batch_axis)
        with variable_scope("bw") as bw_scope:
            out_bw, state_bw = dynamic_rnn(cell_bw, reverse(convert_to_tensor(inputs)),
                                           sequence_length=sequence_length, initial_state=initial_state_bw,
                                           dtype=dtype, time_major=time_major, scope=bw_scope)
        return (out_fw, reverse(out_bw)), (state_fw, state_bw)
