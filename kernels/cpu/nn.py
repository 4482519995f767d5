"""Neural-network kernels: softmax, log-softmax, fused softmax cross-entropy,
bias gradients, L2 loss, in-top-k, categorical sampling.

Destination-passing like every kernel here. Softmax-like kernels work on an
``(outer, n, inner)`` view whose middle axis is the class axis (any axis of a
C-contiguous array is a reshape away from this form); ``inner == 1`` is the
usual last-axis case and runs one contiguous row at a time.

Numerics: the row maximum is subtracted before ``exp`` (log-sum-exp), so
logits of any magnitude give finite results; the exponentials are summed in
float64 (an intentional widening: the sum of up to millions of terms keeps
float32 inputs accurate), and results are stored in the output's dtype.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def softmax_mid(x, out, log):
    """out = softmax(x) (or log_softmax when ``log``) along axis 1 of (o, n, i)."""
    o, n, m = x.shape
    for a in range(o):
        for c in range(m):
            mx = x[a, 0, c]
            for b in range(1, n):
                v = x[a, b, c]
                if v > mx:
                    mx = v
            s = 0.0
            if log:
                for b in range(n):
                    s += np.exp(x[a, b, c] - mx)
                ls = np.log(s)
                for b in range(n):
                    out[a, b, c] = (x[a, b, c] - mx) - ls
            else:
                for b in range(n):
                    e = np.exp(x[a, b, c] - mx)
                    out[a, b, c] = e
                    s += e
                r = 1.0 / s
                for b in range(n):
                    out[a, b, c] = out[a, b, c] * r


@njit(cache=True)
def softmax_xent(logits, labels, loss, backprop):
    """Fused softmax cross-entropy over rows of (batch, classes).

    loss[r] = sum_j labels[r, j] * (logsumexp(logits[r]) - logits[r, j]);
    backprop[r] = softmax(logits[r]) - labels[r] (the gradient w.r.t. logits)."""
    nb, n = logits.shape
    for r in range(nb):
        mx = logits[r, 0]
        for j in range(1, n):
            if logits[r, j] > mx:
                mx = logits[r, j]
        s = 0.0
        for j in range(n):
            e = np.exp(logits[r, j] - mx)
            backprop[r, j] = e
            s += e
        ls = np.log(s)
        inv = 1.0 / s
        acc = 0.0
        for j in range(n):
            lab = labels[r, j]
            if lab != 0:
                acc += lab * (ls - (logits[r, j] - mx))
            backprop[r, j] = backprop[r, j] * inv - lab
        loss[r] = acc


@njit(cache=True)
def sparse_softmax_xent(logits, labels, loss, backprop):
    """Softmax cross-entropy with integer class labels, rows of (batch, classes).

    Returns -1, or the index of the first label outside [0, classes) (nothing
    is meaningful in the outputs then: the caller raises)."""
    nb, n = logits.shape
    for r in range(nb):
        if labels[r] < 0 or labels[r] >= n:
            return r
    for r in range(nb):
        mx = logits[r, 0]
        for j in range(1, n):
            if logits[r, j] > mx:
                mx = logits[r, j]
        s = 0.0
        for j in range(n):
            e = np.exp(logits[r, j] - mx)
            backprop[r, j] = e
            s += e
        ls = np.log(s)
        inv = 1.0 / s
        for j in range(n):
            backprop[r, j] = backprop[r, j] * inv
        t = labels[r]
        backprop[r, t] -= 1
        loss[r] = ls - (logits[r, t] - mx)
    return -1


@njit(cache=True)
def bias_add_grad(g, out):
    """out[c] = sum of g[a, c, i] over a and i: the bias gradient of a
    (outer, channels, inner) view (NHWC: inner == 1; NCHW: outer == batch)."""
    o, nc, m = g.shape
    for c in range(nc):
        out[c] = 0
    for a in range(o):
        for c in range(nc):
            acc = out[c]
            for i in range(m):
                acc += g[a, c, i]
            out[c] = acc


@njit(cache=True)
def l2_loss(x, out):
    """out[0] = sum(x ** 2) / 2 over a flat array (accumulated in float64)."""
    s = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        s += v * v
    out[0] = s * 0.5


@njit(cache=True)
def in_top_k(pred, targets, k, out):
    """out[r] = whether pred[r, targets[r]] is among the k largest of row r.

    As TF: ties count in the target's favour (only strictly larger entries
    are counted); an out-of-range target or a non-finite value in the row
    gives False."""
    nb, n = pred.shape
    for r in range(nb):
        t = targets[r]
        ok = t >= 0 and t < n
        more = 0
        if ok:
            tv = pred[r, t]
            ok = np.isfinite(tv)
            if ok:
                for j in range(n):
                    v = pred[r, j]
                    if not np.isfinite(v):
                        ok = False
                        break
                    if v > tv:
                        more += 1
            ok = ok and more < k
        out[r] = ok


@njit(cache=True)
def categorical_sample(logits, u, out):
    """Draw out[r, s] ~ Categorical(softmax(logits[r])) by inverting the CDF
    at the uniform numbers u[r, s] in [0, 1). -inf logits have probability 0."""
    nb, n = logits.shape
    ns = u.shape[1]
    cdf = np.empty(n, dtype=np.float64)
    for r in range(nb):
        mx = -np.inf
        for j in range(n):
            if logits[r, j] > mx:
                mx = logits[r, j]
        acc = 0.0
        last = 0
        for j in range(n):
            p = np.exp(logits[r, j] - mx) if logits[r, j] > -np.inf else 0.0
            acc += p
            cdf[j] = acc
            if p > 0.0:
                last = j
        for s in range(ns):
            target = u[r, s] * acc
            lo, hi = 0, n - 1
            while lo < hi:  # first j with cdf[j] > target
                mid = (lo + hi) // 2
                if cdf[mid] > target:
                    hi = mid
                else:
                    lo = mid + 1
            out[r, s] = lo if lo <= last else last
