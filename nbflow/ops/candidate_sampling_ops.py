"""Candidate samplers (``tf.nn.*_candidate_sampler``, ``tf.random.*``) and
``tf.nn.compute_accidental_hits``: the ingredients of sampled losses
(``tf.nn.nce_loss``, ``tf.nn.sampled_softmax_loss``).

A sampler op takes ``true_classes`` (int64, [batch_size, num_true]) and returns
``(sampled_candidates, true_expected_count, sampled_expected_count)``:
``num_sampled`` int64 classes drawn from a base distribution P over
[0, range_max), and float32 expected counts, as TF's RangeSampler:

* ``unique=False``: independent draws; the expected count of class c is
  ``P(c) * num_sampled``;
* ``unique=True``: values are drawn one at a time and repeats rejected until
  ``num_sampled`` distinct classes are in; with ``num_tries`` the number of
  draws that took, the expected count is ``1 - (1 - P(c)) ** num_tries``
  (computed as ``-expm1(num_tries * log1p(-P(c)))``, in float32 as TF).

Base distributions: uniform (P = 1 / range_max), log-uniform (Zipfian, P(c) =
log((c + 2) / (c + 1)) / log(range_max + 1)), fixed unigram (given counts,
raised to ``distortion``), learned unigram (every class starts with weight 1,
each true class seen adds 1 -- the weights are a resource of the Session) and "all"
(every class once, expected counts 1). The sampling itself is the
kernels' (nbflow/backends/cpu/candidate_sampling.py).

Samplers are stateful random ops seeded as nbflow's other random ops (graph
seed + op seed, ``random_ops.get_seed``): each op draws from its own numpy
PCG64 stream per Session, so the values differ from TF's Philox streams but
the distributions and the expected-count formulas are TF's. Draws for
``unique=True`` are made in growing vectorized chunks; the first
``num_sampled`` distinct values in draw order are kept and ``num_tries`` is
the position of the last one kept -- exactly the one-at-a-time procedure.
"""
import numbers

import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.random_ops import _seed_attrs

__all__ = []  # tf.nn.* and tf.random.* (see nbflow/nn and nbflow/random.py)



# -- ops -------------------------------------------------------------------------------

def _true_classes_dims(ctx, num_true):
    if ctx.input_dtypes[0] is not dtypes.int64:
        raise TypeError("Input 'true_classes' of '%s' Op has type %s that does not match expected type of int64."
                        % (ctx.name, ctx.input_dtypes[0].name))
    d = ctx.dims(0)
    if d is None:
        return None
    if len(d) != 2:
        raise ctx.error("Shape must be rank 2 but is rank %d for true_classes" % len(d))
    if num_true is not None and d[1] is not None and d[1] != num_true:
        raise ctx.error("true_classes must have num_true columns, expected: %d was: %d" % (d[1], num_true))
    return d[0]


class _CandidateSampler(Op):
    """true_classes -> (sampled_candidates, true_expected_count, sampled_expected_count).
    Attrs: num_true, num_sampled, unique, range_max, seed, seed2 (+ the distribution's)."""

    stateful = True
    differentiable = False
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        a = ctx.attrs
        batch = _true_classes_dims(ctx, a["num_true"])
        vec = TensorShape([a["num_sampled"]])
        return [(dtypes.int64, vec), (dtypes.float32, TensorShape([batch, a["num_true"]])),
                (dtypes.float32, vec)]


class UniformCandidateSampler(_CandidateSampler):
    type = "UniformCandidateSampler"



class LogUniformCandidateSampler(_CandidateSampler):
    type = "LogUniformCandidateSampler"



class FixedUnigramCandidateSampler(_CandidateSampler):
    """Attrs also: vocab_file, distortion, num_reserved_ids, num_shards, shard, unigrams."""

    type = "FixedUnigramCandidateSampler"



class LearnedUnigramCandidateSampler(_CandidateSampler):
    """Unigram counts of the true classes seen so far (every class starts at 1);
    kept per Session in ``runtime.resources``, not saved in checkpoints (as TF)."""

    type = "LearnedUnigramCandidateSampler"



class AllCandidateSampler(_CandidateSampler):
    """Every class in [0, num_sampled) once, expected counts 1 (for testing, as TF)."""

    type = "AllCandidateSampler"



class ComputeAccidentalHits(Op):
    """(true_classes [batch, num_true], sampled_candidates [num_sampled]) ->
    (indices int32, ids int64, weights float32), one entry per true class found
    among the sampled ones: its row, its position in sampled_candidates (the
    last one when a class was sampled twice, as TF's hash map) and -FLT_MAX.
    Entries come row by row, then in the order of the row's true classes."""

    type = "ComputeAccidentalHits"
    differentiable = False
    outputs_alias_inputs = False

    @classmethod
    def infer(cls, ctx):
        _true_classes_dims(ctx, ctx.attrs["num_true"])
        if ctx.input_dtypes[1] is not dtypes.int64:
            raise TypeError("Input 'sampled_candidates' of '%s' Op has type %s that does not match expected type "
                            "of int64." % (ctx.name, ctx.input_dtypes[1].name))
        d = ctx.dims(1)
        if d is not None and len(d) != 1:
            raise ctx.error("Shape must be rank 1 but is rank %d for sampled_candidates" % len(d))
        v = TensorShape([None])
        return [(dtypes.int32, v), (dtypes.int64, v), (dtypes.float32, v)]



