"""CPU kernel of ReverseSequence (nbflow/ops/sequence_ops.py)."""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cpu import sequence as K
from nbflow.ops import sequence_ops


def _canonical(a, batch_dim, seq_dim):
    """A (batch, time, rest) view of ``a`` (no copy when the rest is contiguous)."""
    moved = np.moveaxis(a, (batch_dim, seq_dim), (0, 1))
    return moved.reshape(moved.shape[0], moved.shape[1], -1) if moved.ndim != 3 else moved


@register_kernel(sequence_ops.ReverseSequence)
def _reverse_sequence(ctx):
    seq_dim, batch_dim = ctx.attrs["seq_dim"], ctx.attrs["batch_dim"]
    static = ctx.static_buffer(0)

    def run(x, lengths):
        if lengths.shape[0] != x.shape[batch_dim]:
            raise ctx.op_error(errors.InvalidArgumentError, "len(seq_lengths) %d != input.dims(%d) %d"
                               % (lengths.shape[0], batch_dim, x.shape[batch_dim]))
        if lengths.size and (lengths.max() > x.shape[seq_dim] or lengths.min() < 0):
            raise ctx.op_error(
                errors.InvalidArgumentError, "seq_lengths must be in [0, input.dims(%d)=%d], got %s"
                % (seq_dim, x.shape[seq_dim], lengths.tolist()))
        out = static if static is not None else np.empty(x.shape, dtype=x.dtype)
        if x.size:
            dst = _canonical(out, batch_dim, seq_dim)
            in_place = np.shares_memory(dst, out)
            if not in_place:  # the remaining axes are not adjacent in memory: go through a temporary
                dst = np.empty(dst.shape, dtype=out.dtype)
            K.reverse_sequence(_canonical(x, batch_dim, seq_dim), lengths.astype(np.int64), dst)
            if not in_place:
                moved = np.moveaxis(out, (batch_dim, seq_dim), (0, 1))
                moved[...] = dst.reshape(moved.shape)
        return out
    return run
