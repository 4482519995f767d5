"""Reductions over the middle axis of an (outer, reduced, inner) view.

Any reduction over a contiguous block of axes of a C-contiguous array is a
reshape away from this form; the caller transposes other axis sets first.
"""
import numpy as np

from nbflow.kernels.jit import njit


@njit(cache=True, fastmath=True)
def sum_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        if n == 1:
            acc = out.dtype.type(0)
            for b in range(r):
                acc += x[a, b, 0]
            out[a, 0] = acc
        else:
            for c in range(n):
                out[a, c] = 0
            for b in range(r):
                for c in range(n):
                    out[a, c] += x[a, b, c]


@njit(cache=True)
def prod_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = 1
        for b in range(r):
            for c in range(n):
                out[a, c] *= x[a, b, c]


@njit(cache=True)
def max_mid(x, out, lowest):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = lowest
        for b in range(r):
            for c in range(n):
                v = x[a, b, c]
                if v > out[a, c] or v != v:
                    out[a, c] = v


@njit(cache=True)
def min_mid(x, out, highest):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = highest
        for b in range(r):
            for c in range(n):
                v = x[a, b, c]
                if v < out[a, c] or v != v:
                    out[a, c] = v


@njit(cache=True)
def any_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = False
        for b in range(r):
            for c in range(n):
                if x[a, b, c]:
                    out[a, c] = True


@njit(cache=True)
def all_mid(x, out):
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = True
        for b in range(r):
            for c in range(n):
                if not x[a, b, c]:
                    out[a, c] = False


@njit(cache=True, fastmath=True)
def sum_squares_mid(x, out):
    """out = sum(x * x) over the middle axis (EuclideanNorm takes its square root)."""
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            out[a, c] = 0
        for b in range(r):
            for c in range(n):
                v = x[a, b, c]
                out[a, c] += v * v


@njit(cache=True)
def divide_trunc(out, n):
    """Integer mean: divide in place, rounding toward zero (C's division, as TF)."""
    flat = out.reshape(out.size)
    for i in range(flat.size):
        v = flat[i]
        q = abs(v) // n
        flat[i] = q if v >= 0 else -q


@njit(cache=True)
def argmax_mid(x, out):
    """Index of the first largest element along the middle axis (NaN counts as largest)."""
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            best = x[a, 0, c]
            k = 0
            if best == best:
                for b in range(1, r):
                    v = x[a, b, c]
                    if v > best or v != v:
                        best = v
                        k = b
                        if v != v:
                            break
            out[a, c] = k


@njit(cache=True)
def argmin_mid(x, out):
    """Index of the first smallest element along the middle axis (NaN counts as smallest)."""
    o, r, n = x.shape
    for a in range(o):
        for c in range(n):
            best = x[a, 0, c]
            k = 0
            if best == best:
                for b in range(1, r):
                    v = x[a, b, c]
                    if v < best or v != v:
                        best = v
                        k = b
                        if v != v:
                            break
            out[a, c] = k


def as_outer_mid_inner(shape, axes):
    """(outer, reduced, inner) sizes if ``axes`` (sorted) form one contiguous block, else None."""
    if not axes:
        n = int(np.prod(shape)) if shape else 1
        return (n, 1, 1)
    if list(axes) != list(range(axes[0], axes[-1] + 1)):
        return None
    outer = int(np.prod(shape[:axes[0]])) if axes[0] > 0 else 1
    mid = int(np.prod([shape[a] for a in axes]))
    inner = int(np.prod(shape[axes[-1] + 1:])) if axes[-1] + 1 < len(shape) else 1
    return (outer, mid, inner)
