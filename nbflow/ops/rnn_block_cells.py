"""tf.contrib.rnn's block cells: ``LSTMBlockCell`` (one step) and
``LSTMBlockFusedCell`` (a whole time-major sequence in one call) over the
BlockLSTM op, and ``GRUBlockCell`` over BlockGRU.

Both have LSTMCell's variables (``kernel`` [input + units, 4 units], gates i,
j, f, o; ``bias`` zeros; ``w_i_diag``, ``w_f_diag``, ``w_o_diag`` with
``use_peephole``), as TF's do. ``cell_clip=None`` (or <= 0) means no clipping.
GRUBlockCell has GRUCell's (``gates/kernel``, ``gates/bias`` initialized to
1.0, ``candidate/kernel``, ``candidate/bias``). ``dynamic_rnn`` /
``static_rnn`` run a block cell as one op over all steps (rnn_fused.py);
called alone, a step is the op over one step.
"""
import numbers

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape, dimension_value
from nbflow.ops import array_ops, init_ops, math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.block_rnn_ops import block_gru, block_lstm
from nbflow.ops.rnn_cell_base import (
    _BIAS_VARIABLE_NAME, _WEIGHTS_VARIABLE_NAME, LayerRNNCell, LSTMStateTuple, _check_rank2, _input_depth,
    _unique_object_name, _zero_state_tensors,
)
from nbflow.ops.rnn_fused import fused_rnn_sequence

__all__ = ["LSTMBlockCell", "LSTMBlockFusedCell", "GRUBlockCell"]


def _number(v, what):
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError("%s must be a Python number, got %r" % (what, v))
    return float(v)


class _BlockLSTMBase(LayerRNNCell):
    def __init__(self, num_units, forget_bias, cell_clip, use_peephole, reuse, name, dtype, default_name):
        super().__init__(_reuse=reuse, name=name, dtype=dtype)
        if not name:
            self._name, self._base_name = _unique_object_name(default_name), default_name
        self._num_units = int(num_units)
        self._state_is_tuple = True
        self._forget_bias = _number(forget_bias, "forget_bias")
        self._cell_clip = -1.0 if cell_clip is None else _number(cell_clip, "cell_clip")
        self._use_peephole = bool(use_peephole)

    @property
    def state_size(self):
        return LSTMStateTuple(self._num_units, self._num_units)

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable(_WEIGHTS_VARIABLE_NAME, shape=[depth + n, 4 * n])
        self._bias = self.add_variable(_BIAS_VARIABLE_NAME, shape=[4 * n],
                                       initializer=init_ops.zeros_initializer(dtype=self._dtype))
        if self._use_peephole:
            self._w_i_diag = self.add_variable("w_i_diag", shape=[n])
            self._w_f_diag = self.add_variable("w_f_diag", shape=[n])
            self._w_o_diag = self.add_variable("w_o_diag", shape=[n])

    def _block_lstm_attrs(self):
        return {"forget_bias": self._forget_bias, "cell_clip": self._cell_clip, "use_peephole": self._use_peephole}

    def _block_lstm_weights(self):
        peepholes = (self._w_i_diag, self._w_f_diag, self._w_o_diag) if self._use_peephole else None
        return self._kernel, self._bias, peepholes


class LSTMBlockCell(_BlockLSTMBase):
    """``tf.contrib.rnn.LSTMBlockCell``: LSTMCell's step (no projection) as a
    BlockLSTM; variables under ``lstm_cell`` by default, as TF's."""

    def __init__(self, num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, dtype=None, reuse=None,
                 name="lstm_cell"):
        super().__init__(num_units, forget_bias, cell_clip, use_peephole, reuse, name, dtype, "lstm_cell")

    def _block_lstm_config(self):
        return self._block_lstm_attrs() if type(self) is LSTMBlockCell else None

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        c, h = state
        kernel, bias, peepholes = self._block_lstm_weights()
        if peepholes is None:
            zeros = array_ops.zeros([self._num_units], dtype=inputs.dtype)
            peepholes = (zeros, zeros, zeros)
        _, cs, _, _, _, _, h_seq = block_lstm(
            convert_to_tensor(1, dtype=dtypes.int64), array_ops.expand_dims(inputs, 0), c, h, kernel, *peepholes,
            bias, **self._block_lstm_attrs())
        new_c, new_h = cs[0], h_seq[0]
        return new_h, LSTMStateTuple(new_c, new_h)


