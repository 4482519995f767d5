"""CPU kernels of the random ops (nbflow/ops/random_ops.py).

Each random op draws from its own stream, a RandomStream resource of the
plan's resource manager (handle ("random", "", op name)), seeded from the op's
(seed, seed2) as TF does.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.kernels.cpu import nn as K
from nbflow.ops import random_ops
from nbflow.ops.random_ops import _dims_value
from nbflow.state.resources import RandomStream, ResourceHandle


def random_stream(ctx):
    """The op's numpy Generator (created on first use, kept across runs)."""
    seed, seed2 = ctx.attrs.get("seed", 0), ctx.attrs.get("seed2", 0)
    handle = ResourceHandle("random", "", ctx.name)
    return ctx.resources.lookup_or_create(handle, lambda: RandomStream(seed, seed2)).generator


def _run_error(ctx, message):
    return ctx.op_error(errors.InvalidArgumentError, "%s\n\t [[node %s]]" % (message, ctx.name))


def _buffer_getter(ctx):
    """``get(shape_value) -> out``: the preallocated buffer when the shape
    is known at plan time, else a new array of the fed shape."""
    static = ctx.static_buffer(0)
    npd = ctx.out_np_dtype(0)
    if static is not None:
        return lambda shape_value: static
    return lambda shape_value: np.empty(_dims_value(shape_value), dtype=npd)


def _fill_normal(rng, out, npd):
    if npd in (np.float32, np.float64):
        rng.standard_normal(dtype=npd, out=out)
    else:
        out[...] = rng.standard_normal(out.shape, dtype=np.float32)


def _fill_truncated_normal(rng, out, npd):
    """Standard normal floats, redrawn until within two standard deviations."""
    _fill_normal(rng, out, npd)
    bad = np.abs(out) > 2
    n = int(np.count_nonzero(bad))
    while n:
        out[bad] = rng.standard_normal(n, dtype=np.float32 if npd == np.float16 else npd)
        bad = np.abs(out) > 2
        n = int(np.count_nonzero(bad))


_FILL = {random_ops.RandomStandardNormal: _fill_normal, random_ops.TruncatedNormal: _fill_truncated_normal}


@register_kernel(random_ops.RandomUniform)
def _random_uniform(ctx):
    rng = random_stream(ctx)
    get = _buffer_getter(ctx)
    npd = np.dtype(ctx.out_np_dtype(0))
    if npd in (np.float32, np.float64):
        def run(shape):
            out = get(shape)
            rng.random(dtype=npd, out=out)
            return out
    else:  # float16: drawn in float32, rounded
        def run(shape):
            out = get(shape)
            out[...] = rng.random(out.shape, dtype=np.float32)
            return out
    return run


@register_kernel(random_ops.RandomStandardNormal)
def _random_standard_normal(ctx):
    fill = _FILL[ctx.op_def]
    rng = random_stream(ctx)
    get = _buffer_getter(ctx)
    npd = np.dtype(ctx.out_np_dtype(0))

    def run(shape):
        out = get(shape)
        fill(rng, out, npd)
        return out
    return run


@register_kernel(random_ops.RandomUniformInt)
def _random_uniform_int(ctx):
    rng = random_stream(ctx)
    get = _buffer_getter(ctx)
    npd = ctx.out_np_dtype(0)

    def run(shape, minval, maxval):
        if not minval < maxval:
            raise _run_error(ctx, "Need minval < maxval: %s >= %s" % (minval, maxval))
        out = get(shape)
        out[...] = rng.integers(int(minval), int(maxval), size=out.shape, dtype=npd)
        return out
    return run


@register_kernel(random_ops.RandomShuffle)
def _random_shuffle(ctx):
    rng = random_stream(ctx)
    static = ctx.static_buffer(0)

    def run(value):
        out = static if static is not None else np.empty(value.shape, dtype=value.dtype)
        if value.ndim == 0 or value.shape[0] <= 1:
            out[...] = value
        else:
            np.take(value, rng.permutation(value.shape[0]), axis=0, out=out)
        return out
    return run


@register_kernel(random_ops.Multinomial)
def _multinomial(ctx):
    rng = random_stream(ctx)
    static = ctx.static_buffer(0)
    npd = ctx.out_np_dtype(0)

    def run(logits, num_samples):
        ns = int(num_samples)
        if logits.ndim != 2:
            raise _run_error(ctx, "logits should be a matrix, got shape %s" % list(logits.shape))
        if ns < 0:
            raise _run_error(ctx, "num_samples should be nonnegative, got %d" % ns)
        b, n = logits.shape
        if n == 0 and b > 0 and ns > 0:
            raise _run_error(ctx, "num_classes should be positive, got 0")
        out = static if static is not None else np.empty((b, ns), dtype=npd)
        if out.size:
            u = rng.random((b, ns))
            if logits.dtype == np.float16:
                logits = logits.astype(np.float32)
            K.categorical_sample(logits, u, out)
        return out
    return run

