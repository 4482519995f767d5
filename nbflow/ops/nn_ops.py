"""Neural-network ops (the ``tf.nn`` surface): the names of the nn op families,
each in its own module with its ops' gradients:

* nn_activation_ops -- relu, relu6, elu, selu, softplus, softsign, leaky_relu (and their backward ops
  ReluGrad, EluGrad, ...), sigmoid, tanh
* nn_softmax_ops    -- softmax, log_softmax, the cross-entropy losses, in_top_k
* nn_misc_ops       -- bias_add (BiasAdd, BiasAddGrad), l2_loss, dropout

Convolutions and pooling are in conv_ops.py, batch normalization and moments
in nn_impl.py; nbflow/nn is the public namespace.
"""
from nbflow.ops.nn_activation_ops import (  # noqa: F401
    Elu, EluGrad, LeakyRelu, LeakyReluGrad, Relu, Relu6, Relu6Grad, ReluGrad, SELU_ALPHA, SELU_SCALE, Selu,
    SeluGrad, Softplus, SoftplusGrad, Softsign, SoftsignGrad, _LEAKY, _ew, _leaky_classes, _unary, elu, leaky_class,
    leaky_relu, relu, relu6, selu, sigmoid, softplus, softsign, tanh,
)
from nbflow.ops.nn_misc_ops import (  # noqa: F401
    BiasAdd, BiasAddGrad, BiasAddNCHW, L2Loss, _bias_checks, _channel_axis, _data_format, _noise_shape, bias_add,
    bias_add_grad, dropout, l2_loss,
)
from nbflow.ops.nn_softmax_ops import (  # noqa: F401
    InTopKV2, LogSoftmax, Softmax, SoftmaxCrossEntropyWithLogits, SparseSoftmaxCrossEntropyWithLogits, _axis_lookup,
    _ensure_xent_args, _fmt, _softmax, in_top_k, log_softmax, sigmoid_cross_entropy_with_logits, softmax,
    softmax_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2,
    sparse_softmax_cross_entropy_with_logits, weighted_cross_entropy_with_logits,
)

# Nothing here is exported at the top level (TF 1.x has no tf.relu); see nbflow/nn.
__all__ = []
