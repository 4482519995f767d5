"""``tf.nn``: activations, softmax, bias_add, dropout, l2_loss, cross-entropies, in_top_k,
convolutions and pooling, top_k, candidate samplers, nce_loss and sampled_softmax_loss.

The ops live in ``nbflow/ops/nn_*_ops.py``, with their gradients (names gathered in nn_ops.py); this
module is the public namespace.
"""
from nbflow.ops.math_ops import sigmoid, tanh  # noqa: F401
from nbflow.ops.nn_ops import (  # noqa: F401
    bias_add, dropout, elu, in_top_k, l2_loss, leaky_relu, log_softmax, relu, relu6, selu,
    sigmoid_cross_entropy_with_logits, softmax, softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2, softplus, softsign, sparse_softmax_cross_entropy_with_logits,
    weighted_cross_entropy_with_logits,
)
from nbflow.ops.sort_ops import top_k  # noqa: F401,E402
from nbflow.nn import rnn_cell  # noqa: F401,E402  (tf.nn.rnn_cell: the recurrent cells)
from nbflow.ops.rnn import static_bidirectional_rnn, static_rnn  # noqa: F401,E402
from nbflow.ops.conv_ops import (  # noqa: F401,E402
    avg_pool, conv2d, conv2d_backprop_filter, conv2d_backprop_input, conv2d_transpose, max_pool,
)
from nbflow.ops.nn_impl import (  # noqa: F401,E402
    batch_norm_with_global_normalization, batch_normalization, fused_batch_norm, l2_normalize, moments,
)
from nbflow.ops.embedding_ops import embedding_lookup  # noqa: F401,E402
from nbflow.ops.dynamic_rnn import bidirectional_dynamic_rnn, dynamic_rnn  # noqa: F401,E402
from nbflow.ops.depthwise_conv import depthwise_conv2d  # noqa: F401,E402
from nbflow.ops.sampled_loss_ops import nce_loss, sampled_softmax_loss  # noqa: F401,E402
from nbflow.ops.candidate_sampling_ops import (  # noqa: F401,E402
    all_candidate_sampler, compute_accidental_hits, fixed_unigram_candidate_sampler,
    learned_unigram_candidate_sampler, log_uniform_candidate_sampler, uniform_candidate_sampler,
)
