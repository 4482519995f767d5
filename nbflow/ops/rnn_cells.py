"""The recurrent cells: BasicRNNCell, GRUCell, BasicLSTMCell, LSTMCell and
MultiRNNCell (``tf.nn.rnn_cell``, TF 1.15 semantics; the base class and what
the cells share are in rnn_cell_base.py).

The cell math is written with ordinary graph ops (MatMul, BiasAdd, Split,
Sigmoid, Tanh, Mul, Add): the planner fuses each step's element-wise gate math
into one generated kernel.
"""
import numbers
import warnings

from nbflow.framework import dtypes
from nbflow.framework import nest
from nbflow.framework.graph import name_scope
from nbflow.ops import array_ops, init_ops, math_ops, nn_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.linalg_ops import matmul
from nbflow.ops.rnn_cell_base import (
    _BIAS_VARIABLE_NAME, _WEIGHTS_VARIABLE_NAME, LayerRNNCell, LSTMStateTuple, RNNCell, _activation,
    _check_rank2, _input_depth, _is_tensor, _zero_state_tensors,
)
from nbflow.ops.variable_scope import variable_scope

__all__ = ["BasicRNNCell", "GRUCell", "BasicLSTMCell", "LSTMCell", "MultiRNNCell"]


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class BasicRNNCell(LayerRNNCell):
    """``output = new_state = act(W [inputs, state] + b)``."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + self._num_units, self._num_units])
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[self._num_units],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        gate_inputs = matmul(array_ops.concat([inputs, state], 1), self._kernel)
        gate_inputs = nn_ops.bias_add(gate_inputs, self._bias)
        output = self._activation(gate_inputs)
        return output, output


class GRUCell(LayerRNNCell):
    """Gated recurrent unit (Cho et al. 2014), TF's gate layout:
    ``r, u = split(sigmoid(W_g [x, h] + b_g), 2)``, ``c = act(W_c [x, r*h] + b_c)``,
    ``h' = u*h + (1-u)*c``."""

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._gate_kernel = self.add_variable("gates/" + _WEIGHTS_VARIABLE_NAME, shape=[depth + n, 2 * n],
                                              initializer=self._kernel_initializer)
        self._gate_bias = self.add_variable(
            "gates/" + _BIAS_VARIABLE_NAME, shape=[2 * n],
            initializer=(self._bias_initializer if self._bias_initializer is not None
                         else init_ops.constant_initializer(1.0, dtype=self._dtype)))
        self._candidate_kernel = self.add_variable("candidate/" + _WEIGHTS_VARIABLE_NAME, shape=[depth + n, n],
                                                   initializer=self._kernel_initializer)
        self._candidate_bias = self.add_variable(
            "candidate/" + _BIAS_VARIABLE_NAME, shape=[n],
            initializer=(self._bias_initializer if self._bias_initializer is not None
                         else init_ops.zeros_initializer(dtype=self._dtype)))

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        gate_inputs = matmul(array_ops.concat([inputs, state], 1), self._gate_kernel)
        gate_inputs = nn_ops.bias_add(gate_inputs, self._gate_bias)
        value = math_ops.sigmoid(gate_inputs)
        r, u = array_ops.split(value=value, num_or_size_splits=2, axis=1)
        r_state = r * state
        candidate = matmul(array_ops.concat([inputs, r_state], 1), self._candidate_kernel)
        candidate = nn_ops.bias_add(candidate, self._candidate_bias)
        c = self._activation(candidate)
        new_h = u * state + (1 - u) * c
        return new_h, new_h

    def _block_gru_config(self):
        """BlockGRU's attrs (none) when a sequence of this cell's steps is one
        BlockGRU (rnn_fused.py), else None."""
        if type(self) is not GRUCell or self._activation is not math_ops.tanh:
            return None
        return {}

    def _block_gru_weights(self):
        """(gate kernel, gate bias, candidate kernel, candidate bias), once built."""
        return self._gate_kernel, self._gate_bias, self._candidate_kernel, self._candidate_bias


class BasicLSTMCell(LayerRNNCell):
    """LSTM without peepholes or projection (Zaremba et al. 2014). One matmul of
    ``[inputs, h]`` gives the gates ``i, j, f, o`` (in that order);
    ``c' = c*sigmoid(f + forget_bias) + sigmoid(i)*act(j)``, ``h' = act(c')*sigmoid(o)``."""

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + n, 4 * n])
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[4 * n],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = array_ops.split(value=state, num_or_size_splits=2, axis=1)
        gate_inputs = matmul(array_ops.concat([inputs, h], 1), self._kernel)
        gate_inputs = nn_ops.bias_add(gate_inputs, self._bias)
        i, j, f, o = array_ops.split(value=gate_inputs, num_or_size_splits=4, axis=1)
        forget_bias = convert_to_tensor(self._forget_bias, dtype=f.dtype)
        sigmoid, add, multiply = math_ops.sigmoid, math_ops.add, math_ops.multiply
        new_c = add(multiply(c, sigmoid(add(f, forget_bias))), multiply(sigmoid(i), self._activation(j)))
        new_h = multiply(self._activation(new_c), sigmoid(o))
        new_state = LSTMStateTuple(new_c, new_h) if self._state_is_tuple else array_ops.concat([new_c, new_h], 1)
        return new_h, new_state

    def _block_lstm_config(self):
        """BlockLSTM's attrs when a sequence of this cell's steps is one BlockLSTM
        (rnn_fused.py), else None (a subclass may compute something else)."""
        if type(self) is not BasicLSTMCell or self._activation is not math_ops.tanh or not _is_number(
                self._forget_bias):
            return None
        return {"forget_bias": float(self._forget_bias), "cell_clip": -1.0, "use_peephole": False}

    def _block_lstm_weights(self):
        """(kernel, bias, peephole weights or None), once built."""
        return self._kernel, self._bias, None


