"""``tf.contrib.rnn``: TF 1.x's home of the recurrent cells and static RNNs.

The core cells, ``static_rnn`` / ``static_bidirectional_rnn`` and the
block cells ``LSTMBlockCell`` / ``LSTMBlockFusedCell`` / ``GRUBlockCell`` are here;
contrib-only cells (LayerNormBasicLSTMCell, AttentionCellWrapper, ...) raise a
clear not-implemented error.
"""
from nbflow.framework.errors import NotImplementedInNbflowError
from nbflow.ops.rnn import static_bidirectional_rnn, static_rnn  # noqa: F401

rnn = static_rnn  # the pre-1.0 name (``rnn.rnn(cell, inputs)``)
from nbflow.ops.rnn_block_cells import GRUBlockCell, LSTMBlockCell, LSTMBlockFusedCell  # noqa: F401
from nbflow.ops.rnn_cell_impl import (  # noqa: F401
    BasicLSTMCell, BasicRNNCell, DeviceWrapper, DropoutWrapper, GRUCell, LSTMCell, LSTMStateTuple, MultiRNNCell,
    ResidualWrapper, RNNCell,
)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotImplementedInNbflowError(
        "tf.contrib.rnn.%s is not implemented in nbflow; available: BasicRNNCell, BasicLSTMCell, LSTMCell, "
        "GRUCell, MultiRNNCell, DropoutWrapper, ResidualWrapper, DeviceWrapper, LSTMStateTuple, RNNCell, "
        "LSTMBlockCell, LSTMBlockFusedCell, GRUBlockCell, "
        "static_rnn (alias rnn), static_bidirectional_rnn" % name)
