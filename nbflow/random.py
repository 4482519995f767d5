"""``tf.random``: the random-number functions under their TF 1.15 / 2.x names."""
from nbflow.ops.random_ops import (  # noqa: F401
    categorical, get_seed, multinomial, random_normal as normal, random_shuffle as shuffle,
    random_uniform as uniform, set_random_seed, truncated_normal,
)
from nbflow.ops.candidate_sampling_ops import (  # noqa: F401
    all_candidate_sampler, fixed_unigram_candidate_sampler, learned_unigram_candidate_sampler,
    log_uniform_candidate_sampler, uniform_candidate_sampler,
)

__all__ = ["uniform", "normal", "truncated_normal", "shuffle", "categorical", "multinomial", "set_seed",
           "set_random_seed", "get_seed",
           "uniform_candidate_sampler", "log_uniform_candidate_sampler", "learned_unigram_candidate_sampler",
           "fixed_unigram_candidate_sampler", "all_candidate_sampler"]


def set_seed(seed):
    """``tf.random.set_seed``: the graph-level seed of the default graph."""
    set_random_seed(seed)
