"""Recurrent cells (``tf.nn.rnn_cell``, TF 1.15 semantics).

A cell maps ``(inputs, state)`` to ``(output, new_state)`` for one time step.
Cells with weights behave like TF's ``LayerRNNCell``: the first call opens a
variable scope named after the cell (``basic_lstm_cell``, ``lstm_cell``,
``gru_cell``, ``basic_rnn_cell``, uniquified inside the caller's scope, or the
``scope=`` / ``name=`` given), creates the variables there with
``tf.get_variable`` (kernel initializer: the enclosing variable scope's, else
glorot_uniform; biases zeros, GRU gate bias 1.0), and every later call
re-enters that scope with ``reuse=True``. Ops of every call are named inside
the cell's name scope (``rnn/basic_lstm_cell/MatMul_3``), as in TF.

The cell math is written with ordinary graph ops (MatMul, BiasAdd, Split,
Sigmoid, Tanh, Mul, Add): the planner fuses each step's element-wise gate math
into one generated kernel.

The code is in three modules; this one gathers their names (the TF 1.x module
path of the cells):

* rnn_cell_base.py     -- RNNCell, LayerRNNCell, LSTMStateTuple and the shared helpers;
* rnn_cells.py         -- BasicRNNCell, GRUCell, BasicLSTMCell, LSTMCell, MultiRNNCell;
* rnn_cell_wrappers.py -- DropoutWrapper, ResidualWrapper, DeviceWrapper.
"""
from nbflow.ops.rnn_cell_base import LayerRNNCell, LSTMStateTuple, RNNCell, _concat, assert_like_rnncell  # noqa: F401
from nbflow.ops.rnn_cell_wrappers import DeviceWrapper, DropoutWrapper, ResidualWrapper  # noqa: F401
from nbflow.ops.rnn_cells import BasicLSTMCell, BasicRNNCell, GRUCell, LSTMCell, MultiRNNCell  # noqa: F401

__all__ = [
    "RNNCell", "LayerRNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell",
    "DropoutWrapper", "ResidualWrapper", "DeviceWrapper", "LSTMStateTuple",
]
