"""CPU kernels of the candidate samplers and ComputeAccidentalHits
(nbflow/ops/candidate_sampling_ops.py): vectorized numpy over the op's own
random stream (a RandomStream resource, as the other random ops)."""
import math

import numpy as np

from nbflow.backends.cpu.random import random_stream
from nbflow.backends.registry import register_kernel
from nbflow.ops import candidate_sampling_ops as cs
from nbflow.state.resources import ResourceHandle

_FLT_MAX = float(np.finfo(np.float32).max)


def _run_error(ctx, message):
    return ctx.run_error(message)


# -- base distributions ----------------------------------------------------------------

class _UniformDist:
    def __init__(self, range_max):
        self.range = range_max

    def sample(self, rng, n):
        return rng.integers(0, self.range, size=n, dtype=np.int64)

    def probability(self, values):
        return np.full(values.shape, 1.0 / self.range, dtype=np.float32)


class _LogUniformDist:
    def __init__(self, range_max):
        self.range = range_max
        self.log_range = math.log1p(range_max)

    def sample(self, rng, n):
        # exp(U * log(range + 1)) - 1, truncated; the modulo only guards round-off (as TF)
        v = np.exp(rng.random(n) * self.log_range).astype(np.int64) - 1
        return v % self.range

    def probability(self, values):
        v = values.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.log((v + 2.0) / (v + 1.0)) / self.log_range).astype(np.float32)


class _WeightedDist:
    """Classes drawn in proportion to float weights (a weight of 0 is never drawn)."""

    def __init__(self, weights):
        self.set_weights(weights)

    def set_weights(self, weights):
        self.weights = np.asarray(weights, dtype=np.float32)
        self.cdf = np.cumsum(self.weights, dtype=np.float64)
        self.total = np.float32(self.cdf[-1]) if self.cdf.size else np.float32(0)

    @property
    def range(self):
        return self.weights.shape[0]

    def sample(self, rng, n):
        idx = np.searchsorted(self.cdf, rng.random(n) * self.cdf[-1], side="right")
        return np.minimum(idx, self.range - 1).astype(np.int64)

    def probability(self, values):
        inside = (values >= 0) & (values < self.range)
        out = np.zeros(values.shape, dtype=np.float32)
        out[inside] = self.weights[values[inside]] / self.total
        return out


def _draw(dist, rng, num_sampled, unique):
    """(sampled int64 [num_sampled], num_tries) as RangeSampler draws them."""
    if not unique:
        return dist.sample(rng, num_sampled), num_sampled
    draws = np.zeros(0, dtype=np.int64)
    chunk = max(2 * num_sampled, 64)
    while True:
        draws = np.concatenate([draws, dist.sample(rng, chunk)])
        _, first = np.unique(draws, return_index=True)
        if first.size >= num_sampled:
            first.sort()
            kept = first[:num_sampled]
            return draws[kept], int(kept[-1]) + 1
        chunk = min(2 * chunk, 1 << 22)


