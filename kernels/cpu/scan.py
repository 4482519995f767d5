"""Scans (Cumsum, Cumprod) along the middle axis of an (outer, scanned, inner) view.

A scan along any one axis of a C-contiguous array is a reshape away from this
form. ``exclusive`` starts each scan from the identity (the element itself is
left out); ``reverse`` scans from the last element backwards. The inner axis
is the innermost loop, so memory is read in order whatever the scanned axis.
"""
from nbflow.kernels.jit import njit


@njit(cache=True)
def cumsum_mid(x, out, exclusive, reverse):
    o, r, n = x.shape
    if r == 0:
        return
    first = r - 1 if reverse else 0
    step = -1 if reverse else 1
    for a in range(o):
        for c in range(n):
            out[a, first, c] = 0 if exclusive else x[a, first, c]
        for s in range(1, r):
            b = first + s * step
            p = b - step
            for c in range(n):
                out[a, b, c] = out[a, p, c] + (x[a, p, c] if exclusive else x[a, b, c])


@njit(cache=True)
def cumprod_mid(x, out, exclusive, reverse):
    o, r, n = x.shape
    if r == 0:
        return
    first = r - 1 if reverse else 0
    step = -1 if reverse else 1
    for a in range(o):
        for c in range(n):
            out[a, first, c] = 1 if exclusive else x[a, first, c]
        for s in range(1, r):
            b = first + s * step
            p = b - step
            for c in range(n):
                out[a, b, c] = out[a, p, c] * (x[a, p, c] if exclusive else x[a, b, c])
