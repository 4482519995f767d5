"""Per-sequence kernels: reversing the first ``length`` steps of each batch entry."""
from nbflow.kernels.jit import njit


@njit(cache=True)
def reverse_sequence(x, lengths, out):
    """out[b, t] = x[b, lengths[b]-1-t] for t < lengths[b], else x[b, t].

    ``x`` and ``out`` are (batch, time, rest) views of any layout (the op moves
    the batch and sequence axes to the front without copying).
    """
    nb, nt, nr = x.shape
    for b in range(nb):
        n = lengths[b]
        for t in range(nt):
            src = n - 1 - t if t < n else t
            for r in range(nr):
                out[b, t, r] = x[b, src, r]
