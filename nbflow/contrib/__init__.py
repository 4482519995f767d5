"""``tf.contrib`` (TF 1.x): only the parts nbflow implements.

``tf.contrib.rnn`` has the recurrent cells and ``static_rnn``;
``tf.contrib.layers`` the layer functions, initializers and regularizers;
``tf.contrib.seq2seq`` only ``sequence_loss``; ``tf.contrib.framework``
``arg_scope`` (and ``variable``, ``model_variable``); any
other ``tf.contrib.X`` raises a clear not-implemented error (an AttributeError
too, so ``hasattr(tf.contrib, "X")`` is False).
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.contrib import framework, layers, rnn, seq2seq  # noqa: F401


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError("tf.contrib.%s is not implemented in nbflow (tf.contrib was removed in TF 2; "
                                     "nbflow provides tf.contrib.rnn, tf.contrib.layers, tf.contrib.framework.arg_scope and "
                                     "tf.contrib.seq2seq.sequence_loss only)" % name)
