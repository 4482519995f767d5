"""``tf.reverse_sequence``: reverse the first ``seq_lengths[b]`` steps of each batch entry.

CPU kernel: nbflow/backends/cpu/sequence.py.
"""
from nbflow.ops.gradient_registry import RegisterGradient
from nbflow.framework import dtypes
from nbflow.framework.graph import name_scope
from nbflow.ops.base import Op, apply_op, convert_to_tensor

__all__ = ["reverse_sequence"]


class ReverseSequence(Op):
    type = "ReverseSequence"
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        shape, lens = ctx.input_shapes
        seq_dim, batch_dim = ctx.attrs["seq_dim"], ctx.attrs["batch_dim"]
        if ctx.input_dtypes[1] not in (dtypes.int32, dtypes.int64):
            raise TypeError("seq_lengths of '%s' must be int32 or int64, got %s" % (ctx.name, ctx.input_dtypes[1].name))
        if not lens.is_compatible_with([None]):
            raise ctx.error("seq_lengths must be a vector, got shape %s" % lens)
        if shape.ndims is not None:
            for what, d in (("seq_dim", seq_dim), ("batch_dim", batch_dim)):
                if not 0 <= d < shape.ndims:
                    raise ctx.error("%s %d is out of range for input of rank %d" % (what, d, shape.ndims))
            if seq_dim == batch_dim:
                raise ctx.error("seq_dim and batch_dim must differ, both are %d" % seq_dim)
            b, n = shape.as_tuple()[batch_dim], lens.as_tuple()[0] if lens.ndims else None
            if b is not None and n is not None and b != n:
                raise ctx.error("len(seq_lengths) %d != input.dims(%d) %d" % (n, batch_dim, b))
        return [(ctx.input_dtypes[0], shape)]


@RegisterGradient("ReverseSequence")
def _reverse_sequence_grad(op, grad):
    return [apply_op(ReverseSequence, [grad, op.inputs[1]], dict(op.attrs)), None]


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None, seq_dim=None, batch_dim=None):
    """``tf.reverse_sequence``: for each b, reverse ``input``'s first ``seq_lengths[b]``
    entries along ``seq_axis``; the rest stay in place."""
    seq_axis = seq_axis if seq_axis is not None else seq_dim
    batch_axis = batch_axis if batch_axis is not None else (batch_dim if batch_dim is not None else 0)
    if seq_axis is None:
        raise ValueError("reverse_sequence needs seq_axis (or seq_dim)")
    with name_scope(name, "ReverseSequence", [input, seq_lengths]) as scope:
        x = convert_to_tensor(input, name="input")
        lengths = convert_to_tensor(seq_lengths, name="seq_lengths")
        rank = x.shape.ndims
        if rank is not None:
            seq_axis, batch_axis = seq_axis % rank, batch_axis % rank
        return apply_op(ReverseSequence, [x, lengths], {"seq_dim": int(seq_axis), "batch_dim": int(batch_axis)},
                        name=scope)