class LSTMBlockFusedCell(_BlockLSTMBase):
    """``tf.contrib.rnn.LSTMBlockFusedCell``: an LSTM over a whole time-major
    sequence in one BlockLSTM. ``cell(inputs [T, B, I], initial_state=None,
    dtype=None, sequence_length=None)`` returns ``(outputs [T, B, H],
    LSTMStateTuple(c, h))``; past an entry's ``sequence_length`` its outputs
    are zero and its state is the one at its last step."""

    def __init__(self, num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, reuse=None, dtype=None,
                 name="lstm_fused_cell"):
        super().__init__(num_units, forget_bias, cell_clip, use_peephole, reuse, name, dtype, "lstm_fused_cell")

    @property
    def num_units(self):
        return self._num_units

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        x = convert_to_tensor(inputs, name="inputs")
        if x.shape.ndims != 3:
            raise ValueError("%s: inputs must be time-major [time, batch, depth], got shape %s" % (self.name, x.shape))
        if x.dtype not in (dtypes.float32, dtypes.float64):
            raise TypeError("%s: inputs must be float32 or float64, got %s" % (self.name, x.dtype.name))
        if initial_state is None:
            if dtype is None:
                raise ValueError("%s: either initial_state or dtype needs to be specified" % self.name)
            batch = dimension_value(x.shape[1])
            batch = batch if batch is not None else array_ops.shape(x)[1]
            initial_state = _zero_state_tensors(self.state_size, batch, dtypes.as_dtype(dtype))
        c0, h0 = (convert_to_tensor(s) for s in initial_state)
        lengths = None
        if sequence_length is not None:
            lengths = convert_to_tensor(sequence_length, name="sequence_length")
            if not lengths.dtype.is_integer:
                raise TypeError("sequence_length must be an integer vector, got %s" % lengths.dtype.name)
            lengths = math_ops.cast(lengths, dtypes.int32)
        outputs, final = fused_rnn_sequence(self, ("lstm", self._block_lstm_attrs()), x, LSTMStateTuple(c0, h0),
                                            lengths, scope=scope)
        outputs.set_shape(TensorShape([x.shape[0], x.shape[1], self._num_units]))
        return outputs, final

    def call(self, inputs, state):
        raise TypeError("LSTMBlockFusedCell runs a whole sequence: call it as cell(inputs [time, batch, depth], "
                        "initial_state, dtype, sequence_length), not as a one-step cell")


class GRUBlockCell(LayerRNNCell):
    """``tf.contrib.rnn.GRUBlockCell``: GRUCell's step (tanh) as a BlockGRU;
    ``num_units`` (or TF's older ``cell_size``); variables under ``gru_cell``."""

    def __init__(self, num_units=None, reuse=None, name="gru_cell", cell_size=None):
        super().__init__(_reuse=reuse, name=name)
        if (num_units is None) == (cell_size is None):
            raise ValueError("GRUBlockCell: give exactly one of num_units and cell_size")
        if not name:
            self._name, self._base_name = _unique_object_name("gru_cell"), "gru_cell"
        self._num_units = int(num_units if num_units is not None else cell_size)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._gate_kernel = self.add_variable("gates/" + _WEIGHTS_VARIABLE_NAME, shape=[depth + n, 2 * n])
        self._gate_bias = self.add_variable("gates/" + _BIAS_VARIABLE_NAME, shape=[2 * n],
                                            initializer=init_ops.constant_initializer(1.0, dtype=self._dtype))
        self._candidate_kernel = self.add_variable("candidate/" + _WEIGHTS_VARIABLE_NAME, shape=[depth + n, n])
        self._candidate_bias = self.add_variable("candidate/" + _BIAS_VARIABLE_NAME, shape=[n],
                                                 initializer=init_ops.zeros_initializer(dtype=self._dtype))

    def _block_gru_config(self):
        return {} if type(self) is GRUBlockCell else None

    def _block_gru_weights(self):
        return self._gate_kernel, self._gate_bias, self._candidate_kernel, self._candidate_bias

    def call(self, inputs, state):
        _check_rank2(self, inputs, "inputs")
        _, _, _, h = block_gru(convert_to_tensor(1, dtype=dtypes.int64), array_ops.expand_dims(inputs, 0), state,
                               self._gate_kernel, self._candidate_kernel, self._gate_bias, self._candidate_bias)
        new_h = h[0]
        return new_h, new_h