# -- public functions ----------------------------------------------------------------------

def _int_attr(value, attr, op_type, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("Expected int for argument '%s' not %r." % (attr, value))
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError("Attr '%s' of '%s' Op passed %d less than minimum %d." % (attr, op_type, value, minimum))
    return value


def _bool_attr(value, attr):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError("Expected bool for argument '%s' not %r." % (attr, value))
    return bool(value)


def _int64_input(value, what, op_type):
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        t = convert_to_tensor(value)
        if t.dtype is not dtypes.int64:
            raise TypeError("Input '%s' of '%s' Op has type %s that does not match expected type of int64."
                            % (what, op_type, t.dtype.name))
        return t
    return convert_to_tensor(value, dtype=dtypes.int64, name=what)


def _sampler(op_cls, true_classes, num_true, num_sampled, unique, range_max, seed, name, **extra):
    t = op_cls.type
    attrs = {"num_true": _int_attr(num_true, "num_true", t, 1),
             "num_sampled": _int_attr(num_sampled, "num_sampled", t, 1),
             "unique": _bool_attr(unique, "unique")}
    if range_max is not None:
        attrs["range_max"] = _int_attr(range_max, "range_max", t, 1)
    attrs.update(extra)
    attrs.update(_seed_attrs(seed))
    true_classes = _int64_input(true_classes, "true_classes", t)
    return tuple(apply_op(op_cls, [true_classes], attrs, name=name or t))


def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """``tf.random.uniform_candidate_sampler`` (also ``tf.nn.``): ``num_sampled``
    classes from the uniform distribution over [0, range_max); returns
    (sampled_candidates, true_expected_count, sampled_expected_count)."""
    return _sampler(UniformCandidateSampler, true_classes, num_true, num_sampled, unique, range_max, seed, name)


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """``tf.random.log_uniform_candidate_sampler`` (also ``tf.nn.``): classes from
    the log-uniform (Zipfian) distribution P(c) = log((c + 2) / (c + 1)) /
    log(range_max + 1) -- for classes sorted by decreasing frequency."""
    return _sampler(LogUniformCandidateSampler, true_classes, num_true, num_sampled, unique, range_max, seed, name)


def learned_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None,
                                      name=None):
    """``tf.random.learned_unigram_candidate_sampler`` (also ``tf.nn.``): classes
    from the unigram distribution of the true classes seen so far in this
    Session (each class starts with weight 1; the weights are updated after
    each draw and are not saved in checkpoints)."""
    if isinstance(range_max, numbers.Integral) and range_max > 2147483647:
        raise ValueError("Value of range_max:%d is too large to handle" % range_max)
    return _sampler(LearnedUnigramCandidateSampler, true_classes, num_true, num_sampled, unique, range_max, seed,
                    name)


def fixed_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, vocab_file="",
                                    distortion=1.0, num_reserved_ids=0, num_shards=1, shard=0, unigrams=(),
                                    seed=None, name=None):
    """``tf.random.fixed_unigram_candidate_sampler`` (also ``tf.nn.``): classes drawn
    in proportion to ``unigrams`` (or the last CSV column of ``vocab_file``)
    raised to ``distortion``; ids below ``num_reserved_ids`` have weight 0;
    with ``num_shards`` > 1 only ids with ``id % num_shards == shard`` count."""
    t = FixedUnigramCandidateSampler.type
    unigrams = [float(u) for u in unigrams]
    vocab_file = vocab_file.decode() if isinstance(vocab_file, bytes) else str(vocab_file or "")
    if bool(vocab_file) == bool(unigrams):
        raise ValueError("%s: exactly one of vocab_file and unigrams must be given" % t)
    num_shards = _int_attr(num_shards, "num_shards", t, 1)
    shard = _int_attr(shard, "shard", t, 0)
    if shard >= num_shards:
        raise ValueError("%s: shard (%d) must be less than num_shards (%d)" % (t, shard, num_shards))
    return _sampler(FixedUnigramCandidateSampler, true_classes, num_true, num_sampled, unique, range_max, seed,
                    name, vocab_file=vocab_file, distortion=float(distortion),
                    num_reserved_ids=_int_attr(num_reserved_ids, "num_reserved_ids", t, 0), num_shards=num_shards,
                    shard=shard, unigrams=unigrams)


def all_candidate_sampler(true_classes, num_true, num_sampled, unique, seed=None, name=None):
    """``tf.random.all_candidate_sampler`` (also ``tf.nn.``): every class in
    [0, num_sampled), expected counts all 1 (``unique`` is ignored)."""
    return _sampler(AllCandidateSampler, true_classes, num_true, num_sampled, unique, None, seed, name)


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """``tf.nn.compute_accidental_hits``: (indices, ids, weights) of the sampled
    candidates that equal a true class of a row -- row index (int32), position
    in ``sampled_candidates`` (int64) and -FLT_MAX (float32) -- to be added to
    the sampled logits (sparse_to_dense) so accidental hits drop out."""
    t = ComputeAccidentalHits.type
    attrs = {"num_true": _int_attr(num_true, "num_true", t)}
    attrs.update(_seed_attrs(seed))
    true_classes = _int64_input(true_classes, "true_classes", t)
    sampled_candidates = _int64_input(sampled_candidates, "sampled_candidates", t)
    return tuple(apply_op(ComputeAccidentalHits, [true_classes, sampled_candidates], attrs, name=name or t))