def _expected_count(p, num_sampled, num_tries):
    """TF's ExpectedCountHelper, in float32."""
    if num_tries == num_sampled:
        return (p * np.float32(num_sampled)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (-np.expm1(np.float32(num_tries) * np.log1p(-p))).astype(np.float32)


def _check_true_classes(ctx, true_classes, num_true):
    if true_classes.ndim != 2:
        raise _run_error(ctx, "true_classes must be a matrix")
    if true_classes.shape[1] != num_true:
        raise _run_error(ctx, "true_classes must have num_true columns, expected: %d was: %d"
                         % (true_classes.shape[1], num_true))


def _unigram_weights(a):
    """The (distorted, sharded) weights of FixedUnigramCandidateSampler, as a float32 array."""
    shards, shard, distortion = a["num_shards"], a["shard"], np.float32(a["distortion"])
    weights = [0.0 for i in range(a["num_reserved_ids"]) if i % shards == shard]
    if a["vocab_file"]:
        counts = []
        with open(a["vocab_file"]) as f:
            for line in f:
                line = line.rstrip("\r\n")
                cols = line.split(",")
                if line == "":
                    continue
                try:
                    counts.append(float(cols[-1]))
                except ValueError:
                    raise ValueError("Wrong vocabulary format at line: %s" % line) from None
    else:
        counts = list(a["unigrams"])
    word_id = len(weights)
    for w in counts:
        if word_id % shards == shard:
            weights.append(float(np.power(np.float32(w), distortion)))
        word_id += 1
    return np.asarray(weights, dtype=np.float32)



def _sampler_kernel(ctx, dist, after_sampling=None):
    rng = random_stream(ctx)
    a = ctx.attrs
    num_true, num_sampled, unique = a["num_true"], a["num_sampled"], a["unique"]

    def run(true_classes):
        _check_true_classes(ctx, true_classes, num_true)
        if unique and num_sampled > dist.range:
            raise _run_error(ctx, "Sampler's range is too small.")
        sampled, num_tries = _draw(dist, rng, num_sampled, unique)
        true_count = _expected_count(dist.probability(true_classes), num_sampled, num_tries)
        sampled_count = _expected_count(dist.probability(sampled), num_sampled, num_tries)
        if after_sampling is not None:
            after_sampling(true_classes)
        return np.ascontiguousarray(sampled), true_count, sampled_count
    return run


@register_kernel(cs.UniformCandidateSampler)
def _uniform_candidate_sampler(ctx):
    return _sampler_kernel(ctx, _UniformDist(ctx.attrs["range_max"]))


@register_kernel(cs.LogUniformCandidateSampler)
def _log_uniform_candidate_sampler(ctx):
    return _sampler_kernel(ctx, _LogUniformDist(ctx.attrs["range_max"]))


@register_kernel(cs.FixedUnigramCandidateSampler)
def _fixed_unigram_candidate_sampler(ctx):
    weights = _unigram_weights(ctx.attrs)
    if weights.shape[0] != ctx.attrs["range_max"]:
        raise _run_error(ctx, "range is %d must be equal to weights size  %d"
                         % (ctx.attrs["range_max"], weights.shape[0]))
    return _sampler_kernel(ctx, _WeightedDist(weights))


@register_kernel(cs.LearnedUnigramCandidateSampler)
def _learned_unigram_candidate_sampler(ctx):
    """Unigram counts of the true classes seen so far (every class starts at 1): a
    resource of the session, not saved in checkpoints (as TF)."""
    handle = ResourceHandle("unigram counts", "", ctx.name)
    dist = ctx.resources.lookup_or_create(
        handle, lambda: _WeightedDist(np.ones(ctx.attrs["range_max"], dtype=np.float32)))

    def learn(true_classes):
        flat = true_classes.reshape(-1)
        bad = (flat < 0) | (flat >= dist.range)
        if bad.any():
            raise _run_error(ctx, "true_classes must be in [0, range_max=%d), got %d"
                             % (dist.range, int(flat[bad][0])))
        weights = dist.weights.copy()
        np.add.at(weights, flat, np.float32(1))
        dist.set_weights(weights)
    return _sampler_kernel(ctx, dist, learn)


@register_kernel(cs.AllCandidateSampler)
def _all_candidate_sampler(ctx):
    a = ctx.attrs
    num_true, n = a["num_true"], a["num_sampled"]

    def run(true_classes):
        _check_true_classes(ctx, true_classes, num_true)
        return (np.arange(n, dtype=np.int64), np.ones(true_classes.shape, dtype=np.float32),
                np.ones(n, dtype=np.float32))
    return run


@register_kernel(cs.ComputeAccidentalHits)
def _compute_accidental_hits(ctx):
    num_true = ctx.attrs["num_true"]

    def run(true_classes, sampled):
        _check_true_classes(ctx, true_classes, num_true)
        if sampled.ndim != 1:
            raise _run_error(ctx, "sampled_candidates must be a vector")
        flat = true_classes.reshape(-1)
        order = np.argsort(sampled, kind="stable")
        s = sampled[order]
        pos = np.searchsorted(s, flat, side="right") - 1  # the last (stable) equal entry
        safe = np.maximum(pos, 0)
        hit = (pos >= 0) & (s[safe] == flat) if s.size else np.zeros(flat.shape, dtype=bool)
        rows = np.nonzero(hit)[0] // num_true
        ids = order[safe[hit]].astype(np.int64)
        return (rows.astype(np.int32), ids, np.full(rows.shape, -_FLT_MAX, dtype=np.float32))
    return run
