"""CUDA random numbers: numba.cuda.random's xoroshiro128+ generators, one per thread.

Each random op owns an array of generator states (one per launched thread,
independent subsequences 2**64 draws apart), kept across runs so the stream
advances; thread ``t`` fills elements ``t, t + threads, ...`` of the flat
output. Kinds: ``uniform`` in [0, 1), ``normal`` (standard), ``truncated``
(standard normal redrawn until within two standard deviations, as TF's
TruncatedNormal). Generated per (kind, dtype): the library's float32 and
float64 draws. Static kernels: ``uniform_int`` (RandomUniformInt) and
``multinomial`` (one categorical draw per thread).
"""
import math

import numpy as np
from numba import cuda
from numba.cuda.random import xoroshiro128p_next, xoroshiro128p_uniform_float64

from nbflow.kernels.cpu.codegen import load_generated
from nbflow.kernels.cuda.launch import SIMULATOR, THREADS

#: generator states per op (the most threads a random kernel launches)
STATES = THREADS * (1 if SIMULATOR else 256)

_DRAW = {"uniform": "xoroshiro128p_uniform_{b}", "normal": "xoroshiro128p_normal_{b}",
         "truncated": "xoroshiro128p_normal_{b}"}

_TEMPLATE = '''import numpy as np
from numba import cuda
from numba.cuda.random import {draw}


@cuda.jit
def kernel(states, out, n):
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    i = t
    while i < n:
        v = {draw}(states, t)
{redraw}        out[i] = v
        i += step
'''
_REDRAW = '''        while v > np.{dtype}(2) or v < np.{dtype}(-2):
            v = {draw}(states, t)
'''

_kernels = {}


def generate_source(kind, dtype):
    name = np.dtype(dtype).name
    draw = _DRAW[kind].format(b=name)
    redraw = _REDRAW.format(dtype=name, draw=draw) if kind == "truncated" else ""
    return _TEMPLATE.format(draw=draw, redraw=redraw)


def get_kernel(kind, dtype):
    key = (kind, np.dtype(dtype).str)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = load_generated(generate_source(kind, dtype), "cuda_rand").kernel
    return k


def grid(n):
    """(blocks, threads): never more threads than ``STATES``."""
    return max(1, min((n + THREADS - 1) // THREADS, STATES // THREADS)), THREADS


def seed_of(seed, seed2):
    """One 64-bit generator seed from TF's (seed, seed2); (0, 0): fresh entropy, as the CPU."""
    if seed == 0 and seed2 == 0:
        return int(np.random.SeedSequence().entropy) & (2 ** 64 - 1)
    return ((int(seed) & 0xFFFFFFFF) << 32) | (int(seed2) & 0xFFFFFFFF)


@cuda.jit
def uniform_int(states, out, n, lo, span):
    """out[i] = lo + (64 random bits mod span), as TF's integer uniform (span = maxval - minval > 0)."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    s = np.uint64(span)
    i = t
    while i < n:
        out[i] = lo + np.int64(xoroshiro128p_next(states, t) % s)
        i += step


@cuda.jit
def multinomial(states, logits, rows, n, samples, out):
    """out[r, s] ~ Categorical(softmax(logits[r])), one thread per draw: the CPU's inversion of
    the CDF (kernels/cpu/nn.py) -- the first class whose running sum of exp(logit - max)
    exceeds u * total, never past the last class of positive probability (-inf logits: none)."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    i = t
    while i < rows * samples:
        base = (i // samples) * n
        mx = -math.inf
        for j in range(n):
            if logits[base + j] > mx:
                mx = logits[base + j]
        total = 0.0
        last = 0
        for j in range(n):
            p = math.exp(logits[base + j] - mx) if logits[base + j] > -math.inf else 0.0
            total += p
            if p > 0.0:
                last = j
        target = xoroshiro128p_uniform_float64(states, t) * total
        acc = 0.0
        k = n - 1
        for j in range(n):
            acc += math.exp(logits[base + j] - mx) if logits[base + j] > -math.inf else 0.0
            if acc > target:
                k = j
                break
        out[i] = k if k <= last else last
        i += step


@cuda.jit
def shuffle_keys(states, keys, idx, n, n2):
    """RandomShuffle's sort input: a random 64-bit key per row (rows past ``n`` -- padding to
    the power of two ``n2`` -- get the largest key, so they sort last) and its index."""
    t = cuda.grid(1)
    step = cuda.gridsize(1)
    i = t
    while i < n2:
        keys[i] = xoroshiro128p_next(states, t) if i < n else ~np.uint64(0)
        idx[i] = i
        i += step


@cuda.jit
def bitonic_step(keys, idx, n2, j, k):
    """One compare-exchange step (distance ``j``, merge size ``k``) of a bitonic sort of
    (key, index) pairs ascending; equal keys order by index. Thread ``i`` owns the pair
    (i, i ^ j) when i < i ^ j, so a step has no races."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n2:
        p = i ^ j
        if p > i:
            a = keys[i]
            b = keys[p]
            later = a > b or (a == b and idx[i] > idx[p])
            if later == ((i & k) == 0):
                keys[i] = b
                keys[p] = a
                s = idx[i]
                idx[i] = idx[p]
                idx[p] = s
        i += step