class LSTMCell(LayerRNNCell):
    """LSTM with optional peepholes (``w_f_diag``, ``w_i_diag``, ``w_o_diag``), cell
    clipping and a projection of the output (``projection/kernel``, ``num_proj``)."""

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
                 activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("LSTMCell: num_unit_shards / num_proj_shards (partitioned variables) are "
                                      "not supported by nbflow")
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        p = self._num_proj if self._num_proj is not None else n
        return LSTMStateTuple(n, p) if self._state_is_tuple else n + p

    @property
    def output_size(self):
        return self._num_proj if self._num_proj is not None else self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        h_depth = n if self._num_proj is None else self._num_proj
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + h_depth, 4 * n],
                                         initializer=self._initializer)
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[4 * n],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))
        if self._use_peepholes:
            self._w_f_diag = self.add_variable("w_f_diag", shape=[n], initializer=self._initializer)
            self._w_i_diag = self.add_variable("w_i_diag", shape=[n], initializer=self._initializer)
            self._w_o_diag = self.add_variable("w_o_diag", shape=[n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_variable("projection/" + _WEIGHTS_VARIABLE_NAME,
                                                  shape=[n, self._num_proj], initializer=self._initializer)

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        n = self._num_units
        num_proj = n if self._num_proj is None else self._num_proj
        sigmoid = math_ops.sigmoid
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev = array_ops.slice(state, [0, 0], [-1, n])
            m_prev = array_ops.slice(state, [0, n], [-1, num_proj])
        lstm_matrix = matmul(array_ops.concat([inputs, m_prev], 1), self._kernel)
        lstm_matrix = nn_ops.bias_add(lstm_matrix, self._bias)
        i, j, f, o = array_ops.split(value=lstm_matrix, num_or_size_splits=4, axis=1)
        if self._use_peepholes:
            c = (sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev
                 + sigmoid(i + self._w_i_diag * c_prev) * self._activation(j))
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = math_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self._w_o_diag * c) * self._activation(c)
        else:
            m = sigmoid(o) * self._activation(c)
        if self._num_proj is not None:
            m = matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = math_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else array_ops.concat([c, m], 1)
        return m, new_state

    def _block_lstm_config(self):
        """BlockLSTM's attrs when a sequence of this cell's steps is one BlockLSTM
        (rnn_fused.py): no projection, tanh, a positive clip if any; else None."""
        if (type(self) is not LSTMCell or self._num_proj is not None or self._activation is not math_ops.tanh
                or not _is_number(self._forget_bias)):
            return None
        clip = self._cell_clip
        if clip is not None and not (_is_number(clip) and clip > 0):
            return None
        return {"forget_bias": float(self._forget_bias), "cell_clip": -1.0 if clip is None else float(clip),
                "use_peephole": bool(self._use_peepholes)}

    def _block_lstm_weights(self):
        """(kernel, bias, (w_i_diag, w_f_diag, w_o_diag) or None), once built."""
        peepholes = (self._w_i_diag, self._w_f_diag, self._w_o_diag) if self._use_peepholes else None
        return self._kernel, self._bias, peepholes


class MultiRNNCell(RNNCell):
    """Cells stacked in layers: the output of cell ``k`` is the input of cell ``k+1``
    (variables under ``multi_rnn_cell/cell_<k>/``); the state is the tuple of
    the cells' states (or their concatenation when ``state_is_tuple=False``)."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not nest.is_nested(cells):
            raise TypeError("cells must be a list or tuple, but saw: %s." % (cells,))
        if len(set(id(c) for c in cells)) < len(cells):
            warnings.warn("At least two cells provided to MultiRNNCell are the same object and will share "
                          "weights.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple:
            if any(nest.is_nested(c.state_size) for c in self._cells):
                raise ValueError("Some cells return tuples of states, but the flag state_is_tuple is not set. "
                                 "State sizes are: %s" % str([c.state_size for c in self._cells]))

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(cell.state_size for cell in self._cells)
        return sum(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState", values=[batch_size] if _is_tensor(batch_size) else None):
            if self._state_is_tuple:
                return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    def _sub_weights(self, attr):
        out = []
        for cell in self._cells:
            for w in getattr(cell, attr, []):
                if all(w is not x for x in out):
                    out.append(w)
        return out

    @property
    def trainable_weights(self):
        return self._sub_weights("trainable_weights") if self.trainable else []

    @property
    def non_trainable_weights(self):
        out = self._sub_weights("non_trainable_weights")
        if not self.trainable:
            out = self._sub_weights("trainable_weights") + out
        return out

    def call(self, inputs, state):
        cur_state_pos = 0
        cur_inp = inputs
        new_states = []
        for i, cell in enumerate(self._cells):
            with variable_scope("cell_%d" % i):
                if self._state_is_tuple:
                    if not nest.is_nested(state):
                        raise ValueError("Expected state to be a tuple of length %d, but received: %s"
                                         % (len(self.state_size), state))
                    cur_state = state[i]
                else:
                    cur_state = array_ops.slice(state, [0, cur_state_pos], [-1, cell.state_size])
                    cur_state_pos += cell.state_size
                cur_inp, new_state = cell(cur_inp, cur_state)
                new_states.append(new_state)
        new_states = tuple(new_states) if self._state_is_tuple else array_ops.concat(new_states, 1)
        return cur_inp, new_states

    def _fused_layers(self):
        """The layers, when a sequence may run as one fused op per layer (rnn_fused.py):
        states as a tuple, this exact class; else None."""
        return list(self._cells) if type(self) is MultiRNNCell and self._state_is_tuple else None
