"""``tf.random``: the random-number functions under their TF 1.15 / 2.x names."""
from nbflow.ops.random_ops import (  # noqa: F401
    categorical, get_seed, multinomial, random_normal as normal, random_shuffle as shuffle,
    random_uniform as uniform, set_random_seed, truncated_normal,
)

__all__ = ["uniform", "normal", "truncated_normal", "shuffle", "categorical", "multinomial", "set_seed",
           "set_random_seed", "get_seed"]


def set_seed(seed):
    """``tf.random.set_seed``: the graph-level seed of the default graph."""
    set_random_seed(seed)
